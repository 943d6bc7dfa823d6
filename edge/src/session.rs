//! Admitting a visitor: the page's `Origin` must be allowed by the tenant, an identified visitor
//! must prove their user id with the tenant's HMAC, and a returning visitor must present the
//! proof the edge gave them last time; a visitor who opens the link mailed to them (a chat link,
//! signed by the api) is admitted as themselves, from the edge's hosted chat page too. The result
//! is a short-lived visitor token (audience `visitor`, tenant, visitor, region) and the WebSocket
//! URL to use it on.

use kefu_protocol::token::TokenKeys;
use kefu_protocol::widget::EdgeSite;
use kefu_protocol::{
    CHAT_LINK_AUDIENCE, ChatLinkClaims, ErrorCode, ISSUER, SiteKeyId, VISITOR_AUDIENCE, VisitorClaims, VisitorId,
};
use serde::{Deserialize, Serialize};

use crate::config::EdgeConfig;
use crate::crypto::{hmac_hex, same};
use crate::error::EdgeError;

/// Largest session request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 4096;
/// Longest tenant user id accepted for identity verification.
pub const MAX_USER_ID_LEN: usize = 128;

/// What the widget asks for (`POST /v1/sessions`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The site key from the snippet.
    pub site_key: SiteKeyId,
    /// The visitor id this browser was given before, if any.
    #[serde(default)]
    pub visitor_id: Option<VisitorId>,
    /// The proof that came with that id.
    #[serde(default)]
    pub visitor_proof: Option<String>,
    /// A signed-in customer, from `Kefu('identify', …)`.
    #[serde(default)]
    pub user: Option<UserIdentity>,
    /// The chat link the visitor opened (the hosted chat page): admits them as the link's
    /// visitor, whatever `visitor_id` says.
    #[serde(default)]
    pub link: Option<String>,
}

/// Longest chat link accepted, in bytes.
pub const MAX_LINK_LEN: usize = 2048;

/// Verifies a chat link for `site` with its region's keys: the visitor and customer id it
/// admits. Forged, expired, or made for another site, tenant or region: `invalid_token`.
pub fn verify_link(keys: &TokenKeys, site: &EdgeSite, link: &str) -> Result<ChatLinkClaims, EdgeError> {
    let refused = || EdgeError::new(ErrorCode::InvalidToken, "This chat link is not valid or has expired.");
    if link.len() > MAX_LINK_LEN {
        return Err(refused());
    }
    let claims: ChatLinkClaims = keys.verify(link, CHAT_LINK_AUDIENCE).map_err(|_| refused())?;
    if claims.tid != site.tenant_id || claims.site != site.site_key || claims.region != site.region {
        return Err(refused());
    }
    Ok(claims)
}

/// A chat link's claims, verified with the keys of the region it names (`regions`: each served
/// region's name and keys); the hosted page then checks them against the site they name.
pub fn link_claims<'a>(
    mut regions: impl Iterator<Item = (&'a str, &'a TokenKeys)>,
    link: &str,
) -> Result<ChatLinkClaims, EdgeError> {
    let refused = || EdgeError::new(ErrorCode::InvalidToken, "This chat link is not valid or has expired.");
    if link.len() > MAX_LINK_LEN {
        return Err(refused());
    }
    regions
        .find_map(|(name, keys)| {
            keys.verify::<ChatLinkClaims>(link, CHAT_LINK_AUDIENCE).ok().filter(|claims| claims.region == name)
        })
        .ok_or_else(refused)
}

/// Checks where a session request comes from: a page on one of the tenant's allowed origins, or
/// the edge's own hosted chat page presenting a chat link (which [`grant`] then verifies).
pub fn check_admission(
    config: &EdgeConfig,
    site: &EdgeSite,
    request: &SessionRequest,
    origin: Option<&str>,
) -> Result<(), EdgeError> {
    if request.link.is_some() && origin.is_some_and(|o| same_origin(&config.public_url, o)) {
        return Ok(());
    }
    check_origin(site, origin)
}

/// Whether `origin` is the origin of `url`.
fn same_origin(url: &str, origin: &str) -> bool {
    let url = url.trim_end_matches('/');
    let base = url.find("://").map_or(url, |scheme| match url[scheme + 3..].find('/') {
        Some(path) => &url[..scheme + 3 + path],
        None => url,
    });
    base.eq_ignore_ascii_case(origin)
}

