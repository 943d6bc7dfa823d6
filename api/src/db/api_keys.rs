//! `control.api_keys`: tenant API keys, stored as SHA-256 of the secret.

use chrono::{DateTime, Utc};
use kefu_protocol::{ApiKeyId, Role, UserId};

use super::TenantTx;
use super::tenants::{ACCESS_COLUMNS, TenantAccess};
use crate::auth::Scopes;
use sqlx::PgConnection;

/// Who owns a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyOwner {
    /// Its creator: it acts as them, never above their current role, and is revoked when they
    /// leave the workspace.
    Member,
    /// The workspace: it acts with its own role and outlives its creator.
    Tenant,
}

impl KeyOwner {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyOwner::Member => "member",
            KeyOwner::Tenant => "tenant",
        }
    }

    fn parse(stored: &str) -> Self {
        if stored == "member" { KeyOwner::Member } else { KeyOwner::Tenant }
    }
}

/// What a new key is.
#[derive(Debug, Clone)]
pub struct NewKey<'a> {
    /// Key id.
    pub id: ApiKeyId,
    /// Name given by the admin.
    pub name: &'a str,
    /// Role the key acts with.
    pub role: Role,
    /// What it may touch.
    pub scopes: Scopes,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// Who owns it.
    pub owner: KeyOwner,
    /// First characters of the secret.
    pub prefix: &'a str,
    /// SHA-256 of the secret.
    pub key_hash: &'a [u8],
    /// The creating member.
    pub created_by: UserId,
}

/// An API key as listed (never the secret).
#[derive(Debug, Clone)]
pub struct ApiKeyRow {
    /// Key id.
    pub id: ApiKeyId,
    /// Name given by the admin.
    pub name: String,
    /// Role the key acts with.
    pub role: Role,
    /// What it may touch.
    pub scopes: Scopes,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// Who owns it.
    pub owner: KeyOwner,
    /// First characters of the secret.
    pub prefix: String,
    /// Creator.
    pub created_by: Option<UserId>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last successful use (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for ApiKeyRow {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> sqlx::Result<Self> {
        use sqlx::Row;
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            role: row.try_get("role")?,
            scopes: Scopes::from_names(&row.try_get::<Vec<String>, _>("scopes")?),
            expires_at: row.try_get("expires_at")?,
            owner: KeyOwner::parse(row.try_get("owner")?),
            prefix: row.try_get("prefix")?,
            created_by: row.try_get("created_by")?,
            created_at: row.try_get("created_at")?,
            last_used_at: row.try_get("last_used_at")?,
        })
    }
}

const ROW_COLUMNS: &str = "id, name, role, scopes, expires_at, owner, prefix, created_by, created_at, last_used_at";

/// What authenticating with a key yields.
#[derive(Debug, Clone)]
pub struct ApiKeyAuth {
    /// Key id.
    pub id: ApiKeyId,
    /// The role it acts with: its own, and for a member's key never above the member's current
    /// role.
    pub role: Role,
    /// What it may touch.
    pub scopes: Scopes,
    /// The member a member's key acts as.
    pub member: Option<UserId>,
    /// The key's tenant.
    pub tenant: TenantAccess,
}

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for ApiKeyAuth {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> sqlx::Result<Self> {
        use sqlx::Row;
        let role: Role = row.try_get("role")?;
        let member_role: Option<Role> = row.try_get("member_role")?;
        Ok(Self {
            id: row.try_get("id")?,
            role: member_role.map_or(role, |member| role.min(member)),
            scopes: Scopes::from_names(&row.try_get::<Vec<String>, _>("scopes")?),
            member: if member_role.is_some() { row.try_get("created_by")? } else { None },
            tenant: TenantAccess::from_row(row)?,
        })
    }
}

impl AsRef<TenantAccess> for ApiKeyAuth {
    fn as_ref(&self) -> &TenantAccess {
        &self.tenant
    }
}

/// Most keys a tenant may have at once.
pub const MAX_PER_TENANT: i64 = 50;

/// Inserts a key of the transaction's tenant.
pub async fn insert(tx: &mut TenantTx, key: NewKey<'_>) -> sqlx::Result<ApiKeyRow> {
    let tenant_id = tx.tenant_id();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into control.api_keys (id, tenant_id, name, role, scopes, expires_at, owner, prefix, key_hash, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         returning {ROW_COLUMNS}"
    )))
    .bind(key.id)
    .bind(tenant_id)
    .bind(key.name)
    .bind(key.role)
    .bind(key.scopes.names())
    .bind(key.expires_at)
    .bind(key.owner.as_str())
    .bind(key.prefix)
    .bind(key.key_hash)
    .bind(key.created_by)
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

/// Active keys of the transaction's tenant (expired ones too, marked by their time), newest
/// first.
pub async fn list(tx: &mut TenantTx) -> sqlx::Result<Vec<ApiKeyRow>> {
    let tenant_id = tx.tenant_id();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ROW_COLUMNS} from control.api_keys
         where tenant_id = $1 and revoked_at is null order by created_at desc"
    )))
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

/// Looks up a usable key by hash — not revoked, not expired, and for a member's key, its member
/// still in the workspace — and records its use (at most once a minute).
pub async fn authenticate(conn: &mut PgConnection, key_hash: &[u8]) -> sqlx::Result<Option<ApiKeyAuth>> {
    let found: Option<ApiKeyAuth> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select k.id, k.role, k.scopes, k.created_by, m.role as member_role, {ACCESS_COLUMNS}
         from control.api_keys k join control.tenants t on t.id = k.tenant_id
         left join control.memberships m on k.owner = 'member' and m.tenant_id = k.tenant_id and m.user_id = k.created_by
         where k.key_hash = $1 and k.revoked_at is null and (k.expires_at is null or k.expires_at > now())
           and (k.owner = 'tenant' or m.user_id is not null)"
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
