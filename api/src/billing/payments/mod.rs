//! Stripe (docs/billing.md, "Stripe"): the client ([`Stripe`], built when a secret key is
//! configured), what an owner asks of it ([`account`]: Checkout, the Customer Portal, a plan
//! change, cancelling at the period's end), the webhook ([`webhook`]: verified, idempotent by
//! event id), how a subscription's state decides the workspace's plan ([`apply`]), and the rounds
//! that bill seats and end grace periods ([`jobs`]).
//!
//! Stripe is the truth about a subscription: every event makes us read the subscription again
//! and apply what it says now, so events arriving late, twice or out of order change nothing.

pub mod account;
pub mod apply;
pub mod jobs;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kefu_protocol::ErrorCode;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Notify;

use crate::config::BillingConfig;
use crate::db::subscriptions::SubscriptionState;
use crate::error::ApiError;

/// How long one call to Stripe may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// The Stripe client and settings, shared by a node's handlers and jobs.
#[derive(Clone)]
pub struct Stripe {
    client: stripe::Client,
    webhook_secret: SecretString,
    /// Days of grace after a payment fails.
    pub grace_days: u32,
    /// Wakes the seat round at once (a member joined or left on this node).
    seats_changed: Arc<Notify>,
}

impl std::fmt::Debug for Stripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stripe").field("grace_days", &self.grace_days).finish_non_exhaustive()
    }
}

impl Stripe {
    /// The client, if Stripe is configured (`billing.stripe_secret_key`).
    pub fn from_config(config: &BillingConfig) -> anyhow::Result<Option<Self>> {
        let (Some(key), Some(webhook_secret)) = (&config.stripe_secret_key, &config.stripe_webhook_secret) else {
            return Ok(None);
        };
        let client = stripe::ClientBuilder::new(key.expose_secret())
            .url(config.stripe_api_base.trim_end_matches('/'))
            .timeout(CALL_TIMEOUT)
            .app_info("kefu", Some(env!("CARGO_PKG_VERSION").to_owned()), None)
            .build()
            .map_err(|e| anyhow::anyhow!("the Stripe client: {e}"))?;
        Ok(Some(Self {
            client,
            webhook_secret: webhook_secret.clone(),
            grace_days: config.grace_days,
            seats_changed: Arc::new(Notify::new()),
        }))
    }

    /// The client for requests.
    pub fn client(&self) -> &stripe::Client {
        &self.client
    }

    /// Tells this node's seat round that a workspace's members changed.
    pub fn seats_changed(&self) {
        self.seats_changed.notify_one();
    }
}

/// What went wrong talking to Stripe.
#[derive(Debug, thiserror::Error)]
pub enum StripeFailure {
    /// Stripe answered with an error or could not be reached.
    #[error("Stripe: {0}")]
    Call(#[from] stripe::StripeError),
    /// The database.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Anything else (a plan change that failed).
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<StripeFailure> for ApiError {
    fn from(failure: StripeFailure) -> Self {
        match failure {
            StripeFailure::Call(error) => {
                tracing::warn!(%error, "a Stripe call failed");
                ApiError::client(
                    ErrorCode::UpstreamUnavailable,
                    "The payment provider did not answer as expected; nothing was changed. Try again in a moment.",
                )
            }
            StripeFailure::Database(error) => error.into(),
            StripeFailure::Other(error) => ApiError::Internal(error),
        }
    }
}

/// A subscription's state as stored, and the price it bills.
pub fn state_of(subscription: &stripe_shared::Subscription) -> (SubscriptionState, Option<String>) {
    let item = subscription.items.data.first();
    let state = SubscriptionState {
        id: subscription.id.as_str().to_owned(),
        status: subscription.status.as_str().to_owned(),
        period_end: item.and_then(|i| DateTime::<Utc>::from_timestamp(i.current_period_end, 0)),
        cancel_at_period_end: subscription.cancel_at_period_end,
        seats: item.and_then(|i| i.quantity).and_then(|q| i32::try_from(q).ok()),
    };
    (state, item.map(|i| i.price.id.as_str().to_owned()))
}

/// The customer a subscription belongs to.
pub fn customer_of(subscription: &stripe_shared::Subscription) -> String {
    subscription.customer.id().as_str().to_owned()
}
