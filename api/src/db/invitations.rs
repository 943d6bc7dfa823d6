//! `control.invitations`: pending invitations to join a tenant, each with a mailed one-time token.

use chrono::{DateTime, Utc};
use kefu_protocol::{InvitationId, Role, TenantId, UserId};

use super::TenantTx;
use sqlx::PgConnection;

/// An invitation as stored (without its token hash).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvitationRow {
    /// Invitation id.
    pub id: InvitationId,
    /// Tenant id.
    pub tenant_id: TenantId,
    /// Invited address.
    pub email: String,
    /// Role the invitee will get.
    pub role: Role,
    /// Who invited.
    pub invited_by: Option<UserId>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Until when the token works.
    pub expires_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, tenant_id, email, role, invited_by, created_at, expires_at";

/// Inserts an invitation to the transaction's tenant. A second pending one for the same email violates
/// `invitations_pending_email_key`.
#[allow(clippy::too_many_arguments)]
pub async fn insert(
    tx: &mut TenantTx,
    id: InvitationId,
    email: &str,
    role: Role,
    token_hash: &[u8],
    invited_by: Option<UserId>,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    let tenant_id = tx.tenant_id();
    sqlx::query(
        "insert into control.invitations (id, tenant_id, email, role, token_hash, invited_by, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(tenant_id)
    .bind(email)
    .bind(role)
    .bind(token_hash)
    .bind(invited_by)
    .bind(expires_at)
    .execute(tx.control().await?)
    .await?;
    Ok(())
}

/// Pending (not accepted, not revoked) invitations of the transaction's tenant, newest first. Expired ones are
/// included so admins can see and re-send them.
pub async fn list_pending(tx: &mut TenantTx) -> sqlx::Result<Vec<InvitationRow>> {
    let tenant_id = tx.tenant_id();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from control.invitations
         where tenant_id = $1 and accepted_at is null and revoked_at is null
         order by created_at desc"
    )))
    .bind(tenant_id)
    .fetch_all(tx.control().await?)
    .await
}

/// A usable invitation by token hash, locked for the rest of the transaction.
pub async fn find_usable_for_update(conn: &mut PgConnection, token_hash: &[u8]) -> sqlx::Result<Option<InvitationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from control.invitations
         where token_hash = $1 and accepted_at is null and revoked_at is null and expires_at > now()
         for update"
    )))
    .bind(token_hash)
    .fetch_optional(conn)
    .await
}

/// Marks an invitation accepted.
pub async fn mark_accepted(conn: &mut PgConnection, id: InvitationId) -> sqlx::Result<()> {
    sqlx::query("update control.invitations set accepted_at = now() where id = $1").bind(id).execute(conn).await?;
    Ok(())
}

/// Revokes a pending invitation of the transaction's tenant; returns whether one was revoked.
pub async fn revoke(tx: &mut TenantTx, id: InvitationId) -> sqlx::Result<bool> {
    let tenant_id = tx.tenant_id();
    let done = sqlx::query(
        "update control.invitations set revoked_at = now()
         where tenant_id = $1 and id = $2 and accepted_at is null and revoked_at is null",
    )
    .bind(tenant_id)
    .bind(id)
    .execute(tx.control().await?)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Drops the transaction's tenant's expired pending invitations for an email so a fresh one
/// can be made.
pub async fn expire_stale(tx: &mut TenantTx, email: &str) -> sqlx::Result<()> {
    let tenant_id = tx.tenant_id();
    sqlx::query(
        "update control.invitations set revoked_at = now()
         where tenant_id = $1 and lower(email) = lower($2) and accepted_at is null and revoked_at is null
           and expires_at <= now()",
    )
    .bind(tenant_id)
    .bind(email)
    .execute(tx.control().await?)
    .await?;
    Ok(())
}
