//! Tokens: HS256 JWTs with a key id (`kid`) header, signed and verified with the shared
//! `kefu_protocol::token` code, under two separate key sets. Members' access tokens use
//! `auth.signing_keys`, which only the api holds; visitor tokens (minted by the edge) and chat
//! links use `auth.visitor_keys`, which the edge holds too. A token is verified only with its own
//! set, so whoever has the edge's keys can mint visitors and nothing else. In each set the first
//! key signs and every key verifies, so a key is rotated in by adding it second, promoting it to
//! first, and removing the old one after the tokens' lifetime (docs/security.md).

use chrono::Utc;
use kefu_protocol::token::TokenKeys;
use kefu_protocol::{AGENT_AUDIENCE, AccessClaims, ISSUER, Role, TenantId, UserId, VISITOR_AUDIENCE, VisitorClaims};
use secrecy::ExposeSecret;

pub use kefu_protocol::token::TokenError;

use crate::config::SigningKey;

/// The signing and verification keys.
#[derive(Clone, Debug)]
pub struct JwtKeys {
    members: TokenKeys,
    visitors: TokenKeys,
    access_ttl_secs: i64,
}

fn token_keys(keys: &[SigningKey], what: &str) -> anyhow::Result<TokenKeys> {
    TokenKeys::new(keys.iter().map(|k| (k.kid.as_str(), k.secret.expose_secret().as_bytes())))
        .ok_or_else(|| anyhow::anyhow!("no {what} key"))
}

impl JwtKeys {
    /// Builds the key sets; both are non-empty and share no key (validated config).
    pub fn new(members: &[SigningKey], visitors: &[SigningKey], access_ttl_secs: u64) -> anyhow::Result<Self> {
        Ok(Self {
            members: token_keys(members, "member signing")?,
            visitors: token_keys(visitors, "visitor")?,
            access_ttl_secs: i64::try_from(access_ttl_secs)?,
        })
    }

    /// Access-token lifetime in seconds.
    pub fn access_ttl_secs(&self) -> i64 {
        self.access_ttl_secs
    }

    /// The visitor key set: visitor tokens and chat links (the edge holds the same).
    pub fn visitor_keys(&self) -> &TokenKeys {
        &self.visitors
    }

    /// Signs an access token for a member.
    pub fn issue_access(
        &self,
        user: UserId,
        tenant: TenantId,
        role: Role,
        session: uuid::Uuid,
    ) -> anyhow::Result<String> {
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
            sid: Some(session),
        };
        Ok(self.members.sign(&claims)?)
    }

    /// Verifies an agent access token (HS256 only, a member key's `kid`, `exp`, issuer,
    /// audience `agent`): anything signed with a visitor key is an unknown key here.
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        self.members.verify(token, AGENT_AUDIENCE)
    }

    /// Verifies a visitor token (a visitor key, audience `visitor`).
    pub fn verify_visitor(&self, token: &str) -> Result<VisitorClaims, TokenError> {
        self.visitors.verify(token, VISITOR_AUDIENCE)
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

    fn visitor_key() -> SigningKey {
        key("v1", &"v".repeat(32))
    }

    fn ids() -> (UserId, TenantId) {
        (UserId::new_v7(), TenantId::new_v7())
    }

    #[test]
    fn issued_tokens_verify_and_carry_claims() {
        let keys = JwtKeys::new(&[key("k1", &"a".repeat(32))], &[visitor_key()], 900).expect("keys");
        let (user, tenant) = ids();
        let token = keys.issue_access(user, tenant, Role::Admin, uuid::Uuid::now_v7()).expect("issue");
        let claims = keys.verify_access(&token).expect("verify");
        assert_eq!((claims.sub, claims.tid, claims.role), (user, tenant, Role::Admin));
    }

    #[test]
    fn rotation_old_key_still_verifies_unknown_key_does_not() {
        let old = JwtKeys::new(&[key("k1", &"a".repeat(32))], &[visitor_key()], 900).expect("keys");
        let rotated = JwtKeys::new(&[key("k2", &"b".repeat(32)), key("k1", &"a".repeat(32))], &[visitor_key()], 900)
            .expect("keys");
        let only_new = JwtKeys::new(&[key("k2", &"b".repeat(32))], &[visitor_key()], 900).expect("keys");
        let (user, tenant) = ids();
        let token = old.issue_access(user, tenant, Role::Agent, uuid::Uuid::now_v7()).expect("issue");
        assert!(rotated.verify_access(&token).is_ok());
        assert!(matches!(only_new.verify_access(&token), Err(TokenError::UnknownKey)));
    }

    #[test]
    fn forged_none_and_tampered_tokens_fail() {
        let keys = JwtKeys::new(&[key("k1", &"a".repeat(32))], &[visitor_key()], 900).expect("keys");
        let (user, tenant) = ids();
        let token = keys.issue_access(user, tenant, Role::Agent, uuid::Uuid::now_v7()).expect("issue");
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
        let other = JwtKeys::new(&[key("k1", &"z".repeat(32))], &[visitor_key()], 900).expect("keys");
        assert!(
            keys.verify_access(&other.issue_access(user, tenant, Role::Agent, uuid::Uuid::now_v7()).expect("issue"))
                .is_err()
        );
        assert!(keys.verify_access("not.a.jwt").is_err());
        // An agent token is not a visitor token, and the other way round.
        assert!(keys.verify_visitor(&token).is_err());
    }

    /// Whoever holds the visitor keys (the edge) cannot make a member's token: an access token's
    /// claims signed with a visitor key are refused as an unknown key.
    #[test]
    fn a_visitor_key_cannot_sign_a_members_token() {
        let keys = JwtKeys::new(&[key("k1", &"a".repeat(32))], &[visitor_key()], 900).expect("keys");
        let (user, tenant) = ids();
        let now = Utc::now().timestamp();
        let claims = AccessClaims {
            iss: ISSUER.into(),
            aud: AGENT_AUDIENCE.into(),
            sub: user,
            tid: tenant,
            role: Role::Owner,
            iat: now,
            exp: now + 900,
            jti: "forged".into(),
            sid: None,
        };
        let forged = keys.visitor_keys().sign(&claims).expect("sign");
        assert!(matches!(keys.verify_access(&forged), Err(TokenError::UnknownKey)));
        // And a member key does not make visitor tokens.
        let member = keys.issue_access(user, tenant, Role::Agent, uuid::Uuid::now_v7()).expect("issue");
        assert!(matches!(keys.verify_visitor(&member), Err(TokenError::UnknownKey)));
    }
}
