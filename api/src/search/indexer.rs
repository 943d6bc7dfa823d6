//! Keeping the index current (docs/search.md, "Indexing"). Storing a message queues it in the
//! tenant's `search_pending` in the same transaction (a statement trigger) and marks the tenant
//! in its database's `kefu.search_dirty`; after the commit, this node's [`IndexerHandle`] hears of
//! it and the indexer drains the tenant's queue into `search_docs` (a batch per transaction,
//! `skip locked`, so nodes share the work). A node that dies between a commit and its indexing
//! loses nothing: every node's sweep looks for marked tenants every `search.sweep_secs` and
//! drains them.

use std::time::Duration;

use kefu_protocol::TenantId;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::text;
use crate::db::{self, Databases, TenantTx};
use crate::ops::events::{Change, Subscriber};

/// Tenants drained at once per node.
const CONCURRENCY: usize = 4;
/// Messages indexed per transaction.
const BATCH: i64 = 500;
/// Marked tenants a sweep takes per database.
const SWEEP_TENANTS: i64 = 1_000;

/// The indexer's subscription to committed changes: every stored message wakes its tenant's
/// drain.
pub struct IndexerHandle {
    wake: mpsc::UnboundedSender<TenantId>,
}

impl Subscriber for IndexerHandle {
    fn committed(&self, change: &Change) {
        if let Change::MessageStored { tenant, .. } = change {
            let _ = self.wake.send(*tenant);
        }
    }
}

/// The tenants to drain, until [`Indexer::start`] takes them.
pub struct Indexer {
    sender: mpsc::UnboundedSender<TenantId>,
    receiver: mpsc::UnboundedReceiver<TenantId>,
}

impl Indexer {
    /// The subscription and its queue.
    pub fn new() -> (IndexerHandle, Self) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (IndexerHandle { wake: sender.clone() }, Self { sender, receiver })
    }

    /// Runs the indexer and its sweep (every `sweep`) until `shutdown`.
    pub fn start(self, databases: Databases, sweep: Duration, shutdown: CancellationToken) {
        let Self { sender, receiver } = self;
        tokio::spawn(sweeper(databases.clone(), sender, sweep, shutdown.clone()));
        tokio::spawn(crate::ops::jobs::drain_tenants(receiver, CONCURRENCY, shutdown, move |tenant| {
            let databases = databases.clone();
            async move {
                if let Err(error) = drain(&databases, tenant).await {
                    tracing::warn!(%error, %tenant, "indexing failed; the next message or sweep retries");
                }
            }
        }));
    }
}

/// Indexes everything queued for `tenant`; returns how many messages.
pub async fn drain(databases: &Databases, tenant: TenantId) -> sqlx::Result<u64> {
    drain_with_progress(databases, tenant, &|_| {}).await
}

/// Empties the tenant's index and builds it again from its messages (`kefu tenants reindex`);
/// `progress` hears of each batch's size. Returns how many messages were indexed.
pub async fn reindex(databases: &Databases, tenant: TenantId, progress: &(dyn Fn(u64) + Sync)) -> sqlx::Result<u64> {
    let Some(schema) = db::tenants::active_schema(databases, tenant).await? else {
        return Ok(0);
    };
    let mut tx = TenantTx::begin(databases, &schema).await?;
    db::search::queue_everything(&mut tx).await?;
    tx.commit().await?;
    drain_with_progress(databases, tenant, progress).await
}

/// A tenant's stored messages (what a re-index goes through, for a progress bar).
pub async fn message_count(databases: &Databases, tenant: TenantId) -> sqlx::Result<i64> {
    let Some(schema) = db::tenants::active_schema(databases, tenant).await? else {
        return Ok(0);
    };
    let mut tx = TenantTx::begin(databases, &schema).await?;
    let count = db::search::message_count(&mut tx).await?;
    tx.commit().await?;
    Ok(count)
}

async fn drain_with_progress(
    databases: &Databases,
    tenant: TenantId,
    progress: &(dyn Fn(u64) + Sync),
) -> sqlx::Result<u64> {
    let Some(schema) = db::tenants::active_schema(databases, tenant).await? else {
        return Ok(0);
    };
    let mut tx = TenantTx::begin(databases, &schema).await?;
    let marks = db::search::dirty_marks(&mut tx).await?;
    tx.commit().await?;
    let mut total = 0;
    loop {
        let mut tx = TenantTx::begin(databases, &schema).await?;
        let taken = index_batch(&mut tx).await?;
        tx.commit().await?;
        total += taken;
        progress(taken);
        if taken < BATCH as u64 {
            break;
        }
    }
    if !marks.is_empty() {
        let mut tx = TenantTx::begin(databases, &schema).await?;
        db::search::clear_dirty_marks(&mut tx, &marks).await?;
        tx.commit().await?;
    }
    metrics::counter!("kefu_search_indexed_total").increment(total);
    Ok(total)
}

/// Indexes up to [`BATCH`] queued messages in `tx`; returns how many.
async fn index_batch(tx: &mut TenantTx) -> sqlx::Result<u64> {
    let pending = db::search::take_pending(tx, BATCH).await?;
    let taken = pending.len() as u64;
    let docs: Vec<db::search::Doc> = pending
        .into_iter()
        .map(|p| {
            let terms = match &p.attachment_name {
                Some(name) => text::document(&format!("{}\n{name}", p.body)),
                None => text::document(&p.body),
            };
            db::search::Doc { message: p.id, conversation: p.conversation_id, created_at: p.created_at, terms }
        })
        .collect();
    db::search::insert_docs(tx, &docs).await?;
    Ok(taken)
}

/// Every `every`, looks in each tenant database for tenants with queued messages and wakes
/// their drain (forgetting tenants whose schema is no longer there or that are not active).
async fn sweeper(
    databases: Databases,
    wake: mpsc::UnboundedSender<TenantId>,
    every: Duration,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(error) = sweep(&databases, &wake).await {
            tracing::warn!(%error, "search index sweep failed; the next one retries");
        }
    }
}

async fn sweep(databases: &Databases, wake: &mpsc::UnboundedSender<TenantId>) -> sqlx::Result<()> {
    let registered = {
        let mut conn = databases.control().acquire().await?;
        db::databases::list(&mut conn).await?
    };
    for database in registered {
        let pool = databases.maintenance_pool(&database.id).await?;
        let mut conn = pool.acquire().await?;
        for (tenant, here) in db::search::dirty_tenants(&mut conn, SWEEP_TENANTS).await? {
            // A tenant deleted, moved away or suspended has nothing this node can index; a
            // suspended one's queue is drained by its first message once it is active again.
            if here && db::tenants::active_schema(databases, tenant).await?.is_some() {
                let _ = wake.send(tenant);
            } else {
                db::search::forget_tenant(&mut conn, tenant).await?;
            }
        }
    }
    Ok(())
}
