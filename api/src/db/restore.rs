//! Replacing one tenant's data with a workspace archive's rows (`tenancy::restore`, docs/backups.md
//! "Restoring one workspace"), all in **one transaction on the tenant's database**:
//! 1. the tenant's version row is locked (no migration, move or other restore of it meanwhile);
//! 2. a staging schema `r_<32 hex of the tenant id>` is created at the archive's version (the
//!    tenant migrations up to it), emptied of what migrations seed, and filled with the archive's
//!    rows table by table, each row's columns checked against the table's;
//! 3. an older archive's staging schema is migrated forward to the latest version;
//! 4. the swap: the tenant's tables are locked (`access exclusive`: its reads and writes wait),
//!    the rows a restore keeps are merged into staging (audit entries the archive lacks, the
//!    webhook outbox and delivery log as they are now), the tenant's tables are emptied and filled
//!    from staging, parents first, with every conversation's sequence numbers and every cached
//!    settings version raised past where they were (never backwards), identity sequences never
//!    moved back, and staging dropped;
//! 5. as the tenant's transaction: current members' profiles active (others inactive), visitors
//!    erased since the archive erased again, the control-plane lists that follow tenant settings
//!    synced, the restore audited and `control.tenants.restored_at` set; commit (two-phase with
//!    the control database for a tenant outside it).
//!
//! Killed or failed at any point, the transaction rolls back: the tenant is untouched and the
//! staging schema never existed. Like `moves`, this works on schemas by name outside a
//! `TenantTx` until step 5; table and column names come from the catalog and are quoted.

use std::time::{Duration, Instant};

use kefu_protocol::{TenantId, VisitorId};
use sqlx::{Postgres, Transaction};

use super::moves::{self, Table, ident};
use super::{Databases, TenantSchema, TenantTx};

/// Tables whose rows the restore keeps as they are now instead of taking the archive's: the
/// webhook outbox and delivery log record what was sent to receivers, which a restore cannot
/// take back (restoring them would send events again). Deliveries of endpoints the archive does
/// not have go with them.
const KEPT: [&str; 2] = ["webhook_events", "webhook_deliveries"];
/// The table whose rows the restore merges: the archive's and every row it lacks (the audit log
/// keeps what happened after the archive was taken, the restore itself included).
const MERGED: &str = "audit_log";
/// Per-conversation sequence columns that never go back: a conversation's next message gets a
/// number above any a client has seen.
const SEQUENCE_COLUMNS: [&str; 3] = ["last_seq", "visitor_read_seq", "agent_read_seq"];
/// Version counters of singleton settings rows that nodes cache by (the bot's index, the rules,
/// the widget and the service hours): bumped past both the archive's and the current value.
const VERSIONS: [(&str, &str); 4] = [
    ("widget_settings", "version"),
    ("widget_settings", "service_hours_version"),
    ("bot_settings", "version"),
    ("routing_settings", "rules_version"),
];
/// Tries at locking the tenant's tables, each waiting at most `LOCK_WAIT`.
const LOCK_TRIES: u32 = 5;
/// How long one try waits for the transactions in flight on the tenant's tables.
const LOCK_WAIT: &str = "3s";

/// A row that does not fit its table: its number, its JSON type, the keys the table lacks and the
/// columns it lacks.
type Mismatch = (i64, Option<String>, Vec<String>, Vec<String>);

/// A table of the staging schema.
#[derive(Debug, Clone)]
pub struct StagedTable {
    /// Its catalog description (insertable columns, key, identity columns).
    pub table: Table,
    /// Every column, generated ones included: the keys a row of the archive has.
    all_columns: Vec<String>,
}

/// A restore in progress: the transaction on the tenant's database and its staging schema.
pub struct Restore {
    tx: Transaction<'static, Postgres>,
    schema: TenantSchema,
    staging: String,
    tables: Vec<StagedTable>,
}

/// The archive's rows do not fit the table.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A row is not an object with exactly the table's columns.
    #[error("row {row} {problem}")]
    Row {
        /// Its number in the batch, from 1.
        row: i64,
        /// What is wrong.
        problem: String,
    },
    /// Postgres refused the rows (not JSON, a value of the wrong type, a constraint).
    #[error("{0}")]
    Refused(sqlx::Error),
}

/// The tenant's tables stayed busy: every try at locking them timed out.
#[derive(Debug, thiserror::Error)]
#[error("the workspace's tables stayed in use for {LOCK_TRIES} tries of {LOCK_WAIT} (a long export or query?)")]
pub struct TablesBusy;

