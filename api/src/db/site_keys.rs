//! `control.site_keys`: public site keys and the tenant each leads to.

use chrono::{DateTime, Utc};
use kefu_protocol::SiteKeyId;

use super::TenantTx;
use super::tenants::{ACCESS_COLUMNS, TenantAccess};
use sqlx::PgConnection;

/// Most active site keys a tenant may have.
pub const MAX_PER_TENANT: i64 = 20;

/// A site key as listed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SiteKeyRow {
    /// The key (its id is the public key).
    pub id: SiteKeyId,
    /// What it is for.
    pub label: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// What the edge needs to find a key's tenant.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SiteKeyTenant {
    /// The key's tenant.
    #[sqlx(flatten)]
    pub tenant: TenantAccess,
    /// Tenant home region.
    pub home_region: String,
}

impl AsRef<TenantAccess> for SiteKeyTenant {
    fn as_ref(&self) -> &TenantAccess {
        &self.tenant
    }
}

/// Creates a key for the transaction's tenant.
pub async fn insert(tx: &mut TenantTx, id: SiteKeyId, label: &str) -> sqlx::Result<SiteKeyRow> {
    let tenant_id = tx.tenant_id();
    sqlx::query_as(
        "insert into control.site_keys (id, tenant_id, label) values ($1, $2, $3)
         returning id, label, created_at",
    )
    .bind(id)
    .bind(tenant_id)
    .bind(label)
    .fetch_one(tx.control().await?)
    .await
}

/// Active keys of the transaction's tenant, oldest first.
pub async fn list(tx: &mut TenantTx) -> sqlx::Result<Vec<SiteKeyRow>> {
    let tenant_id = tx.tenant_id();
    sqlx::query_as(
        "select id, label, created_at from control.site_keys
         where tenant_id = $1 and revoked_at is null order by created_at, id",
    )
    .bind(tenant_id)
    .fetch_all(tx.control().await?)
    .await
}

/// How many active keys the transaction's tenant has.
pub async fn count_active(tx: &mut TenantTx) -> sqlx::Result<i64> {
    let tenant_id = tx.tenant_id();
    sqlx::query_scalar("select count(*) from control.site_keys where tenant_id = $1 and revoked_at is null")
        .bind(tenant_id)
        .fetch_one(tx.control().await?)
        .await
}

/// Revokes a key of the transaction's tenant; false when there is no such active key.
pub async fn revoke(tx: &mut TenantTx, id: SiteKeyId) -> sqlx::Result<bool> {
    let tenant_id = tx.tenant_id();
    let done = sqlx::query(
        "update control.site_keys set revoked_at = now() where id = $1 and tenant_id = $2 and revoked_at is null",
    )
    .bind(id)
    .bind(tenant_id)
    .execute(tx.control().await?)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The tenant behind an active key.
pub async fn resolve(conn: &mut PgConnection, id: SiteKeyId) -> sqlx::Result<Option<SiteKeyTenant>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ACCESS_COLUMNS}, t.home_region
         from control.site_keys k join control.tenants t on t.id = k.tenant_id
         where k.id = $1 and k.revoked_at is null"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}
