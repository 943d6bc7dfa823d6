//! The one way to reach a tenant's data: a transaction pinned to exactly one tenant schema, in
//! the tenant database its placement names.
//!
//! `TenantTx::begin` starts a transaction on the pool of the tenant's database and sets
//! `search_path` with `set_config(…, true)`, which is transaction-local: commit, rollback or drop
//! (which rolls back) restores the connection's empty session path before it returns to the pool,
//! so no tenant setting can leak to the next borrower. Tenant query functions take
//! `&mut TenantTx`; its connection is reachable only inside the `db` module, and so are the ways
//! around the checks: deriving a schema from a bare id (`TenantSchema::of`), pinning an arbitrary
//! transaction (`TenantTx::pin`) and the control connection (`TenantTx::control`). Outside `db`, a
//! schema comes only from a tenant's control row (`tenants::TenantAccess`), and a control-plane
//! transaction becomes a tenant's only through [`TenantTx::enter`] with that row.
//!
//! The control-plane rows a tenant transaction writes (its members, keys, name…) live in the
//! control database. For a tenant of `main` (the control database) they are written in the same
//! transaction. For a tenant of another database, the first control query opens a second
//! transaction on the control pool, and [`TenantTx::commit`] commits both atomically
//! ([`super::two_phase`]).

use std::fmt;

use kefu_protocol::TenantId;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use super::databases::{DatabaseId, Databases};
use super::tenants::TenantAccess;

/// A tenant's schema and the tenant database it lives in (its placement). The name is validated,
/// `t_<32 lowercase hex>`, derived from the immutable tenant id: because the alphabet is that
/// narrow, it never needs quoting in SQL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantSchema {
    name: String,
    tenant_id: TenantId,
    database: DatabaseId,
}

impl TenantSchema {
    /// The schema that belongs to `tenant_id` in `database`, whether or not such a tenant exists:
    /// only for the query functions that create or read its control row.
    pub(in crate::db) fn of(tenant_id: TenantId, database: DatabaseId) -> Self {
        Self { name: format!("t_{}", tenant_id.simple()), tenant_id, database }
    }

    /// Re-validates a name read from `control.tenants` against its tenant id; private to the
    /// `db` module, which checks every name it reads (`tenants::TenantAccess`, `tenants::placed`).
    pub(in crate::db) fn checked(tenant_id: TenantId, name: &str, database: DatabaseId) -> Option<Self> {
        let expected = Self::of(tenant_id, database);
        (expected.name == name).then_some(expected)
    }

    /// The tenant database it lives in.
    pub fn database(&self) -> &DatabaseId {
        &self.database
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

/// A transaction whose `search_path` is exactly one tenant schema, on the tenant's database.
pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
    schema: TenantSchema,
    control: Control,
}

/// Where the control-plane rows of a tenant transaction are written.
enum Control {
    /// In the tenant transaction itself: the tenant lives in the control database.
    Same,
    /// In a second transaction on the control pool, begun by the first control query.
    Separate { pool: PgPool, tx: Option<Transaction<'static, Postgres>> },
}

impl TenantTx {
    /// Begins a transaction on the tenant's database and pins it to `schema`.
    pub async fn begin(databases: &Databases, schema: &TenantSchema) -> sqlx::Result<Self> {
        let pool = databases.tenant_pool(schema.database()).await?;
        let tx = pool.begin().await?;
        let control = if schema.database().is_main() {
            Control::Same
        } else {
            Control::Separate { pool: databases.control().clone(), tx: None }
        };
        Self::pin(tx, schema, control).await
    }

    /// Begins a read-only transaction on one snapshot of the tenant's data (repeatable read):
    /// everything it reads is as of its first query (a whole workspace's export).
    pub async fn begin_snapshot(databases: &Databases, schema: &TenantSchema) -> sqlx::Result<Self> {
        let pool = databases.tenant_pool(schema.database()).await?;
        let tx = pool.begin_with("begin isolation level repeatable read, read only").await?;
        let control = if schema.database().is_main() {
            Control::Same
        } else {
            Control::Separate { pool: databases.control().clone(), tx: None }
        };
        Self::pin(tx, schema, control).await
    }

    /// Continues a control-plane transaction as the transaction of the tenant it has just
    /// joined (an accepted invitation: the row it read and admitted), so that control-plane and
    /// tenant writes commit together.
    pub async fn enter(
        databases: &Databases,
        control: Transaction<'static, Postgres>,
        tenant: &TenantAccess,
    ) -> sqlx::Result<Self> {
        let (tx, control) = Self::split(databases, control, tenant).await?;
        Self::pin(tx, &tenant.schema, control).await
    }

