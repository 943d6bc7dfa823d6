//! Tenant-scoped routing (F19, F20): the routing settings, the queue as the assignment engine
//! reads it, the agents it may choose from, and the assignment itself.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kefu_protocol::{ConversationId, TeamId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::TenantTx;
use super::conversations::ConversationRow;
use super::queue::{PRIORITY, WAITING_FROM};

/// How the engine chooses among the agents who may take a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Strategy {
    /// The agent with the fewest open conversations for their capacity; the one who waited
    /// longest since their last assignment on a tie.
    LeastBusy,
    /// Each agent in turn: the one who waited longest since their last assignment.
    RoundRobin,
}

/// A tenant's routing settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct RoutingSettings {
    /// Whether new and waiting conversations are assigned automatically.
    pub auto_assign: bool,
    /// How an agent is chosen.
    pub strategy: Strategy,
    /// Conversations without a team go to this team's members.
    pub default_team_id: Option<TeamId>,
    /// Tag → priority (0–100): a waiting conversation with the tag waits at least at that
    /// priority.
    #[sqlx(json)]
    pub tag_priorities: BTreeMap<String, i16>,
}

/// The tenant's routing settings.
pub async fn settings(tx: &mut TenantTx) -> sqlx::Result<RoutingSettings> {
    sqlx::query_as("select auto_assign, strategy, default_team_id, tag_priorities from routing_settings")
        .fetch_one(tx.conn())
        .await
}

/// Replaces the tenant's routing settings.
pub async fn update_settings(tx: &mut TenantTx, settings: &RoutingSettings) -> sqlx::Result<RoutingSettings> {
    sqlx::query_as(
        "update routing_settings set auto_assign = $1, strategy = $2, default_team_id = $3, tag_priorities = $4,
                updated_at = now()
         returning auto_assign, strategy, default_team_id, tag_priorities",
    )
    .bind(settings.auto_assign)
    .bind(settings.strategy)
    .bind(settings.default_team_id)
    .bind(sqlx::types::Json(&settings.tag_priorities))
    .fetch_one(tx.conn())
    .await
}

/// Serialises the tenant's assignment passes, whichever node runs them, for the rest of the
/// transaction. Advisory locks are per database, so the key is the tenant's: tenants sharing a
/// database do not wait for each other (unless their 32-bit keys collide, which only serialises).
pub async fn lock_passes(tx: &mut TenantTx) -> sqlx::Result<()> {
    let tenant = tx.tenant_id();
    sqlx::query("select pg_advisory_xact_lock(hashtext('kefu:routing'), hashtext($1))")
        .bind(tenant.to_string())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// A conversation waiting for an agent.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Waiting {
    /// The conversation.
    pub id: ConversationId,
    /// The team whose queue it is in.
    pub team_id: Option<TeamId>,
    /// Higher goes first.
    pub priority: i16,
    /// Skills the agent needs (lowercase).
    pub skills: Vec<String>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
}

/// The first `limit` waiting conversations in queue order (`db::queue`), locked; those another
/// transaction holds (a claim in flight) are skipped.
pub async fn lock_waiting(tx: &mut TenantTx, limit: i64) -> sqlx::Result<Vec<Waiting>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select c.id, c.team_id, {PRIORITY} as priority, c.skills, c.created_at from {WAITING_FROM}
         order by {order} limit $1 for update of c skip locked",
        order = super::queue::order()
    )))
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// An agent the engine may choose, with their load.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Candidate {
    /// The agent.
    pub user_id: UserId,
    /// Their capacity.
    pub max_concurrent_chats: i32,
    /// Their skills, lowercase.
    pub skills: Vec<String>,
    /// Their teams.
    pub teams: Vec<TeamId>,
    /// Their open assigned conversations.
    pub load: i64,
    /// When they were last given a conversation.
    pub last_assigned_at: Option<DateTime<Utc>>,
}

/// The active agents among `users`, locked (claims and transfers lock the same rows, so loads
/// cannot change under the pass), with their teams and current loads.
pub async fn lock_candidates(tx: &mut TenantTx, users: &[UserId]) -> sqlx::Result<Vec<Candidate>> {
    let locked: Vec<UserId> =
        sqlx::query_scalar("select user_id from agents where active and user_id = any($1) order by user_id for update")
            .bind(users)
            .fetch_all(tx.conn())
            .await?;
    candidates(tx, &locked).await
}

/// The active agents among `users` with their teams and current loads, not locked (what the
/// wait estimator reads).
pub async fn candidates(tx: &mut TenantTx, users: &[UserId]) -> sqlx::Result<Vec<Candidate>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(
        "select a.user_id, a.max_concurrent_chats, array(select lower(s) from unnest(a.skills) s) as skills,
                a.last_assigned_at,
                array(select m.team_id from team_members m where m.user_id = a.user_id) as teams,
                (select count(*) from conversations c where c.assignee = a.user_id and c.status = 'open') as load
         from agents a where a.active and a.user_id = any($1)",
    )
    .bind(users)
    .fetch_all(tx.conn())
    .await
}

/// Assigns a waiting conversation (locked by [`lock_waiting`]) to `agent` and records when the
/// agent was given it.
pub async fn assign(tx: &mut TenantTx, id: ConversationId, agent: UserId) -> sqlx::Result<Option<ConversationRow>> {
    let row = super::conversations::claim(tx, id, agent).await?;
    if row.is_some() {
        sqlx::query("update agents set last_assigned_at = clock_timestamp() where user_id = $1")
            .bind(agent)
            .execute(tx.conn())
            .await?;
    }
    Ok(row)
}

/// Replaces the skills an open or closed conversation needs (lowercase). `None` when there is no
/// such conversation.
pub async fn set_skills(tx: &mut TenantTx, id: ConversationId, skills: &[String]) -> sqlx::Result<Option<Vec<String>>> {
    sqlx::query_scalar("update conversations set skills = $2 where id = $1 returning skills")
        .bind(id)
        .bind(skills)
        .fetch_optional(tx.conn())
        .await
}

/// An unlocked candidate for unit tests of the engine and the estimator.
#[cfg(test)]
pub(crate) fn test_candidate(n: u128, capacity: i32, load: i64, teams: &[TeamId]) -> Candidate {
    Candidate {
        user_id: UserId::from_uuid(uuid::Uuid::from_u128(n)),
        max_concurrent_chats: capacity,
        skills: Vec::new(),
        teams: teams.to_vec(),
        load,
        last_assigned_at: None,
    }
}
