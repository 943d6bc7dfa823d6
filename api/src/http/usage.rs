//! The workspace's plan and what it uses of it (docs/billing.md): for every member, so the console
//! can warn at 80 % and 100 % of each limit; and the plans offered, for the billing page.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AnyMember, Auth};
use crate::db::{self, TenantTx};
use crate::error::Result;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_usage)).routes(routes!(list_plans))
}

/// One limit and its use.
#[derive(Debug, Serialize, ToSchema)]
pub struct Meter {
    /// What is measured: `seats`, `conversations`, `storage_mb`, `kb_entries`.
    pub name: String,
    /// Used now.
    pub used: i64,
    /// The plan's number.
    pub limit: i64,
    /// `ok`, `near` (80 % or more) or `reached` (100 % or more).
    pub level: String,
}

impl Meter {
    fn new(name: &str, used: i64, limit: i64) -> Self {
        let level = if limit > 0 && used >= limit {
            "reached"
        } else if limit > 0 && used * 10 >= limit * 8 {
            "near"
        } else {
            "ok"
        };
        Self { name: name.to_owned(), used, limit, level: level.to_owned() }
    }
}

/// A plan as the billing page shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanSummary {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Seats.
    pub seats: i32,
    /// Conversations per month.
    pub conversations_per_month: i32,
    /// Attachment storage in MiB.
    pub attachment_storage_mb: i32,
    /// Knowledge-base entries.
    pub kb_entries: i32,
    /// History kept at most, in days (null: no bound).
    pub max_retention_days: Option<i32>,
    /// API requests a minute (0 without the API).
    pub api_requests_per_minute: i32,
    /// Features: `bot`, `api`, `regions`, `analytics_export`.
    pub features: Vec<String>,
    /// Price per seat and month, in the currency's minor unit.
    pub price_per_seat_cents: i32,
    /// ISO currency, lower case.
    pub currency: String,
    /// Sold through Stripe (it has a Stripe price): an owner can subscribe to it.
    pub purchasable: bool,
}

impl From<db::plans::Plan> for PlanSummary {
    fn from(p: db::plans::Plan) -> Self {
        Self {
            id: p.id,
            name: p.name,
            seats: p.seats,
            conversations_per_month: p.conversations_per_month,
            attachment_storage_mb: p.attachment_storage_mb,
            kb_entries: p.kb_entries,
            max_retention_days: p.max_retention_days,
            api_requests_per_minute: p.api_requests_per_minute,
            features: p.features,
            price_per_seat_cents: p.price_per_seat_cents,
            currency: p.currency,
            purchasable: p.stripe_price_id.is_some(),
        }
    }
}

/// The workspace's plan and use.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageView {
    /// The plan.
    pub plan: PlanSummary,
    /// End of the trial, if on trial (then the workspace moves to Free unless it subscribed).
    pub trial_ends_at: Option<DateTime<Utc>>,
    /// The month conversations are counted in (`YYYY-MM`, the workspace's time zone).
    pub month: String,
    /// When the month's count starts again.
    pub month_ends_at: DateTime<Utc>,
    /// The month's conversations are used up: new ones are offline messages.
    pub conversations_paused: bool,
    /// Each limit and its use.
    pub meters: Vec<Meter>,
}

/// The workspace's plan, its limits and what it uses of them (any member).
#[utoipa::path(get, path = "/api/v1/usage", tag = "tenant", security(("bearer" = [])),
    responses((status = 200, body = UsageView)))]
async fn get_usage(State(state): State<AppState>, auth: Auth<AnyMember>) -> Result<axum::Json<UsageView>> {
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let plan = db::plans::current(&mut tx).await?;
    let seats = db::tenants::plan_usage(&mut tx).await?;
    let tenant = db::tenants::current(&mut tx).await?;
    let month = crate::billing::quotas::this_month(&mut tx, Utc::now()).await?;
    let conversations = db::quotas::conversations_since(&mut tx, month.starts_at).await?;
    let paused = db::quotas::conversations_full_until(&mut tx).await?.is_some();
    let stored = db::attachments::stored(&mut tx).await?;
    let kb = db::bot::count(&mut tx).await?;
    tx.commit().await?;
    const MIB: i64 = 1024 * 1024;
    let meters = vec![
        Meter::new("seats", seats.members + seats.pending_invitations, i64::from(plan.seats)),
        Meter::new("conversations", conversations, i64::from(plan.conversations_per_month)),
        Meter::new("storage_mb", (stored + MIB - 1) / MIB, i64::from(plan.attachment_storage_mb)),
        Meter::new("kb_entries", kb, i64::from(plan.kb_entries)),
    ];
    Ok(axum::Json(UsageView {
        trial_ends_at: tenant.and_then(|t| t.trial_ends_at),
        plan: plan.into(),
        month: month.label,
        month_ends_at: month.ends_at,
        conversations_paused: paused,
        meters,
    }))
}

/// The plans offered (public ones, in billing-page order).
#[utoipa::path(get, path = "/api/v1/plans", tag = "tenant", security(("bearer" = [])),
    responses((status = 200, body = Vec<PlanSummary>)))]
async fn list_plans(State(state): State<AppState>, _auth: Auth<AnyMember>) -> Result<axum::Json<Vec<PlanSummary>>> {
    let mut conn = state.db.control().acquire().await?;
    let plans = db::plans::list(&mut conn).await?;
    Ok(axum::Json(plans.into_iter().filter(|p| p.public).map(PlanSummary::from).collect()))
}
