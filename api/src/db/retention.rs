//! Retention (docs/retention.md): a workspace's chosen period and its plan's bound
//! (control-plane), which workspaces are due, and the batched deletes of content older than the
//! period in one workspace (tenant-scoped): messages of closed conversations with their search
//! index entries and attachments, attachments never sent, page views.

use chrono::{DateTime, Utc};
use kefu_protocol::TenantId;
use sqlx::PgConnection;

use super::TenantTx;

/// The transaction's tenant's retention settings.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Settings {
    /// The workspace's choice in days (`None`: as long as the plan allows).
    pub retention_days: Option<i32>,
    /// The plan's bound in days (`None`: none).
    pub max_retention_days: Option<i32>,
    /// From when the plan's bound applies: 30 days after the workspace moved to the plan
    /// ([`BOUND_GRACE_DAYS`]), so a downgrade never deletes history at once.
    pub bound_from: DateTime<Utc>,
    /// When the retention job next runs for it.
    pub retention_next_at: DateTime<Utc>,
    /// What the last run did.
    pub retention_last: Option<sqlx::types::Json<RetentionRun>>,
}

/// What a retention run did: `tenants.retention_last`, and the details of its
/// `retention.applied` audit entry.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RetentionRun {
    /// When it started.
    pub at: DateTime<Utc>,
    /// The period applied in days (null: content is kept; only files never sent expire).
    #[serde(default)]
    #[schema(required)]
    pub days: Option<i32>,
    /// Content stored before this instant was deleted (null without a period).
    #[serde(default)]
    #[schema(required)]
    pub cutoff: Option<DateTime<Utc>>,
    /// Messages and notes deleted.
    #[serde(default)]
    #[schema(required)]
    pub messages: i64,
    /// Attachments deleted (with their messages, or never sent).
    #[serde(default)]
    #[schema(required)]
    pub attachments: i64,
    /// Page views deleted.
    #[serde(default)]
    #[schema(required)]
    pub page_views: i64,
    /// Old messages kept because their conversation is open.
    #[serde(default)]
    #[schema(required)]
    pub kept_open: i64,
    /// Whether it got through everything old enough (else the next run continues within minutes).
    #[serde(default)]
    #[schema(required)]
    pub complete: bool,
    /// The run failed (it is tried again in 15 minutes); absent when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RetentionRun {
    /// A run that failed at `at`.
    pub fn failed(at: DateTime<Utc>) -> Self {
        Self {
            at,
            days: None,
            cutoff: None,
            messages: 0,
            attachments: 0,
            page_views: 0,
            kept_open: 0,
            complete: false,
            error: Some("the run failed; it is tried again".to_owned()),
        }
    }
}

impl Settings {
    /// The period applied: the choice within the plan's bound, once the bound applies (`None`:
    /// content is kept).
    pub fn effective_days(&self) -> Option<i32> {
        let bound = self.max_retention_days.filter(|_| self.bound_from <= Utc::now());
        match (self.retention_days, bound) {
            (Some(chosen), Some(bound)) => Some(chosen.min(bound)),
            (chosen, bound) => chosen.or(bound),
        }
    }
}

/// The transaction's tenant's settings.
pub async fn settings(tx: &mut TenantTx) -> sqlx::Result<Settings> {
    let tenant = tx.tenant_id();
    sqlx::query_as(
        "select t.retention_days, p.max_retention_days, t.retention_next_at, t.retention_last,
                t.plan_since + make_interval(days => $2) as bound_from
         from control.tenants t join control.plans p on p.id = t.plan_id where t.id = $1",
    )
    .bind(tenant)
    .bind(BOUND_GRACE_DAYS)
    .fetch_one(tx.control().await?)
    .await
}

/// Sets the transaction's tenant's choice and has the job run for it soon.
pub async fn set_days(tx: &mut TenantTx, days: Option<i32>) -> sqlx::Result<()> {
    let tenant = tx.tenant_id();
    sqlx::query("update control.tenants set retention_days = $2, retention_next_at = now() where id = $1")
        .bind(tenant)
        .bind(days)
        .execute(tx.control().await?)
        .await?;
    Ok(())
}

/// How long after a plan change its history bound applies (a workspace's own choice applies at
/// once).
pub const BOUND_GRACE_DAYS: i32 = 30;

/// Takes the workspace whose retention run is most overdue (every active one runs daily: files
/// never sent expire whatever the period) and moves its next run a day on, so no other node
/// takes it; returns it with its period in days (`None`: content is kept).
pub async fn claim_due(conn: &mut PgConnection) -> sqlx::Result<Option<(TenantId, Option<i32>)>> {
    sqlx::query_as(
        "with due as (
             select t.id, least(coalesce(t.retention_days, b.bound), coalesce(b.bound, t.retention_days)) as days
             from control.tenants t join control.plans p on p.id = t.plan_id
             cross join lateral (select case when t.plan_since <= now() - make_interval(days => $1)
                                             then p.max_retention_days end as bound) b
             where t.retention_next_at <= now() and t.status = 'active'
             order by t.retention_next_at limit 1 for update of t skip locked)
         update control.tenants t set retention_next_at = now() + interval '1 day'
         from due where t.id = due.id returning t.id, due.days",
    )
    .bind(BOUND_GRACE_DAYS)
    .fetch_optional(conn)
    .await
}

/// Records what a run did and when the next one is due.
pub async fn finish_run(
    conn: &mut PgConnection,
    tenant: TenantId,
    last: &RetentionRun,
    next_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("update control.tenants set retention_last = $2, retention_next_at = $3 where id = $1")
        .bind(tenant)
        .bind(sqlx::types::Json(last))
        .bind(next_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes up to `limit` messages stored before `cutoff` in closed conversations, with their
/// search index entries (by foreign key) and their attachments' rows; returns how many messages,
/// and the attachments' object keys (to delete after commit).
pub async fn delete_messages(tx: &mut TenantTx, cutoff: DateTime<Utc>, limit: i64) -> sqlx::Result<(i64, Vec<String>)> {
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
        "delete from messages where id in (
             select m.id from messages m join conversations c on c.id = m.conversation_id
             where m.created_at < $1 and c.status = 'closed' limit $2)
         returning id",
    )
    .bind(cutoff)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    if ids.is_empty() {
        return Ok((0, Vec::new()));
    }
    let files = sqlx::query_scalar("delete from attachments where message_id = any($1) returning storage_key")
        .bind(&ids)
        .fetch_all(tx.conn())
        .await?;
    Ok((i64::try_from(ids.len()).unwrap_or(i64::MAX), files))
}

/// Deletes up to `limit` page views before `cutoff`; returns how many.
pub async fn delete_page_views(tx: &mut TenantTx, cutoff: DateTime<Utc>, limit: i64) -> sqlx::Result<i64> {
    let done =
        sqlx::query("delete from page_views where id in (select id from page_views where viewed_at < $1 limit $2)")
            .bind(cutoff)
            .bind(limit)
            .execute(tx.conn())
            .await?;
    Ok(i64::try_from(done.rows_affected()).unwrap_or(i64::MAX))
}

/// Messages stored before `cutoff` that are kept because their conversation is open.
pub async fn kept_open(tx: &mut TenantTx, cutoff: DateTime<Utc>) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "select count(*) from messages m join conversations c on c.id = m.conversation_id
         where m.created_at < $1 and c.status = 'open'",
    )
    .bind(cutoff)
    .fetch_one(tx.conn())
    .await
}
