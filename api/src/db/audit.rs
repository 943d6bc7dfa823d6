//! Tenant-scoped `audit_log`: who changed what (F26).

use chrono::{DateTime, Utc};
use kefu_protocol::{ApiKeyId, UserId};

use super::TenantTx;

/// Who did something.
#[derive(Debug, Clone, Copy)]
pub enum Actor {
    /// A signed-in member.
    User(UserId),
    /// An API key.
    ApiKey(ApiKeyId),
    /// The system itself (signup, migrations).
    System,
}

/// An audit entry.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    /// Sequence id.
    pub id: i64,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Acting user.
    pub actor_user_id: Option<UserId>,
    /// Acting API key.
    pub actor_api_key_id: Option<ApiKeyId>,
    /// What happened, e.g. `member.invited`.
    pub action: String,
    /// What it happened to, e.g. an id.
    pub target: Option<String>,
    /// Extra structured data (never secrets).
    pub details: serde_json::Value,
}

/// Appends an entry in the same transaction as the change.
pub async fn record(
    tx: &mut TenantTx,
    actor: Actor,
    action: &str,
    target: Option<&str>,
    details: serde_json::Value,
) -> sqlx::Result<()> {
    let (user, key) = match actor {
        Actor::User(id) => (Some(id), None),
        Actor::ApiKey(id) => (None, Some(id)),
        Actor::System => (None, None),
    };
    sqlx::query(
        "insert into audit_log (actor_user_id, actor_api_key_id, action, target, details) values ($1, $2, $3, $4, $5)",
    )
    .bind(user)
    .bind(key)
    .bind(action)
    .bind(target)
    .bind(details)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The newest entries, newest first.
pub async fn latest(tx: &mut TenantTx, limit: i64) -> sqlx::Result<Vec<AuditRow>> {
    sqlx::query_as(
        "select id, occurred_at, actor_user_id, actor_api_key_id, action, target, details
         from audit_log order by id desc limit $1",
    )
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// Records an entry in its own short transaction (for reads such as exports, which should be
/// audited even though they change nothing).
pub async fn record_detached(
    databases: &crate::db::Databases,
    schema: &super::TenantSchema,
    actor: Actor,
    action: &str,
) -> sqlx::Result<()> {
    let mut tx = TenantTx::begin(databases, schema).await?;
    record(&mut tx, actor, action, None, serde_json::json!({})).await?;
    tx.commit().await
}
