//! Billing through Stripe (docs/billing.md, "Stripe"): the owner's view of the subscription,
//! subscribing or changing plan (Checkout, or the live subscription moved), the Customer Portal,
//! cancelling at the period's end and taking it back; and Stripe's webhook.

use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use kefu_protocol::ErrorCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Auth, OwnerOnly};
use crate::billing::payments::{Stripe, account, webhook};
use crate::db::{self, TenantTx};
use crate::error::{ApiError, Result};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_billing))
        .routes(routes!(subscribe))
        .routes(routes!(open_portal))
        .routes(routes!(cancel))
        .routes(routes!(resume))
        .routes(routes!(stripe_webhook))
}

/// The workspace's subscription as the owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct BillingView {
    /// Whether this server sells plans through Stripe (otherwise the operator changes plans).
    pub stripe: bool,
    /// Stripe's status of the subscription (`active`, `past_due`, `canceled`, …), if any.
    pub status: Option<String>,
    /// When the paid period ends: the renewal, or the end of a cancelled subscription.
    pub period_end: Option<DateTime<Utc>>,
    /// The subscription ends at `period_end` instead of renewing.
    pub cancel_at_period_end: bool,
    /// After a failed payment: when the workspace moves to Free unless the payment succeeds.
    pub grace_ends_at: Option<DateTime<Utc>>,
    /// Seats Stripe bills.
    pub billed_seats: Option<i32>,
    /// Whether there is a subscription that still bills (a plan change updates it).
    pub live: bool,
}

/// Which plan to subscribe to.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SubscribeRequest {
    /// A public plan with a Stripe price (or the workspace's own plan, public or not).
    pub plan: String,
}

/// Where subscribing continues.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscribeResponse {
    /// Stripe Checkout's address, when the owner must pay there; null when the live
    /// subscription was moved to the plan at once.
    pub checkout_url: Option<String>,
}

/// A Customer Portal session.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortalResponse {
    /// Stripe's Customer Portal address (payment methods, invoices), valid for a few minutes.
    pub url: String,
}

/// What the webhook did with an event.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookResponse {
    /// `applied`, `duplicate` or `ignored`.
    pub outcome: String,
}

fn stripe(state: &AppState) -> Result<&Stripe> {
    state.stripe.as_ref().ok_or_else(|| {
        ApiError::client(
            ErrorCode::ServiceUnavailable,
            "Billing is not set up on this server; the operator changes plans (kefu tenants plan).",
        )
    })
}

async fn view(state: &AppState, tx: &mut TenantTx) -> Result<BillingView> {
    let billing = db::subscriptions::of(tx).await?;
    let grace = chrono::Duration::days(i64::from(state.stripe.as_ref().map_or(0, |s| s.grace_days)));
    let live = billing.status.as_deref().is_some_and(|s| account::LIVE.contains(&s));
    Ok(BillingView {
        stripe: state.stripe.is_some(),
        grace_ends_at: billing.payment_failing_since.map(|since| since + grace),
        status: billing.status,
        period_end: billing.period_end,
        cancel_at_period_end: billing.cancel_at_period_end,
        billed_seats: billing.billed_seats,
        live,
    })
}

/// The workspace's subscription (owner).
#[utoipa::path(get, path = "/api/v1/billing", tag = "tenant", security(("bearer" = [])),
    responses((status = 200, body = BillingView)))]
async fn get_billing(State(state): State<AppState>, auth: Auth<OwnerOnly>) -> Result<axum::Json<BillingView>> {
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let view = view(&state, &mut tx).await?;
    tx.commit().await?;
    Ok(axum::Json(view))
}

/// Subscribes to a plan or changes the subscription's plan (owner): returns Stripe Checkout's
/// address, or moves a live subscription to the plan at once (prorated).
#[utoipa::path(post, path = "/api/v1/billing/subscribe", tag = "tenant", security(("bearer" = [])),
    request_body = SubscribeRequest,
    responses((status = 200, body = SubscribeResponse),
        (status = 422, description = "the plan is unknown, not offered, or not sold through Stripe"),
        (status = 502, description = "Stripe did not answer; nothing changed"),
        (status = 503, description = "billing is not set up on this server")))]
