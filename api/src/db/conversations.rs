//! Tenant-scoped `conversations`: one thread between a visitor and the team.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::TenantTx;

/// A conversation as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConversationRow {
    /// Id.
    pub id: Uuid,
    /// The visitor.
    pub visitor_id: Uuid,
    /// `open` or `closed`.
    pub status: String,
    /// Assigned agent.
    pub assignee: Option<Uuid>,
    /// Highest sequence number.
    pub last_seq: i64,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// The visitor's rating (1–5) once closed and rated.
    pub rating: Option<i16>,
}

const COLUMNS: &str = "id, visitor_id, status, assignee, last_seq, updated_at, rating";

/// The visitor's open conversation, if any.
pub async fn open_of_visitor(tx: &mut TenantTx, visitor_id: Uuid) -> sqlx::Result<Option<ConversationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from conversations where visitor_id = $1 and status = 'open'"
    )))
    .bind(visitor_id)
    .fetch_optional(tx.conn())
    .await
}

/// One conversation.
pub async fn find(tx: &mut TenantTx, id: Uuid) -> sqlx::Result<Option<ConversationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("select {COLUMNS} from conversations where id = $1")))
        .bind(id)
        .fetch_optional(tx.conn())
        .await
}

/// Assigns an unassigned open conversation; `None` when it is closed or taken.
pub async fn claim(tx: &mut TenantTx, id: Uuid, agent: Uuid) -> sqlx::Result<Option<ConversationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update conversations set assignee = $2, assigned_at = coalesce(assigned_at, now()), updated_at = now()
         where id = $1 and status = 'open' and (assignee is null or assignee = $2) returning {COLUMNS}"
    )))
    .bind(id)
    .bind(agent)
    .fetch_optional(tx.conn())
    .await
}

/// Closes an open conversation; `None` when already closed or missing.
pub async fn close(tx: &mut TenantTx, id: Uuid) -> sqlx::Result<Option<ConversationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update conversations set status = 'closed', closed_at = now(), updated_at = now()
         where id = $1 and status = 'open' returning {COLUMNS}"
    )))
    .bind(id)
    .fetch_optional(tx.conn())
    .await
}

/// Records how far a side has read (never moves backwards, never past `last_seq`).
pub async fn mark_read(tx: &mut TenantTx, id: Uuid, by_visitor: bool, seq: i64) -> sqlx::Result<Option<i64>> {
    let column = if by_visitor { "visitor_read_seq" } else { "agent_read_seq" };
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "update conversations set {column} = greatest({column}, least($2, last_seq)) where id = $1 returning {column}"
    )))
    .bind(id)
    .bind(seq)
    .fetch_optional(tx.conn())
    .await
}

/// A visitor's conversations, newest first (earlier conversations in the visitor panel).
pub async fn of_visitor(tx: &mut TenantTx, visitor_id: Uuid, limit: i64) -> sqlx::Result<Vec<ConversationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from conversations where visitor_id = $1 order by created_at desc limit $2"
    )))
    .bind(visitor_id)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// Where an open, unassigned conversation stands in the tenant's queue: its position (1 =
/// next) and the median wait of conversations first taken in the last 24 hours, in seconds.
/// `None` when the conversation is closed, assigned or missing.
pub async fn queue_place(tx: &mut TenantTx, id: Uuid) -> sqlx::Result<Option<(i64, Option<f64>)>> {
    sqlx::query_as(
        "select (select count(*) from conversations w
                 where w.status = 'open' and w.assignee is null and w.created_at <= c.created_at),
                (select percentile_cont(0.5) within group (order by extract(epoch from r.assigned_at - r.created_at))
                 from conversations r where r.assigned_at > now() - interval '24 hours')
         from conversations c where c.id = $1 and c.status = 'open' and c.assignee is null",
    )
    .bind(id)
    .fetch_optional(tx.conn())
    .await
}

/// Why a rating was not stored.
#[derive(Debug, PartialEq, Eq)]
pub enum RateRefused {
    /// No such conversation for this visitor.
    NotFound,
    /// Still open: ratings come after the close.
    Open,
}

/// Stores the visitor's rating of their closed conversation (a later one replaces it) and
/// returns the conversation.
pub async fn rate(
    tx: &mut TenantTx,
    id: Uuid,
    visitor_id: Uuid,
    rating: i16,
    comment: Option<&str>,
) -> sqlx::Result<Result<ConversationRow, RateRefused>> {
    let status: Option<String> =
        sqlx::query_scalar("select status from conversations where id = $1 and visitor_id = $2 for update")
            .bind(id)
            .bind(visitor_id)
            .fetch_optional(tx.conn())
            .await?;
    match status.as_deref() {
        None => Ok(Err(RateRefused::NotFound)),
        Some("open") => Ok(Err(RateRefused::Open)),
        Some(_) => sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "update conversations set rating = $2, rating_comment = $3, rated_at = now(), updated_at = now()
             where id = $1 returning {COLUMNS}"
        )))
        .bind(id)
        .bind(rating)
        .bind(comment)
        .fetch_one(tx.conn())
        .await
        .map(Ok),
    }
}
