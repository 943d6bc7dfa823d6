//! Resolving site keys natively: the cache first, then the api's internal endpoint with the
//! edge secret and the cached ETag. When the api cannot be reached, a known site keeps being
//! served from cache (stale) rather than failing every visitor. A key never seen is asked of
//! every region at once (`site::regions_to_ask`, `site::combine`).

use std::sync::Arc;

use kefu_protocol::widget::EdgeSite;
use kefu_protocol::{ErrorCode, Problem, SiteKeyId};

use super::EdgeState;
use crate::config::RegionConfig;
use crate::error::EdgeError;
use crate::site::{Fetched, Lookup, ask_regions};

/// The site behind `key`.
pub async fn resolve(state: &EdgeState, key: SiteKeyId) -> Result<Arc<EdgeSite>, EdgeError> {
    let now = state.now_ms();
    let (stale, etag) = match state.sites.lookup(key, now) {
        Lookup::Fresh(site) => return Ok(site),
        Lookup::Refused(error) => return Err(error),
        Lookup::Stale { site, etag } => (Some(site), Some(etag)),
        Lookup::Missing => (None, None),
    };
    let ask = |region| fetch(state, region, key, etag.as_deref());
    match ask_regions(&state.config.regions, stale.as_deref(), ask).await {
        Ok(fetched) => state.sites.store(key, fetched, state.now_ms()),
        Err(error) => {
            tracing::warn!(%error, site_key = %key, "site lookup failed");
            stale.ok_or_else(EdgeError::upstream)
        }
    }
}

/// What one region's api says about `key`.
async fn fetch(
    state: &EdgeState,
    region: &RegionConfig,
    key: SiteKeyId,
    etag: Option<&str>,
) -> Result<Fetched, String> {
    let url = format!("{}/internal/edge/v1/sites/{key}", region.api_url.trim_end_matches('/'));
    let mut request = state.http.get(url).bearer_auth(&state.config.api_secret);
    if let Some(etag) = etag {
        request = request.header(reqwest::header::IF_NONE_MATCH, etag);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(Fetched::NotModified);
    }
    if status.is_success() {
        let etag =
            response.headers().get(reqwest::header::ETAG).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let site: EdgeSite = response.json().await.map_err(|e| e.to_string())?;
        return Ok(Fetched::Site(Box::new(site), etag));
    }
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(Fetched::Refused(EdgeError::unknown_site()));
    }
    if status == reqwest::StatusCode::FORBIDDEN {
        let problem: Option<Problem> = response.json().await.ok();
        if problem.is_some_and(|p| p.code == ErrorCode::TenantInactive) {
            return Ok(Fetched::Refused(EdgeError::new(
                ErrorCode::TenantInactive,
                "This site's account is suspended.",
            )));
        }
    }
    Err(format!("the api answered {status}"))
}