/// What the swap did.
#[derive(Debug, Clone, Default)]
pub struct Swapped {
    /// Rows now in the tenant's tables.
    pub rows: u64,
    /// Audit entries the archive lacked, kept.
    pub kept_audit_entries: u64,
    /// Webhook outbox and delivery rows kept as they were.
    pub kept_webhook_rows: u64,
    /// Conversations whose sequence numbers stayed above the archive's (messages the restore
    /// removed leave a gap that clients skip, as they skip private notes).
    pub raised_conversations: u64,
    /// Current members whose profile was missing or inactive, made active.
    pub profiles_activated: u64,
    /// Profiles of people who are no longer members, made inactive.
    pub profiles_deactivated: u64,
    /// Visitors erased after the archive was taken, erased again.
    pub erased_again: u64,
    /// Object keys of the files of visitors erased again (delete them after commit).
    pub erased_files: Vec<String>,
    /// How long the tenant's reads and writes waited (from the lock to the end of the commit).
    pub paused: Duration,
}

/// Whether a move of the tenant is recorded (a restore must not run under one).
pub async fn move_recorded(databases: &Databases, tenant: TenantId) -> sqlx::Result<bool> {
    sqlx::query_scalar("select exists (select 1 from control.tenant_moves where tenant_id = $1)")
        .bind(tenant)
        .fetch_one(databases.control())
        .await
}

impl Restore {
    /// Begins the transaction on the tenant's database and locks the tenant's version row;
    /// returns the restore and the schema's recorded version (`None`: no schema here).
    pub async fn begin(databases: &Databases, schema: &TenantSchema) -> sqlx::Result<(Self, Option<i64>)> {
        let pool = databases.tenant_pool(schema.database()).await?;
        let mut tx = pool.begin().await?;
        let version: Option<i64> =
            sqlx::query_scalar("select version from kefu.tenant_schemas where tenant_id = $1 for update")
                .bind(schema.tenant_id())
                .fetch_optional(&mut *tx)
                .await?;
        let staging = format!("r_{}", schema.tenant_id().simple());
        Ok((Self { tx, schema: schema.clone(), staging, tables: Vec::new() }, version))
    }