async fn subscribe(
    State(state): State<AppState>,
    auth: Auth<OwnerOnly>,
    axum::Json(body): axum::Json<SubscribeRequest>,
) -> Result<axum::Json<SubscribeResponse>> {
    let stripe = stripe(&state)?;
    let mut conn = state.db.control().acquire().await?;
    // A public plan, or the workspace's own (a custom plan the operator gave it).
    let current = db::plans::of_tenant(&mut conn, auth.tenant.id).await?.id;
    let plan = db::plans::find(&mut conn, &body.plan).await?.filter(|p| p.public || p.id == current);
    drop(conn);
    let plan = plan.ok_or_else(|| {
        ApiError::client(ErrorCode::ValidationFailed, format!("There is no plan `{}` on offer.", body.plan))
    })?;
    let subscribed = account::subscribe(stripe, &state.db, auth.tenant.id, &plan, state.config.app_url()).await?;
    let checkout_url = match subscribed {
        account::Subscribed::Checkout(url) => Some(url),
        account::Subscribed::Changed => None,
    };
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let detail = serde_json::json!({ "plan": plan.id, "checkout": checkout_url.is_some() });
    db::audit::record(&mut tx, auth.principal.actor(), "billing.subscribe", None, detail).await?;
    tx.commit().await?;
    Ok(axum::Json(SubscribeResponse { checkout_url }))
}

/// A Customer Portal session for the owner (payment methods, invoices).
#[utoipa::path(post, path = "/api/v1/billing/portal", tag = "tenant", security(("bearer" = [])),
    responses((status = 200, body = PortalResponse), (status = 502, description = "Stripe did not answer"),
        (status = 503, description = "billing is not set up on this server")))]
async fn open_portal(State(state): State<AppState>, auth: Auth<OwnerOnly>) -> Result<axum::Json<PortalResponse>> {
    let url = account::portal(stripe(&state)?, &state.db, auth.tenant.id, state.config.app_url()).await?;
    Ok(axum::Json(PortalResponse { url }))
}

/// Cancels the subscription at the end of the paid period (owner); the plan stays until then.
#[utoipa::path(post, path = "/api/v1/billing/cancel", tag = "tenant", security(("bearer" = [])),
    responses((status = 200, body = BillingView), (status = 409, description = "no live subscription"),
        (status = 502, description = "Stripe did not answer")))]
async fn cancel(State(state): State<AppState>, auth: Auth<OwnerOnly>) -> Result<axum::Json<BillingView>> {
    set_cancel(state, auth, true).await
}

/// Takes back a cancellation before the period ends (owner).
#[utoipa::path(post, path = "/api/v1/billing/resume", tag = "tenant", security(("bearer" = [])),
    responses((status = 200, body = BillingView), (status = 409, description = "no live subscription"),
        (status = 502, description = "Stripe did not answer")))]
async fn resume(State(state): State<AppState>, auth: Auth<OwnerOnly>) -> Result<axum::Json<BillingView>> {
    set_cancel(state, auth, false).await
}

async fn set_cancel(state: AppState, auth: Auth<OwnerOnly>, cancel: bool) -> Result<axum::Json<BillingView>> {
    account::cancel_at_period_end(stripe(&state)?, &state.db, auth.tenant.id, cancel).await?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let action = if cancel { "billing.cancelled" } else { "billing.resumed" };
    db::audit::record(&mut tx, auth.principal.actor(), action, None, serde_json::json!({})).await?;
    let view = view(&state, &mut tx).await?;
    tx.commit().await?;
    Ok(axum::Json(view))
}

/// Stripe's webhook endpoint (signed with the endpoint's secret; no bearer token).
#[utoipa::path(post, path = "/api/v1/stripe/webhook", tag = "tenant",
    request_body(content = String, content_type = "application/json", description = "a Stripe event"),
    responses((status = 200, body = WebhookResponse),
        (status = 400, description = "the signature or timestamp does not verify"),
        (status = 502, description = "Stripe could not be asked for the subscription; Stripe delivers again"),
        (status = 503, description = "billing is not set up on this server")))]
async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    payload: String,
) -> Result<axum::Json<WebhookResponse>> {
    let stripe = stripe(&state)?;
    let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let outcome = webhook::receive(stripe, &state.db, &payload, signature).await?;
    let outcome = match outcome {
        webhook::Outcome::Applied => "applied",
        webhook::Outcome::Duplicate => "duplicate",
        webhook::Outcome::Ignored => "ignored",
    };
    Ok(axum::Json(WebhookResponse { outcome: outcome.to_owned() }))
}
