//! Atomic commits across the control database and another tenant database: two-phase commit,
//! with the control database as the coordinator's log.
//!
//! A tenant transaction that also wrote control-plane rows (a member's role, an API key, a new
//! tenant's control row) commits like this:
//! 1. `PREPARE TRANSACTION 'kefu:<uuid>'` on the tenant database: its writes are durable but not
//!    yet visible, and can no longer fail;
//! 2. the control transaction inserts the decision `(gid, 'commit')` into
//!    `control.two_phase_commits` and commits: **this commit is the decision**;
//! 3. `COMMIT PREPARED` on the tenant database; the decision row is then deleted.
//!
//! A crash between 1 and 3 leaves a prepared transaction in doubt (holding its locks). The
//! resolver ([`resolve`], run by every node and by `kefu migrate`) settles each one: it inserts
//! `(gid, 'abort')` unless a row exists — an insert that waits for a control transaction still
//! writing the `commit` row, and that makes a committer arriving later fail on the key — then
//! commits the prepared transaction if the row says `commit` and rolls it back otherwise
//! (presumed abort). So every such transaction ends with both sides committed or neither.
//!
//! Tenant databases other than `main` therefore need `max_prepared_transactions` > 0 (checked when
//! one is registered). Tenants of `main` never use this: their control rows share their
//! transaction.

use std::time::Duration;

use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use super::databases::{DatabaseId, Databases};

/// The prefix of every global transaction id this module makes.
const GID_PREFIX: &str = "kefu:";

/// Commits a tenant transaction and a control transaction atomically (see the module docs).
/// An error means nothing was committed, or that the outcome is unknown (the connection to the
/// control database broke while it committed); the resolver then settles it.
pub(crate) async fn commit(
    mut tenant: Transaction<'static, Postgres>,
    database: &DatabaseId,
    mut control: Transaction<'static, Postgres>,
    control_pool: &PgPool,
) -> sqlx::Result<()> {
    // A UUID in hex: safe to splice into the statement, which takes no parameters.
    let gid = format!("{GID_PREFIX}{}", uuid::Uuid::now_v7().simple());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("prepare transaction '{gid}'"))).execute(&mut *tenant).await?;
    let decided = async {
        sqlx::query("insert into control.two_phase_commits (gid, database_id, decision) values ($1, $2, 'commit')")
            .bind(&gid)
            .bind(database.as_str())
            .execute(&mut *control)
            .await?;
        control.commit().await
    }
    .await;
    if let Err(error) = decided {
        // Settle it now if the databases answer: the control commit may have happened before
        // the connection broke.
        return match settle(&mut tenant, &gid, database, control_pool).await {
            Ok(Decision::Commit) => finish(tenant, &gid, control_pool).await,
            Ok(Decision::Abort) => {
                forget_transaction(tenant).await;
                Err(error)
            }
            Err(settle_error) => {
                tracing::warn!(%gid, error = %settle_error, "an in-doubt transaction is left to the resolver");
                Err(error)
            }
        };
    }
    let committed = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("commit prepared '{gid}'"))).execute(&mut *tenant).await;
    if let Err(error) = committed {
        // The decision is durable: the resolver commits it (its writes show up within a period).
        tracing::warn!(%gid, %error, "a decided transaction is left to the resolver to commit");
        return Ok(());
    }
    finish(tenant, &gid, control_pool).await
}

/// After the prepared transaction was settled on the tenant connection: ends sqlx's view of the
/// transaction, and deletes the decision row (best effort: the resolver deletes leftovers).
async fn finish(tenant: Transaction<'static, Postgres>, gid: &str, control_pool: &PgPool) -> sqlx::Result<()> {
    forget_transaction(tenant).await;
    if let Err(error) =
        sqlx::query("delete from control.two_phase_commits where gid = $1").bind(gid).execute(control_pool).await
    {
        tracing::debug!(%gid, %error, "deleting a settled decision; the resolver will");
    }
    Ok(())
}

/// The session left its transaction at `PREPARE TRANSACTION`, but sqlx still counts one open:
/// an empty transaction is begun for its `COMMIT` to end. If that fails, the connection is
/// dropped by the pool like any broken one.
async fn forget_transaction(mut tenant: Transaction<'static, Postgres>) {
    if sqlx::raw_sql("begin").execute(&mut *tenant).await.is_ok() {
        let _ = tenant.commit().await;
    }
}

/// How an in-doubt transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Its control transaction committed.
    Commit,
    /// It did not (and now never will).
    Abort,
}

