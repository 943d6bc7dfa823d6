//! `control.report_subscriptions`: who receives a tenant's daily and weekly analytics reports and
//! when the next is due (docs/analytics.md, "Reports").

use chrono::{DateTime, Utc};
use kefu_protocol::{TenantId, UserId};
use sqlx::PgConnection;

use super::TenantTx;

/// `daily` or `weekly`.
pub const KINDS: [&str; 2] = ["daily", "weekly"];

/// A kind of report of the transaction's tenant.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Subscription {
    /// `daily` or `weekly`.
    pub kind: String,
    /// Who receives it.
    pub recipients: Vec<UserId>,
    /// When the next is sent.
    pub next_at: DateTime<Utc>,
    /// When the last was sent.
    pub last_sent_at: Option<DateTime<Utc>>,
}

/// The transaction's tenant's reports.
pub async fn list(tx: &mut TenantTx) -> sqlx::Result<Vec<Subscription>> {
    let tenant = tx.tenant_id();
    sqlx::query_as(
        "select kind, recipients, next_at, last_sent_at from control.report_subscriptions
         where tenant_id = $1 order by kind",
    )
    .bind(tenant)
    .fetch_all(tx.control().await?)
    .await
}

/// Sets who receives the transaction's tenant's `kind` reports, and when the next is due.
pub async fn save(tx: &mut TenantTx, kind: &str, recipients: &[UserId], next_at: DateTime<Utc>) -> sqlx::Result<()> {
    let tenant = tx.tenant_id();
    sqlx::query(
        "insert into control.report_subscriptions (tenant_id, kind, recipients, next_at) values ($1, $2, $3, $4)
         on conflict (tenant_id, kind) do update set recipients = excluded.recipients, next_at = excluded.next_at,
             updated_at = now()",
    )
    .bind(tenant)
    .bind(kind)
    .bind(recipients)
    .bind(next_at)
    .execute(tx.control().await?)
    .await?;
    Ok(())
}

/// A report due now.
#[derive(Debug, sqlx::FromRow)]
pub struct Due {
    /// The tenant.
    pub tenant_id: TenantId,
    /// `daily` or `weekly`.
    pub kind: String,
    /// Who receives it.
    pub recipients: Vec<UserId>,
    /// When it was due.
    pub next_at: DateTime<Utc>,
}

/// Takes up to `limit` due reports with recipients, locked for the caller's transaction (other
/// nodes skip them).
pub async fn claim_due(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<Due>> {
    sqlx::query_as(
        "select tenant_id, kind, recipients, next_at from control.report_subscriptions
         where next_at <= now() and cardinality(recipients) > 0
         order by next_at limit $1 for update skip locked",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Records that a report was handled and when the next is due.
pub async fn reschedule(
    conn: &mut PgConnection,
    tenant: TenantId,
    kind: &str,
    next_at: DateTime<Utc>,
    sent: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "update control.report_subscriptions
         set next_at = $3, last_sent_at = case when $4 then now() else last_sent_at end
         where tenant_id = $1 and kind = $2",
    )
    .bind(tenant)
    .bind(kind)
    .bind(next_at)
    .bind(sent)
    .execute(conn)
    .await?;
    Ok(())
}

/// A member a report is sent to.
#[derive(Debug, sqlx::FromRow)]
pub struct Recipient {
    /// The member.
    pub user_id: UserId,
    /// Their address.
    pub email: String,
    /// Their name.
    pub display_name: String,
    /// The language they read Kefu in, if known.
    pub language: Option<String>,
}

/// Those of `users` who are still the tenant's members with the supervisor role or higher and a
/// verified address (reports show every agent's figures).
pub async fn recipients(conn: &mut PgConnection, tenant: TenantId, users: &[UserId]) -> sqlx::Result<Vec<Recipient>> {
    sqlx::query_as(
        "select u.id as user_id, u.email, u.display_name, u.language
         from control.memberships m join control.users u on u.id = m.user_id
         where m.tenant_id = $1 and m.user_id = any($2) and m.role in ('owner', 'admin', 'supervisor')
           and u.email_verified_at is not null
         order by u.id",
    )
    .bind(tenant)
    .bind(users)
    .fetch_all(conn)
    .await
}

/// Those of `users` who may receive the transaction's tenant's reports (as [`recipients`]).
pub async fn eligible(tx: &mut TenantTx, users: &[UserId]) -> sqlx::Result<Vec<Recipient>> {
    let tenant = tx.tenant_id();
    recipients(tx.control().await?, tenant, users).await
}

/// The next `hour` o'clock in `timezone` after now: today's or tomorrow's, or (`weekly`) this
/// Monday's or the next.
pub async fn next_local(tx: &mut TenantTx, timezone: &str, weekly: bool, hour: u32) -> sqlx::Result<DateTime<Utc>> {
    let unit = if weekly { "week" } else { "day" };
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "with local as (select now() at time zone $1 as now)
         select (case when date_trunc('{unit}', now) + make_interval(hours => $2) > now
                      then date_trunc('{unit}', now) + make_interval(hours => $2)
                      else date_trunc('{unit}', now) + interval '1 {unit}' + make_interval(hours => $2) end)
                at time zone $1
         from local"
    )))
    .bind(timezone)
    .bind(i32::try_from(hour).unwrap_or(8))
    .fetch_one(tx.conn())
    .await
}
