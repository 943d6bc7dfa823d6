//! Shared routines: SQL functions that serve every tenant schema of a database, kept in
//! `migrations/routines/` as their one current definition (not as migrations, which are history).
//!
//! `kefu migrate` (through [`super::database::prepare`], for every tenant database) installs them
//! into the `kefu` schema,
//! replacing a routine whenever its file changed, and records each one's checksum in
//! `kefu.routines`, so an unchanged set costs one query. A routine whose arguments or result
//! change gets a new versioned name (`…_v2`): nodes still running the previous binary keep calling
//! the previous one until it is dropped by a later release.

use sqlx::{Connection, PgConnection};

/// A routine's name and its current definition.
pub struct Routine {
    /// The file's name without `.sql`.
    pub name: &'static str,
    /// `create or replace function kefu.…`.
    pub sql: &'static str,
}

/// Every shared routine, embedded at build time.
pub const ROUTINES: &[Routine] = &[
    Routine { name: "store_messages", sql: include_str!("../../../migrations/routines/store_messages.sql") },
    Routine { name: "move_capture", sql: include_str!("../../../migrations/routines/move_capture.sql") },
    Routine { name: "search_enqueue", sql: include_str!("../../../migrations/routines/search_enqueue.sql") },
    Routine { name: "webhook_capture", sql: include_str!("../../../migrations/routines/webhook_capture.sql") },
];

/// The SHA-256 of a routine's text.
pub fn checksum(routine: &Routine) -> Vec<u8> {
    crate::domain::secret::digest(routine.sql)
}

/// Installs every routine whose recorded checksum differs from the embedded text (the table
/// `kefu.routines` must exist: [`super::database::prepare`]), in one
/// transaction serialised across processes by an advisory lock. Returns how many were installed.
pub async fn install(conn: &mut PgConnection) -> sqlx::Result<usize> {
    let mut tx = conn.begin().await?;
    sqlx::query("select pg_advisory_xact_lock(hashtext('kefu.routines'))").execute(&mut *tx).await?;
    let mut installed = 0;
    for routine in ROUTINES {
        let sum = checksum(routine);
        let recorded: Option<Vec<u8>> = sqlx::query_scalar("select checksum from kefu.routines where name = $1")
            .bind(routine.name)
            .fetch_optional(&mut *tx)
            .await?;
        if recorded.as_deref() == Some(sum.as_slice()) {
            continue;
        }
        sqlx::raw_sql(sqlx::AssertSqlSafe(routine.sql)).execute(&mut *tx).await?;
        sqlx::query(
            "insert into kefu.routines (name, checksum) values ($1, $2)
             on conflict (name) do update set checksum = excluded.checksum, installed_at = now()",
        )
        .bind(routine.name)
        .bind(&sum)
        .execute(&mut *tx)
        .await?;
        installed += 1;
    }
    tx.commit().await?;
    Ok(installed)
}
