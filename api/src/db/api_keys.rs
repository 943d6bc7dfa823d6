//! `control.api_keys`: tenant API keys, stored as SHA-256 of the secret.

use chrono::{DateTime, Utc};
use kefu_protocol::{ApiKeyId, Role, UserId};

use super::TenantTx;
use super::tenants::{ACCESS_COLUMNS, TenantAccess};
use sqlx::PgConnection;

/// An API key as listed (never the secret).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    /// Key id.
    pub id: ApiKeyId,
    /// Name given by the admin.
    pub name: String,
    /// Role the key acts with.
    pub role: Role,
    /// First characters of the secret.
    pub prefix: String,
    /// Creator.
    pub created_by: Option<UserId>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last successful use (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// What authenticating with a key yields.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyAuth {
    /// Key id.
    pub id: ApiKeyId,
    /// Role.
    pub role: Role,
    /// The key's tenant.
    #[sqlx(flatten)]
    pub tenant: TenantAccess,
}

impl AsRef<TenantAccess> for ApiKeyAuth {
    fn as_ref(&self) -> &TenantAccess {
        &self.tenant
    }
}

/// Most keys a tenant may have at once.
pub const MAX_PER_TENANT: i64 = 50;

/// Inserts a key of the transaction's tenant.
#[allow(clippy::too_many_arguments)]
pub async fn insert(
    tx: &mut TenantTx,
    id: ApiKeyId,
    name: &str,
    role: Role,
    prefix: &str,
    key_hash: &[u8],
    created_by: Option<UserId>,
) -> sqlx::Result<ApiKeyRow> {
    let tenant_id = tx.tenant_id();
    sqlx::query_as(
        "insert into control.api_keys (id, tenant_id, name, role, prefix, key_hash, created_by)
         values ($1, $2, $3, $4, $5, $6, $7)
         returning id, name, role, prefix, created_by, created_at, last_used_at",
    )
    .bind(id)
    .bind(tenant_id)
    .bind(name)
    .bind(role)
    .bind(prefix)
    .bind(key_hash)
    .bind(created_by)
    .fetch_one(tx.control().await?)
    .await
}

/// Active keys of the transaction's tenant.
pub async fn count_active(tx: &mut TenantTx) -> sqlx::Result<i64> {
    let tenant_id = tx.tenant_id();
    sqlx::query_scalar("select count(*) from control.api_keys where tenant_id = $1 and revoked_at is null")
        .bind(tenant_id)
        .fetch_one(tx.control().await?)
        .await
}

/// Active keys of the transaction's tenant, newest first.
pub async fn list(tx: &mut TenantTx) -> sqlx::Result<Vec<ApiKeyRow>> {
    let tenant_id = tx.tenant_id();
    sqlx::query_as(
        "select id, name, role, prefix, created_by, created_at, last_used_at from control.api_keys
         where tenant_id = $1 and revoked_at is null order by created_at desc",
    )
    .bind(tenant_id)
    .fetch_all(tx.control().await?)
    .await
}

/// Revokes a key of the transaction's tenant; returns whether one was revoked.
pub async fn revoke(tx: &mut TenantTx, id: ApiKeyId) -> sqlx::Result<bool> {
    let tenant_id = tx.tenant_id();
    let done = sqlx::query(
        "update control.api_keys set revoked_at = now() where tenant_id = $1 and id = $2 and revoked_at is null",
    )
    .bind(tenant_id)
    .bind(id)
    .execute(tx.control().await?)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Looks up an active key by hash and records its use (at most once a minute).
pub async fn authenticate(conn: &mut PgConnection, key_hash: &[u8]) -> sqlx::Result<Option<ApiKeyAuth>> {
    let found: Option<ApiKeyAuth> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select k.id, k.role, {ACCESS_COLUMNS}
         from control.api_keys k join control.tenants t on t.id = k.tenant_id
         where k.key_hash = $1 and k.revoked_at is null"
    )))
    .bind(key_hash)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(key) = &found {
        sqlx::query(
            "update control.api_keys set last_used_at = now()
             where id = $1 and (last_used_at is null or last_used_at < now() - interval '1 minute')",
        )
        .bind(key.id)
        .execute(conn)
        .await?;
    }
    Ok(found)
}
