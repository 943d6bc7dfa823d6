//! Tenant schemas: the embedded migration sets, creating a tenant's schema, and bringing every
//! schema up to date (`kefu migrate`).
//!
//! The control plane is migrated by sqlx's migrator. Tenant schemas use sqlx's embedded
//! migrations (`sqlx::migrate!`, with checksums) but a lean runner of our own: a tenant's version
//! is its row in its database's `kefu.tenant_schemas` ([`database`]), and the checksums of the
//! applied set are recorded once in `control.tenant_migrations` instead of in a bookkeeping table
//! inside every schema. At 10,000 tenants that table and its queries were about a third of the
//! per-tenant cost (docs/benchmarks.md).
//!
//! Architecture invariant: a tenant schema is only ever created or migrated inside a transaction
//! on its database that also records its version in that database's `kefu.tenant_schemas`, so a
//! crash leaves either the old state or the new one, never a half-made tenant.

pub mod database;
pub mod migrate;
pub mod moves;
pub mod provision;
pub mod restore;
pub mod routines;

use std::collections::HashMap;

use sqlx::PgConnection;
use sqlx::migrate::{MigrateError, Migrator};

use crate::db::TenantSchema;

/// The control-plane migrations, embedded at build time.
static CONTROL_SOURCE: Migrator = sqlx::migrate!("../migrations/control");
/// The per-tenant migrations, embedded at build time.
static TENANT_SOURCE: Migrator = sqlx::migrate!("../migrations/tenant");

/// Why a tenant schema could not be migrated.
#[derive(Debug, thiserror::Error)]
pub enum TenantMigrationError {
    /// A statement failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The schema is at a version this binary does not know.
    #[error("schema {schema} is at version {found}, newer than this binary's {latest}; deploy the newer binary")]
    NewerThanBinary {
        /// The schema.
        schema: String,
        /// Its recorded version.
        found: i64,
        /// The newest version this binary has.
        latest: i64,
    },
    /// The embedded set disagrees with the recorded one.
    #[error("tenant migration {version} ({description}) {problem}")]
    SetMismatch {
        /// The version.
        version: i64,
        /// Its description.
        description: String,
        /// What is wrong.
        problem: &'static str,
    },
}

/// The up-migrations of the tenant set, oldest first.
fn tenant_migrations() -> impl Iterator<Item = &'static sqlx::migrate::Migration> {
    TENANT_SOURCE.iter().filter(|m| !m.migration_type.is_down_migration())
}

/// The newest tenant migration version; a schema at this version is up to date.
pub fn latest_tenant_version() -> i64 {
    tenant_migrations().map(|m| m.version).max().unwrap_or(0)
}