/// A customer's identity as the tenant's backend vouches for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserIdentity {
    /// The tenant's own user id.
    pub id: String,
    /// `hex(HMAC-SHA256(identity_secret, message))`, computed by the tenant's backend, where
    /// the message is the id alone, or `id + "\nvip=" + level` for a VIP level of 1–10.
    pub hash: String,
    /// The customer's VIP level, 0–10 (0 = none), covered by the hash: their conversations
    /// wait at priority 10 × level or higher.
    #[serde(default)]
    pub vip: Option<u8>,
}

/// The highest VIP level.
pub const MAX_VIP: u8 = 10;

/// A verified customer: their id and VIP level (`None` for level 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedUser {
    /// The tenant's own user id.
    pub id: String,
    /// 1–10, or `None`.
    pub vip: Option<u8>,
}

/// What the tenant's backend signs for `id` at `vip` (docs/widget.md).
pub fn identity_message(id: &str, vip: Option<u8>) -> String {
    match vip {
        Some(level) => format!("{id}\nvip={level}"),
        None => id.to_owned(),
    }
}

/// What the widget gets back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionGrant {
    /// The visitor token, for `?token=` on the WebSocket URL.
    pub token: String,
    /// Where to connect.
    pub ws_url: String,
    /// The visitor id to keep (local storage).
    pub visitor_id: VisitorId,
    /// The proof to keep with it and present next time.
    pub visitor_proof: String,
    /// When the token expires (seconds since the epoch); get a new session before that.
    pub expires_at: i64,
}

/// The proof that `visitor` was admitted for `site`'s tenant by this edge, as the verified
/// customer `user` (`None`: anonymous). An anonymous visitor's proof is the same as before
/// proofs named the customer, so visitors keep their ids across that change.
pub fn visitor_proof(config: &EdgeConfig, site: &EdgeSite, visitor: VisitorId, user: Option<&str>) -> String {
    let message = match user {
        None => format!("{}:{}", site.tenant_id, visitor),
        Some(user) => format!("{}:{}:{user}", site.tenant_id, visitor),
    };
    hmac_hex(config.visitor_secret.as_bytes(), &message)
}

/// Whether `proof` lets `visitor` come back as `user`: made for that same customer, or made
/// anonymous and now signing in (the same browser's chat continues). A proof made for one
/// customer never admits another, nor an anonymous visitor after they sign out: on a shared
/// browser the next customer starts a new conversation (the security review's finding).
fn returns_as(config: &EdgeConfig, site: &EdgeSite, visitor: VisitorId, user: Option<&str>, proof: &str) -> bool {
    same(&visitor_proof(config, site, visitor, user), proof)
        || (user.is_some() && same(&visitor_proof(config, site, visitor, None), proof))
}

/// Checks the `Origin` header against the tenant's allowed origins.
pub fn check_origin(site: &EdgeSite, origin: Option<&str>) -> Result<(), EdgeError> {
    let Some(origin) = origin else {
        return Err(EdgeError::new(ErrorCode::OriginNotAllowed, "The request has no Origin header."));
    };
    if kefu_protocol::origin::allowed(&site.settings.allowed_origins, origin) {
        Ok(())
    } else {
        Err(EdgeError::new(
            ErrorCode::OriginNotAllowed,
            format!("{origin} is not an allowed origin for this site key; add it in the widget settings."),
        ))
    }
}

fn verified_user(site: &EdgeSite, user: Option<&UserIdentity>) -> Result<Option<VerifiedUser>, EdgeError> {
    let Some(user) = user else {
        if site.settings.identity_required {
            return Err(EdgeError::new(ErrorCode::InvalidIdentity, "This site admits identified visitors only."));
        }
        return Ok(None);
    };
    let refused = || EdgeError::new(ErrorCode::InvalidIdentity, "The identity hash does not match the user id.");
    if user.id.is_empty() || user.id.len() > MAX_USER_ID_LEN || user.id.chars().any(char::is_control) {
        return Err(refused());
    }
    let Some(secret) = &site.identity_secret else {
        return Err(EdgeError::new(ErrorCode::InvalidIdentity, "Identity verification is not set up for this site."));
    };
    if user.vip.is_some_and(|level| level > MAX_VIP) {
        return Err(EdgeError::new(ErrorCode::InvalidIdentity, format!("The VIP level must be 0–{MAX_VIP}.")));
    }
    // Level 0 is no level: the id alone is signed.
    let vip = user.vip.filter(|level| *level > 0);
    let expected = hmac_hex(secret.as_bytes(), &identity_message(&user.id, vip));
    if !same(&expected, &user.hash.to_ascii_lowercase()) {
        return Err(refused());
    }
    Ok(Some(VerifiedUser { id: user.id.clone(), vip }))
}

