//! `control.user_tokens`: mailed one-time tokens for email verification and password reset.

use chrono::{DateTime, Utc};
use kefu_protocol::UserId;
use sqlx::PgConnection;

text_enum! {
    /// What a one-time token is for (`control.user_tokens.purpose`).
    pub enum Purpose {
        /// Confirms the address.
        VerifyEmail => "verify_email",
        /// Allows setting a new password.
        ResetPassword => "reset_password",
    }
}

/// Stores a token. Earlier unused tokens of the same purpose stay valid until they expire.
pub async fn insert(
    conn: &mut PgConnection,
    token_hash: &[u8],
    user_id: UserId,
    purpose: Purpose,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("insert into control.user_tokens (token_hash, user_id, purpose, expires_at) values ($1, $2, $3, $4)")
        .bind(token_hash)
        .bind(user_id)
        .bind(purpose)
        .bind(expires_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Consumes a valid token: marks it used and returns its user. `None` when unknown, used,
/// expired or for another purpose.
pub async fn consume(conn: &mut PgConnection, token_hash: &[u8], purpose: Purpose) -> sqlx::Result<Option<UserId>> {
    sqlx::query_scalar(
        "update control.user_tokens set used_at = now()
         where token_hash = $1 and purpose = $2 and used_at is null and expires_at > now()
         returning user_id",
    )
    .bind(token_hash)
    .bind(purpose)
    .fetch_optional(conn)
    .await
}

/// Invalidates every unused token of a purpose for a user (after a successful reset).
pub async fn invalidate_all(conn: &mut PgConnection, user_id: UserId, purpose: Purpose) -> sqlx::Result<()> {
    sqlx::query(
        "update control.user_tokens set used_at = now() where user_id = $1 and purpose = $2 and used_at is null",
    )
    .bind(user_id)
    .bind(purpose)
    .execute(conn)
    .await?;
    Ok(())
}
