//! `control.refresh_tokens`: rotating refresh tokens grouped in families (one family = one login).

use chrono::{DateTime, Utc};
use kefu_protocol::{TenantId, UserId};

use super::TenantTx;
use sqlx::PgConnection;
use uuid::Uuid;

/// A refresh token as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshTokenRow {
    /// Token id.
    pub id: Uuid,
    /// Family (login session).
    pub family_id: Uuid,
    /// User.
    pub user_id: UserId,
    /// Tenant the session acts in.
    pub tenant_id: TenantId,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Set once it was exchanged for a newer token.
    pub replaced_at: Option<DateTime<Utc>>,
    /// Set when the family was revoked (logout, reuse, password change).
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Inserts a token.
pub async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    family_id: Uuid,
    user_id: UserId,
    tenant_id: TenantId,
    token_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into control.refresh_tokens (id, family_id, user_id, tenant_id, token_hash, expires_at)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(family_id)
    .bind(user_id)
    .bind(tenant_id)
    .bind(token_hash)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Finds a token by hash and locks it, so two concurrent refreshes with the same token cannot
/// both succeed.
pub async fn find_for_update(conn: &mut PgConnection, token_hash: &[u8]) -> sqlx::Result<Option<RefreshTokenRow>> {
    sqlx::query_as(
        "select id, family_id, user_id, tenant_id, expires_at, replaced_at, revoked_at
         from control.refresh_tokens where token_hash = $1 for update",
    )
    .bind(token_hash)
    .fetch_optional(conn)
    .await
}

/// Marks a token as exchanged.
pub async fn mark_replaced(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("update control.refresh_tokens set replaced_at = now() where id = $1").bind(id).execute(conn).await?;
    Ok(())
}

/// Revokes every token of a family and its session.
pub async fn revoke_family(conn: &mut PgConnection, family_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("update control.refresh_tokens set revoked_at = now() where family_id = $1 and revoked_at is null")
        .bind(family_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("update control.sessions set revoked_at = now() where id = $1 and revoked_at is null")
        .bind(family_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Revokes every session of a user (all tenants), e.g. after a password reset.
pub async fn revoke_user(conn: &mut PgConnection, user_id: UserId) -> sqlx::Result<()> {
    sqlx::query("update control.refresh_tokens set revoked_at = now() where user_id = $1 and revoked_at is null")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("update control.sessions set revoked_at = now() where user_id = $1 and revoked_at is null")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Revokes a user's sessions in the transaction's tenant, e.g. when their membership is removed.
pub async fn revoke_user_in_tenant(tx: &mut TenantTx, user_id: UserId) -> sqlx::Result<()> {
    let tenant_id = tx.tenant_id();
    let control = tx.control().await?;
    sqlx::query(
        "update control.refresh_tokens set revoked_at = now()
         where user_id = $1 and tenant_id = $2 and revoked_at is null",
    )
    .bind(user_id)
    .bind(tenant_id)
    .execute(&mut *control)
    .await?;
    sqlx::query(
        "update control.sessions set revoked_at = now() where user_id = $1 and tenant_id = $2 and revoked_at is null",
    )
    .bind(user_id)
    .bind(tenant_id)
    .execute(control)
    .await?;
    Ok(())
}
