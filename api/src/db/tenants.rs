//! `control.tenants`: one row per business.

use chrono::{DateTime, Utc};
use kefu_protocol::TenantId;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::{TenantSchema, TenantTx};

text_enum! {
    /// Whether a tenant may be used (`control.tenants.status`).
    #[derive(serde::Serialize)]
    #[serde(rename_all = "lowercase")]
    pub enum TenantStatus {
        /// In use.
        Active => "active",
        /// Locked by the operator; its members and visitors are refused.
        Suspended => "suspended",
        /// Being deleted; refused like a suspended one and skipped by migrations.
        Deleting => "deleting",
    }
}

/// What admitting a request or a connection into a tenant needs from its control row: the id,
/// the slug, the schema and its database (the stored name checked against the id while decoding,
/// so a mismatch is a database error, never a usable schema), the status, the home region and
/// when its data was last restored.
/// Read from the columns `tenant_id`, `tenant_slug`, `tenant_schema`, `tenant_database`,
/// `tenant_status`, `tenant_region` and `tenant_restored_at`, so queries that join `control.tenants` embed it with
/// `#[sqlx(flatten)]`. `auth::TenantCtx::admit` decides from it.
#[derive(Debug, Clone)]
pub struct TenantAccess {
    /// Tenant id.
    pub id: TenantId,
    /// URL slug.
    pub slug: String,
    /// Its schema, validated, and the database it lives in.
    pub schema: TenantSchema,
    /// Whether it may be used.
    pub status: TenantStatus,
    /// The region its data lives in (`KEFU_REGION` of the nodes that serve it).
    pub home_region: String,
    /// When its data was last replaced from an archive (`kefu tenants restore`): a connection
    /// admitted before a later restore reconnects.
    pub restored_at: Option<DateTime<Utc>>,
}

impl<'r> sqlx::FromRow<'r, PgRow> for TenantAccess {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        let id: TenantId = row.try_get("tenant_id")?;
        let name: &str = row.try_get("tenant_schema")?;
        let database = super::databases::decode_id("tenant_database", row.try_get("tenant_database")?)?;
        let schema = TenantSchema::checked(id, name, database).ok_or_else(|| sqlx::Error::ColumnDecode {
            index: "tenant_schema".into(),
            source: format!("tenant {id} has the mismatched schema name `{name}`").into(),
        })?;
        Ok(Self {
            id,
            slug: row.try_get("tenant_slug")?,
            schema,
            status: row.try_get("tenant_status")?,
            home_region: row.try_get("tenant_region")?,
            restored_at: row.try_get("tenant_restored_at")?,
        })
    }
}

impl AsRef<TenantAccess> for TenantAccess {
    fn as_ref(&self) -> &TenantAccess {
        self
    }
}

/// The columns of [`TenantAccess`] from `control.tenants` aliased `t`.
pub(super) const ACCESS_COLUMNS: &str = "t.id as tenant_id, t.slug as tenant_slug, t.schema_name as tenant_schema,
    t.database_id as tenant_database, t.status as tenant_status, t.home_region as tenant_region,
    t.restored_at as tenant_restored_at";

/// A tenant as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantRow {
    /// Id, slug, schema and status.
    #[sqlx(flatten)]
    pub access: TenantAccess,
    /// Company name.
    pub name: String,
    /// Plan id.
    pub plan_id: String,
    /// End of the trial, if on trial.
    pub trial_ends_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Every member must sign in with a second step.
    pub require_two_factor: bool,
}

impl AsRef<TenantAccess> for TenantRow {
    fn as_ref(&self) -> &TenantAccess {
        &self.access
    }
}

const COLUMNS: &str = "t.id as tenant_id, t.slug as tenant_slug, t.schema_name as tenant_schema,
    t.database_id as tenant_database, t.status as tenant_status, t.home_region as tenant_region,
    t.restored_at as tenant_restored_at, t.name, t.plan_id, t.trial_ends_at, t.created_at,
    t.require_two_factor";

