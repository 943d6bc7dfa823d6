//! Conversations per month on every node (docs/billing.md "Conversations per month"): each
//! opened conversation is counted in Redis (`INCR` on the workspace's month key), the count
//! re-read from Postgres whenever Redis lost it (a restart, a new month); when it reaches the
//! plan's number the node records in the workspace's `quota_state` until when the month is used
//! up, and conversations opened until then are offline messages (the trigger decides, in the
//! transaction that opens them). Without Redis the count is read from Postgres each time.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kefu_protocol::TenantId;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::db::{self, Databases, TenantTx};
use crate::ops::events::{Change, Subscriber};
use crate::redis_link::RedisLink;

/// Month keys outlive their month by a few days (the next month's key starts afresh).
const KEY_TTL_SECS: i64 = 35 * 24 * 3600;

/// Hears of opened conversations (an [`crate::ops::events`] subscriber).
#[derive(Debug, Clone)]
pub struct QuotaCounter {
    opened: mpsc::UnboundedSender<TenantId>,
}

/// The opened conversations the counter heard of, until [`start`] takes them.
pub struct Opened(mpsc::UnboundedReceiver<TenantId>);

impl QuotaCounter {
    /// The subscription and its queue.
    pub fn new() -> (Self, Opened) {
        let (opened, receiver) = mpsc::unbounded_channel();
        (Self { opened }, Opened(receiver))
    }
}

impl Subscriber for QuotaCounter {
    fn committed(&self, change: &Change) {
        if let Change::MessageStored { tenant, opened: true, .. } = change {
            let _ = self.opened.send(*tenant);
        }
    }
}

/// Starts counting on this node until `shutdown`. What arrived while a round ran is counted
/// together, per workspace, in the next (one transaction and one `INCRBY` per workspace however
/// many conversations it opened meanwhile), so a flood of new conversations never queues work
/// per conversation.
pub fn start(mut opened: Opened, databases: Databases, redis: Option<RedisLink>, shutdown: CancellationToken) {
    tokio::spawn(async move {
        loop {
            let first = tokio::select! {
                () = shutdown.cancelled() => return,
                tenant = opened.0.recv() => match tenant { Some(tenant) => tenant, None => return },
            };
            let mut round: HashMap<TenantId, i64> = HashMap::from([(first, 1)]);
            while let Ok(tenant) = opened.0.try_recv() {
                *round.entry(tenant).or_default() += 1;
            }
            for (tenant, count) in round {
                if let Err(error) = count_opened(&databases, redis.as_ref(), tenant, count).await {
                    tracing::warn!(%tenant, error = format!("{error:#}"), "opened conversations were not counted");
                }
            }
        }
    });
}

/// Counts `count` opened conversations of `tenant` and records whether the month is now used up.
pub async fn count_opened(
    databases: &Databases,
    redis: Option<&RedisLink>,
    tenant: TenantId,
    count: i64,
) -> anyhow::Result<()> {
    let Some(schema) = db::tenants::active_schema(databases, tenant).await? else { return Ok(()) };
    let mut tx = TenantTx::begin(databases, &schema).await?;
    let month = this_month(&mut tx, Utc::now()).await?;
    let limit = i64::from(db::plans::current(&mut tx).await?.conversations_per_month);
    let used = match redis {
        Some(redis) => match incr(redis, tenant, &month, count, &mut tx).await {
            Ok(used) => used,
            Err(error) => {
                tracing::warn!(%tenant, %error, "Redis did not count; counting in Postgres");
                db::quotas::conversations_since(&mut tx, month.starts_at).await?
            }
        },
        None => db::quotas::conversations_since(&mut tx, month.starts_at).await?,
    };
    let full_until = (used >= limit).then_some(month.ends_at);
    if db::quotas::set_conversations_full(&mut tx, full_until).await? {
        tracing::info!(%tenant, used, limit, full = full_until.is_some(), "the month's conversation quota changed");
    }
    tx.commit().await?;
    Ok(())
}

/// Re-decides whether the month is used up from the Postgres count (after a plan change: more
/// or fewer conversations allowed).
pub async fn recheck(tx: &mut TenantTx) -> sqlx::Result<()> {
    let month = this_month(tx, Utc::now()).await?;
    let limit = i64::from(db::plans::current(tx).await?.conversations_per_month);
    let used = db::quotas::conversations_since(tx, month.starts_at).await?;
    db::quotas::set_conversations_full(tx, (used >= limit).then_some(month.ends_at)).await.map(drop)
}

/// The workspace's current month, in its time zone (its business hours', else UTC).
pub async fn this_month(tx: &mut TenantTx, at: DateTime<Utc>) -> sqlx::Result<db::quotas::Month> {
    let timezone = crate::analytics::refresh::timezone_of(tx).await?;
    db::quotas::month_at(tx, &timezone, at).await
}

/// Adds `count` to the month's count in Redis; a count Redis did not have is re-read from
/// Postgres (which already holds these conversations).
async fn incr(
    redis: &RedisLink,
    tenant: TenantId,
    month: &db::quotas::Month,
    count: i64,
    tx: &mut TenantTx,
) -> anyhow::Result<i64> {
    let key = format!("kefu:quota:{{{}}}:conversations:{}", tenant.simple(), month.label);
    let mut conn = redis.clone();
    let used: i64 = redis::cmd("INCRBY").arg(&key).arg(count).query_async(&mut conn).await?;
    if used > count {
        return Ok(used);
    }
    let recorded = db::quotas::conversations_since(tx, month.starts_at).await?;
    let mut pipe = redis::pipe();
    if recorded > used {
        pipe.cmd("INCRBY").arg(&key).arg(recorded - used).ignore();
    }
    pipe.cmd("EXPIRE").arg(&key).arg(KEY_TTL_SECS).ignore();
    pipe.query_async::<()>(&mut conn).await?;
    Ok(recorded.max(used))
}
