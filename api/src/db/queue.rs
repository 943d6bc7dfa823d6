//! Tenant-scoped queue (F19, F20): the waiting conversations in the order they are served, with
//! their places in their team's queue, and the recent handle and first-wait times the wait
//! estimator reads (with the online agents from `db::routing::candidates`).
//!
//! A waiting conversation's priority is derived when the queue is read ([`PRIORITY`]): the one
//! set on it, its visitor's VIP level × 10, or its tags' (routing settings), whichever is highest.
//! Nothing derived is stored, so a VIP level or a tag priority that changes applies at once.

use chrono::{DateTime, Utc};
use kefu_protocol::{ConversationId, TeamId, VisitorId};

use super::TenantTx;

/// The queue's rows: open conversations nobody has, the bot is not answering and that are not
/// offline messages over the monthly quota (`c`), their
/// visitors (`v`) and the routing settings (`s`).
pub(crate) const WAITING_FROM: &str =
    "conversations c join visitors v on v.id = c.visitor_id cross join routing_settings s
     where c.status = 'open' and c.assignee is null and not c.bot_active and not c.over_quota";

/// A waiting conversation's priority (0–100) over [`WAITING_FROM`].
pub(crate) const PRIORITY: &str = "greatest(c.priority, least(100, 10 * v.vip),
     coalesce((select max((s.tag_priorities ->> t)::smallint) from unnest(c.tags) t), 0))::smallint";

/// The queue order over [`WAITING_FROM`]: highest priority first, then longest waiting.
pub(crate) fn order() -> String {
    format!("{PRIORITY} desc, c.created_at, c.id")
}

/// Most waiting conversations one read returns.
pub const MAX_READ: i64 = 10_000;

/// A waiting conversation and its place.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Place {
    /// The conversation.
    pub id: ConversationId,
    /// Its visitor.
    pub visitor_id: VisitorId,
    /// The visitor's name, if they gave one.
    pub visitor_name: Option<String>,
    /// The team whose queue it is in (its own, else the default team).
    pub team_id: Option<TeamId>,
    /// Its own team, as set on it.
    pub own_team_id: Option<TeamId>,
    /// Its tags.
    pub tags: Vec<String>,
    /// The skills an agent needs for it.
    pub skills: Vec<String>,
    /// The priority it waits at (0–100).
    pub priority: i16,
    /// The priority set on it by hand or by a rule.
    pub set_priority: i16,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// 1 = next in its team's queue.
    pub position: i64,
}

/// The first `limit` waiting conversations in queue order, each with its position in its team's
/// queue (the conversations the same agents serve before it).
pub async fn places(tx: &mut TenantTx, limit: i64) -> sqlx::Result<Vec<Place>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select c.id, c.visitor_id, v.name as visitor_name, coalesce(c.team_id, s.default_team_id) as team_id,
                c.team_id as own_team_id, c.tags, c.skills, {PRIORITY} as priority, c.priority as set_priority, c.created_at,
                row_number() over (partition by coalesce(c.team_id, s.default_team_id) order by {order}) as position
         from {WAITING_FROM}
         order by {order}
         limit $1",
        order = order()
    )))
    .bind(limit.clamp(0, MAX_READ))
    .fetch_all(tx.conn())
    .await
}

/// How many conversations wait.
pub async fn waiting_count(tx: &mut TenantTx) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "select count(*) from conversations
         where status = 'open' and assignee is null and not bot_active and not over_quota",
    )
    .fetch_one(tx.conn())
    .await
}

/// Recent times of one team's queue (or, with `team_id` `None` and `all` set, of the whole
/// tenant).
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct Times {
    /// The team (its own, else the default team); `None` for conversations of no team.
    pub team_id: Option<TeamId>,
    /// Whether this row is the tenant-wide one.
    pub all: bool,
    /// Median seconds from the first assignment to the close, of conversations closed in the
    /// last 7 days.
    pub handle_secs: Option<f64>,
    /// How many closed conversations that median is made of.
    pub handled: i64,
    /// Median seconds from opening to the first assignment, of conversations first assigned in
    /// the last 24 hours.
    pub first_wait_secs: Option<f64>,
}

/// Recent handle and first-wait times by team, and tenant-wide.
pub async fn times(tx: &mut TenantTx) -> sqlx::Result<Vec<Times>> {
    sqlx::query_as(
        "with recent as (
             select coalesce(c.team_id, s.default_team_id) as team_id,
                    case when c.closed_at > now() - interval '7 days'
                         then extract(epoch from c.closed_at - c.assigned_at) end as handle,
                    case when c.assigned_at > now() - interval '24 hours'
                         then extract(epoch from c.assigned_at - c.created_at) end as first_wait
             from conversations c cross join routing_settings s
             where c.assigned_at is not null
               and (c.closed_at > now() - interval '7 days' or c.assigned_at > now() - interval '24 hours'))
         select team_id, grouping(team_id) = 1 as all,
                percentile_cont(0.5) within group (order by handle) as handle_secs,
                count(handle) as handled,
                percentile_cont(0.5) within group (order by first_wait) as first_wait_secs
         from recent group by rollup (team_id)",
    )
    .fetch_all(tx.conn())
    .await
}

/// Sets an open conversation's own priority. `None` when there is no such conversation,
/// `Some(false)` when it is closed.
pub async fn set_priority(tx: &mut TenantTx, id: ConversationId, priority: i16) -> sqlx::Result<Option<bool>> {
    sqlx::query_scalar(
        "with target as (select id, status from conversations where id = $1 for update),
              changed as (update conversations c set priority = $2 from target t
                          where c.id = t.id and t.status = 'open' returning c.id)
         select exists (select 1 from changed) from target",
    )
    .bind(id)
    .bind(priority)
    .fetch_optional(tx.conn())
    .await
}