    /// Creates the staging schema at `version` (the tenant migrations up to it), empty, and
    /// marks the transaction as copying (the tenant schema's triggers queue no search entries
    /// and write no webhook events for copied rows).
    pub async fn stage(&mut self, version: i64) -> anyhow::Result<()> {
        let drop = format!("drop schema if exists {} cascade", self.staging);
        sqlx::raw_sql(sqlx::AssertSqlSafe(drop)).execute(&mut *self.tx).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("create schema {}", self.staging))).execute(&mut *self.tx).await?;
        crate::tenancy::apply_tenant_migrations(&mut self.tx, &self.staging, 0, version).await?;
        self.set_search_path("").await?;
        self.read_tables().await?;
        // What migrations seed (settings singletons) comes from the archive instead.
        if !self.tables.is_empty() {
            let names: Vec<String> = self.tables.iter().map(|t| self.staged(&t.table)).collect();
            let statement = format!("truncate table {}", names.join(", "));
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut *self.tx).await?;
        }
        sqlx::query("select set_config('kefu.copying', 'on', true)").execute(&mut *self.tx).await?;
        Ok(())
    }

    /// The staging schema's tables, parents first.
    pub fn tables(&self) -> &[StagedTable] {
        &self.tables
    }

    /// Inserts archive rows (JSON objects, one per line as `to_jsonb` wrote them) into the staging
    /// table `table` after checking that each has exactly the table's columns. Returns how many.
    pub async fn load(&mut self, table: &StagedTable, lines: &[String]) -> Result<u64, LoadError> {
        if lines.is_empty() {
            return Ok(0);
        }
        let array = format!("[{}]", lines.join(","));
        let mismatch: Option<Mismatch> = sqlx::query_as(
            "select e.ord, jsonb_typeof(e.value),
                    case when jsonb_typeof(e.value) = 'object'
                         then array(select k from jsonb_object_keys(e.value) k where k <> all($2) order by k)
                         else '{}' end,
                    case when jsonb_typeof(e.value) = 'object'
                         then array(select c from unnest($2::text[]) c where not e.value ? c order by c)
                         else '{}' end
               from jsonb_array_elements($1::jsonb) with ordinality e(value, ord)
              where jsonb_typeof(e.value) <> 'object' or not (e.value ?& $2)
                 or exists (select 1 from jsonb_object_keys(e.value) k where k <> all($2))
              order by e.ord limit 1",
        )
        .bind(&array)
        .bind(&table.all_columns)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(LoadError::Refused)?;
        if let Some((row, kind, unknown, missing)) = mismatch {
            let problem = if kind.as_deref() != Some("object") {
                format!("is not a JSON object but {}", kind.unwrap_or_default())
            } else {
                let mut parts = Vec::new();
                if !unknown.is_empty() {
                    parts.push(format!("has columns the table lacks ({})", unknown.join(", ")));
                }
                if !missing.is_empty() {
                    parts.push(format!("lacks the columns {}", missing.join(", ")));
                }
                parts.join(" and ")
            };
            return Err(LoadError::Row { row, problem });
        }
        let name = self.staged(&table.table);
        let columns = table.table.column_list();
        let overriding = if table.table.identity.is_empty() { "" } else { "overriding system value" };
        let statement = format!(
            "insert into {name} ({columns}) {overriding}
             select {columns} from jsonb_populate_recordset(null::{name}, $1::jsonb)"
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(statement))
            .bind(&array)
            .execute(&mut *self.tx)
            .await
            .map_err(LoadError::Refused)?;
        Ok(done.rows_affected())
    }

    /// Brings the staging schema from version `from` to the latest (an older archive's rows
    /// migrated as the tenant's own would have been). Returns the migrations applied.
    pub async fn migrate_forward(&mut self, from: i64) -> anyhow::Result<usize> {
        let latest = crate::tenancy::latest_tenant_version();
        let applied = crate::tenancy::apply_tenant_migrations(&mut self.tx, &self.staging, from, latest).await?;
        self.set_search_path("").await?;
        self.read_tables().await?;
        Ok(applied)
    }

    /// Checks that the staging schema has exactly the tenant's tables and columns.
    pub async fn check_shape(&mut self) -> anyhow::Result<()> {
        let live = moves::tables(&mut self.tx, &self.schema).await?;
        let staged: Vec<(&str, &[String])> =
            self.tables.iter().map(|t| (t.table.name.as_str(), t.table.columns.as_slice())).collect();
        let mut live: Vec<(&str, &[String])> = live.iter().map(|t| (t.name.as_str(), t.columns.as_slice())).collect();
        let mut sorted = staged.clone();
        sorted.sort();
        live.sort();
        anyhow::ensure!(
            sorted == live,
            "the archive's tables, migrated to the latest version, do not match the workspace's schema"
        );
        Ok(())
    }

    /// How many rows the staging table holds.
    pub async fn staged_rows(&mut self, table: &StagedTable) -> sqlx::Result<i64> {
        let statement = format!("select count(*) from {}", self.staged(&table.table));
        sqlx::query_scalar(sqlx::AssertSqlSafe(statement)).fetch_one(&mut *self.tx).await
    }

    /// Steps 4 and 5 (see the module docs). With `commit` false, everything is done and then
    /// rolled back (a dry run). `details` go into the `tenant.restored` audit entry.
    pub async fn swap(
        mut self,
        databases: &Databases,
        details: serde_json::Value,
        commit: bool,
    ) -> anyhow::Result<Swapped> {
        let live = moves::tables(&mut self.tx, &self.schema).await?;
        self.lock(&live).await?;
        let paused = Instant::now();
        let mut swapped = Swapped::default();
        let (schema, staging) = (self.schema.name().to_owned(), self.staging.clone());
        let has = |name: &str| live.iter().any(|t| t.name == name);

        // What the tenant holds now that the restore keeps or never lets go back.
        if has("conversations") {
            let statement = format!(
                "create table {staging}.kefu_floors as
                 select id, {columns} from {schema}.conversations",
                columns = SEQUENCE_COLUMNS.join(", ")
            );
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut *self.tx).await?;
            swapped.raised_conversations = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                "select count(*) from {staging}.conversations s join {staging}.kefu_floors f on f.id = s.id
                 where f.last_seq > s.last_seq"
            )))
            .fetch_one(&mut *self.tx)
            .await?
            .try_into()
            .unwrap_or(0);
        }
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "create table {staging}.kefu_versions (tbl text, col text, value bigint)"
        )))
        .execute(&mut *self.tx)
        .await?;
        for (table, column) in VERSIONS {
            if live.iter().any(|t| t.name == table && t.columns.iter().any(|c| c == column)) {
                let statement = format!(
                    "insert into {staging}.kefu_versions select '{table}', '{column}', max({column}) from {schema}.{table}"
                );
                sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut *self.tx).await?;
            }
        }
        let mut erased_visitors = Vec::new();
        if let Some(table) = live.iter().find(|t| t.name == MERGED) {
            let statement = format!(
                "insert into {staging}.{MERGED} ({columns}) overriding system value
                 select {columns} from {schema}.{MERGED} l
                 where not exists (select 1 from {staging}.{MERGED} r where r.id = l.id)
                 returning action, target",
                columns = table.column_list()
            );
            let kept: Vec<(String, Option<String>)> =
                sqlx::query_as(sqlx::AssertSqlSafe(statement)).fetch_all(&mut *self.tx).await?;
            swapped.kept_audit_entries = u64::try_from(kept.len()).unwrap_or(0);
            erased_visitors = kept
                .into_iter()
                .filter(|(action, _)| action == "visitor.erased")
                .filter_map(|(_, target)| target?.parse::<VisitorId>().ok())
                .collect();
        }
        for name in KEPT {
            let Some(table) = live.iter().find(|t| t.name == name) else { continue };
            let columns = table.column_list();
            let statement = format!("truncate table {staging}.{}", ident(name));
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut *self.tx).await?;
            let only_restored_endpoints = if name == "webhook_deliveries" {
                format!("where l.endpoint_id in (select id from {staging}.webhook_endpoints)")
            } else {
                String::new()
            };
            let overriding = if table.identity.is_empty() { "" } else { "overriding system value" };
            let statement = format!(
                "insert into {staging}.{t} ({columns}) {overriding}
                 select {columns} from {schema}.{t} l {only_restored_endpoints}",
                t = ident(name)
            );
            let kept = sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&mut *self.tx).await?;
            swapped.kept_webhook_rows += kept.rows_affected();
        }

        // The tenant's tables emptied and filled from staging, parents first.
        let names: Vec<String> = live.iter().map(|t| format!("{schema}.{}", ident(&t.name))).collect();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("truncate table {}", names.join(", "))))
            .execute(&mut *self.tx)
            .await?;
        for table in &live {
            let t = ident(&table.name);
            let mut joins = String::new();
            let values: Vec<String> = table
                .columns
                .iter()
                .map(|c| {
                    if table.name == "conversations" && SEQUENCE_COLUMNS.contains(&c.as_str()) {
                        format!("greatest(s.{c}, coalesce(f.{c}, 0))")
                    } else if VERSIONS.contains(&(table.name.as_str(), c.as_str())) {
                        format!(
                            "greatest(s.{c}, coalesce((select v.value from {staging}.kefu_versions v
                                                      where v.tbl = '{}' and v.col = '{c}'), 0)) + 1",
                            table.name
                        )
                    } else {
                        format!("s.{}", ident(c))
                    }
                })
                .collect();
            if table.name == "conversations" {
                joins = format!("left join {staging}.kefu_floors f on f.id = s.id");
            }
            let overriding = if table.identity.is_empty() { "" } else { "overriding system value" };
            let statement = format!(
                "insert into {schema}.{t} ({columns}) {overriding}
                 select {values} from {staging}.{t} s {joins}",
                columns = table.column_list(),
                values = values.join(", ")
            );
            let done = sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&mut *self.tx).await?;
            swapped.rows += done.rows_affected();
        }
        self.never_back(&live).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("drop schema {staging} cascade"))).execute(&mut *self.tx).await?;
        sqlx::query("select set_config('kefu.copying', 'off', true)").execute(&mut *self.tx).await?;

        // The rest as the tenant's own transaction.
        let mut tx = TenantTx::adopt(databases, self.tx, &self.schema).await?;
        super::search::mark_dirty(&mut tx).await?;
        let (activated, deactivated) = sync_profiles(&mut tx).await?;
        swapped.profiles_activated = activated;
        swapped.profiles_deactivated = deactivated;
        for visitor in erased_visitors {
            if let Some(erased) = super::erasure::erase_visitor(&mut tx, visitor).await? {
                swapped.erased_again += 1;
                swapped.erased_files.extend(erased.files);
            }
        }
        sync_control_lists(&mut tx).await?;
        super::audit::record(&mut tx, super::audit::Actor::System, "tenant.restored", None, details).await?;
        let tenant = tx.tenant_id();
        sqlx::query("update control.tenants set restored_at = now() where id = $1")
            .bind(tenant)
            .execute(tx.control().await?)
            .await?;
        if commit {
            tx.commit().await?;
        }
        // Without `commit`, dropping the transaction rolls everything back.
        swapped.paused = paused.elapsed();
        Ok(swapped)
    }

    /// Locks every table of the tenant against reads and writes until the transaction ends,
    /// trying again when the transactions in flight do not finish in time.
    async fn lock(&mut self, live: &[Table]) -> anyhow::Result<()> {
        let names: Vec<String> = live.iter().map(|t| format!("{}.{}", self.schema.name(), ident(&t.name))).collect();
        let statement = format!("lock table {} in access exclusive mode", names.join(", "));
        for attempt in 1..=LOCK_TRIES {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "savepoint kefu_restore_lock; set local lock_timeout = '{LOCK_WAIT}'"
            )))
            .execute(&mut *self.tx)
            .await?;
            match sqlx::raw_sql(sqlx::AssertSqlSafe(statement.clone())).execute(&mut *self.tx).await {
                Ok(_) => {
                    sqlx::raw_sql("release savepoint kefu_restore_lock; set local lock_timeout to default")
                        .execute(&mut *self.tx)
                        .await?;
                    return Ok(());
                }
                Err(error) if is_lock_failure(&error) => {
                    sqlx::raw_sql("rollback to savepoint kefu_restore_lock").execute(&mut *self.tx).await?;
                    tracing::info!(attempt, "the workspace's tables are in use; trying the restore's lock again");
                    if attempt < LOCK_TRIES {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(TablesBusy.into())
    }

    /// Moves identity sequences up to the restored rows' highest values (never down: ids handed
    /// out before the restore are not handed out again).
    async fn never_back(&mut self, live: &[Table]) -> sqlx::Result<()> {
        for table in live {
            for column in &table.identity {
                let qualified = format!("{}.{}", self.schema.name(), ident(&table.name));
                let statement = format!(
                    "select setval(pg_get_serial_sequence($1, $2), m, true)
                       from (select max({c}) as m from {qualified}) r
                      where m is not null and m > (select last_value from {seq})",
                    c = ident(column),
                    seq = self.sequence_of(&qualified, column).await?,
                );
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .bind(&qualified)
                    .bind(column)
                    .fetch_optional(&mut *self.tx)
                    .await?;
            }
        }
        Ok(())
    }

    /// The (quoted, qualified) sequence behind an identity column.
    async fn sequence_of(&mut self, qualified: &str, column: &str) -> sqlx::Result<String> {
        let sequence: Option<String> = sqlx::query_scalar("select pg_get_serial_sequence($1, $2)")
            .bind(qualified)
            .bind(column)
            .fetch_one(&mut *self.tx)
            .await?;
        sequence.ok_or_else(|| sqlx::Error::Protocol(format!("{qualified}.{column} has no sequence")))
    }

    async fn read_tables(&mut self) -> anyhow::Result<()> {
        let tables = moves::tables_in(&mut self.tx, &self.staging).await?;
        let mut staged = Vec::with_capacity(tables.len());
        for table in tables {
            let all_columns: Vec<String> = sqlx::query_scalar(
                "select a.attname::text from pg_attribute a
                  where a.attrelid = (select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace
                                       where n.nspname = $1 and c.relname = $2)
                    and a.attnum > 0 and not a.attisdropped order by a.attnum",
            )
            .bind(&self.staging)
            .bind(&table.name)
            .fetch_all(&mut *self.tx)
            .await?;
            staged.push(StagedTable { table, all_columns });
        }
        self.tables = staged;
        Ok(())
    }

    async fn set_search_path(&mut self, path: &str) -> sqlx::Result<()> {
        sqlx::query("select set_config('search_path', $1, true)").bind(path).execute(&mut *self.tx).await?;
        Ok(())
    }

    fn staged(&self, table: &Table) -> String {
        format!("{}.{}", self.staging, ident(&table.name))
    }
}

fn is_lock_failure(error: &sqlx::Error) -> bool {
    // 55P03 lock_not_available, 40P01 deadlock_detected
    error.as_database_error().and_then(|e| e.code()).is_some_and(|code| code == "55P03" || code == "40P01")
}

/// Current members' profiles active (created from their account's name when the archive has
/// none), profiles of people who are no longer members inactive: membership lives in the control
/// plane, which a restore does not change. Returns (activated, deactivated).
async fn sync_profiles(tx: &mut TenantTx) -> sqlx::Result<(u64, u64)> {
    let tenant = tx.tenant_id();
    let members: Vec<(uuid::Uuid, String)> = sqlx::query_as(
        "select m.user_id, u.display_name from control.memberships m join control.users u on u.id = m.user_id
         where m.tenant_id = $1",
    )
    .bind(tenant)
    .fetch_all(tx.control().await?)
    .await?;
    let ids: Vec<uuid::Uuid> = members.iter().map(|(id, _)| *id).collect();
    let names: Vec<String> = members.into_iter().map(|(_, name)| name).collect();
    let activated = sqlx::query(
        "insert into agents (user_id, display_name)
         select m.id, left(coalesce(nullif(btrim(m.name), ''), 'Agent'), 80) from unnest($1::uuid[], $2::text[]) m(id, name)
         on conflict (user_id) do update set active = true where not agents.active",
    )
    .bind(&ids)
    .bind(&names)
    .execute(tx.conn())
    .await?
    .rows_affected();
    let deactivated = sqlx::query("update agents set active = false where active and user_id <> all($1)")
        .bind(&ids)
        .execute(tx.conn())
        .await?
        .rows_affected();
    Ok((activated, deactivated))
}

/// The control-plane lists that follow the tenant's settings, as its restored settings say: the
/// webhook dispatchers' list, the idle-conversation sweeps, and reply mails due for conversations
/// that no longer exist.
async fn sync_control_lists(tx: &mut TenantTx) -> sqlx::Result<()> {
    super::webhooks::sync_tenant(tx).await?;
    let hours = super::service_hours::current(tx).await?;
    super::auto_close::register(tx, hours.auto_close.enabled.then_some(hours.auto_close.after_minutes)).await?;
    let tenant = tx.tenant_id();
    let due: Vec<uuid::Uuid> =
        sqlx::query_scalar("select conversation_id from control.reply_mail_due where tenant_id = $1")
            .bind(tenant)
            .fetch_all(tx.control().await?)
            .await?;
    if !due.is_empty() {
        let gone: Vec<uuid::Uuid> = sqlx::query_scalar(
            "select d.id from unnest($1::uuid[]) d(id) where not exists (select 1 from conversations c where c.id = d.id)",
        )
        .bind(&due)
        .fetch_all(tx.conn())
        .await?;
        if !gone.is_empty() {
            sqlx::query("delete from control.reply_mail_due where tenant_id = $1 and conversation_id = any($2)")
                .bind(tenant)
                .bind(&gone)
                .execute(tx.control().await?)
                .await?;
        }
    }
    Ok(())
}

/// The ids of a tenant's control-plane rows an archive also lists (to tell the operator what a
/// restore leaves as it is).
#[derive(Debug, Clone, Default)]
pub struct ControlIds {
    /// Members' user ids.
    pub members: Vec<uuid::Uuid>,
    /// Site keys, revoked ones included.
    pub site_keys: Vec<uuid::Uuid>,
    /// API keys, revoked ones included.
    pub api_keys: Vec<uuid::Uuid>,
}

/// The tenant's members, site keys and API keys as the control plane has them now.
pub async fn control_ids(databases: &Databases, tenant: TenantId) -> sqlx::Result<ControlIds> {
    let mut conn = databases.control().acquire().await?;
    let ids = |sql: &'static str| sqlx::query_scalar::<_, uuid::Uuid>(sql).bind(tenant);
    Ok(ControlIds {
        members: ids("select user_id from control.memberships where tenant_id = $1").fetch_all(&mut *conn).await?,
        site_keys: ids("select id from control.site_keys where tenant_id = $1").fetch_all(&mut *conn).await?,
        api_keys: ids("select id from control.api_keys where tenant_id = $1").fetch_all(&mut *conn).await?,
    })
}

/// Every attachment of the tenant: id, object key and size (to put back files the object store
/// lacks).
pub async fn attachment_files(tx: &mut TenantTx) -> sqlx::Result<Vec<(uuid::Uuid, String, i64)>> {
    sqlx::query_as("select id, storage_key, size from attachments").fetch_all(tx.conn()).await
}