/// Admits a visitor (origin already checked) and mints their token with the region's keys.
pub fn grant(
    config: &EdgeConfig,
    keys: &TokenKeys,
    site: &EdgeSite,
    request: &SessionRequest,
    country: Option<String>,
    now: i64,
) -> Result<SessionGrant, EdgeError> {
    let (visitor, verified) = match &request.link {
        // The link was signed for this visitor. Their token is anonymous: the api keeps their
        // stored identity and VIP level for an anonymous connection.
        Some(link) => (verify_link(keys, site, link)?.sub, None),
        None => {
            let verified = verified_user(site, request.user.as_ref())?;
            // A returning visitor keeps their id only with a valid proof; otherwise they are new.
            let user = verified.as_ref().map(|user| user.id.as_str());
            let returning = match (request.visitor_id, &request.visitor_proof) {
                (Some(id), Some(proof)) if returns_as(config, site, id, user, proof) => Some(id),
                _ => None,
            };
            (returning.unwrap_or_else(|| VisitorId::from_uuid(uuid::Uuid::now_v7())), verified)
        }
    };
    let expires_at = now + config.token_ttl_secs;
    let visitor_proof = visitor_proof(config, site, visitor, verified.as_ref().map(|user| user.id.as_str()));
    let claims = VisitorClaims {
        iss: ISSUER.into(),
        aud: VISITOR_AUDIENCE.into(),
        sub: visitor,
        tid: site.tenant_id,
        region: site.region.clone(),
        ext_user: verified.as_ref().map(|user| user.id.clone()),
        vip: verified.and_then(|user| user.vip),
        country: country.filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())),
        iat: now,
        exp: expires_at,
        jti: uuid::Uuid::now_v7().simple().to_string(),
    };
    let token = keys
        .sign(&claims)
        .map_err(|_| EdgeError::new(ErrorCode::Internal, "The visitor token could not be signed."))?;
    let ws_base =
        config.public_url.trim_end_matches('/').replacen("https://", "wss://", 1).replacen("http://", "ws://", 1);
    Ok(SessionGrant { ws_url: format!("{ws_base}/ws"), token, visitor_id: visitor, visitor_proof, expires_at })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RegionConfig;
    use kefu_protocol::TenantId;
    use kefu_protocol::widget::WidgetSettings;

    const KEYS: &str = "k1:0123456789abcdef0123456789abcdef";

    fn config() -> EdgeConfig {
        EdgeConfig {
            public_url: "https://edge.example".into(),
            api_secret: "x".repeat(32),
            visitor_secret: "v".repeat(32),
            token_ttl_secs: 600,
            cache_secs: 5,
            per_ip_per_minute: 60,
            per_site_per_minute: 1200,
            regions: vec![RegionConfig {
                name: "cn".into(),
                api_url: "http://127.0.0.1:1".into(),
                visitor_keys: KEYS.into(),
            }],
            widget_dir: String::new(),
        }
    }

    fn site() -> EdgeSite {
        let settings = WidgetSettings {
            allowed_origins: vec!["https://shop.example.com".parse().expect("origin")],
            ..WidgetSettings::default()
        };
        EdgeSite {
            site_key: SiteKeyId::from_uuid(uuid::Uuid::now_v7()),
            tenant_id: TenantId::from_uuid(uuid::Uuid::now_v7()),
            region: "cn".into(),
            version: 1,
            settings,
            identity_secret: Some("s".repeat(64)),
        }
    }

    fn request(site: &EdgeSite) -> SessionRequest {
        SessionRequest { site_key: site.site_key, visitor_id: None, visitor_proof: None, user: None, link: None }
    }

    #[test]
    fn origins_are_checked_exactly() {
        let site = site();
        assert!(check_origin(&site, Some("https://shop.example.com")).is_ok());
        for bad in [None, Some("https://evil.example"), Some("null"), Some("http://shop.example.com")] {
            assert_eq!(check_origin(&site, bad).expect_err("refused").code, ErrorCode::OriginNotAllowed);
        }
    }

    #[test]
    fn tokens_verify_for_the_region_and_visitors_return_only_with_their_proof() {
        let (config, site) = (config(), site());
        let keys = crate::crypto::token_keys(KEYS).expect("keys");
        let now = chrono::Utc::now().timestamp();
        let first = grant(&config, &keys, &site, &request(&site), Some("CN".into()), now).expect("grant");
        assert_eq!(first.ws_url, "wss://edge.example/ws");
        assert_eq!(first.expires_at, now + 600);
        let claims: VisitorClaims = keys.verify(&first.token, VISITOR_AUDIENCE).expect("a token the region accepts");
        assert_eq!((claims.sub, claims.tid, claims.region.as_str()), (first.visitor_id, site.tenant_id, "cn"));
        assert_eq!(claims.country.as_deref(), Some("CN"));

        let back = SessionRequest {
            visitor_id: Some(first.visitor_id),
            visitor_proof: Some(first.visitor_proof.clone()),
            ..request(&site)
        };
        assert_eq!(grant(&config, &keys, &site, &back, None, now).expect("grant").visitor_id, first.visitor_id);
        let forged = SessionRequest { visitor_proof: Some("0".repeat(64)), ..back.clone() };
        assert_ne!(grant(&config, &keys, &site, &forged, None, now).expect("grant").visitor_id, first.visitor_id);
        let mut other_tenant = site.clone();
        other_tenant.tenant_id = TenantId::from_uuid(uuid::Uuid::now_v7());
        assert_ne!(
            grant(&config, &keys, &other_tenant, &back, None, now).expect("grant").visitor_id,
            first.visitor_id,
            "a proof is only good for the tenant it was made for"
        );
    }

    fn link(site: &EdgeSite, visitor: VisitorId, exp: i64) -> String {
        let keys = crate::crypto::token_keys(KEYS).expect("keys");
        let claims = ChatLinkClaims {
            iss: ISSUER.into(),
            aud: CHAT_LINK_AUDIENCE.into(),
            sub: visitor,
            tid: site.tenant_id,
            region: site.region.clone(),
            site: site.site_key,
            iat: exp - 100,
            exp,
            jti: "l1".into(),
        };
        keys.sign(&claims).expect("sign")
    }

    #[test]
    fn a_chat_link_admits_its_visitor_from_the_hosted_page_only_while_valid() {
        let (config, site) = (config(), site());
        let keys = crate::crypto::token_keys(KEYS).expect("keys");
        let now = chrono::Utc::now().timestamp();
        let visitor = VisitorId::from_uuid(uuid::Uuid::now_v7());
        let good = link(&site, visitor, now + 3600);
        let with = |link: &str| SessionRequest { link: Some(link.into()), ..request(&site) };

        // From the edge's own page (or the tenant's site) with a valid link: that visitor.
        check_admission(&config, &site, &with(&good), Some("https://edge.example")).expect("the hosted page");
        let granted = grant(&config, &keys, &site, &with(&good), None, now).expect("grant");
        assert_eq!(granted.visitor_id, visitor);
        let claims: VisitorClaims = keys.verify(&granted.token, VISITOR_AUDIENCE).expect("visitor token");
        assert_eq!((claims.sub, claims.ext_user), (visitor, None));
        assert_eq!(link_claims([("cn", &keys)].into_iter(), &good).expect("claims").sub, visitor);
        assert!(link_claims([("eu", &keys)].into_iter(), &good).is_err(), "signed for another region");

        // The edge's own origin without a link is not an allowed origin.
        let refused = check_admission(&config, &site, &request(&site), Some("https://edge.example"));
        assert_eq!(refused.expect_err("no link").code, ErrorCode::OriginNotAllowed);

        // Forged, expired, or for another site: refused.
        let mut forged = good.clone();
        forged.pop();
        forged.push(if good.ends_with('A') { 'B' } else { 'A' });
        let mut other_site = site.clone();
        other_site.site_key = SiteKeyId::from_uuid(uuid::Uuid::now_v7());
        for (bad, site) in [
            (forged, &site),
            (link(&site, visitor, now - 120), &site),
            (good.clone(), &other_site),
            ("x".repeat(MAX_LINK_LEN + 1), &site),
        ] {
            let request = SessionRequest { link: Some(bad), ..request(site) };
            assert_eq!(
                grant(&config, &keys, site, &request, None, now).expect_err("refused").code,
                ErrorCode::InvalidToken
            );
        }
    }

    #[test]
    fn identity_must_match_the_tenants_hmac() {
        let (config, mut site) = (config(), site());
        let keys = crate::crypto::token_keys(KEYS).expect("keys");
        let secret = site.identity_secret.clone().expect("secret");
        let hash = hmac_hex(secret.as_bytes(), "customer-42");
        let identified = SessionRequest {
            user: Some(UserIdentity { id: "customer-42".into(), hash: hash.to_ascii_uppercase(), vip: None }),
            ..request(&site)
        };
        grant(&config, &keys, &site, &identified, None, 1_000).expect("verified identity is admitted");
        let wrong =
            SessionRequest { user: Some(UserIdentity { id: "customer-43".into(), hash, vip: None }), ..request(&site) };
        assert_eq!(
            grant(&config, &keys, &site, &wrong, None, 1_000).expect_err("forged").code,
            ErrorCode::InvalidIdentity
        );
        // The VIP level is signed with the id: claiming one the backend did not sign is refused.
        let vip = |level: u8, signed: u8| SessionRequest {
            user: Some(UserIdentity {
                id: "customer-42".into(),
                hash: hmac_hex(secret.as_bytes(), &identity_message("customer-42", Some(signed))),
                vip: Some(level),
            }),
            ..request(&site)
        };
        let now = chrono::Utc::now().timestamp();
        let granted = grant(&config, &keys, &site, &vip(3, 3), None, now).expect("signed vip");
        let claims: VisitorClaims = keys.verify(&granted.token, VISITOR_AUDIENCE).expect("claims");
        assert_eq!((claims.ext_user.as_deref(), claims.vip), (Some("customer-42"), Some(3)));
        for (level, signed) in [(3, 2), (11, 11)] {
            assert_eq!(
                grant(&config, &keys, &site, &vip(level, signed), None, 1_000).expect_err("unsigned vip").code,
                ErrorCode::InvalidIdentity
            );
        }
        site.settings.identity_required = true;
        assert_eq!(
            grant(&config, &keys, &site, &request(&site), None, 1_000).expect_err("required").code,
            ErrorCode::InvalidIdentity
        );
    }

    /// The security review: on a shared browser, `identify` switching to another customer
    /// replayed the first one's conversation. A proof names the customer it was made for.
    #[test]
    fn a_proof_admits_the_same_customer_or_an_anonymous_visitor_signing_in_never_another() {
        let (config, site) = (config(), site());
        let keys = crate::crypto::token_keys(KEYS).expect("keys");
        let secret = site.identity_secret.clone().expect("secret");
        let user = |id: &str| UserIdentity { id: id.into(), hash: hmac_hex(secret.as_bytes(), id), vip: None };
        let as_ = |who: Option<&str>, back: &SessionGrant| SessionRequest {
            visitor_id: Some(back.visitor_id),
            visitor_proof: Some(back.visitor_proof.clone()),
            user: who.map(user),
            ..request(&site)
        };
        let now = chrono::Utc::now().timestamp();
        let anonymous = grant(&config, &keys, &site, &request(&site), None, now).expect("grant");
        // Signing in continues the anonymous chat, and the proof now names the customer.
        let alice = grant(&config, &keys, &site, &as_(Some("alice"), &anonymous), None, now).expect("grant");
        assert_eq!(alice.visitor_id, anonymous.visitor_id);
        assert_ne!(alice.visitor_proof, anonymous.visitor_proof);
        let again = grant(&config, &keys, &site, &as_(Some("alice"), &alice), None, now).expect("grant");
        assert_eq!(again.visitor_id, alice.visitor_id, "the same customer comes back");
        // Another customer on the same browser, or Alice signed out: a new visitor.
        let bob = grant(&config, &keys, &site, &as_(Some("bob"), &alice), None, now).expect("grant");
        assert_ne!(bob.visitor_id, alice.visitor_id);
        let signed_out = grant(&config, &keys, &site, &as_(None, &alice), None, now).expect("grant");
        assert_ne!(signed_out.visitor_id, alice.visitor_id);
    }
}
