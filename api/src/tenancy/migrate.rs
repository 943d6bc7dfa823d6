//! `kefu migrate`: the control plane, then every tenant schema that is behind, with bounded
//! concurrency. Each tenant is migrated and its `schema_version` recorded in one transaction, so
//! an interrupted run is simply run again: finished tenants are skipped by the version column,
//! and a tenant caught mid-way was rolled back.

use kefu_protocol::TenantId;
use sqlx::PgPool;

use super::{latest_tenant_version, migrate_control, migrate_tenant_schema, record_tenant_migration_set};
use crate::db::{self, NewId, TenantSchema};

/// Progress events for a reporter (progress bar or log lines).
pub trait Progress: Sync {
    /// The number of tenant schemas to migrate is known.
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
}

/// Migrates the control plane and then every tenant schema that is behind.
pub async fn migrate_all(pool: &PgPool, concurrency: usize, progress: &dyn Progress) -> anyhow::Result<Summary> {
    use anyhow::Context as _;
    super::check_tenant_migrations().map_err(anyhow::Error::msg)?;
    {
        let mut conn = pool.acquire().await.context("connecting to Postgres")?;
        migrate_control(&mut conn).await.context("migrating the control plane")?;
        record_tenant_migration_set(&mut conn).await.context("checking the tenant migration set")?;
    }
    let latest = latest_tenant_version();
    let mut conn = pool.acquire().await?;
    let behind = db::tenants::behind(&mut conn, latest).await.context("listing tenants")?;
    let total_tenants = db::tenants::count(&mut conn).await?;
    drop(conn);

    let mut summary = Summary { pending: behind.len() as u64, total_tenants, ..Summary::default() };
    progress.start(summary.pending);
    let queue = std::sync::Mutex::new(behind.into_iter());
    let workers = (0..concurrency.max(1)).map(|_| worker(pool, &queue, progress));
    for results in futures_util::future::join_all(workers).await {
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

/// Tenant schemas one Postgres connection migrates before it is closed and replaced. A backend
/// keeps the catalog entries of every relation it touched until it exits (hundreds of kilobytes
/// per schema it created: docs/benchmarks.md, "Tenants per database"), so a connection that
/// migrated thousands of schemas would hold gigabytes.
pub const TENANTS_PER_CONNECTION: usize = 100;

type Outcome = (TenantId, anyhow::Result<()>);

/// Takes tenants off the shared queue until it is empty, on a connection of its own that it
/// replaces every [`TENANTS_PER_CONNECTION`] tenants.
async fn worker(
    pool: &PgPool,
    queue: &std::sync::Mutex<std::vec::IntoIter<db::tenants::Behind>>,
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

/// Creates `count` tenants whose schemas exist but are empty and unmigrated, as a fresh
/// deployment of an old version would leave them; used by the migration benchmark and tests.
pub async fn create_unmigrated_tenants(pool: &PgPool, count: u64, slug_prefix: &str) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    for i in 0..count {
        let slug = format!("{slug_prefix}-{i}");
        let tenant = db::tenants::insert(&mut tx, TenantId::new_v7(), &slug, &slug, "trial", None, "local").await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("create schema {}", tenant.schema.name()))).execute(&mut *tx).await?;
        if i % 200 == 199 {
            tx.commit().await?;
            tx = pool.begin().await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
