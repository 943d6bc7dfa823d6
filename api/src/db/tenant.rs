//! The one way to reach a tenant's data: a transaction pinned to exactly one tenant schema.
//!
//! `TenantTx::begin` starts a transaction and sets `search_path` with `set_config(…, true)`, which
//! is transaction-local: commit, rollback or drop (which rolls back) restores the connection's
//! empty session path before it returns to the pool, so no tenant setting can leak to the next
//! borrower. Tenant query functions take `&mut TenantTx`; its connection is reachable only inside
//! the `db` module.

use std::fmt;

use kefu_protocol::TenantId;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

/// A validated tenant schema name, `t_<32 lowercase hex>`, derived from the immutable tenant id.
/// Because the alphabet is that narrow, the name never needs quoting in SQL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantSchema {
    name: String,
    tenant_id: TenantId,
}

impl TenantSchema {
    /// The schema that belongs to `tenant_id`.
    pub fn of(tenant_id: TenantId) -> Self {
        Self { name: format!("t_{}", tenant_id.simple()), tenant_id }
    }

    /// Re-validates a name read from `control.tenants` against its tenant id.
    pub fn checked(tenant_id: TenantId, name: &str) -> Option<Self> {
        let expected = Self::of(tenant_id);
        (expected.name == name).then_some(expected)
    }

    /// The schema name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tenant this schema belongs to.
    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }
}

impl fmt::Display for TenantSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// A transaction whose `search_path` is exactly one tenant schema.
pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
    schema: TenantSchema,
}

impl TenantTx {
    /// Begins a transaction on a pooled connection and pins it to `schema`.
    pub async fn begin(pool: &PgPool, schema: &TenantSchema) -> sqlx::Result<Self> {
        let tx = pool.begin().await?;
        Self::pin(tx, schema).await
    }

    /// Pins an already-begun transaction (one that may also have written control-plane rows) to
    /// `schema`, so control and tenant writes commit atomically.
    pub async fn pin(mut tx: Transaction<'static, Postgres>, schema: &TenantSchema) -> sqlx::Result<Self> {
        sqlx::query("select set_config('search_path', $1, true)").bind(schema.name()).execute(&mut *tx).await?;
        #[cfg(debug_assertions)]
        {
            let current: Option<String> = sqlx::query_scalar("select current_schema()").fetch_one(&mut *tx).await?;
            debug_assert_eq!(current.as_deref(), Some(schema.name()), "search_path did not take");
        }
        Ok(Self { tx, schema: schema.clone() })
    }

    /// The tenant this transaction is bound to.
    pub fn tenant_id(&self) -> TenantId {
        self.schema.tenant_id()
    }

    /// The schema this transaction is bound to.
    pub fn schema(&self) -> &TenantSchema {
        &self.schema
    }

    /// The connection, for control-plane query functions (which use qualified names and an
    /// explicit tenant id) that must commit atomically with tenant writes.
    pub fn control(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// The connection for tenant-scoped query functions; private to the `db` module.
    pub(in crate::db) fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Commits.
    pub async fn commit(self) -> sqlx::Result<()> {
        self.tx.commit().await
    }
}
