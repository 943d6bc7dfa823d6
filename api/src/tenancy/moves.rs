//! Moving a tenant to another tenant database (`kefu tenants move`), on the same Postgres
//! cluster or another, while it is in use:
//! 1. the target gets a fresh, empty schema at the latest version;
//! 2. every change to the tenant's rows in the source starts being logged (a trigger per table);
//! 3. a snapshot of every table is copied (binary `COPY`, parents first);
//! 4. logged changes are applied to the copy in rounds until few are left;
//! 5. **the pause**: the source's tables are locked against writes (reads go on), the last
//!    changes applied, identity sequences synced, and every table's row count and checksum
//!    compared between source and copy; the copy commits;
//! 6. the placement switches to the target and the source schema is dropped, atomically (one
//!    transaction when the source is the control database, two-phase commit otherwise). Writes that
//!    waited on the locks then fail with `undefined_table`, which the api answers as "retry"
//!    (HTTP 503, and for WebSockets a retryable error and a `going_away` close); retried, they read
//!    the new placement. Nothing acknowledged is lost: every acknowledged write committed in the
//!    source before the pause and was copied.
//!
//! Any failure before the switch abandons the move: the capture is removed from the source, the
//! copy dropped, and the tenant stays where it was, untouched. A move interrupted by a crash
//! leaves a row in `control.tenant_moves`; running the command again starts it over.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use kefu_protocol::TenantId;
use sqlx::Connection as _;

use crate::db::moves::{self, Table};
use crate::db::{self, DatabaseId, Databases, TenantSchema};

/// Reports the steps of a move (log lines, a CLI's output).
pub trait MoveProgress: Sync {
    /// A step began or finished.
    fn step(&self, what: &str);
}

/// What a move did.
#[derive(Debug, Clone)]
pub struct MoveReport {
    /// Where the tenant was.
    pub source: DatabaseId,
    /// Where it is now.
    pub target: DatabaseId,
    /// Rows copied in the snapshot.
    pub copied_rows: u64,
    /// Changed rows applied after the snapshot (catch-up and pause).
    pub applied_changes: usize,
    /// How long the tenant's writes were paused.
    pub paused: Duration,
    /// The whole move.
    pub elapsed: Duration,
}

/// Catch-up rounds stop once a round finds fewer changes than this.
const FEW_CHANGES: usize = 200;
/// At most this many catch-up rounds before pausing anyway.
const CATCH_UP_ROUNDS: usize = 50;
/// Changes read per round.
const CHANGES_PER_READ: i64 = 2_000;
/// Tries at taking the source's write locks (each waits at most `LOCK_WAIT`).
const PAUSE_TRIES: usize = 5;
/// How long one try waits for the writes in flight.
const LOCK_WAIT: &str = "3s";

/// Moves `tenant` to the tenant database `target` (see the module docs).
pub async fn move_tenant(
    databases: &Databases,
    tenant: TenantId,
    target: &DatabaseId,
    progress: &dyn MoveProgress,
) -> anyhow::Result<MoveReport> {
    let started = Instant::now();
    let source_schema = claim(databases, tenant, target).await?;
    let source = source_schema.database().clone();
    let result = run(databases, &source_schema, target, progress).await;
    match result {
        Ok((copied_rows, applied_changes, paused)) => Ok(MoveReport {
            source,
            target: target.clone(),
            copied_rows,
            applied_changes,
            paused,
            elapsed: started.elapsed(),
        }),
        Err(error) => {
            progress.step("the move failed before the switch: abandoning it, the tenant stays where it was");
            if let Err(cleanup) = abandon(databases, &source_schema, target).await {
                tracing::error!(error = format!("{cleanup:#}"), "cleaning up an abandoned move");
            }
            Err(error)
        }
    }
}

/// Checks the move makes sense and records it in `control.tenant_moves` (taking over an
/// interrupted move of the same tenant from the same source). Returns the tenant's schema where
/// it is now.
async fn claim(databases: &Databases, tenant: TenantId, target: &DatabaseId) -> anyhow::Result<TenantSchema> {
    let mut conn = databases.control().acquire().await?;
    let row = db::tenants::find_by_id(&mut conn, tenant).await?.with_context(|| format!("no tenant {tenant}"))?;
    anyhow::ensure!(row.access.status != db::tenants::TenantStatus::Deleting, "tenant {tenant} is being deleted");
    let schema = row.access.schema;
    anyhow::ensure!(schema.database() != target, "tenant {tenant} already lives in `{target}`");
    db::databases::find(&mut conn, target).await?.with_context(|| format!("no tenant database `{target}`"))?;
    let claimed = sqlx::query(
        "insert into control.tenant_moves (tenant_id, source_id, target_id, state) values ($1, $2, $3, 'copying')
         on conflict (tenant_id) do update set target_id = excluded.target_id, updated_at = now()
         where control.tenant_moves.source_id = excluded.source_id",
    )
    .bind(tenant)
    .bind(schema.database().as_str())
    .bind(target.as_str())
    .execute(&mut *conn)
    .await?;
    anyhow::ensure!(claimed.rows_affected() == 1, "another move of tenant {tenant} is recorded from another database");
    Ok(schema)
}

