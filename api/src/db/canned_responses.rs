//! Tenant-scoped `canned_responses` (F15): reply texts agents insert by shortcut.

use chrono::{DateTime, Utc};
use kefu_protocol::{CannedResponseId, UserId};

use super::NewId;

use super::TenantTx;

/// Most canned responses a tenant can have.
pub const MAX_PER_TENANT: i64 = 1000;
/// Most rows one search returns.
pub const MAX_LIST: i64 = 500;

/// A canned response as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CannedRow {
    /// Id.
    pub id: CannedResponseId,
    /// Lowercase shortcut, unique.
    pub shortcut: String,
    /// Title.
    pub title: String,
    /// Text.
    pub body: String,
    /// Who created it (gone if their profile was deleted).
    pub created_by: Option<UserId>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last edited.
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, shortcut, title, body, created_by, created_at, updated_at";

/// Canned responses by shortcut; with `q`, those whose shortcut starts with it or whose title or
/// body contains it (case-insensitively; plain substring, so any script works).
pub async fn list(tx: &mut TenantTx, q: Option<&str>) -> sqlx::Result<Vec<CannedRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from canned_responses
         where $1::text is null
            or starts_with(shortcut, lower($1))
            or strpos(lower(title), lower($1)) > 0
            or strpos(lower(body), lower($1)) > 0
         order by shortcut limit $2"
    )))
    .bind(q)
    .bind(MAX_LIST)
    .fetch_all(tx.conn())
    .await
}

/// Locks the table against concurrent creation and counts the rows (the per-tenant limit).
pub async fn lock_and_count(tx: &mut TenantTx) -> sqlx::Result<i64> {
    sqlx::query("lock table canned_responses in share row exclusive mode").execute(tx.conn()).await?;
    sqlx::query_scalar("select count(*) from canned_responses").fetch_one(tx.conn()).await
}

/// What a canned response says.
#[derive(Debug)]
pub struct CannedFields<'a> {
    /// Lowercase shortcut.
    pub shortcut: &'a str,
    /// Title.
    pub title: &'a str,
    /// Text.
    pub body: &'a str,
}

/// Creates one (`canned_responses_shortcut_key` on a duplicate shortcut).
pub async fn insert(tx: &mut TenantTx, by: Option<UserId>, fields: &CannedFields<'_>) -> sqlx::Result<CannedRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into canned_responses (id, shortcut, title, body, created_by) values ($1, $2, $3, $4, $5)
         returning {COLUMNS}"
    )))
    .bind(CannedResponseId::new_v7())
    .bind(fields.shortcut)
    .bind(fields.title)
    .bind(fields.body)
    .bind(by)
    .fetch_one(tx.conn())
    .await
}

/// Changes the given fields; `None` when there is no such row.
pub async fn update(
    tx: &mut TenantTx,
    id: CannedResponseId,
    shortcut: Option<&str>,
    title: Option<&str>,
    body: Option<&str>,
) -> sqlx::Result<Option<CannedRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update canned_responses set shortcut = coalesce($2, shortcut), title = coalesce($3, title),
             body = coalesce($4, body)
         where id = $1 returning {COLUMNS}"
    )))
    .bind(id)
    .bind(shortcut)
    .bind(title)
    .bind(body)
    .fetch_optional(tx.conn())
    .await
}

/// Deletes one; false when there is no such row.
pub async fn delete(tx: &mut TenantTx, id: CannedResponseId) -> sqlx::Result<bool> {
    let done = sqlx::query("delete from canned_responses where id = $1").bind(id).execute(tx.conn()).await?;
    Ok(done.rows_affected() == 1)
}
