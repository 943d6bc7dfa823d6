//! `kefu migrate`: the control plane, then every tenant database — each prepared (its `kefu`
//! schema and routines), its in-doubt transactions settled, and every tenant schema in it that is
//! behind migrated — all databases at once, each with bounded concurrency. Each tenant is migrated
//! and its version recorded in one transaction on its database, so an interrupted run is simply
//! run again: finished tenants are skipped by their version, and a tenant caught mid-way was
//! rolled back.

use std::collections::HashMap;

use kefu_protocol::TenantId;

use super::{database, latest_tenant_version, migrate_control, migrate_tenant_schema, record_tenant_migration_set};
use crate::db::{self, DatabaseId, Databases, NewId, TenantSchema};

/// Progress events for a reporter (progress bar or log lines).
pub trait Progress: Sync {
    /// The number of tenant schemas to migrate is known (over every database).
    fn start(&self, total: u64);
    /// One tenant finished (successfully or not).
    fn advance(&self);
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Tenants that were behind when the run started.
    pub pending: u64,
    /// Tenants brought up to date.
    pub migrated: u64,
    /// Tenants that failed, with the error.
    pub failed: Vec<(TenantId, String)>,
    /// Tenants in total (excluding those being deleted).
    pub total_tenants: i64,
    /// Tenant databases whose preparation failed (their tenants were not touched), with the error.
    pub failed_databases: Vec<(DatabaseId, String)>,
}

/// One database's work list.
struct Plan {
    database: DatabaseId,
    behind: Vec<db::tenants::Placed>,
}

/// Migrates the control plane, then every tenant database.
pub async fn migrate_all(
    databases: &Databases,
    concurrency: usize,
    progress: &dyn Progress,
) -> anyhow::Result<Summary> {
    use anyhow::Context as _;
    super::check_tenant_migrations().map_err(anyhow::Error::msg)?;
    let registered = {
        // The error's text carries its cause; as a context chain, a TLS failure would repeat it.
        let mut conn =
            databases.control().acquire().await.map_err(|error| anyhow::anyhow!("connecting to Postgres: {error}"))?;
        migrate_control(&mut conn).await.context("migrating the control plane")?;
        record_tenant_migration_set(&mut conn).await.context("checking the tenant migration set")?;
        db::databases::list(&mut conn).await.context("listing tenant databases")?
    };
    let mut summary = Summary::default();
    let plans = futures_util::future::join_all(registered.iter().map(|d| plan(databases, d.id.clone()))).await;
    let mut work = Vec::new();
    for (registered, planned) in registered.iter().zip(plans) {
        match planned {
            Ok(plan) => {
                summary.total_tenants += registered.tenants;
                work.push(plan);
            }
            Err(error) => {
                tracing::error!(database = %registered.id, error = format!("{error:#}"), "preparing a tenant database failed");
                summary.failed_databases.push((registered.id.clone(), format!("{error:#}")));
            }
        }
    }
    summary.pending = work.iter().map(|plan| plan.behind.len() as u64).sum();
    progress.start(summary.pending);
    let runs = work.into_iter().map(|plan| migrate_database(databases, plan, concurrency, progress));
    for results in futures_util::future::join_all(runs).await {
        for (tenant_id, result) in results {
            match result {
                Ok(()) => summary.migrated += 1,
                Err(error) => {
                    tracing::error!(tenant_id = %tenant_id, error = format!("{error:#}"), "tenant migration failed");
                    summary.failed.push((tenant_id, format!("{error:#}")));
                }
            }
        }
    }
    Ok(summary)
}

/// Prepares a tenant database and lists its tenants that are behind.
async fn plan(databases: &Databases, database: DatabaseId) -> anyhow::Result<Plan> {
    let pool = databases.maintenance_pool(&database).await?;
    {
        let mut conn = pool.acquire().await?;
        if !database.is_main() {
            database::prepare(&mut conn).await?;
        }
    }
    // Prepared transactions in doubt hold locks the migrations would wait for.
    db::two_phase::resolve(databases, &database, db::two_phase::RESOLVE_EVERY).await?;
    let placed = {
        let mut conn = databases.control().acquire().await?;
        db::tenants::placed(&mut conn, &database).await?
    };
    let versions: HashMap<TenantId, i64> = {
        let mut conn = pool.acquire().await?;
        database::versions(&mut conn).await?
    };
    let latest = latest_tenant_version();
    let behind = placed.into_iter().filter(|t| versions.get(&t.id).copied().unwrap_or(0) < latest).collect();
    Ok(Plan { database, behind })
}

