//! A plan's life: trials that end (a job on every node, each workspace in its own transaction so
//! nodes never end one twice) and what a workspace loses when its plan changes. Nothing is
//! deleted: features the new plan lacks are turned off, data over its limits stays and can no
//! longer grow (docs/billing.md).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Feature;
use crate::db::audit::Actor;
use crate::db::{self, Databases, TenantTx};
use crate::mail::Mail;

/// Workspaces whose trial ends per round, at most.
const ROUND: i64 = 100;

/// Starts the trial job on this node: a round every `every` until `shutdown`.
pub fn start(databases: Databases, every: Duration, shutdown: CancellationToken) {
    tokio::spawn(async move {
        loop {
            if let Err(error) = end_trials(&databases).await {
                tracing::warn!(error = format!("{error:#}"), "a trial round failed; the next round retries");
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    });
}

/// Ends the trials that are over: the workspace goes to the fallback plan, loses what that plan
/// lacks, gets an audit entry, and its owner a mail. Returns how many ended here.
pub async fn end_trials(databases: &Databases) -> anyhow::Result<usize> {
    let due = db::plans::due_trials(&mut *databases.control().acquire().await?, ROUND).await?;
    let mut ended = 0;
    for tenant in due {
        let Some(schema) = db::tenants::active_schema(databases, tenant).await? else { continue };
        let mut tx = TenantTx::begin(databases, &schema).await?;
        let Some(tried) = db::plans::end_trial(&mut tx).await? else { continue };
        let plan = db::plans::current(&mut tx).await?;
        changed(&mut tx, &tried, &plan, "trial_ended").await?;
        if let Some((email, name)) = db::plans::owner(&mut tx).await? {
            crate::mail::enqueue_for_tenant(&mut tx, &email, &trial_ended(&name, &plan.name)).await?;
        }
        tx.commit().await?;
        tracing::info!(%tenant, from = tried, to = plan.id, "a trial ended");
        ended += 1;
    }
    Ok(ended)
}

/// Puts a workspace on `plan` (the operator's `kefu tenants plan`, later billing) with what
/// follows; returns the plan it was on. Fails if there is no such plan.
pub async fn switch(
    databases: &Databases,
    schema: &db::TenantSchema,
    plan: &str,
    cause: &str,
) -> anyhow::Result<String> {
    let mut tx = TenantTx::begin(databases, schema).await?;
    let from = db::plans::current(&mut tx).await?.id;
    anyhow::ensure!(db::plans::set(&mut tx, plan).await?, "no plan `{plan}`");
    let to = db::plans::current(&mut tx).await?;
    changed(&mut tx, &from, &to, cause).await?;
    tx.commit().await?;
    Ok(from)
}

/// After the operator edited a plan's features or monthly conversations: every active workspace
/// on it gets what follows a plan change (features it no longer has turned off, the month's quota
/// decided again), each in its own transaction. Returns how many workspaces were visited.
pub async fn plan_edited(databases: &Databases, plan: &str) -> anyhow::Result<usize> {
    let tenants = db::plans::tenants_on(&mut *databases.control().acquire().await?, plan).await?;
    let mut visited = 0;
    for tenant in tenants {
        let Some(schema) = db::tenants::active_schema(databases, tenant).await? else { continue };
        let mut tx = TenantTx::begin(databases, &schema).await?;
        let now = db::plans::current(&mut tx).await?;
        if now.id == plan {
            changed(&mut tx, plan, &now, "plan_edited").await?;
            tx.commit().await?;
            visited += 1;
        }
    }
    Ok(visited)
}

/// What follows a plan change, in the transaction that made it: features the plan lacks are
/// turned off, and the audit log records the change with its cause.
pub async fn changed(tx: &mut TenantTx, from: &str, to: &db::plans::Plan, cause: &str) -> sqlx::Result<()> {
    let mut turned_off = Vec::new();
    if !to.features.iter().any(|f| f == Feature::Bot.as_str()) && db::bot::turn_off(tx).await? {
        turned_off.push(Feature::Bot.as_str());
    }
    super::quotas::recheck(tx).await?;
    let detail = serde_json::json!({ "from": from, "to": to.id, "cause": cause, "turned_off": turned_off });
    db::audit::record(tx, Actor::System, "plan.changed", None, detail).await
}

fn trial_ended(name: &str, plan: &str) -> Mail {
    Mail {
        subject: "Your Kefu trial has ended / 您的 Kefu 试用已结束".into(),
        body: format!(
            "Hello {name},\n\nYour trial has ended and your workspace is now on the {plan} plan. Your conversations, \
             visitors and settings are all kept; what the {plan} plan does not include is turned off, and limits apply \
             from now on. Upgrade at any time from Settings → Billing.\n\n\
             您好 {name}，\n\n您的试用已结束，工作区现已转为 {plan} 套餐。所有会话、访客与设置均完整保留；该套餐不包含的功能已关闭，\
             并从现在起按其额度计算。您可以随时在「设置 → 账单」中升级。\n"
        ),
    }
}
