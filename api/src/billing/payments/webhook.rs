//! Stripe's webhook: the signature and timestamp verified with the library
//! (`stripe_webhook::Webhook::construct_event`, five minutes' tolerance), each event applied once
//! (`control.stripe_events`; a second delivery is acknowledged and skipped), and applied by state:
//! an event only says which workspace and subscription changed, and the subscription is read
//! again from Stripe and applied as it is now. An event that cannot be applied yet (Stripe did
//! not answer) is refused with a 5xx so Stripe delivers it again.

use kefu_protocol::{ErrorCode, TenantId};
use secrecy::ExposeSecret;
use serde_json::Value;
use stripe_billing::subscription::RetrieveSubscription;
use stripe_webhook::{Webhook, WebhookError};

use super::{Stripe, StripeFailure, apply, customer_of, state_of};
use crate::db::{self, Databases};
use crate::error::ApiError;

/// What an event points at.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Refs {
    /// The event's id.
    pub id: String,
    /// Its type (`customer.subscription.updated`, …).
    pub kind: String,
    /// The customer it concerns.
    pub customer: Option<String>,
    /// The subscription it concerns.
    pub subscription: Option<String>,
    /// The workspace a Checkout session was opened for (`client_reference_id`).
    pub workspace: Option<String>,
}

/// What became of an event.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Applied now.
    Applied,
    /// Applied before (a redelivery).
    Duplicate,
    /// Not about a subscription, or about no workspace here: acknowledged.
    Ignored,
}

/// Verifies, deduplicates and applies one delivery.
pub async fn receive(
    stripe: &Stripe,
    databases: &Databases,
    payload: &str,
    signature: &str,
) -> Result<Outcome, ApiError> {
    verify(stripe, payload, signature)?;
    let refs =
        refs(payload).ok_or_else(|| ApiError::client(ErrorCode::ValidationFailed, "The event has no id or type."))?;
    let mut conn = databases.control().acquire().await?;
    if db::subscriptions::event_applied(&mut conn, &refs.id).await? {
        return Ok(Outcome::Duplicate);
    }
    drop(conn);
    let outcome = apply_event(stripe, databases, &refs).await?;
    db::subscriptions::mark_applied(&mut *databases.control().acquire().await?, &refs.id, &refs.kind).await?;
    tracing::info!(event = refs.id, kind = refs.kind, ?outcome, "a Stripe event");
    Ok(outcome)
}

/// The library's verification. A payload it verified but could not parse into its types (an
/// object of a newer API version) is still Stripe's: its ids are read from the JSON.
fn verify(stripe: &Stripe, payload: &str, signature: &str) -> Result<(), ApiError> {
    match Webhook::construct_event(payload, signature, stripe.webhook_secret.expose_secret()) {
        Ok(_) => Ok(()),
        Err(WebhookError::BadParse(problem)) => {
            tracing::warn!(problem, "a verified Stripe event the library could not parse; its ids are used");
            Ok(())
        }
        Err(error) => {
            tracing::info!(%error, "a Stripe webhook refused");
            Err(ApiError::client(
                ErrorCode::InvalidSignature,
                "The Stripe-Signature header does not verify (wrong secret, altered body, or a timestamp over five minutes old).",
            ))
        }
    }
}

/// The ids an event carries (`None` without an id and a type).
pub fn refs(payload: &str) -> Option<Refs> {
    let event: Value = serde_json::from_str(payload).ok()?;
    let text = |v: &Value| v.as_str().map(str::to_owned);
    // An expandable field is an id or the object itself.
    let id_of = |v: &Value| text(v).or_else(|| v.get("id").and_then(text));
    let object = &event["data"]["object"];
    let kind = text(&event["type"])?;
    let subscription = match object["object"].as_str() {
        Some("subscription") => text(&object["id"]),
        Some("checkout.session") => id_of(&object["subscription"]),
        Some("invoice") => {
            id_of(&object["subscription"]).or_else(|| id_of(&object["parent"]["subscription_details"]["subscription"]))
        }
        _ => None,
    };
    Some(Refs {
        id: text(&event["id"])?,
        kind,
        customer: id_of(&object["customer"]),
        subscription,
        workspace: text(&object["client_reference_id"]),
    })
}

/// Whether an event of this type can change a subscription's state.
fn concerns_subscriptions(kind: &str) -> bool {
    kind == "checkout.session.completed" || kind.starts_with("customer.subscription.") || kind.starts_with("invoice.")
}

async fn apply_event(stripe: &Stripe, databases: &Databases, refs: &Refs) -> Result<Outcome, ApiError> {
    if !concerns_subscriptions(&refs.kind) {
        return Ok(Outcome::Ignored);
    }
    let Some(customer) = refs.customer.as_deref() else { return Ok(Outcome::Ignored) };
    let mut conn = databases.control().acquire().await?;
    let Some(tenant) = db::subscriptions::tenant_of_customer(&mut conn, customer).await? else {
        tracing::info!(customer, event = refs.id, "a Stripe event about a customer of no workspace here");
        return Ok(Outcome::Ignored);
    };
    if let Some(workspace) = &refs.workspace
        && workspace.parse::<TenantId>().ok() != Some(tenant)
    {
        tracing::warn!(customer, workspace, event = refs.id, "a checkout's workspace is not its customer's; ignored");
        return Ok(Outcome::Ignored);
    }
    let stored = db::subscriptions::of_tenant(&mut conn, tenant).await?;
    drop(conn);
    let Some(subscription) = refs.subscription.clone().or(stored.subscription) else {
        return Ok(Outcome::Ignored);
    };
    let now =
        RetrieveSubscription::new(subscription.as_str()).send(stripe.client()).await.map_err(StripeFailure::from)?;
    if customer_of(&now) != customer {
        tracing::warn!(customer, subscription, "a subscription of another customer; ignored");
        return Ok(Outcome::Ignored);
    }
    let (state, price) = state_of(&now);
    apply::subscription(databases, stripe.grace_days, tenant, &state, price.as_deref()).await?;
    Ok(Outcome::Applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_come_from_subscriptions_checkouts_and_invoices_of_either_api_shape() {
        let sub = r#"{"id":"evt_1","type":"customer.subscription.updated","data":{"object":{"object":"subscription","id":"sub_1","customer":"cus_1"}}}"#;
        assert_eq!(
            refs(sub),
            Some(Refs {
                id: "evt_1".into(),
                kind: "customer.subscription.updated".into(),
                customer: Some("cus_1".into()),
                subscription: Some("sub_1".into()),
                workspace: None
            })
        );
        let checkout = r#"{"id":"evt_2","type":"checkout.session.completed","data":{"object":{"object":"checkout.session","id":"cs_1","customer":{"id":"cus_1"},"subscription":"sub_2","client_reference_id":"t"}}}"#;
        let found = refs(checkout).unwrap_or_default();
        assert_eq!(
            (found.customer.as_deref(), found.subscription.as_deref(), found.workspace.as_deref()),
            (Some("cus_1"), Some("sub_2"), Some("t"))
        );
        let invoice = r#"{"id":"evt_3","type":"invoice.payment_failed","data":{"object":{"object":"invoice","id":"in_1","customer":"cus_1","parent":{"subscription_details":{"subscription":"sub_3"}}}}}"#;
        assert_eq!(refs(invoice).and_then(|r| r.subscription).as_deref(), Some("sub_3"));
        assert_eq!(refs(r#"{"type":"x"}"#), None, "no id");
        assert_eq!(refs("not json"), None);
    }
}
