//! The billing rounds on every node (every `billing.trial_round_secs`, and at once when a member
//! joins or leaves here): seats billed = members (the subscription's quantity is updated,
//! prorated, whenever they differ: the difference is read from Postgres, so a member change on a
//! node that died is billed by the next round anywhere), and workspaces whose grace period after
//! a failed payment is over move to Free. Both are idempotent, so nodes need not coordinate.

use std::time::Duration;

use stripe_billing::subscription::{
    RetrieveSubscription, UpdateSubscription, UpdateSubscriptionItems, UpdateSubscriptionProrationBehavior,
};
use tokio_util::sync::CancellationToken;

use super::apply::{self, Target};
use super::{Stripe, StripeFailure, state_of};
use crate::db::{self, Databases, TenantTx};

/// Workspaces handled per round and kind, at most.
const ROUND: i64 = 50;

/// Starts the rounds on this node.
pub fn start(stripe: Stripe, databases: Databases, every: Duration, shutdown: CancellationToken) {
    tokio::spawn(async move {
        loop {
            if let Err(error) = bill_seats(&stripe, &databases).await {
                tracing::warn!(error = format!("{error:#}"), "a seat round failed; the next round retries");
            }
            if let Err(error) = end_grace(&stripe, &databases).await {
                tracing::warn!(error = format!("{error:#}"), "a grace round failed; the next round retries");
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = stripe.seats_changed.notified() => {}
                () = tokio::time::sleep(every) => {}
            }
        }
    });
}

/// Sets the billed seats of subscriptions whose workspace has another number of members.
/// Returns how many were updated; a workspace that fails (Stripe refusing, say) is logged and the
/// others go on.
pub async fn bill_seats(stripe: &Stripe, databases: &Databases) -> Result<usize, StripeFailure> {
    let due = db::subscriptions::seats_out_of_step(&mut *databases.control().acquire().await?, ROUND).await?;
    let mut updated = 0;
    for workspace in due {
        match bill_one(stripe, databases, &workspace).await {
            Ok(seats) => {
                tracing::info!(tenant = %workspace.tenant, seats, "billed seats updated");
                updated += 1;
            }
            Err(error) => tracing::warn!(tenant = %workspace.tenant, %error, "billing a workspace's seats failed"),
        }
    }
    Ok(updated)
}

async fn bill_one(
    stripe: &Stripe,
    databases: &Databases,
    workspace: &db::subscriptions::SeatsOutOfStep,
) -> Result<u64, StripeFailure> {
    let current = RetrieveSubscription::new(workspace.subscription.as_str()).send(stripe.client()).await?;
    let seats = u64::try_from(workspace.members.max(1)).unwrap_or(1);
    let item = current.items.data.first().map(|i| (i.id.as_str().to_owned(), i.quantity));
    let now = match item {
        Some((id, quantity)) if quantity != Some(seats) => {
            let item =
                UpdateSubscriptionItems { id: Some(id), quantity: Some(seats), ..UpdateSubscriptionItems::new() };
            UpdateSubscription::new(workspace.subscription.as_str())
                .items(vec![item])
                .proration_behavior(UpdateSubscriptionProrationBehavior::CreateProrations)
                .send(stripe.client())
                .await?
        }
        _ => current,
    };
    let (state, price) = state_of(&now);
    apply::subscription(databases, stripe.grace_days, workspace.tenant, &state, price.as_deref()).await?;
    Ok(seats)
}

/// Moves workspaces whose payments have failed for longer than the grace period to Free.
/// Returns how many moved.
pub async fn end_grace(stripe: &Stripe, databases: &Databases) -> Result<usize, StripeFailure> {
    let grace = i32::try_from(stripe.grace_days).unwrap_or(i32::MAX);
    let due =
        db::subscriptions::grace_over(&mut *databases.control().acquire().await?, grace, db::plans::FALLBACK, ROUND)
            .await?;
    let mut ended = 0;
    for tenant in due {
        match end_one(databases, tenant).await {
            Ok(true) => ended += 1,
            Ok(false) => {}
            Err(error) => tracing::warn!(%tenant, %error, "ending a grace period failed"),
        }
    }
    Ok(ended)
}

async fn end_one(databases: &Databases, tenant: kefu_protocol::TenantId) -> Result<bool, StripeFailure> {
    let Some(schema) = db::tenants::active_schema(databases, tenant).await? else { return Ok(false) };
    let mut tx = TenantTx::begin(databases, &schema).await?;
    apply::switch(&mut tx, Target::Plan(db::plans::FALLBACK.to_owned(), "payment_failed")).await?;
    tx.commit().await?;
    Ok(true)
}
