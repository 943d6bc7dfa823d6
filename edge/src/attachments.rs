//! Visitors' attachment uploads and downloads at the edge: the visitor token names the region
//! (verified with that region's keys, as for `/ws`), and the request is forwarded unchanged to
//! the region's `/api/v1/visitor/attachments…`, which checks the token again, sniffs the file
//! and applies the plan's limits. The edge only bounds what it will carry.

use kefu_protocol::token::TokenKeys;
use kefu_protocol::{AttachmentId, ErrorCode};

use crate::config::RegionConfig;
use crate::error::EdgeError;

/// The largest upload the edge carries (the api applies the plan's smaller limit).
pub const MAX_UPLOAD_BYTES: usize = 50 * 1024 * 1024;

/// The region api URL an upload goes to, keeping the caller's `?name=`.
pub fn upload_url(
    regions: &[(RegionConfig, TokenKeys)],
    token: Option<&str>,
    query: Option<&str>,
) -> Result<String, EdgeError> {
    let api = region_api(regions, token)?;
    let name = query.and_then(|q| q.split('&').find(|p| p.starts_with("name="))).unwrap_or("name=file");
    Ok(format!("{api}/api/v1/visitor/attachments?{name}"))
}

/// The region api URL a download comes from (the token travels on in the query).
pub fn download_url(regions: &[(RegionConfig, TokenKeys)], id: &str, token: Option<&str>) -> Result<String, EdgeError> {
    let id: AttachmentId =
        id.parse().map_err(|_| EdgeError::new(ErrorCode::ResourceNotFound, "No such attachment."))?;
    let api = region_api(regions, token)?;
    Ok(format!("{api}/api/v1/visitor/attachments/{id}?token={}", token.unwrap_or_default()))
}

/// The bearer token of an `Authorization` header value.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    header?.strip_prefix("Bearer ").filter(|t| !t.is_empty())
}

fn region_api<'a>(regions: &'a [(RegionConfig, TokenKeys)], token: Option<&str>) -> Result<&'a str, EdgeError> {
    let admitted = crate::upgrade::admit(regions, token)?;
    regions
        .iter()
        .find(|(r, _)| r.name == admitted.region)
        .map(|(r, _)| r.api_url.trim_end_matches('/'))
        .ok_or_else(|| EdgeError::new(ErrorCode::UpstreamUnavailable, "This region is not served here."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_protocol::{ISSUER, TenantId, VISITOR_AUDIENCE, VisitorClaims, VisitorId};

    #[test]
    fn routes_to_the_tokens_region_and_keeps_only_the_name() {
        let raw = "cn-k:0123456789abcdef0123456789abcdef";
        let keys = crate::crypto::token_keys(raw).expect("keys");
        let regions = vec![(
            RegionConfig { name: "cn".into(), api_url: "https://cn.api.example/".into(), visitor_keys: raw.into() },
            keys.clone(),
        )];
        let now = chrono::Utc::now().timestamp();
        let claims = VisitorClaims {
            sub: VisitorId::from_uuid(uuid::Uuid::now_v7()),
            tid: TenantId::from_uuid(uuid::Uuid::now_v7()),
            region: "cn".into(),
            aud: VISITOR_AUDIENCE.into(),
            iss: ISSUER.into(),
            iat: now,
            exp: now + 600,
            ext_user: None,
            vip: None,
            country: None,
            jti: "t".into(),
        };
        let token = keys.sign(&claims).expect("sign");
        let url = upload_url(&regions, Some(&token), Some("evil=1&name=%E5%8F%91%E7%A5%A8.pdf")).expect("routed");
        assert_eq!(url, "https://cn.api.example/api/v1/visitor/attachments?name=%E5%8F%91%E7%A5%A8.pdf");
        assert!(upload_url(&regions, Some("forged.token.x"), None).is_err());
        let id = format!("att_{}", uuid::Uuid::now_v7().simple());
        let url = download_url(&regions, &id, Some(&token)).expect("routed");
        assert!(url.starts_with(&format!("https://cn.api.example/api/v1/visitor/attachments/{id}?token=")));
        assert_eq!(
            download_url(&regions, "../../secrets", Some(&token)).map_err(|e| e.code),
            Err(ErrorCode::ResourceNotFound)
        );
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
    }
}
