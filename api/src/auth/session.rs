//! Login sessions: an access token plus a rotating refresh token whose family is the session.

use chrono::{Duration, Utc};
use kefu_protocol::{Role, TenantId, UserId};
use sqlx::PgConnection;
use uuid::Uuid;

use super::JwtKeys;
use crate::db;
use crate::domain::secret;

/// Prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "kefu_rt";

/// A freshly issued pair.
pub struct IssuedTokens {
    /// JWT access token.
    pub access_token: String,
    /// Opaque refresh token (shown once).
    pub refresh_token: String,
    /// Access-token lifetime in seconds.
    pub expires_in: i64,
}

/// Starts a new session family (login, signup, invitation accepted) in the caller's transaction.
pub async fn start(
    conn: &mut PgConnection,
    jwt: &JwtKeys,
    refresh_ttl_days: u64,
    user: UserId,
    tenant: TenantId,
    role: Role,
) -> anyhow::Result<IssuedTokens> {
    continue_family(conn, jwt, refresh_ttl_days, Uuid::now_v7(), user, tenant, role).await
}

/// Issues the next pair of an existing family (refresh) in the caller's transaction.
pub async fn continue_family(
    conn: &mut PgConnection,
    jwt: &JwtKeys,
    refresh_ttl_days: u64,
    family: Uuid,
    user: UserId,
    tenant: TenantId,
    role: Role,
) -> anyhow::Result<IssuedTokens> {
    let refresh_token = secret::generate(REFRESH_PREFIX)?;
    let expires_at = Utc::now() + Duration::days(i64::try_from(refresh_ttl_days)?);
    db::refresh_tokens::insert(conn, Uuid::now_v7(), family, user, tenant, &secret::digest(&refresh_token), expires_at)
        .await?;
    Ok(IssuedTokens {
        access_token: jwt.issue_access(user, tenant, role)?,
        refresh_token,
        expires_in: jwt.access_ttl_secs(),
    })
}
