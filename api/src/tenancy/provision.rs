//! Creating a tenant: its placement, control row and owner membership in the caller's control
//! transaction; then `TenantTx::enter_new` creates its schema in its tenant database, and
//! everything commits together, so that a failure anywhere leaves nothing behind.

use chrono::{Duration, Utc};
use kefu_protocol::{Role, TenantId, UserId};
use sqlx::PgConnection;

use crate::db::NewId;
use crate::db::tenants::{NewTenantRow, TenantAccess};
use crate::db::{self, TenantTx};

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

/// Every tenant database of the region is full or closed to new tenants: the operator must add
/// one (`kefu databases add`) or raise a capacity.
#[derive(Debug, thiserror::Error)]
#[error("no tenant database in region `{0}` has room for a new tenant")]
pub struct NoCapacity(pub String);

/// Places the tenant (the placement policy: `db::databases::choose_for_new_tenant`) and creates
/// its control row on the signup trial's plan (docs/billing.md) and the owner's membership, on a connection inside the
/// control transaction. Returns the tenant's control row, with which the caller continues the
/// transaction as the tenant's (`TenantTx::enter_new`, which creates its schema).
pub async fn create_tenant(conn: &mut PgConnection, new: NewTenant<'_>) -> anyhow::Result<TenantAccess> {
    let database = db::databases::choose_for_new_tenant(conn, new.region)
        .await?
        .ok_or_else(|| NoCapacity(new.region.to_owned()))?;
    let trial = db::plans::signup_trial(&mut *conn).await?;
    let (plan_id, trial_ends_at) = match &trial {
        Some((plan, days)) => (plan.as_str(), Some(Utc::now() + Duration::days(i64::from(*days)))),
        None => (db::plans::FALLBACK, None),
    };
    let row = NewTenantRow {
        id: TenantId::new_v7(),
        slug: new.slug,
        name: new.name,
        plan_id,
        trial_ends_at,
        home_region: new.region,
        database: &database,
    };
    let tenant = db::tenants::insert(conn, row).await?;
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

/// Deletes a tenant for good, in its transaction: its schema with every table in it, and its
/// control row (memberships, invitations, API keys, sessions and queued mail cascade).
/// User accounts stay: they may belong to other tenants.
pub async fn delete_tenant(tx: &mut TenantTx) -> anyhow::Result<()> {
    db::tenants::delete_with_data(tx).await?;
    Ok(())
}
