//! What a workspace's owner asks of Stripe: subscribing to a plan through Checkout (or changing
//! the plan of a live subscription in place), the Customer Portal (payment methods, invoices),
//! and cancelling at the period's end (or taking that back). The state Stripe returns is applied
//! at once; the webhook that follows applies it again, which changes nothing.

use kefu_protocol::{ErrorCode, TenantId};
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::subscription::{
    RetrieveSubscription, UpdateSubscription, UpdateSubscriptionItems, UpdateSubscriptionProrationBehavior,
};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
};
use stripe_core::customer::CreateCustomer;

use super::{Stripe, StripeFailure, apply, customer_of, state_of};
use crate::db::{self, Databases};
use crate::error::ApiError;

/// Statuses of a subscription that still bills (a plan change updates it instead of a new one).
pub const LIVE: [&str; 4] = ["trialing", "active", "past_due", "unpaid"];

/// What subscribing did.
#[derive(Debug)]
pub enum Subscribed {
    /// The owner goes to Stripe Checkout at this address.
    Checkout(String),
    /// The live subscription was moved to the plan's price.
    Changed,
}

/// Subscribes the workspace to `plan`: through Checkout when it has no live subscription (seats
/// = its members now), else by moving the subscription to the plan's price (prorated).
pub async fn subscribe(
    stripe: &Stripe,
    databases: &Databases,
    tenant: TenantId,
    plan: &db::plans::Plan,
    app_url: &str,
) -> Result<Subscribed, ApiError> {
    let Some(price) = plan.stripe_price_id.as_deref() else {
        return Err(ApiError::client(
            ErrorCode::ValidationFailed,
            format!("The {} plan is not sold through Stripe; to leave a paid plan, cancel it.", plan.name),
        ));
    };
    let mut conn = databases.control().acquire().await?;
    let billing = db::subscriptions::of_tenant(&mut conn, tenant).await?;
    let seats = db::subscriptions::members(&mut conn, tenant).await?;
    drop(conn);
    let seats = u64::try_from(seats.max(1)).unwrap_or(1);
    if let Some(live) = billing.subscription.as_deref().filter(|_| billing.status.as_deref().is_some_and(is_live)) {
        let current = RetrieveSubscription::new(live).send(stripe.client()).await.map_err(StripeFailure::from)?;
        let item = current.items.data.first().map(|i| i.id.as_str().to_owned());
        let moved = UpdateSubscriptionItems {
            id: item,
            price: Some(price.to_owned()),
            quantity: Some(seats),
            ..UpdateSubscriptionItems::new()
        };
        let updated = UpdateSubscription::new(live)
            .items(vec![moved])
            .proration_behavior(UpdateSubscriptionProrationBehavior::CreateProrations)
            .send(stripe.client())
            .await
            .map_err(StripeFailure::from)?;
        applied(stripe, databases, tenant, &updated).await?;
        return Ok(Subscribed::Changed);
    }
    let customer = customer(stripe, databases, tenant).await?;
    let metadata = std::collections::HashMap::from([("tenant_id".to_owned(), tenant.to_string())]);
    let line = CreateCheckoutSessionLineItems {
        price: Some(price.to_owned()),
        quantity: Some(seats),
        ..CreateCheckoutSessionLineItems::new()
    };
    let session = CreateCheckoutSession::new()
        .mode(stripe_shared::CheckoutSessionMode::Subscription)
        .customer(customer)
        .client_reference_id(tenant.to_string())
        .line_items(vec![line])
        .subscription_data(CreateCheckoutSessionSubscriptionData {
            metadata: Some(metadata),
            ..CreateCheckoutSessionSubscriptionData::new()
        })
        .success_url(format!("{app_url}/admin/billing?checkout=done"))
        .cancel_url(format!("{app_url}/admin/billing?checkout=cancelled"))
        .send(stripe.client())
        .await
        .map_err(StripeFailure::from)?;
    let url = session.url.ok_or_else(|| anyhow::anyhow!("Stripe returned a checkout session without a url"))?;
    Ok(Subscribed::Checkout(url))
}

/// A Customer Portal session's address (payment methods, invoices, cancellation).
pub async fn portal(
    stripe: &Stripe,
    databases: &Databases,
    tenant: TenantId,
    app_url: &str,
) -> Result<String, ApiError> {
    let customer = customer(stripe, databases, tenant).await?;
    let session = CreateBillingPortalSession::new()
        .customer(customer)
        .return_url(format!("{app_url}/admin/billing"))
        .send(stripe.client())
        .await
        .map_err(StripeFailure::from)?;
    Ok(session.url)
}

/// Cancels the live subscription at the end of the paid period (`cancel = false` takes a
/// cancellation back).
pub async fn cancel_at_period_end(
    stripe: &Stripe,
    databases: &Databases,
    tenant: TenantId,
    cancel: bool,
) -> Result<(), ApiError> {
    let billing = db::subscriptions::of_tenant(&mut *databases.control().acquire().await?, tenant).await?;
    let Some(live) = billing.subscription.filter(|_| billing.status.as_deref().is_some_and(is_live)) else {
        return Err(ApiError::client(ErrorCode::NoSubscription, "This workspace has no subscription to change."));
    };
    let updated = UpdateSubscription::new(live.as_str())
        .cancel_at_period_end(cancel)
        .send(stripe.client())
        .await
        .map_err(StripeFailure::from)?;
    applied(stripe, databases, tenant, &updated).await?;
    Ok(())
}

fn is_live(status: &str) -> bool {
    LIVE.contains(&status)
}

/// Applies a subscription Stripe returned, if it is the workspace's customer's.
async fn applied(
    stripe: &Stripe,
    databases: &Databases,
    tenant: TenantId,
    subscription: &stripe_shared::Subscription,
) -> Result<(), StripeFailure> {
    let owner =
        db::subscriptions::tenant_of_customer(&mut *databases.control().acquire().await?, &customer_of(subscription))
            .await?;
    if owner != Some(tenant) {
        return Err(anyhow::anyhow!("Stripe returned a subscription of another customer").into());
    }
    let (state, price) = state_of(subscription);
    apply::subscription(databases, stripe.grace_days, tenant, &state, price.as_deref()).await
}

/// The workspace's Stripe customer, created (named after the workspace, mailed to its owner) the
/// first time.
async fn customer(stripe: &Stripe, databases: &Databases, tenant: TenantId) -> Result<String, ApiError> {
    let mut conn = databases.control().acquire().await?;
    if let Some(customer) = db::subscriptions::of_tenant(&mut conn, tenant).await?.customer {
        return Ok(customer);
    }
    let found =
        db::tenants::find_by_id(&mut conn, tenant).await?.ok_or_else(|| anyhow::anyhow!("no tenant {tenant}"))?;
    let owner = db::subscriptions::owner_email(&mut conn, tenant).await?;
    drop(conn);
    let metadata = std::collections::HashMap::from([("tenant_id".to_owned(), tenant.to_string())]);
    let mut create = CreateCustomer::new().name(found.name).metadata(metadata);
    if let Some(email) = owner {
        create = create.email(email);
    }
    let created = create.send(stripe.client()).await.map_err(StripeFailure::from)?;
    let mut conn = databases.control().acquire().await?;
    let kept = db::subscriptions::set_customer(&mut conn, tenant, created.id.as_str()).await?;
    kept.ok_or_else(|| anyhow::anyhow!("the workspace {tenant} was deleted").into())
}