/// Reads the decision for `gid`, recording `abort` if there is none yet (which waits for, and
/// then defeats, a control transaction still deciding), and settles the prepared transaction on
/// `conn` (a connection to its tenant database, outside any transaction).
async fn settle(
    conn: &mut PgConnection,
    gid: &str,
    database: &DatabaseId,
    control_pool: &PgPool,
) -> sqlx::Result<Decision> {
    let decision = decide(control_pool, gid, database).await?;
    let statement = match decision {
        Decision::Commit => format!("commit prepared '{gid}'"),
        Decision::Abort => format!("rollback prepared '{gid}'"),
    };
    match sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut *conn).await {
        Ok(_) => {}
        // 42704: no such prepared transaction any more (another resolver settled it).
        Err(error) if error.as_database_error().and_then(|e| e.code()).as_deref() == Some("42704") => {}
        Err(error) => return Err(error),
    }
    Ok(decision)
}

async fn decide(control_pool: &PgPool, gid: &str, database: &DatabaseId) -> sqlx::Result<Decision> {
    sqlx::query(
        "insert into control.two_phase_commits (gid, database_id, decision) values ($1, $2, 'abort')
         on conflict (gid) do nothing",
    )
    .bind(gid)
    .bind(database.as_str())
    .execute(control_pool)
    .await?;
    let decision: String = sqlx::query_scalar("select decision from control.two_phase_commits where gid = $1")
        .bind(gid)
        .fetch_one(control_pool)
        .await?;
    Ok(if decision == "commit" { Decision::Commit } else { Decision::Abort })
}

/// What one resolver pass over a database did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// In-doubt transactions committed.
    pub committed: usize,
    /// In-doubt transactions rolled back.
    pub rolled_back: usize,
}

/// Settles the prepared transactions of `database` that have been in doubt for at least
/// `min_age` (younger ones are most likely being committed right now), and deletes the decision
/// rows of its transactions that are settled.
pub async fn resolve(databases: &Databases, database: &DatabaseId, min_age: Duration) -> sqlx::Result<Resolved> {
    let mut resolved = Resolved::default();
    if database.is_main() {
        return Ok(resolved);
    }
    let pool = databases.tenant_pool(database).await?;
    let mut conn = pool.acquire().await?;
    let prepared: Vec<(String, bool)> = sqlx::query_as(
        "select gid, prepared < now() - make_interval(secs => $1) from pg_prepared_xacts
         where database = current_database() and starts_with(gid, $2)",
    )
    .bind(min_age.as_secs_f64())
    .bind(GID_PREFIX)
    .fetch_all(&mut *conn)
    .await?;
    for (gid, old_enough) in &prepared {
        if !old_enough {
            continue;
        }
        match settle(&mut conn, gid, database, databases.control()).await? {
            Decision::Commit => resolved.committed += 1,
            Decision::Abort => resolved.rolled_back += 1,
        }
        sqlx::query("delete from control.two_phase_commits where gid = $1")
            .bind(gid)
            .execute(databases.control())
            .await?;
    }
    let pending: Vec<&str> = prepared.iter().map(|(gid, _)| gid.as_str()).collect();
    sqlx::query(
        "delete from control.two_phase_commits
         where database_id = $1 and created_at < now() - interval '1 minute' and gid <> all($2)",
    )
    .bind(database.as_str())
    .bind(&pending)
    .execute(databases.control())
    .await?;
    if resolved != Resolved::default() {
        tracing::info!(%database, committed = resolved.committed, rolled_back = resolved.rolled_back, "settled in-doubt transactions");
    }
    Ok(resolved)
}

/// How often each node runs the resolver over the tenant databases it has opened.
pub const RESOLVE_EVERY: Duration = Duration::from_secs(15);

/// Runs [`resolve`] every [`RESOLVE_EVERY`] over every registered tenant database (a node that
/// crashed mid-commit may never come back to settle its own), until `stop` is cancelled.
pub async fn run_resolver(databases: Databases, stop: tokio_util::sync::CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(RESOLVE_EVERY) => {}
        }
        let registered = async {
            let mut conn = databases.control().acquire().await?;
            super::databases::list(&mut conn).await
        }
        .await;
        let registered = match registered {
            Ok(list) => list,
            Err(error) => {
                tracing::warn!(%error, "listing tenant databases for the resolver");
                continue;
            }
        };
        for database in registered.into_iter().map(|d| d.id).filter(|id| !id.is_main()) {
            if let Err(error) = resolve(&databases, &database, RESOLVE_EVERY).await {
                tracing::warn!(%database, %error, "resolving in-doubt transactions");
            }
        }
    }
}
