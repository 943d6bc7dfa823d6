//! Access tokens: HS256 JWTs with a key id (`kid`) header, signed and verified with the shared
//! `kefu_protocol::token` code. The first configured key signs; every configured key verifies, so
//! a key can be rotated in by adding it second, promoted to first, and the old one removed after
//! the access-token lifetime. Visitor tokens (minted by the edge with the same keys) are verified
//! here too.

use chrono::Utc;
use kefu_protocol::token::TokenKeys;
use kefu_protocol::{AGENT_AUDIENCE, AccessClaims, ISSUER, Role, TenantId, UserId, VISITOR_AUDIENCE, VisitorClaims};
use secrecy::ExposeSecret;

pub use kefu_protocol::token::TokenError;

use crate::config::SigningKey;

/// The signing and verification keys.
#[derive(Clone, Debug)]
pub struct JwtKeys {
    keys: TokenKeys,
    access_ttl_secs: i64,
}

impl JwtKeys {
    /// Builds the key set; `keys` is non-empty (validated config).
    pub fn new(keys: &[SigningKey], access_ttl_secs: u64) -> anyhow::Result<Self> {
        let keys = TokenKeys::new(keys.iter().map(|k| (k.kid.as_str(), k.secret.expose_secret().as_bytes())))
            .ok_or_else(|| anyhow::anyhow!("no signing key"))?;
        Ok(Self { keys, access_ttl_secs: i64::try_from(access_ttl_secs)? })
    }

    /// Access-token lifetime in seconds.
    pub fn access_ttl_secs(&self) -> i64 {
        self.access_ttl_secs
    }

    /// The raw key set (the edge mints visitor tokens with the same keys).
    pub fn keys(&self) -> &TokenKeys {
        &self.keys
    }

    /// Signs an access token for a member.
    pub fn issue_access(&self, user: UserId, tenant: TenantId, role: Role) -> anyhow::Result<String> {
        let now = Utc::now().timestamp();
        let claims = AccessClaims {
            iss: ISSUER.into(),
            aud: AGENT_AUDIENCE.into(),
            sub: user,
            tid: tenant,
            role,
            iat: now,
            exp: now + self.access_ttl_secs,
            jti: uuid::Uuid::now_v7().simple().to_string(),
        };
        Ok(self.keys.sign(&claims)?)
    }

    /// Verifies an agent access token (HS256 only, known `kid`, `exp`, issuer, audience `agent`).
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        self.keys.verify(token, AGENT_AUDIENCE)
    }

    /// Verifies a visitor token (audience `visitor`).
    pub fn verify_visitor(&self, token: &str) -> Result<VisitorClaims, TokenError> {
        self.keys.verify(token, VISITOR_AUDIENCE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::NewId;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use secrecy::SecretString;

    fn key(kid: &str, secret: &str) -> SigningKey {
        SigningKey { kid: kid.into(), secret: SecretString::from(secret.to_owned()) }
    }

    fn ids() -> (UserId, TenantId) {
        (UserId::new_v7(), TenantId::new_v7())
    }

    #[test]
    fn issued_tokens_verify_and_carry_claims() {
        let keys = JwtKeys::new(&[key("k1", &"a".repeat(32))], 900).expect("keys");
        let (user, tenant) = ids();
        let token = keys.issue_access(user, tenant, Role::Admin).expect("issue");
        let claims = keys.verify_access(&token).expect("verify");
        assert_eq!((claims.sub, claims.tid, claims.role), (user, tenant, Role::Admin));
    }

    #[test]
    fn rotation_old_key_still_verifies_unknown_key_does_not() {
        let old = JwtKeys::new(&[key("k1", &"a".repeat(32))], 900).expect("keys");
        let rotated = JwtKeys::new(&[key("k2", &"b".repeat(32)), key("k1", &"a".repeat(32))], 900).expect("keys");
        let only_new = JwtKeys::new(&[key("k2", &"b".repeat(32))], 900).expect("keys");
        let (user, tenant) = ids();
        let token = old.issue_access(user, tenant, Role::Agent).expect("issue");
        assert!(rotated.verify_access(&token).is_ok());
        assert!(matches!(only_new.verify_access(&token), Err(TokenError::UnknownKey)));
    }

    #[test]
    fn forged_none_and_tampered_tokens_fail() {
        let keys = JwtKeys::new(&[key("k1", &"a".repeat(32))], 900).expect("keys");
        let (user, tenant) = ids();
        let token = keys.issue_access(user, tenant, Role::Agent).expect("issue");
        let parts: Vec<&str> = token.split('.').collect();
        // alg: none with the same kid and claims, no signature.
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"k1"}"#);
        assert!(keys.verify_access(&format!("{none_header}.{}.", parts[1])).is_err());
        // Claims changed to owner, old signature.
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
        claims["role"] = "owner".into();
        let forged = URL_SAFE_NO_PAD.encode(claims.to_string());
        assert!(keys.verify_access(&format!("{}.{forged}.{}", parts[0], parts[2])).is_err());
        // Signed with another secret under the same kid.
        let other = JwtKeys::new(&[key("k1", &"z".repeat(32))], 900).expect("keys");
        assert!(keys.verify_access(&other.issue_access(user, tenant, Role::Agent).expect("issue")).is_err());
        assert!(keys.verify_access("not.a.jwt").is_err());
        // An agent token is not a visitor token, and the other way round.
        assert!(keys.verify_visitor(&token).is_err());
    }
}
