//! Creating a tenant: control row, schema, migrations, owner membership, all in the caller's
//! transaction so that a failure anywhere leaves nothing behind.

use chrono::{Duration, Utc};
use kefu_protocol::{Role, TenantId, UserId};
use sqlx::PgConnection;

use super::migrate_tenant_schema;
use crate::db::NewId;
use crate::db::tenants::TenantAccess;
use crate::db::{self, TenantSchema};

/// What a new tenant starts with.
pub struct NewTenant<'a> {
    /// Company name (validated).
    pub name: &'a str,
    /// URL slug (validated and free).
    pub slug: &'a str,
    /// The owner's user id (already inserted in the same transaction).
    pub owner: UserId,
    /// Its home region: this node's region (where its data lives and its visitors connect).
    pub region: &'a str,
}

/// Creates the tenant with a trial plan, its migrated schema, and the owner's membership, on a
/// connection inside a transaction. Returns the tenant's control row, with which the caller
/// continues the transaction as the tenant's (`TenantTx::enter`).
pub async fn create_tenant(conn: &mut PgConnection, new: NewTenant<'_>) -> anyhow::Result<TenantAccess> {
    let trial_days: i32 =
        sqlx::query_scalar("select trial_days from control.plans where id = 'trial'").fetch_one(&mut *conn).await?;
    let trial_ends_at = Utc::now() + Duration::days(i64::from(trial_days));
    let tenant =
        db::tenants::insert(conn, TenantId::new_v7(), new.slug, new.name, "trial", Some(trial_ends_at), new.region)
            .await?;
    migrate_tenant_schema(conn, &tenant.schema).await?;
    db::memberships::insert(conn, tenant.id, new.owner, Role::Owner).await?;
    Ok(tenant)
}

/// Picks and claims a free slug: the wanted one if free, else the wanted one with a short random
/// suffix.
/// Names without ASCII letters (e.g. Chinese company names) get `team-<suffix>`.
pub async fn free_slug(conn: &mut PgConnection, wanted: Option<String>) -> anyhow::Result<String> {
    if let Some(slug) = &wanted
        && !RESERVED.contains(&slug.as_str())
        && db::tenants::claim_slug(conn, slug).await?
    {
        return Ok(slug.clone());
    }
    let base = wanted.unwrap_or_else(|| "team".into());
    for _ in 0..8 {
        let mut bytes = [0u8; 3];
        crate::domain::secret::fill_random(&mut bytes).map_err(anyhow::Error::msg)?;
        let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let candidate = format!("{}-{suffix}", &base[..base.len().min(32)]);
        if db::tenants::claim_slug(conn, &candidate).await? {
            return Ok(candidate);
        }
    }
    anyhow::bail!("could not find a free slug")
}

/// Slugs that would be confusing as tenant names.
pub(crate) const RESERVED: &[&str] =
    &["api", "admin", "www", "app", "console", "edge", "static", "docs", "status", "kefu"];

/// Deletes a tenant for good, in the caller's transaction: its schema with every table in it,
/// and its control row (memberships, invitations, API keys, sessions and queued mail cascade).
/// User accounts stay: they may belong to other tenants.
pub async fn delete_tenant(conn: &mut PgConnection, schema: &TenantSchema) -> anyhow::Result<()> {
    sqlx::query("select pg_advisory_xact_lock(hashtext($1))").bind(schema.name()).execute(&mut *conn).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("drop schema if exists {} cascade", schema.name())))
        .execute(&mut *conn)
        .await?;
    db::tenants::delete(conn, schema.tenant_id()).await?;
    Ok(())
}