/// Tenant schemas one Postgres connection migrates before it is closed and replaced. A backend
/// keeps the catalog entries of every relation it touched until it exits (hundreds of kilobytes
/// per schema it created: docs/benchmarks.md, "Tenants per database"), so a connection that
/// migrated thousands of schemas would hold gigabytes.
pub const TENANTS_PER_CONNECTION: usize = 100;

type Outcome = (TenantId, anyhow::Result<()>);

/// Migrates one database's work list with `concurrency` workers.
async fn migrate_database(
    databases: &Databases,
    plan: Plan,
    concurrency: usize,
    progress: &dyn Progress,
) -> Vec<Outcome> {
    let pool = match databases.maintenance_pool(&plan.database).await {
        Ok(pool) => pool,
        Err(error) => {
            let message = format!("tenant database {}: {error}", plan.database);
            return plan
                .behind
                .into_iter()
                .map(|t| {
                    progress.advance();
                    (t.id, Err(anyhow::anyhow!(message.clone())))
                })
                .collect();
        }
    };
    let queue = std::sync::Mutex::new(plan.behind.into_iter());
    let workers = (0..concurrency.max(1)).map(|_| worker(&pool, &queue, progress));
    futures_util::future::join_all(workers).await.into_iter().flatten().collect()
}

/// Takes tenants off the database's queue until it is empty, on a connection of its own that it
/// replaces every [`TENANTS_PER_CONNECTION`] tenants.
async fn worker(
    pool: &sqlx::PgPool,
    queue: &std::sync::Mutex<std::vec::IntoIter<db::tenants::Placed>>,
    progress: &dyn Progress,
) -> Vec<Outcome> {
    let mut results = Vec::new();
    let mut conn: Option<sqlx::pool::PoolConnection<sqlx::Postgres>> = None;
    let mut served = 0;
    loop {
        let next = queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).next();
        let Some(tenant) = next else { break };
        if served == TENANTS_PER_CONNECTION
            && let Some(old) = conn.take()
        {
            served = 0;
            if let Err(error) = old.close().await {
                tracing::debug!(%error, "closing a migration connection");
            }
        }
        let result = async {
            let connection = match &mut conn {
                Some(connection) => connection,
                None => conn.insert(pool.acquire().await?),
            };
            migrate_one(connection, tenant.schema).await
        }
        .await;
        served += 1;
        if result.is_err() {
            // The connection may be broken: start the next tenant on a fresh one.
            conn = None;
            served = 0;
        }
        results.push((tenant.id, result));
        progress.advance();
    }
    results
}

async fn migrate_one(conn: &mut sqlx::PgConnection, schema: Result<TenantSchema, String>) -> anyhow::Result<()> {
    use sqlx::Connection as _;
    let schema =
        schema.map_err(|schema_name| anyhow::anyhow!("schema name `{schema_name}` does not match the tenant id"))?;
    let mut tx = conn.begin().await?;
    // The schema change and its recorded version commit together, so a commit lost in a crash
    // is simply redone by the next run: no need to wait for the WAL flush of each tenant.
    sqlx::query("set local synchronous_commit = off").execute(&mut *tx).await?;
    migrate_tenant_schema(&mut tx, &schema).await?;
    tx.commit().await?;
    Ok(())
}

/// Creates `count` tenants in `database` whose schemas exist but are empty and unmigrated, as a
/// fresh deployment of an old version would leave them; used by the migration benchmark and tests.
pub async fn create_unmigrated_tenants(
    databases: &Databases,
    database: &DatabaseId,
    count: u64,
    slug_prefix: &str,
) -> anyhow::Result<()> {
    let pool = databases.maintenance_pool(database).await?;
    let mut created = 0;
    while created < count {
        let chunk = (count - created).min(200);
        let mut control = databases.control().begin().await?;
        let mut tenant = pool.begin().await?;
        for i in created..created + chunk {
            let slug = format!("{slug_prefix}-{i}");
            let row = db::tenants::NewTenantRow {
                id: TenantId::new_v7(),
                slug: &slug,
                name: &slug,
                plan_id: crate::db::plans::FALLBACK,
                trial_ends_at: None,
                home_region: "local",
                database,
            };
            let placed = db::tenants::insert(&mut control, row).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("create schema {}", placed.schema.name())))
                .execute(&mut *tenant)
                .await?;
        }
        // Benchmark set-up, not a product path: the schemas commit first, so a crash in between
        // leaves empty schemas without tenants, never tenants without schemas.
        tenant.commit().await?;
        control.commit().await?;
        created += chunk;
    }
    Ok(())
}
