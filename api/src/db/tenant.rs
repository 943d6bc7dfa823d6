//! The one way to reach a tenant's data: a transaction pinned to exactly one tenant schema.
//!
//! `TenantTx::begin` starts a transaction and sets `search_path` with `set_config(…, true)`, which
//! is transaction-local: commit, rollback or drop (which rolls back) restores the connection's
//! empty session path before it returns to the pool, so no tenant setting can leak to the next
//! borrower. Tenant query functions take `&mut TenantTx`; its connection is reachable only inside
//! the `db` module, and so are the ways around the checks: deriving a schema from a bare id
//! (`TenantSchema::of`), pinning an arbitrary transaction (`TenantTx::pin`) and the raw
//! connection (`TenantTx::control`). Outside `db`, a schema comes only from a tenant's control row
//! (`tenants::TenantAccess`), and a control-plane transaction becomes a tenant's only through
//! [`TenantTx::enter`] with that row.

use std::fmt;

use kefu_protocol::TenantId;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use super::tenants::TenantAccess;

/// A validated tenant schema name, `t_<32 lowercase hex>`, derived from the immutable tenant id.
/// Because the alphabet is that narrow, the name never needs quoting in SQL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantSchema {
    name: String,
    tenant_id: TenantId,
}

impl TenantSchema {
    /// The schema that belongs to `tenant_id`, whether or not such a tenant exists: only for
    /// the query functions that create or read its control row.
    pub(in crate::db) fn of(tenant_id: TenantId) -> Self {
        Self { name: format!("t_{}", tenant_id.simple()), tenant_id }
    }

    /// Re-validates a name read from `control.tenants` against its tenant id; private to the
    /// `db` module, which checks every name it reads (`tenants::TenantAccess`, `tenants::behind`).
    pub(in crate::db) fn checked(tenant_id: TenantId, name: &str) -> Option<Self> {
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

    /// Continues a control-plane transaction as the transaction of the tenant it has just
    /// created (signup: the row `tenants::insert` returned) or joined (an accepted invitation: the
    /// row it read and admitted), so that control-plane and tenant writes commit together.
    pub async fn enter(tx: Transaction<'static, Postgres>, tenant: &TenantAccess) -> sqlx::Result<Self> {
        Self::pin(tx, &tenant.schema).await
    }

    /// Pins an already-begun transaction (one that may also have written control-plane rows) to
    /// `schema`, so control and tenant writes commit atomically.
    pub(in crate::db) async fn pin(
        mut tx: Transaction<'static, Postgres>,
        schema: &TenantSchema,
    ) -> sqlx::Result<Self> {
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

    /// The connection, for the control-plane query functions that act on this transaction's own
    /// tenant (`control.`-qualified names, `tenant_id()`), so they commit atomically with tenant
    /// writes; private to the `db` module.
    pub(in crate::db) fn control(&mut self) -> &mut PgConnection {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_derived_and_checked_never_taken_from_input() {
        let id: TenantId = "tnt_0190c8e5b7a87c3e9f000000000000ab".parse().expect("id");
        let schema = TenantSchema::of(id);
        assert_eq!(schema.name(), "t_0190c8e5b7a87c3e9f000000000000ab");
        assert_eq!(schema.tenant_id(), id);
        assert!(TenantSchema::checked(id, "t_0190c8e5b7a87c3e9f000000000000ab").is_some());
        assert!(TenantSchema::checked(id, "public").is_none());
        assert!(TenantSchema::checked(id, "t_0190c8e5b7a87c3e9f000000000000ac").is_none());
    }
}
