//! `control.sessions`: one row per login (the refresh-token family's id and the access token's
//! `sid`), with its absolute end and its revocation. Revoking goes through
//! [`super::refresh_tokens`], which ends the tokens and the session together.

use chrono::{DateTime, Utc};
use kefu_protocol::{TenantId, UserId};
use sqlx::PgConnection;
use uuid::Uuid;

/// A session as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    /// Session id.
    pub id: Uuid,
    /// The absolute end.
    pub expires_at: DateTime<Utc>,
    /// Set when it was ended (logout, reuse, password reset, removal).
    pub revoked_at: Option<DateTime<Utc>>,
}

impl SessionRow {
    /// Not ended and not past its absolute end.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// Starts a session.
pub async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    user: UserId,
    tenant: TenantId,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<SessionRow> {
    sqlx::query_as(
        "insert into control.sessions (id, user_id, tenant_id, expires_at) values ($1, $2, $3, $4)
         returning id, expires_at, revoked_at",
    )
    .bind(id)
    .bind(user)
    .bind(tenant)
    .bind(expires_at)
    .fetch_one(conn)
    .await
}

/// A session by id.
pub async fn find(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<SessionRow>> {
    sqlx::query_as("select id, expires_at, revoked_at from control.sessions where id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}
