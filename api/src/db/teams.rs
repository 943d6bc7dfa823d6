//! Tenant-scoped `teams` and `team_members`: named groups of members whose queue a conversation
//! can be transferred to. Members are listed only while their profile is active.

use chrono::{DateTime, Utc};
use kefu_protocol::{ConversationId, TeamId, UserId};

use super::TenantTx;

/// Most teams a tenant can have.
pub const MAX_PER_TENANT: i64 = 100;

/// A team with its active members.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TeamRow {
    /// Id.
    pub id: TeamId,
    /// Name, unique regardless of case.
    pub name: String,
    /// Active members' user ids.
    pub user_ids: Vec<UserId>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last renamed or re-staffed.
    pub updated_at: DateTime<Utc>,
}

const SELECT: &str = "select t.id, t.name, t.created_at, t.updated_at,
        array(select m.user_id from team_members m join agents a on a.user_id = m.user_id and a.active
              where m.team_id = t.id order by m.user_id) as user_ids
    from teams t";

/// Every team, by name.
pub async fn list(tx: &mut TenantTx) -> sqlx::Result<Vec<TeamRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} order by lower(t.name)"))).fetch_all(tx.conn()).await
}

/// One team.
pub async fn find(tx: &mut TenantTx, id: TeamId) -> sqlx::Result<Option<TeamRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} where t.id = $1"))).bind(id).fetch_optional(tx.conn()).await
}

/// Whether a team exists.
pub async fn exists(tx: &mut TenantTx, id: TeamId) -> sqlx::Result<bool> {
    sqlx::query_scalar("select exists (select 1 from teams where id = $1)").bind(id).fetch_one(tx.conn()).await
}

/// Locks the table against concurrent creation and counts the teams (the per-tenant limit).
pub async fn lock_and_count(tx: &mut TenantTx) -> sqlx::Result<i64> {
    sqlx::query("lock table teams in share row exclusive mode").execute(tx.conn()).await?;
    sqlx::query_scalar("select count(*) from teams").fetch_one(tx.conn()).await
}

/// Creates a team (`teams_name_lower_key` on a duplicate name).
pub async fn insert(tx: &mut TenantTx, id: TeamId, name: &str) -> sqlx::Result<()> {
    sqlx::query("insert into teams (id, name) values ($1, $2)").bind(id).bind(name).execute(tx.conn()).await?;
    Ok(())
}

/// Renames a team; false when it does not exist.
pub async fn rename(tx: &mut TenantTx, id: TeamId, name: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("update teams set name = $2 where id = $1").bind(id).bind(name).execute(tx.conn()).await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes a team; its conversations leave its queue. Returns the conversations that were in
/// it (to announce), or `None` when there is no such team.
pub async fn delete(tx: &mut TenantTx, id: TeamId) -> sqlx::Result<Option<Vec<ConversationId>>> {
    if !exists(tx, id).await? {
        return Ok(None);
    }
    let moved: Vec<ConversationId> =
        sqlx::query_scalar("update conversations set team_id = null, updated_at = now() where team_id = $1 and status = 'open' returning id")
            .bind(id)
            .fetch_all(tx.conn())
            .await?;
    sqlx::query("delete from teams where id = $1").bind(id).execute(tx.conn()).await?;
    Ok(Some(moved))
}

/// Which of `users` have an active profile in this tenant (i.e. are members).
pub async fn active_members(tx: &mut TenantTx, users: &[UserId]) -> sqlx::Result<Vec<UserId>> {
    sqlx::query_scalar("select user_id from agents where active and user_id = any($1)")
        .bind(users)
        .fetch_all(tx.conn())
        .await
}

/// Replaces a team's members and marks the team changed.
pub async fn replace_members(tx: &mut TenantTx, id: TeamId, users: &[UserId]) -> sqlx::Result<()> {
    sqlx::query("delete from team_members where team_id = $1").bind(id).execute(tx.conn()).await?;
    sqlx::query("insert into team_members (team_id, user_id) select $1, unnest($2::uuid[])")
        .bind(id)
        .bind(users)
        .execute(tx.conn())
        .await?;
    sqlx::query("update teams set updated_at = now() where id = $1").bind(id).execute(tx.conn()).await?;
    Ok(())
}

/// Removes a member who left the tenant from every team.
pub async fn remove_user(tx: &mut TenantTx, user: UserId) -> sqlx::Result<()> {
    sqlx::query("delete from team_members where user_id = $1").bind(user).execute(tx.conn()).await?;
    Ok(())
}