/// Steps 1-6; returns (rows copied, changes applied, pause).
async fn run(
    databases: &Databases,
    source_schema: &TenantSchema,
    target: &DatabaseId,
    progress: &dyn MoveProgress,
) -> anyhow::Result<(u64, usize, Duration)> {
    let source = source_schema.database().clone();
    let target_schema = moves::in_database(source_schema, target);
    let source_pool = databases.maintenance_pool(&source).await?;
    let target_pool = databases.maintenance_pool(target).await?;
    let mut source_conn = source_pool.acquire().await?;
    let mut target_conn = target_pool.acquire().await?;
    super::database::prepare(&mut source_conn).await.context("preparing the source database")?;
    super::database::prepare(&mut target_conn).await.context("preparing the target database")?;
    let version = super::database::versions(&mut source_conn).await?.get(&source_schema.tenant_id()).copied();
    anyhow::ensure!(
        version == Some(super::latest_tenant_version()),
        "the tenant's schema is at version {version:?}, not the latest; run `kefu migrate` first"
    );
    let tables = moves::tables(&mut source_conn, source_schema).await?;

    progress.step(&format!("creating an empty copy in `{target}`"));
    let mut tx = target_conn.begin().await?;
    moves::drop_schema(&mut tx, &target_schema).await?;
    super::migrate_tenant_schema(&mut tx, &target_schema).await?;
    moves::empty_tables(&mut tx, &target_schema, &tables).await?;
    // Rows written in the target come after every copied row in the compliance feed.
    db::feed::raise_epoch(&mut source_conn, &mut tx, source_schema, &target_schema).await?;
    tx.commit().await?;

    progress.step("capturing changes in the source");
    let mut tx = source_conn.begin().await?;
    moves::start_capture(&mut tx, source_schema, &tables).await?;
    tx.commit().await?;

    progress.step("copying a snapshot");
    let mut snapshot = source_conn.begin_with("begin isolation level repeatable read, read only").await?;
    let mut copy = target_conn.begin().await?;
    let mut copied_rows = 0;
    for table in &tables {
        copied_rows += moves::copy_table(&mut snapshot, &mut copy, &target_schema, table).await?;
    }
    copy.commit().await?;
    snapshot.commit().await?;
    progress.step(&format!("copied {copied_rows} rows"));

    let mut applied_changes = 0;
    for round in 1..=CATCH_UP_ROUNDS {
        let changes = moves::logged_changes(&mut source_conn, source_schema, CHANGES_PER_READ).await?;
        let mut copy = target_conn.begin().await?;
        applied_changes += moves::apply_changes(&mut source_conn, &mut copy, &target_schema, &tables, &changes).await?;
        copy.commit().await?;
        moves::forget_changes(&mut source_conn, source_schema, &changes).await?;
        if changes.len() < FEW_CHANGES {
            progress.step(&format!("caught up after {round} rounds ({applied_changes} changed rows applied)"));
            break;
        }
    }
    drop(source_conn);
    drop(target_conn);

    for attempt in 1..=PAUSE_TRIES {
        match pause_and_switch(databases, source_schema, &target_schema, &tables, progress).await {
            Ok((applied, paused)) => return Ok((copied_rows, applied_changes + applied, paused)),
            Err(error) if attempt < PAUSE_TRIES && is_lock_timeout(&error) => {
                progress.step(&format!("the writes in flight did not finish within {LOCK_WAIT}; trying again"));
            }
            Err(error) => return Err(error),
        }
    }
    anyhow::bail!("the source's tables could not be locked")
}

fn is_lock_timeout(error: &anyhow::Error) -> bool {
    error.downcast_ref::<sqlx::Error>().and_then(|e| e.as_database_error()).and_then(|e| e.code()).is_some_and(
        // 55P03 lock_not_available, 40P01 deadlock_detected
        |code| code == "55P03" || code == "40P01",
    )
}