/// A fingerprint of both migration sets (used to name test databases).
pub fn migrations_fingerprint() -> String {
    let mut acc: u64 = 0xcbf2_9ce4_8422_2325;
    for m in CONTROL_SOURCE.iter().chain(TENANT_SOURCE.iter()) {
        for b in m.checksum.iter().copied().chain(m.version.to_le_bytes()) {
            acc ^= u64::from(b);
            acc = acc.wrapping_mul(0x0100_0000_01b3);
        }
    }
    for routine in routines::ROUTINES {
        for b in routines::checksum(routine) {
            acc ^= u64::from(b);
            acc = acc.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{acc:016x}")
}

/// Applies pending control-plane migrations (serialised across processes by sqlx's lock), then
/// prepares the control database as the tenant database `main` ([`database::prepare`]).
pub async fn migrate_control(conn: &mut PgConnection) -> Result<(), MigrateError> {
    let mut migrator = Migrator::with_migrations(CONTROL_SOURCE.iter().cloned().collect());
    migrator.dangerous_set_table_name("control._sqlx_migrations");
    migrator.create_schema("control");
    migrator.run_direct(None, conn, false).await?;
    database::prepare(conn).await?;
    Ok(())
}

/// Records the embedded tenant migration set in `control.tenant_migrations` and checks it
/// against what earlier runs recorded: a migration edited after it was applied, or one the
/// database has but this binary lacks, stops `kefu migrate` before it touches any tenant.
pub async fn record_tenant_migration_set(conn: &mut PgConnection) -> Result<(), TenantMigrationError> {
    for m in tenant_migrations() {
        sqlx::query(
            "insert into control.tenant_migrations (version, description, checksum) values ($1, $2, $3)
             on conflict (version) do nothing",
        )
        .bind(m.version)
        .bind(m.description.as_ref())
        .bind(m.checksum.as_ref())
        .execute(&mut *conn)
        .await?;
    }
    let recorded: Vec<(i64, String, Vec<u8>)> =
        sqlx::query_as("select version, description, checksum from control.tenant_migrations order by version")
            .fetch_all(&mut *conn)
            .await?;
    let embedded: HashMap<i64, &sqlx::migrate::Migration> = tenant_migrations().map(|m| (m.version, m)).collect();
    for (version, description, checksum) in recorded {
        match embedded.get(&version) {
            None => {
                return Err(TenantMigrationError::SetMismatch {
                    version,
                    description,
                    problem: "is recorded in the database but missing from this binary",
                });
            }
            Some(m) if m.checksum.as_ref() != checksum.as_slice() => {
                return Err(TenantMigrationError::SetMismatch {
                    version,
                    description,
                    problem: "was changed after it was applied; add a new migration instead",
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Creates (if needed) and migrates one tenant schema on `conn`, a connection to the tenant's
/// database inside a transaction, and records the new version in that database's
/// `kefu.tenant_schemas`. The version row is locked first, so concurrent runs on one tenant
/// serialise and the later one finds nothing to do. Returns the number of migrations applied.
pub async fn migrate_tenant_schema(
    conn: &mut PgConnection,
    schema: &TenantSchema,
) -> Result<usize, TenantMigrationError> {
    let tenant_id = schema.tenant_id();
    sqlx::query(
        "insert into kefu.tenant_schemas (tenant_id, version) values ($1, 0) on conflict (tenant_id) do nothing",
    )
    .bind(tenant_id)
    .execute(&mut *conn)
    .await?;
    let current: i64 = sqlx::query_scalar("select version from kefu.tenant_schemas where tenant_id = $1 for update")
        .bind(tenant_id)
        .fetch_one(&mut *conn)
        .await?;
    let latest = latest_tenant_version();
    if current > latest {
        return Err(TenantMigrationError::NewerThanBinary { schema: schema.name().to_owned(), found: current, latest });
    }
    if current == latest {
        return Ok(0);
    }
    sqlx::query(sqlx::AssertSqlSafe(format!("create schema if not exists {}", schema.name())))
        .execute(&mut *conn)
        .await?;
    sqlx::query("select set_config('search_path', $1, true)").bind(schema.name()).execute(&mut *conn).await?;
    let mut applied = 0;
    for m in tenant_migrations().filter(|m| m.version > current) {
        sqlx::raw_sql(m.sql.clone()).execute(&mut *conn).await?;
        applied += 1;
    }
    sqlx::query("update kefu.tenant_schemas set version = $2, migrated_at = now() where tenant_id = $1")
        .bind(tenant_id)
        .bind(latest)
        .execute(&mut *conn)
        .await?;
    Ok(applied)
}

/// Whether `version` is one of this binary's tenant migrations.
pub fn is_tenant_version(version: i64) -> bool {
    tenant_migrations().any(|m| m.version == version)
}

/// Applies the tenant migrations after version `after`, up to and including `up_to`, to the
/// schema named `schema` (which must exist), inside the caller's transaction on `conn`, with the
/// transaction's `search_path` set to exactly that schema (left so: the caller sets it back).
/// Records no version: for a restore's staging schema, built at an archive's version and then
/// brought forward (`db::restore`). Returns the number applied.
pub(crate) async fn apply_tenant_migrations(
    conn: &mut PgConnection,
    schema: &str,
    after: i64,
    up_to: i64,
) -> sqlx::Result<usize> {
    sqlx::query("select set_config('search_path', $1, true)").bind(schema).execute(&mut *conn).await?;
    let mut applied = 0;
    for m in tenant_migrations().filter(|m| m.version > after && m.version <= up_to) {
        sqlx::raw_sql(m.sql.clone()).execute(&mut *conn).await?;
        applied += 1;
    }
    Ok(applied)
}

/// Refuses tenant migrations that cannot run inside a transaction: they would break the
/// all-or-nothing guarantee above.
pub fn check_tenant_migrations() -> Result<(), String> {
    match TENANT_SOURCE.iter().find(|m| m.no_tx) {
        Some(m) => Err(format!(
            "tenant migration {} ({}) is marked no-transaction; tenant migrations must be transactional",
            m.version, m.description
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_sets_are_embedded_and_transactional() {
        assert!(latest_tenant_version() > 0);
        assert!(CONTROL_SOURCE.iter().count() > 0);
        check_tenant_migrations().expect("transactional");
        assert_eq!(migrations_fingerprint().len(), 16);
    }
}
