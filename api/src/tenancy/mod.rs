//! Tenant schemas: the embedded migration sets, creating a tenant's schema, and bringing every
//! schema up to date (`kefu migrate`).
//!
//! Architecture invariant: a tenant schema is only ever created or migrated inside a transaction
//! that also records its version in `control.tenants.schema_version`, so a crash leaves either
//! the old state or the new one, never a half-made tenant.

pub mod migrate;
pub mod provision;

use std::borrow::Cow;

use sqlx::PgConnection;
use sqlx::migrate::{MigrateError, Migrator};

use crate::db::TenantSchema;

/// The control-plane migrations, embedded at build time.
static CONTROL_SOURCE: Migrator = sqlx::migrate!("../migrations/control");
/// The per-tenant migrations, embedded at build time.
static TENANT_SOURCE: Migrator = sqlx::migrate!("../migrations/tenant");

/// The newest tenant migration version; a schema at this version is up to date.
pub fn latest_tenant_version() -> i64 {
    TENANT_SOURCE.iter().map(|m| m.version).max().unwrap_or(0)
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
    format!("{acc:016x}")
}

/// Applies pending control-plane migrations (serialised across processes by sqlx's lock).
pub async fn migrate_control(conn: &mut PgConnection) -> Result<(), MigrateError> {
    let mut migrator = Migrator::with_migrations(CONTROL_SOURCE.iter().cloned().collect());
    migrator.dangerous_set_table_name("control._sqlx_migrations");
    migrator.create_schema("control");
    migrator.run_direct(None, conn, false).await
}

/// Creates (if needed) and migrates one tenant schema on `conn`, which must be inside a
/// transaction: the schema's `search_path` is set transaction-locally and every migration runs in
/// a savepoint of that transaction. Concurrent runs on the same schema serialise on an advisory
/// lock; a schema already up to date costs a few cheap queries.
pub async fn migrate_tenant_schema(conn: &mut PgConnection, schema: &TenantSchema) -> Result<(), MigrateError> {
    sqlx::query("select pg_advisory_xact_lock(hashtext($1))").bind(schema.name()).execute(&mut *conn).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("create schema if not exists {}", schema.name())))
        .execute(&mut *conn)
        .await?;
    sqlx::query("select set_config('search_path', $1, true)").bind(schema.name()).execute(&mut *conn).await?;
    let mut migrator = Migrator::with_migrations(TENANT_SOURCE.iter().cloned().collect());
    migrator.set_locking(false);
    migrator.dangerous_set_table_name(Cow::Owned(format!("{}._sqlx_migrations", schema.name())));
    migrator.run_direct(None, conn, false).await
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