/// A new tenant's control row.
pub struct NewTenantRow<'a> {
    /// Its id.
    pub id: TenantId,
    /// URL slug (claimed).
    pub slug: &'a str,
    /// Company name.
    pub name: &'a str,
    /// Plan id.
    pub plan_id: &'a str,
    /// End of the trial.
    pub trial_ends_at: Option<DateTime<Utc>>,
    /// Home region.
    pub home_region: &'a str,
    /// The tenant database it is placed in.
    pub database: &'a super::DatabaseId,
}

/// Inserts a new tenant's control row (its schema not yet created) and returns it: its schema
/// name is derived here from the id, the one place a schema is made for a tenant that has no row
/// yet.
pub async fn insert(conn: &mut PgConnection, new: NewTenantRow<'_>) -> sqlx::Result<TenantAccess> {
    let NewTenantRow { id, slug, name, plan_id, trial_ends_at, home_region, database } = new;
    let schema = TenantSchema::of(id, database.clone());
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into control.tenants as t (id, slug, name, schema_name, plan_id, trial_ends_at, home_region, database_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         returning {ACCESS_COLUMNS}"
    )))
    .bind(id)
    .bind(slug)
    .bind(name)
    .bind(schema.name())
    .bind(plan_id)
    .bind(trial_ends_at)
    .bind(home_region)
    .bind(database.as_str())
    .fetch_one(conn)
    .await
}

/// Claims a slug for the rest of the transaction: takes a transaction-scoped advisory lock on
/// it (so two signups cannot both see it free) and returns whether it is still free.
pub async fn claim_slug(conn: &mut PgConnection, slug: &str) -> sqlx::Result<bool> {
    sqlx::query("select pg_advisory_xact_lock(hashtext('kefu:slug:' || $1))").bind(slug).execute(&mut *conn).await?;
    sqlx::query_scalar("select not exists(select 1 from control.tenants where slug = $1)")
        .bind(slug)
        .fetch_one(conn)
        .await
}

/// Finds a tenant by id.
pub async fn find(conn: &mut PgConnection, id: TenantId) -> sqlx::Result<Option<TenantRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("select {COLUMNS} from control.tenants t where t.id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// What admitting a request into a tenant needs, by tenant id (visitor tokens name only the
/// tenant).
pub async fn find_access(conn: &mut PgConnection, id: TenantId) -> sqlx::Result<Option<TenantAccess>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("select {ACCESS_COLUMNS} from control.tenants t where t.id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The schema of an active tenant, for the background tasks that act on a tenant named in an
/// event or a control-plane row (the bot, automatic replies, rules, reply mail, auto-close);
/// `None` when it is gone, suspended or being deleted.
pub async fn active_schema(databases: &super::Databases, id: TenantId) -> sqlx::Result<Option<TenantSchema>> {
    let access = find_access(&mut *databases.control().acquire().await?, id).await?;
    Ok(access.filter(|a| a.status == TenantStatus::Active).map(|a| a.schema))
}

/// The transaction's own tenant (`None` only if it was deleted meanwhile).
pub async fn current(tx: &mut TenantTx) -> sqlx::Result<Option<TenantRow>> {
    let id = tx.tenant_id();
    sqlx::query_as(sqlx::AssertSqlSafe(format!("select {COLUMNS} from control.tenants t where t.id = $1")))
        .bind(id)
        .fetch_optional(tx.control().await?)
        .await
}

/// Finds a tenant by id.
pub async fn find_by_id(conn: &mut PgConnection, id: TenantId) -> sqlx::Result<Option<TenantRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("select {COLUMNS} from control.tenants t where t.id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Finds a tenant by slug.
pub async fn find_by_slug(conn: &mut PgConnection, slug: &str) -> sqlx::Result<Option<TenantRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("select {COLUMNS} from control.tenants t where t.slug = $1")))
        .bind(slug)
        .fetch_optional(conn)
        .await
}

