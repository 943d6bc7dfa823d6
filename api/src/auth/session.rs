//! Login sessions: a row in `control.sessions` with an absolute end, an access token that names
//! it (`sid`, checked on every request, so ending the session ends access at once), and a rotating
//! refresh token whose family is the session.

use chrono::{DateTime, Duration, Utc};
use kefu_protocol::{Role, TenantId, UserId};
use sqlx::PgConnection;
use uuid::Uuid;

use super::JwtKeys;
use crate::config::AuthConfig;
use crate::db;
use crate::domain::secret;

/// Prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "kefu_rt";

/// A refresh token used again this soon after it was exchanged is taken for two tabs of one
/// browser refreshing at once (answered with an access token and no new refresh token: the other
/// answer carried it), not for a stolen token (the whole session revoked).
pub const CONCURRENT_REFRESH_GRACE: Duration = Duration::seconds(10);

/// A freshly issued pair.
pub struct IssuedTokens {
    /// JWT access token.
    pub access_token: String,
    /// Opaque refresh token (shown once); none when a concurrent refresh already issued the next
    /// one.
    pub refresh_token: Option<String>,
    /// Access-token lifetime in seconds.
    pub expires_in: i64,
    /// When the refresh token stops working (the earlier of its idle limit and the session's
    /// absolute end).
    pub refresh_expires_at: DateTime<Utc>,
}

/// Starts a session (login, signup, invitation accepted) in the caller's transaction.
pub async fn start(
    conn: &mut PgConnection,
    jwt: &JwtKeys,
    config: &AuthConfig,
    user: UserId,
    tenant: TenantId,
    role: Role,
) -> anyhow::Result<IssuedTokens> {
    let ends = Utc::now() + Duration::days(i64::try_from(config.session_max_days)?);
    let session = db::sessions::insert(conn, Uuid::now_v7(), user, tenant, ends).await?;
    continue_session(conn, jwt, config, &session, user, tenant, role).await
}

/// Issues the next pair of a live session (refresh) in the caller's transaction.
pub async fn continue_session(
    conn: &mut PgConnection,
    jwt: &JwtKeys,
    config: &AuthConfig,
    session: &db::sessions::SessionRow,
    user: UserId,
    tenant: TenantId,
    role: Role,
) -> anyhow::Result<IssuedTokens> {
    let refresh_token = secret::generate(REFRESH_PREFIX)?;
    let idle_end = Utc::now() + Duration::days(i64::try_from(config.refresh_ttl_days)?);
    let expires_at = idle_end.min(session.expires_at);
    let hash = secret::digest(&refresh_token);
    db::refresh_tokens::insert(conn, Uuid::now_v7(), session.id, user, tenant, &hash, expires_at).await?;
    Ok(IssuedTokens {
        access_token: jwt.issue_access(user, tenant, role, session.id)?,
        refresh_token: Some(refresh_token),
        expires_in: jwt.access_ttl_secs(),
        refresh_expires_at: expires_at,
    })
}

/// An access token of a live session without a new refresh token (a concurrent refresh within
/// [`CONCURRENT_REFRESH_GRACE`]).
pub fn access_only(
    jwt: &JwtKeys,
    session: &db::sessions::SessionRow,
    user: UserId,
    tenant: TenantId,
    role: Role,
) -> anyhow::Result<IssuedTokens> {
    Ok(IssuedTokens {
        access_token: jwt.issue_access(user, tenant, role, session.id)?,
        refresh_token: None,
        expires_in: jwt.access_ttl_secs(),
        refresh_expires_at: session.expires_at,
    })
}
