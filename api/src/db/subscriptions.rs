//! A workspace's Stripe customer and subscription as Stripe last reported them (billing columns
//! of `control.tenants`), the workspaces whose billing needs a step (seats out of step with the
//! members, a grace period over), and the Stripe events already applied (`control.stripe_events`).

use chrono::{DateTime, Utc};
use kefu_protocol::TenantId;
use sqlx::PgConnection;

use super::TenantTx;

/// A workspace's billing as stored.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Billing {
    /// Its Stripe customer.
    pub customer: Option<String>,
    /// Its subscription (the latest, whatever its status).
    pub subscription: Option<String>,
    /// The subscription's Stripe status.
    pub status: Option<String>,
    /// When the paid period ends (renewal, or the end after a cancellation).
    pub period_end: Option<DateTime<Utc>>,
    /// The subscription ends at `period_end` instead of renewing.
    pub cancel_at_period_end: bool,
    /// Since when payments fail (the grace period counts from here).
    pub payment_failing_since: Option<DateTime<Utc>>,
    /// Seats Stripe bills now.
    pub billed_seats: Option<i32>,
}

const COLUMNS: &str = "stripe_customer_id as customer, stripe_subscription_id as subscription,
    subscription_status as status, subscription_period_end as period_end,
    subscription_cancel_at_period_end as cancel_at_period_end, payment_failing_since, billed_seats";

/// The transaction's workspace's billing.
pub async fn of(tx: &mut TenantTx) -> sqlx::Result<Billing> {
    let tenant = tx.tenant_id();
    let row = sqlx::query_as(sqlx::AssertSqlSafe(format!("select {COLUMNS} from control.tenants where id = $1")))
        .bind(tenant)
        .fetch_optional(tx.control().await?)
        .await?;
    Ok(row.unwrap_or_default())
}

/// A workspace's billing, outside its transaction.
pub async fn of_tenant(conn: &mut PgConnection, tenant: TenantId) -> sqlx::Result<Billing> {
    let row = sqlx::query_as(sqlx::AssertSqlSafe(format!("select {COLUMNS} from control.tenants where id = $1")))
        .bind(tenant)
        .fetch_optional(conn)
        .await?;
    Ok(row.unwrap_or_default())
}

/// Records `customer` as the workspace's Stripe customer unless it has one already; returns the
/// one it has now (two checkouts at once keep the first).
pub async fn set_customer(conn: &mut PgConnection, tenant: TenantId, customer: &str) -> sqlx::Result<Option<String>> {
    sqlx::query("update control.tenants set stripe_customer_id = $2 where id = $1 and stripe_customer_id is null")
        .bind(tenant)
        .bind(customer)
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar("select stripe_customer_id from control.tenants where id = $1")
        .bind(tenant)
        .fetch_optional(conn)
        .await
        .map(Option::flatten)
}

/// The workspace a Stripe customer belongs to.
pub async fn tenant_of_customer(conn: &mut PgConnection, customer: &str) -> sqlx::Result<Option<TenantId>> {
    sqlx::query_scalar("select id from control.tenants where stripe_customer_id = $1")
        .bind(customer)
        .fetch_optional(conn)
        .await
}

/// A subscription's state as Stripe reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionState {
    /// Its id.
    pub id: String,
    /// Stripe's status.
    pub status: String,
    /// The current period's end.
    pub period_end: Option<DateTime<Utc>>,
    /// Ends at the period's end.
    pub cancel_at_period_end: bool,
    /// Seats billed.
    pub seats: Option<i32>,
}

/// Stores the subscription's state for the transaction's workspace. Payments count as failing
/// from the first state that says so until one that does not.
pub async fn record(tx: &mut TenantTx, state: &SubscriptionState) -> sqlx::Result<()> {
    let tenant = tx.tenant_id();
    sqlx::query(
        "update control.tenants set stripe_subscription_id = $2, subscription_status = $3,
             subscription_period_end = $4, subscription_cancel_at_period_end = $5, billed_seats = $6,
             payment_failing_since = case when $3 in ('past_due', 'unpaid')
                 then coalesce(payment_failing_since, now()) end
         where id = $1",
    )
    .bind(tenant)
    .bind(&state.id)
    .bind(&state.status)
    .bind(state.period_end)
    .bind(state.cancel_at_period_end)
    .bind(state.seats)
    .execute(tx.control().await?)
    .await?;
    Ok(())
}

/// A subscribed workspace whose billed seats differ from its members.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SeatsOutOfStep {
    /// The workspace.
    pub tenant: TenantId,
    /// Its subscription.
    pub subscription: String,
    /// Its members now.
    pub members: i64,
}

/// Up to `limit` workspaces with a live subscription billing another number of seats than they
/// have members, in random order (one that keeps failing cannot hold the others back).
pub async fn seats_out_of_step(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<SeatsOutOfStep>> {
    sqlx::query_as(
        "select t.id as tenant, t.stripe_subscription_id as subscription, m.members
         from control.tenants t
         cross join lateral (select count(*) as members from control.memberships where tenant_id = t.id) m
         where t.stripe_subscription_id is not null and t.status = 'active'
           and t.subscription_status in ('trialing', 'active', 'past_due')
           and t.billed_seats is distinct from m.members
         order by random()
         limit $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Up to `limit` workspaces whose payments have failed for longer than `grace_days` and that are
/// not on `fallback` yet.
pub async fn grace_over(
    conn: &mut PgConnection,
    grace_days: i32,
    fallback: &str,
    limit: i64,
) -> sqlx::Result<Vec<TenantId>> {
    sqlx::query_scalar(
        "select id from control.tenants
         where payment_failing_since < now() - make_interval(days => $1) and plan_id <> $2 and status = 'active'
         limit $3",
    )
    .bind(grace_days)
    .bind(fallback)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The workspace's members (the seats Stripe should bill).
pub async fn members(conn: &mut PgConnection, tenant: TenantId) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from control.memberships where tenant_id = $1")
        .bind(tenant)
        .fetch_one(conn)
        .await
}

/// The owner's email (the Stripe customer's).
pub async fn owner_email(conn: &mut PgConnection, tenant: TenantId) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "select u.email from control.memberships m join control.users u on u.id = m.user_id
         where m.tenant_id = $1 and m.role = 'owner'",
    )
    .bind(tenant)
    .fetch_optional(conn)
    .await
}

/// Whether the Stripe event was applied already.
pub async fn event_applied(conn: &mut PgConnection, id: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("select exists (select 1 from control.stripe_events where id = $1)")
        .bind(id)
        .fetch_one(conn)
        .await
}

/// Remembers that the Stripe event was applied (a second delivery is acknowledged and skipped).
pub async fn mark_applied(conn: &mut PgConnection, id: &str, kind: &str) -> sqlx::Result<()> {
    sqlx::query("insert into control.stripe_events (id, type) values ($1, $2) on conflict (id) do nothing")
        .bind(id)
        .bind(kind)
        .execute(conn)
        .await?;
    Ok(())
}