/// A tenant placed in a database, as `kefu migrate` lists them.
#[derive(Debug, Clone)]
pub struct Placed {
    /// Tenant id.
    pub id: TenantId,
    /// Its schema, or the stored name when that does not match the id (then this tenant fails
    /// and the others go on).
    pub schema: Result<TenantSchema, String>,
}

/// The tenants placed in `database` (except those being deleted), oldest first.
pub async fn placed(conn: &mut PgConnection, database: &super::DatabaseId) -> sqlx::Result<Vec<Placed>> {
    let rows: Vec<(TenantId, String)> = sqlx::query_as(
        "select id, schema_name from control.tenants
         where database_id = $1 and status <> 'deleting'
         order by created_at, id",
    )
    .bind(database.as_str())
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| Placed { id, schema: TenantSchema::checked(id, &name, database.clone()).ok_or(name) })
        .collect())
}

/// Number of tenants that are not being deleted.
pub async fn count(conn: &mut PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from control.tenants where status <> 'deleting'").fetch_one(conn).await
}

/// A tenant's plan and usage, for its members.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlanUsage {
    /// Plan id.
    pub plan_id: String,
    /// Plan name.
    pub plan_name: String,
    /// Seats in the plan.
    pub seats: i32,
    /// Conversations per month in the plan.
    pub conversations_per_month: i32,
    /// The plan's features.
    pub features: Vec<String>,
    /// Members now.
    pub members: i64,
    /// Pending, unexpired invitations now.
    pub pending_invitations: i64,
}

/// The plan and seat usage of the transaction's tenant.
pub async fn plan_usage(tx: &mut TenantTx) -> sqlx::Result<PlanUsage> {
    let id = tx.tenant_id();
    sqlx::query_as(
        "select p.id as plan_id, p.name as plan_name, p.seats, p.conversations_per_month, p.features,
                (select count(*) from control.memberships m where m.tenant_id = t.id) as members,
                (select count(*) from control.invitations i
                  where i.tenant_id = t.id and i.accepted_at is null and i.revoked_at is null and i.expires_at > now())
                  as pending_invitations
         from control.tenants t join control.plans p on p.id = t.plan_id where t.id = $1",
    )
    .bind(id)
    .fetch_one(tx.control().await?)
    .await
}

/// Renames the transaction's tenant.
pub async fn rename(tx: &mut TenantTx, name: &str) -> sqlx::Result<()> {
    let id = tx.tenant_id();
    sqlx::query("update control.tenants set name = $2 where id = $1")
        .bind(id)
        .bind(name)
        .execute(tx.control().await?)
        .await?;
    Ok(())
}

/// Deletes the transaction's tenant for good: its schema with every table in it and its version
/// row (in its database), and its control row (memberships, invitations, API keys, sessions and
/// queued mail cascade). Serialised with other work on the schema by an advisory lock.
pub async fn delete_with_data(tx: &mut TenantTx) -> sqlx::Result<()> {
    let schema = tx.schema().clone();
    sqlx::query("select pg_advisory_xact_lock(hashtext($1))").bind(schema.name()).execute(tx.conn()).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("drop schema if exists {} cascade", schema.name())))
        .execute(tx.conn())
        .await?;
    sqlx::query("delete from kefu.tenant_schemas where tenant_id = $1")
        .bind(schema.tenant_id())
        .execute(tx.conn())
        .await?;
    sqlx::query("delete from control.tenants where id = $1")
        .bind(schema.tenant_id())
        .execute(tx.control().await?)
        .await?;
    Ok(())
}

/// The tenant's plan limits for attachments: `(largest file in MiB, total storage in MiB)`.
pub async fn attachment_limits(conn: &mut PgConnection, tenant: TenantId) -> sqlx::Result<(i32, i32)> {
    sqlx::query_as(
        "select p.attachment_max_mb, p.attachment_storage_mb
         from control.tenants t join control.plans p on p.id = t.plan_id where t.id = $1",
    )
    .bind(tenant)
    .fetch_one(conn)
    .await
}
