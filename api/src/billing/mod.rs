//! The SaaS business (docs/billing.md): what a plan includes ([`Feature`]), the checks handlers
//! make against it, and the plan's life ([`lifecycle`]: trials that end, and what a workspace
//! loses when its plan changes), the quotas counted on every node ([`quotas`]), and Stripe
//! ([`payments`]: Checkout, the Customer Portal, webhooks, seats, grace periods). The plans
//! themselves are rows (`db::plans`).

pub mod lifecycle;
pub mod payments;
pub mod quotas;

use kefu_protocol::{ErrorCode, TenantId};

use crate::db;
use crate::error::ApiError;

/// What a plan includes besides numbers (`control.plans.features`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// The FAQ bot.
    Bot,
    /// API keys (and, with them, the developer platform).
    Api,
    /// Choosing the workspace's region.
    Regions,
    /// Scheduled analytics reports by email.
    AnalyticsExport,
}

impl Feature {
    /// Its name in `control.plans.features`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Feature::Bot => "bot",
            Feature::Api => "api",
            Feature::Regions => "regions",
            Feature::AnalyticsExport => "analytics_export",
        }
    }

    /// How the console and errors name it.
    const fn label(self) -> &'static str {
        match self {
            Feature::Bot => "The FAQ bot",
            Feature::Api => "API access",
            Feature::Regions => "Choosing a region",
            Feature::AnalyticsExport => "Scheduled reports",
        }
    }
}

/// `plan_feature_required` unless the workspace's plan includes `feature`.
pub async fn require(conn: &mut sqlx::PgConnection, tenant: TenantId, feature: Feature) -> Result<(), ApiError> {
    if db::plans::has_feature(conn, tenant, feature.as_str()).await? {
        return Ok(());
    }
    Err(missing(feature))
}

/// `plan_feature_required` for `feature`.
pub fn missing(feature: Feature) -> ApiError {
    ApiError::client(
        ErrorCode::PlanFeatureRequired,
        format!("{} is not included in this workspace's plan; upgrade to use it.", feature.label()),
    )
}
