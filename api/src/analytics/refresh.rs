//! The incremental refresh of one tenant's analytics (docs/analytics.md, "Keeping it current"):
//! conversations changed since the watermark get their facts recomputed, visitors with new page
//! views get their visits cut again, and the hours and days those touch get their rollups
//! recomputed; chunk by chunk, each its own transaction, with the watermarks moved only once
//! everything before the refresh's start is covered.

use chrono::{DateTime, Utc};
use kefu_protocol::{ConversationId, VisitorId};

use crate::db::{self, Databases, TenantSchema, TenantTx};

/// Conversations (or visitors) per chunk.
const CHUNK: i64 = 2_000;
/// Stale hours rolled up per transaction (three weeks).
const STALE_HOURS: i64 = 500;

/// How far a refresh got.
#[derive(Debug, Clone, Copy)]
pub struct Freshness {
    /// Everything stored before this instant is counted.
    pub through: Option<DateTime<Utc>>,
    /// Whether the refresh caught up (false: it stopped at its chunk budget; the rest follows).
    pub complete: bool,
}

/// Refreshes `schema`'s analytics, doing at most `max_chunks` chunks (`None`: all).
pub async fn refresh(databases: &Databases, schema: &TenantSchema, max_chunks: Option<u32>) -> sqlx::Result<Freshness> {
    let mut tx = begin(databases, schema).await?;
    let state = db::analytics::state(&mut tx).await?;
    // The refresh covers what committed before it started; the next one starts here (less
    // the overlap).
    let started = db::analytics::now(&mut tx).await?;
    let timezone = timezone_of(&mut tx).await?;
    if timezone != state.timezone {
        db::analytics::recut_days(&mut tx, &timezone).await?;
    }
    tx.commit().await?;

    // Facts first, chunk by chunk, each chunk marking the hours it touched stale; the rollups of
    // the stale hours after (a backfill touches each hour many times, and recomputes it once).
    let mut chunks = 0u32;
    let mut complete = true;
    let budget_left = |chunks: u32| max_chunks.is_none_or(|max| chunks < max);
    let mut after: Option<ConversationId> = None;
    loop {
        if !budget_left(chunks) {
            complete = false;
            break;
        }
        chunks += 1;
        let mut tx = begin(databases, schema).await?;
        let ids = db::analytics::changed_conversations(&mut tx, state.conversations_through, after, CHUNK).await?;
        let hours = db::analytics::compute_conversations(&mut tx, &ids).await?;
        db::analytics::mark_stale(&mut tx, &hours).await?;
        tx.commit().await?;
        after = ids.last().copied();
        if (ids.len() as i64) < CHUNK {
            break;
        }
    }
    let mut after: Option<VisitorId> = None;
    while complete {
        if !budget_left(chunks) {
            complete = false;
            break;
        }
        chunks += 1;
        let mut tx = begin(databases, schema).await?;
        let visitors = db::analytics::visitors_with_new_views(&mut tx, state.page_views_through, after, CHUNK).await?;
        let hours = db::analytics::sessionize_visits(&mut tx, state.page_views_through, &visitors).await?;
        db::analytics::mark_stale(&mut tx, &hours).await?;
        tx.commit().await?;
        after = visitors.last().copied();
        if (visitors.len() as i64) < CHUNK {
            break;
        }
    }
    loop {
        let mut tx = begin(databases, schema).await?;
        let stale = db::analytics::take_stale_hours(&mut tx, STALE_HOURS).await?;
        rollup(&mut tx, &timezone, &stale).await?;
        tx.commit().await?;
        if (stale.len() as i64) < STALE_HOURS {
            break;
        }
    }
    if !complete {
        return Ok(Freshness { through: state.conversations_through.min(state.page_views_through), complete: false });
    }
    let mut tx = begin(databases, schema).await?;
    db::analytics::advance(&mut tx, started).await?;
    tx.commit().await?;
    metrics::counter!("kefu_analytics_refreshes_total").increment(1);
    Ok(Freshness { through: Some(started), complete: true })
}

/// A transaction of the refresh: refresh transactions of one tenant take turns.
async fn begin(databases: &Databases, schema: &TenantSchema) -> sqlx::Result<TenantTx> {
    let mut tx = TenantTx::begin(databases, schema).await?;
    db::analytics::serialize(&mut tx).await?;
    Ok(tx)
}

/// Recomputes the hourly rollups of `hours` and the daily ones of their local days.
async fn rollup(tx: &mut TenantTx, timezone: &str, hours: &[DateTime<Utc>]) -> sqlx::Result<()> {
    if hours.is_empty() {
        return Ok(());
    }
    let mut hours = hours.to_vec();
    hours.sort_unstable();
    hours.dedup();
    db::analytics::rollup_hours(tx, &hours).await?;
    let days = db::analytics::days_of(tx, timezone, &hours).await?;
    db::analytics::rollup_days(tx, timezone, &days).await
}

/// The time zone a tenant's days are cut in: its business hours' zone, else UTC.
pub async fn timezone_of(tx: &mut TenantTx) -> sqlx::Result<String> {
    let hours = db::service_hours::current(tx).await?;
    Ok(hours.business_hours.map_or_else(|| "UTC".to_owned(), |b| b.timezone))
}
