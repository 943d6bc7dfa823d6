//! How a subscription's state decides a workspace's plan ([`decide`]), and applying a state in
//! one transaction of the workspace: the state is stored, and the plan changes with all that
//! follows a plan change (`lifecycle::changed`). Applying the same state twice changes nothing.

use chrono::{DateTime, Utc};
use kefu_protocol::TenantId;

use super::StripeFailure;
use crate::billing::lifecycle;
use crate::db::subscriptions::SubscriptionState;
use crate::db::{self, Databases, TenantTx};
use crate::mail::Mail;

/// What a subscription's state makes of the workspace's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Put the workspace on this plan (ending a trial in course), for this cause.
    Plan(String, &'static str),
    /// Leave the plan as it is.
    Keep,
}

/// The plan a subscription in `status`, billing the price of `price_plan`, entitles to: the
/// price's plan while it is paid for (and during the grace period after a failed payment), Free
/// once it ended or the grace period is over, no change while a first payment is pending.
pub fn decide(
    status: &str,
    price_plan: Option<&str>,
    failing_since: Option<DateTime<Utc>>,
    grace_days: u32,
    now: DateTime<Utc>,
) -> Target {
    let paid = |plan: Option<&str>| plan.map_or(Target::Keep, |p| Target::Plan(p.to_owned(), "subscription"));
    match status {
        "active" | "trialing" => paid(price_plan),
        "past_due" | "unpaid" => {
            let grace_over =
                failing_since.is_some_and(|since| since + chrono::Duration::days(i64::from(grace_days)) <= now);
            if grace_over { Target::Plan(db::plans::FALLBACK.to_owned(), "payment_failed") } else { paid(price_plan) }
        }
        "canceled" | "paused" => Target::Plan(db::plans::FALLBACK.to_owned(), "subscription_ended"),
        // incomplete (the first payment pending), incomplete_expired (never paid): nothing was
        // bought, nothing is taken back.
        _ => Target::Keep,
    }
}

/// Applies a subscription's state to the workspace it belongs to. A state of an older
/// subscription that ended (the workspace subscribed again since) is ignored.
pub async fn subscription(
    databases: &Databases,
    grace_days: u32,
    tenant: TenantId,
    state: &SubscriptionState,
    price: Option<&str>,
) -> Result<(), StripeFailure> {
    let Some(schema) = db::tenants::active_schema(databases, tenant).await? else { return Ok(()) };
    let price_plan = match price {
        Some(price) => {
            let plan = db::plans::by_price(&mut *databases.control().acquire().await?, price).await?;
            if plan.is_none() {
                tracing::warn!(%tenant, price, "a subscription bills a price no plan has; its plan is left as it is");
            }
            plan.map(|p| p.id)
        }
        None => None,
    };
    let mut tx = TenantTx::begin(databases, &schema).await?;
    let stored = db::subscriptions::of(&mut tx).await?;
    let ended = matches!(state.status.as_str(), "canceled" | "incomplete_expired");
    if stored.subscription.as_deref().is_some_and(|s| s != state.id) && ended {
        return Ok(());
    }
    db::subscriptions::record(&mut tx, state).await?;
    let failing_since = db::subscriptions::of(&mut tx).await?.payment_failing_since;
    let target = decide(&state.status, price_plan.as_deref(), failing_since, grace_days, Utc::now());
    switch(&mut tx, target).await?;
    tx.commit().await?;
    Ok(())
}

/// Puts the transaction's workspace on the target plan unless it is there already (a trial in
/// course ends: the workspace now pays); mails the owner when a paid plan was lost.
pub async fn switch(tx: &mut TenantTx, target: Target) -> Result<(), StripeFailure> {
    let Target::Plan(plan, cause) = target else { return Ok(()) };
    let from = db::plans::current(tx).await?;
    let on_trial = db::tenants::current(tx).await?.is_some_and(|t| t.trial_ends_at.is_some());
    if from.id == plan && !on_trial {
        return Ok(());
    }
    if !db::plans::set(tx, &plan).await? {
        return Err(anyhow::anyhow!("no plan `{plan}`").into());
    }
    let to = db::plans::current(tx).await?;
    lifecycle::changed(tx, &from.id, &to, cause).await?;
    if cause != "subscription"
        && let Some((email, name)) = db::plans::owner(tx).await?
    {
        crate::mail::enqueue_for_tenant(tx, &email, &lost(&name, &from.name, &to.name, cause)).await?;
    }
    tracing::info!(tenant = %tx.tenant_id(), from = from.id, to = to.id, cause, "billing changed a plan");
    Ok(())
}

fn lost(name: &str, from: &str, to: &str, cause: &str) -> Mail {
    let (why_en, why_zh) = if cause == "payment_failed" {
        ("we could not collect your payment", "我们未能收取您的付款")
    } else {
        ("your subscription has ended", "您的订阅已结束")
    };
    Mail {
        subject: format!("Your Kefu workspace is now on {to} / 您的 Kefu 工作区已转为 {to} 套餐"),
        body: format!(
            "Hello {name},\n\nBecause {why_en}, your workspace moved from the {from} plan to the {to} plan. Nothing \
             was deleted: what {to} does not include is turned off and its limits apply from now on. Subscribe again \
             at any time from Settings → Billing.\n\n\
             您好 {name}，\n\n由于{why_zh}，您的工作区已从 {from} 套餐转为 {to} 套餐。没有任何数据被删除：{to} \
             不包含的功能已关闭，并从现在起按其额度计算。您可以随时在「设置 → 账单」中重新订阅。\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paid_subscription_gives_its_price_plan_and_a_failed_payment_keeps_it_through_the_grace() {
        let now = Utc::now();
        let at = |days_ago| Some(now - chrono::Duration::days(days_ago));
        let pro = || Target::Plan("pro".into(), "subscription");
        assert_eq!(decide("active", Some("pro"), None, 7, now), pro());
        assert_eq!(decide("trialing", Some("pro"), None, 7, now), pro());
        assert_eq!(decide("active", None, None, 7, now), Target::Keep, "a price no plan has changes nothing");
        assert_eq!(decide("past_due", Some("pro"), at(6), 7, now), pro());
        let free = |cause| Target::Plan("free".into(), cause);
        assert_eq!(decide("past_due", Some("pro"), at(8), 7, now), free("payment_failed"));
        assert_eq!(decide("unpaid", Some("pro"), at(7), 7, now), free("payment_failed"));
        assert_eq!(decide("canceled", Some("pro"), None, 7, now), free("subscription_ended"));
        assert_eq!(decide("incomplete", Some("pro"), None, 7, now), Target::Keep);
        assert_eq!(decide("incomplete_expired", Some("pro"), None, 7, now), Target::Keep);
    }
}