    /// Like [`TenantTx::enter`], for a tenant whose control row this transaction has just
    /// inserted (signup: the row `tenants::insert` returned): creates its schema, migrated to the
    /// latest version, first.
    pub async fn enter_new(
        databases: &Databases,
        control: Transaction<'static, Postgres>,
        tenant: &TenantAccess,
    ) -> anyhow::Result<Self> {
        let (mut tx, control) = Self::split(databases, control, tenant).await?;
        crate::tenancy::migrate_tenant_schema(&mut tx, &tenant.schema).await?;
        Ok(Self::pin(tx, &tenant.schema, control).await?)
    }

    /// The transaction on the tenant's database and where its control rows go: the control
    /// transaction itself for a tenant of `main`, otherwise a new transaction on its database.
    async fn split(
        databases: &Databases,
        control: Transaction<'static, Postgres>,
        tenant: &TenantAccess,
    ) -> sqlx::Result<(Transaction<'static, Postgres>, Control)> {
        if tenant.schema.database().is_main() {
            return Ok((control, Control::Same));
        }
        let pool = databases.tenant_pool(tenant.schema.database()).await?;
        let tx = pool.begin().await?;
        Ok((tx, Control::Separate { pool: databases.control().clone(), tx: Some(control) }))
    }

    /// Pins a transaction already begun on the tenant's own database (`Databases::tenant_pool`)
    /// to `schema`, with its control rows going where [`TenantTx::begin`] sends them: a restore
    /// builds its staging schema in the transaction first (`super::restore`).
    pub(in crate::db) async fn adopt(
        databases: &Databases,
        tx: Transaction<'static, Postgres>,
        schema: &TenantSchema,
    ) -> sqlx::Result<Self> {
        let control = if schema.database().is_main() {
            Control::Same
        } else {
            Control::Separate { pool: databases.control().clone(), tx: None }
        };
        Self::pin(tx, schema, control).await
    }

    /// Pins an already-begun transaction on the tenant's database to `schema`.
    async fn pin(
        mut tx: Transaction<'static, Postgres>,
        schema: &TenantSchema,
        control: Control,
    ) -> sqlx::Result<Self> {
        sqlx::query("select set_config('search_path', $1, true)").bind(schema.name()).execute(&mut *tx).await?;
        #[cfg(debug_assertions)]
        {
            // `None`: the schema is not in this database (the tenant was just moved away); the
            // first query fails with `undefined_table`, which callers answer as "retry".
            let current: Option<String> = sqlx::query_scalar("select current_schema()").fetch_one(&mut *tx).await?;
            debug_assert!(current.is_none() || current.as_deref() == Some(schema.name()), "search_path did not take");
        }
        Ok(Self { tx, schema: schema.clone(), control })
    }

    /// The tenant this transaction is bound to.
    pub fn tenant_id(&self) -> TenantId {
        self.schema.tenant_id()
    }

    /// The schema this transaction is bound to.
    pub fn schema(&self) -> &TenantSchema {
        &self.schema
    }

    /// The control-database connection, for the control-plane query functions that act on this
    /// transaction's own tenant (`control.`-qualified names, `tenant_id()`), so they commit
    /// atomically with tenant writes; private to the `db` module.
    pub(in crate::db) async fn control(&mut self) -> sqlx::Result<&mut PgConnection> {
        match &mut self.control {
            Control::Same => Ok(&mut self.tx),
            Control::Separate { pool, tx } => {
                let tx = match tx {
                    Some(tx) => tx,
                    None => tx.insert(pool.begin().await?),
                };
                Ok(&mut **tx)
            }
        }
    }

    /// The connection for tenant-scoped query functions; private to the `db` module.
    pub(in crate::db) fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Commits: one commit when the control rows share the transaction (or none were written),
    /// otherwise both transactions atomically ([`super::two_phase::commit`]).
    pub async fn commit(self) -> sqlx::Result<()> {
        match self.control {
            Control::Same | Control::Separate { tx: None, .. } => self.tx.commit().await,
            Control::Separate { tx: Some(mut control), pool } => {
                // A control transaction that only read (a member list) has nothing to commit:
                // no two-phase commit for it.
                let wrote: bool = sqlx::query_scalar("select txid_current_if_assigned() is not null")
                    .fetch_one(&mut *control)
                    .await?;
                if !wrote {
                    control.rollback().await?;
                    return self.tx.commit().await;
                }
                super::two_phase::commit(self.tx, self.schema.database(), control, &pool).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_derived_and_checked_never_taken_from_input() {
        let id: TenantId = "tnt_0190c8e5b7a87c3e9f000000000000ab".parse().expect("id");
        let schema = TenantSchema::of(id, DatabaseId::main());
        assert_eq!(schema.name(), "t_0190c8e5b7a87c3e9f000000000000ab");
        assert_eq!(schema.tenant_id(), id);
        assert!(TenantSchema::checked(id, "t_0190c8e5b7a87c3e9f000000000000ab", DatabaseId::main()).is_some());
        assert!(TenantSchema::checked(id, "public", DatabaseId::main()).is_none());
        assert!(TenantSchema::checked(id, "t_0190c8e5b7a87c3e9f000000000000ac", DatabaseId::main()).is_none());
    }
}
