//! A tenant database's own `kefu` schema: what its tenant schemas share. Every tenant database
//! (the control database `main` included) has one, created and kept current by [`prepare`]:
//! - `kefu.tenant_schemas`: each tenant schema's migration version (`kefu migrate`'s work list);
//! - `kefu.routines` and the routines themselves ([`super::routines`]);
//! - `kefu.move_log`: the rows changed in a tenant being moved away, while it is copied
//!   ([`super::moves`]);
//! - `kefu.search_dirty`: the tenants with messages queued for the search index, one row per
//!   inserting transaction (`crate::search::indexer`).

use std::collections::HashMap;

use kefu_protocol::TenantId;
use sqlx::{Connection, PgConnection};

/// The shared tables, idempotent.
const SHARED_TABLES: &str = "
    create schema if not exists kefu;
    create table if not exists kefu.tenant_schemas (
        tenant_id uuid primary key,
        version bigint not null,
        migrated_at timestamptz not null default now()
    );
    create table if not exists kefu.routines (
        name text primary key,
        checksum bytea not null,
        installed_at timestamptz not null default now()
    );
    create table if not exists kefu.move_log (
        id bigint generated always as identity primary key,
        tenant_id uuid not null,
        table_name text not null,
        pk jsonb not null
    );
    create index if not exists move_log_tenant_idx on kefu.move_log (tenant_id, id);
    create table if not exists kefu.search_dirty (
        tenant_id uuid not null,
        txid xid8 not null,
        primary key (tenant_id, txid)
    );";

/// Creates the `kefu` schema's tables if missing and installs the routines that changed.
/// Serialised across processes by an advisory lock.
pub async fn prepare(conn: &mut PgConnection) -> sqlx::Result<()> {
    let mut tx = conn.begin().await?;
    sqlx::query("select pg_advisory_xact_lock(hashtext('kefu.prepare'))").execute(&mut *tx).await?;
    sqlx::raw_sql(SHARED_TABLES).execute(&mut *tx).await?;
    tx.commit().await?;
    super::routines::install(conn).await?;
    Ok(())
}

/// Why a database cannot hold tenants besides the control database.
pub async fn check_usable(conn: &mut PgConnection) -> anyhow::Result<()> {
    let prepared: String =
        sqlx::query_scalar("select current_setting('max_prepared_transactions')").fetch_one(&mut *conn).await?;
    anyhow::ensure!(
        prepared.parse::<u32>().unwrap_or(0) > 0,
        "max_prepared_transactions is {prepared} on this server; set it above 0 (e.g. 64) and restart it: \
         a tenant transaction that also writes control rows commits with two-phase commit (docs/tenancy.md)"
    );
    let encoding: String =
        sqlx::query_scalar("select pg_encoding_to_char(encoding) from pg_database where datname = current_database()")
            .fetch_one(&mut *conn)
            .await?;
    anyhow::ensure!(encoding == "UTF8", "the database's encoding is {encoding}; tenant databases must be UTF8");
    Ok(())
}

/// The migration version of every tenant schema recorded in this database.
pub async fn versions(conn: &mut PgConnection) -> sqlx::Result<HashMap<TenantId, i64>> {
    let rows: Vec<(TenantId, i64)> =
        sqlx::query_as("select tenant_id, version from kefu.tenant_schemas").fetch_all(conn).await?;
    Ok(rows.into_iter().collect())
}

/// Registers a tenant database: checks its URL's transport (`Databases::check_url`: TLS files,
/// and production's verified TLS), connects to it, checks it can hold tenants ([`check_usable`]),
/// prepares its `kefu` schema, and records the URL as given (its TLS parameters with it, used by
/// every node) so the placement policy may choose it. Fails if the id is taken.
pub async fn register(
    databases: &crate::db::Databases,
    id: &crate::db::DatabaseId,
    url: &str,
    region: &str,
    capacity: i32,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use sqlx::ConnectOptions as _;
    anyhow::ensure!(!id.is_main(), "`main` is the control database; it is registered by `kefu migrate`");
    anyhow::ensure!(capacity >= 0, "the capacity must not be negative");
    if let Some(warning) = databases.check_url(id, url).map_err(anyhow::Error::msg)? {
        tracing::warn!("{warning}");
    }
    let options: sqlx::postgres::PgConnectOptions = url.parse().context("the URL does not parse")?;
    let mut conn =
        options.connect().await.map_err(|error| anyhow::anyhow!("connecting to tenant database `{id}`: {error}"))?;
    check_usable(&mut conn).await?;
    prepare(&mut conn).await.context("preparing its `kefu` schema")?;
    let _ = conn.close().await;
    let mut control = databases.control().acquire().await?;
    let inserted = crate::db::databases::insert(&mut control, id, url, region, capacity).await?;
    anyhow::ensure!(inserted, "a tenant database `{id}` is already registered");
    Ok(())
}
