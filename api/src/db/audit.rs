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

impl Actor {
    /// The `actor_user_id` and `actor_api_key_id` columns.
    pub(crate) fn columns(self) -> (Option<UserId>, Option<ApiKeyId>) {
        match self {
            Actor::User(id) => (Some(id), None),
            Actor::ApiKey(id) => (None, Some(id)),
            Actor::System => (None, None),
        }
    }
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
    let (user, key) = actor.columns();
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

/// Appends a read (a transcript opened, an attachment downloaded) unless the same actor read the
/// same target within `window`: a member paging through a conversation is one entry an hour, not
/// one per page. Returns whether an entry was written.
pub async fn record_read(
    tx: &mut TenantTx,
    actor: Actor,
    action: &str,
    target: &str,
    details: serde_json::Value,
    window: chrono::Duration,
) -> sqlx::Result<bool> {
    let (user, key) = actor.columns();
    let done = sqlx::query(
        "insert into audit_log (actor_user_id, actor_api_key_id, action, target, details)
         select $1, $2, $3, $4, $5
         where not exists (
             select 1 from audit_log
             where target = $4 and action = $3 and occurred_at > now() - $6
               and actor_user_id is not distinct from $1 and actor_api_key_id is not distinct from $2
         )",
    )
    .bind(user)
    .bind(key)
    .bind(action)
    .bind(target)
    .bind(details)
    .bind(window)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whose entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorFilter {
    /// A member's.
    User(UserId),
    /// An API key's.
    ApiKey(ApiKeyId),
}

/// Which entries a page asks for.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Whose.
    pub actor: Option<ActorFilter>,
    /// This action (`member.invited`), or every action of a kind when it ends with a dot (`member.`).
    pub action: Option<String>,
    /// What they happened to.
    pub target: Option<String>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
    /// Entries older than this one (the previous page's last id).
    pub before: Option<i64>,
    /// Page size.
    pub limit: i64,
}

/// An entry with the acting member's display name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NamedRow {
    /// The entry.
    #[sqlx(flatten)]
    pub row: AuditRow,
    /// The acting member's display name, while they are a member.
    pub actor_name: Option<String>,
}

/// Entries matching `filter`, newest first.
pub async fn page(tx: &mut TenantTx, filter: &Filter) -> sqlx::Result<Vec<NamedRow>> {
    let mut sql: sqlx::QueryBuilder<sqlx::Postgres> = sqlx::QueryBuilder::new(
        "select l.id, l.occurred_at, l.actor_user_id, l.actor_api_key_id, l.action, l.target, l.details,
                a.display_name as actor_name
         from audit_log l left join agents a on a.user_id = l.actor_user_id where true",
    );
    match filter.actor {
        Some(ActorFilter::User(id)) => {
            sql.push(" and l.actor_user_id = ").push_bind(id);
        }
        Some(ActorFilter::ApiKey(id)) => {
            sql.push(" and l.actor_api_key_id = ").push_bind(id);
        }
        None => {}
    }
    match filter.action.as_deref() {
        Some(kind) if kind.ends_with('.') => {
            // `member.` → every `member.*` (whatever the database's collation).
            sql.push(" and starts_with(l.action, ").push_bind(kind.to_owned()).push(")");
        }
        Some(action) => {
            sql.push(" and l.action = ").push_bind(action.to_owned());
        }
        None => {}
    }
    if let Some(target) = &filter.target {
        sql.push(" and l.target = ").push_bind(target.clone());
    }
    if let Some(from) = filter.from {
        sql.push(" and l.occurred_at >= ").push_bind(from);
    }
    if let Some(to) = filter.to {
        sql.push(" and l.occurred_at < ").push_bind(to);
    }
    if let Some(before) = filter.before {
        sql.push(" and l.id < ").push_bind(before);
    }
    sql.push(" order by l.id desc limit ").push_bind(filter.limit);
    sql.build_query_as().fetch_all(tx.conn()).await
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
