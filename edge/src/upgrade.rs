//! Admitting a WebSocket upgrade on `/ws`: the visitor token (from `?token=`) must verify with
//! the keys of the region it names, for the `visitor` audience. The upstream is that region's
//! `/ws/visitor`; the token travels on unchanged, and the region's node checks it again.

use kefu_protocol::token::TokenKeys;
use kefu_protocol::{ErrorCode, VISITOR_AUDIENCE, VisitorClaims};

use crate::config::RegionConfig;
use crate::error::EdgeError;

/// Where to connect a verified visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// `ws(s)://<region api>/ws/visitor?token=…`.
    pub url: String,
    /// The region.
    pub region: String,
    /// The verified claims.
    pub claims: VisitorClaims,
}

/// The token from a query string (`token=…`).
pub fn token_from_query(query: Option<&str>) -> Option<&str> {
    query?.split('&').find_map(|pair| pair.strip_prefix("token=")).filter(|t| !t.is_empty() && t.len() <= 4096)
}

fn invalid() -> EdgeError {
    EdgeError::new(ErrorCode::InvalidToken, "The visitor token is missing, expired or not valid here.")
}

/// Verifies the token against each region's keys; the region that signed it must be the one the
/// token names.
pub fn admit(regions: &[(RegionConfig, TokenKeys)], token: Option<&str>) -> Result<Upstream, EdgeError> {
    let token = token.ok_or_else(invalid)?;
    if !token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
        return Err(invalid());
    }
    for (region, keys) in regions {
        if let Ok(claims) = keys.verify::<VisitorClaims>(token, VISITOR_AUDIENCE) {
            if claims.region != region.name {
                return Err(invalid());
            }
            return Ok(Upstream {
                url: format!("{}?token={token}", region.visitor_ws_url()),
                region: region.name.clone(),
                claims,
            });
        }
    }
    Err(invalid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_protocol::{AGENT_AUDIENCE, ISSUER, TenantId, VisitorId};

    fn region(name: &str, secret: &str) -> (RegionConfig, TokenKeys) {
        let raw = format!("{name}-k:{secret}");
        let config = RegionConfig {
            name: name.into(),
            api_url: format!("https://{name}.api.example"),
            visitor_keys: raw.clone(),
        };
        (config, crate::crypto::token_keys(&raw).expect("keys"))
    }

    fn claims(region: &str, audience: &str) -> VisitorClaims {
        let now = chrono::Utc::now().timestamp();
        VisitorClaims {
            iss: ISSUER.into(),
            aud: audience.into(),
            sub: VisitorId::from_uuid(uuid::Uuid::now_v7()),
            tid: TenantId::from_uuid(uuid::Uuid::now_v7()),
            region: region.into(),
            ext_user: None,
            vip: None,
            country: None,
            iat: now,
            exp: now + 60,
            jti: "j".into(),
        }
    }

    #[test]
    fn routes_to_the_signing_region_and_refuses_everything_else() {
        let regions = vec![region("cn", &"c".repeat(32)), region("eu", &"e".repeat(32))];
        let token = regions[1].1.sign(&claims("eu", VISITOR_AUDIENCE)).expect("sign");
        let upstream = admit(&regions, Some(&token)).expect("admitted");
        assert_eq!(upstream.region, "eu");
        assert_eq!(upstream.url, format!("wss://eu.api.example/ws/visitor?token={token}"));

        let lying = regions[1].1.sign(&claims("cn", VISITOR_AUDIENCE)).expect("sign");
        let agent = regions[0].1.sign(&claims("cn", AGENT_AUDIENCE)).expect("sign");
        let foreign = region("us", &"u".repeat(32)).1.sign(&claims("us", VISITOR_AUDIENCE)).expect("sign");
        let mut expired_claims = claims("cn", VISITOR_AUDIENCE);
        expired_claims.exp = expired_claims.iat - 3600;
        let expired = regions[0].1.sign(&expired_claims).expect("sign");
        for bad in
            [Some(lying.as_str()), Some(&agent), Some(&foreign), Some(&expired), Some("x.y.z"), Some("a b"), None]
        {
            assert_eq!(admit(&regions, bad).expect_err("refused").code, ErrorCode::InvalidToken, "{bad:?}");
        }
    }

    #[test]
    fn finds_the_token_in_the_query() {
        assert_eq!(token_from_query(Some("v=1&token=abc")), Some("abc"));
        assert_eq!(token_from_query(Some("token=")), None);
        assert_eq!(token_from_query(None), None);
    }
}
