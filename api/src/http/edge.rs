//! The edge's internal endpoint: resolve a public site key into everything the edge needs to
//! serve the widget and admit visitors (tenant, home region, settings, identity secret).
//! Authenticated with the shared `edge.secret`, never by tenants; answers with an `ETag` (the
//! settings version) so the edge can revalidate its cache with `If-None-Match` cheaply.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kefu_protocol::widget::EdgeSite;
use kefu_protocol::{ErrorCode, SiteKeyId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::TenantCtx;
use crate::db::{self, TenantTx};
use crate::error::{ApiError, Result};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(resolve_site))
}

fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<()> {
    let Some(secret) = &state.config.edge.secret else {
        return Err(ApiError::client(ErrorCode::NotFound, "No such route."));
    };
    if super::extract::bearer_is(headers, secret) {
        Ok(())
    } else {
        Err(ApiError::client(ErrorCode::Unauthenticated, "The edge secret is missing or wrong."))
    }
}

/// Resolves a site key for the edge (internal: `Authorization: Bearer <edge.secret>`).
#[utoipa::path(get, path = "/internal/edge/v1/sites/{site_key}", tag = "edge",
    params(("site_key" = String, Path, description = "site_…")),
    responses((status = 200, body = EdgeSite, description = "Tenant, region, settings version, settings, identity secret"),
        (status = 304, description = "unchanged since the ETag in If-None-Match"),
        (status = 401, description = "unauthenticated"), (status = 403, description = "tenant_inactive"),
        (status = 404, description = "resource_not_found: unknown or revoked key")))]
async fn resolve_site(State(state): State<AppState>, headers: HeaderMap, Path(key): Path<String>) -> Result<Response> {
    authenticate(&state, &headers)?;
    let key: SiteKeyId = key.parse().map_err(|_| ApiError::not_found("site key"))?;
    let mut conn = state.db.control().acquire().await?;
    let found = db::site_keys::resolve(&mut conn, key).await?.ok_or_else(|| ApiError::not_found("site key"))?;
    drop(conn);
    let (tenant, found) = TenantCtx::admit(Some(found))?;
    let tenant_id = tenant.id;
    let mut tx = TenantTx::begin(&state.db, &tenant.schema).await?;
    let row = db::widget::get(&mut tx).await?;
    tx.commit().await?;
    let etag = format!("\"{}-{}\"", tenant_id.simple(), row.version);
    let etag_value = HeaderValue::from_str(&etag).map_err(|e| ApiError::Internal(e.into()))?;
    let unchanged = headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes());
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    let mut settings = row.settings.0;
    // Saved before public suffixes were refused: such a wildcard admits nobody.
    settings.allowed_origins.retain(|pattern| !crate::domain::origins::covers_a_public_suffix(pattern));
    let site = EdgeSite {
        site_key: key,
        tenant_id,
        region: found.home_region,
        version: row.version,
        settings,
        identity_secret: row.identity_secret,
    };
    Ok(([(header::ETAG, etag_value), (header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], axum::Json(site))
        .into_response())
}
