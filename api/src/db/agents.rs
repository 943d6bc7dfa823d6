//! Tenant-scoped `agents`: each member's profile inside the tenant (F3).

use kefu_protocol::UserId;
use sqlx::Row;

use super::TenantTx;

/// A member's profile in this tenant.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgentRow {
    /// User id (same as the control-plane user).
    pub user_id: UserId,
    /// Name shown to visitors and colleagues.
    pub display_name: String,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Employee number (工号).
    pub employee_no: Option<String>,
    /// Capacity for routing.
    pub max_concurrent_chats: i32,
    /// Skills for routing.
    pub skills: Vec<String>,
}

/// Creates the profile, or re-activates it for a returning member.
pub async fn upsert(tx: &mut TenantTx, user_id: UserId, display_name: &str) -> sqlx::Result<()> {
    sqlx::query(
        "insert into agents (user_id, display_name) values ($1, $2)
         on conflict (user_id) do update set active = true",
    )
    .bind(user_id)
    .bind(display_name)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The name an active member goes by in this tenant.
pub async fn display_name(tx: &mut TenantTx, user_id: UserId) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select display_name from agents where user_id = $1 and active")
        .bind(user_id)
        .fetch_optional(tx.conn())
        .await
}

/// Active profiles of this tenant.
pub async fn list_active(tx: &mut TenantTx) -> sqlx::Result<Vec<AgentRow>> {
    sqlx::query_as(
        "select user_id, display_name, avatar_url, employee_no, max_concurrent_chats, skills
         from agents where active order by created_at",
    )
    .fetch_all(tx.conn())
    .await
}

/// Marks a profile inactive (the member left); history keeps the name.
pub async fn deactivate(tx: &mut TenantTx, user_id: UserId) -> sqlx::Result<()> {
    sqlx::query("update agents set active = false where user_id = $1").bind(user_id).execute(tx.conn()).await?;
    Ok(())
}

/// Number of profiles (any state), used by isolation tests and export.
pub async fn count_all(tx: &mut TenantTx) -> sqlx::Result<i64> {
    sqlx::query("select count(*) as n from agents").fetch_one(tx.conn()).await.and_then(|row| row.try_get("n"))
}

/// Profile fields to change; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct ProfileChange {
    /// New display name.
    pub display_name: Option<String>,
    /// New avatar URL (`Some(None)` clears it).
    pub avatar_url: Option<Option<String>>,
    /// New employee number (`Some(None)` clears it).
    pub employee_no: Option<Option<String>>,
    /// New capacity.
    pub max_concurrent_chats: Option<i32>,
    /// New skills.
    pub skills: Option<Vec<String>>,
}

/// Applies a profile change; returns the updated profile, or `None` if there is no such
/// active profile.
pub async fn update_profile(
    tx: &mut TenantTx,
    user_id: UserId,
    change: &ProfileChange,
) -> sqlx::Result<Option<AgentRow>> {
    sqlx::query_as(
        "update agents set
             display_name = coalesce($2, display_name),
             avatar_url = case when $3 then $4 else avatar_url end,
             employee_no = case when $5 then $6 else employee_no end,
             max_concurrent_chats = coalesce($7, max_concurrent_chats),
             skills = coalesce($8, skills)
         where user_id = $1 and active
         returning user_id, display_name, avatar_url, employee_no, max_concurrent_chats, skills",
    )
    .bind(user_id)
    .bind(&change.display_name)
    .bind(change.avatar_url.is_some())
    .bind(change.avatar_url.clone().flatten())
    .bind(change.employee_no.is_some())
    .bind(change.employee_no.clone().flatten())
    .bind(change.max_concurrent_chats)
    .bind(&change.skills)
    .fetch_optional(tx.conn())
    .await
}

/// Every profile, for export.
pub async fn list_all(tx: &mut TenantTx) -> sqlx::Result<Vec<AgentRow>> {
    sqlx::query_as(
        "select user_id, display_name, avatar_url, employee_no, max_concurrent_chats, skills
         from agents order by created_at",
    )
    .fetch_all(tx.conn())
    .await
}

/// An active member's display name and chat capacity, locking the profile so that concurrent
/// claims and transfers to one agent are counted one at a time; `None` for anyone else.
pub async fn capacity(tx: &mut TenantTx, user_id: UserId) -> sqlx::Result<Option<(String, i32)>> {
    sqlx::query_as("select display_name, max_concurrent_chats from agents where user_id = $1 and active for update")
        .bind(user_id)
        .fetch_optional(tx.conn())
        .await
}