/// Step 5 and 6: returns (changes applied during the pause, its length).
async fn pause_and_switch(
    databases: &Databases,
    source_schema: &TenantSchema,
    target_schema: &TenantSchema,
    tables: &[Table],
    progress: &dyn MoveProgress,
) -> anyhow::Result<(usize, Duration)> {
    let source = source_schema.database();
    let source_pool = databases.maintenance_pool(source).await?;
    let target_pool = databases.maintenance_pool(target_schema.database()).await?;
    let mut paused = source_pool.begin().await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("set local lock_timeout = '{LOCK_WAIT}'"))).execute(&mut *paused).await?;
    moves::lock_writes(&mut paused, source_schema, tables).await?;
    let pause_started = Instant::now();
    progress.step("paused the tenant's writes");

    let mut copy = target_pool.begin().await?;
    let mut applied = 0;
    loop {
        let changes = moves::logged_changes(&mut paused, source_schema, CHANGES_PER_READ).await?;
        if changes.is_empty() {
            break;
        }
        applied += moves::apply_changes(&mut paused, &mut copy, target_schema, tables, &changes).await?;
        moves::forget_changes(&mut paused, source_schema, &changes).await?;
    }
    moves::sync_identities(&mut paused, &mut copy, target_schema, tables).await?;
    let at_source = moves::checksums(&mut paused, source_schema, tables).await?;
    let in_copy = moves::checksums(&mut copy, target_schema, tables).await?;
    if let Some(((table, count, _), (_, copied, _))) =
        at_source.iter().zip(&in_copy).find(|((_, a, sum_a), (_, b, sum_b))| a != b || sum_a != sum_b)
    {
        anyhow::bail!(
            "verification failed: table {table} has {count} rows in the source and {copied} in the copy, or different contents"
        );
    }
    copy.commit().await?;
    progress.step(&format!("verified {} tables; switching the placement", tables.len()));

    moves::drop_schema(&mut paused, source_schema).await?;
    let switch = "update control.tenants set database_id = $2 where id = $1 and database_id = $3";
    let forget = "delete from control.tenant_moves where tenant_id = $1";
    let tenant = source_schema.tenant_id();
    let target = target_schema.database();
    if source.is_main() {
        // The source is the control database: one transaction drops and switches.
        let done =
            sqlx::query(switch).bind(tenant).bind(target.as_str()).bind(source.as_str()).execute(&mut *paused).await?;
        anyhow::ensure!(done.rows_affected() == 1, "the tenant's placement changed during the move");
        sqlx::query(forget).bind(tenant).execute(&mut *paused).await?;
        paused.commit().await?;
    } else {
        let mut control = databases.control().begin().await?;
        let done =
            sqlx::query(switch).bind(tenant).bind(target.as_str()).bind(source.as_str()).execute(&mut *control).await?;
        anyhow::ensure!(done.rows_affected() == 1, "the tenant's placement changed during the move");
        sqlx::query(forget).bind(tenant).execute(&mut *control).await?;
        db::two_phase::commit(paused, source, control, databases.control()).await?;
    }
    let pause = pause_started.elapsed();
    progress.step(&format!("switched to `{target}`; writes were paused for {} ms", pause.as_millis()));
    Ok((applied, pause))
}

/// Abandons the recorded, unfinished move of `tenant` (one interrupted by a crash, which left the
/// source logging its changes): the capture off the source, the copy dropped, the record gone.
/// Returns false when no move of it is recorded.
pub async fn abandon_move(databases: &Databases, tenant: TenantId) -> anyhow::Result<bool> {
    let mut conn = databases.control().acquire().await?;
    let recorded: Option<(String, String)> =
        sqlx::query_as("select source_id, target_id from control.tenant_moves where tenant_id = $1")
            .bind(tenant)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((_, target)) = recorded else { return Ok(false) };
    let row = db::tenants::find_by_id(&mut conn, tenant).await?.with_context(|| format!("no tenant {tenant}"))?;
    drop(conn);
    abandon(databases, &row.access.schema, &target.parse()?).await?;
    Ok(true)
}

/// Undoes a move that did not switch: the capture off the source, the copy dropped, the record
/// gone. The tenant is untouched where it lives.
async fn abandon(databases: &Databases, source_schema: &TenantSchema, target: &DatabaseId) -> anyhow::Result<()> {
    let mut conn = databases.control().acquire().await?;
    let placed = db::tenants::find_by_id(&mut conn, source_schema.tenant_id()).await?;
    let still_at_source = placed.is_some_and(|row| row.access.schema.database() == source_schema.database());
    anyhow::ensure!(still_at_source, "the tenant is no longer at the source; leaving both databases as they are");
    let source_pool = databases.maintenance_pool(source_schema.database()).await?;
    let mut source = source_pool.acquire().await?;
    let tables = moves::tables(&mut source, source_schema).await?;
    moves::stop_capture(&mut source, source_schema, &tables).await?;
    let target_pool = databases.maintenance_pool(target).await?;
    let mut copy = target_pool.begin().await?;
    moves::drop_schema(&mut copy, &moves::in_database(source_schema, target)).await?;
    copy.commit().await?;
    sqlx::query("delete from control.tenant_moves where tenant_id = $1")
        .bind(source_schema.tenant_id())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
