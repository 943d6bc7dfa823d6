//! Group commit: concurrent message sends, from any tenant, are stored together, one statement
//! (one transaction, one WAL flush) per batch, and each sender is answered once its batch
//! committed.
//!
//! The batch window adapts to load without a timer. A send that finds a free slot (at most
//! `in_flight` batches run at once) is stored at once, alone: at low load nothing waits for
//! company. While every slot is busy, new sends queue; when a slot frees, everything queued (up to
//! `max_batch`) goes as the next batch. So batches grow exactly as fast as Postgres falls behind,
//! and shrink back to one when it catches up.
//!
//! A batch holds the messages of one tenant database: the sends taken together are split by their
//! tenants' databases, and the batches of different databases are stored at once.
//!
//! A refused message (closed conversation, bad attachment, duplicate client id) is an outcome of
//! its own and never affects the rest of its batch. If the statement fails for another reason
//! (a constraint, a deadlock, anything unexpected), nothing of the batch was stored, and each of
//! its messages is stored again on its own, so only the one that really fails gets an error. If
//! the database is unreachable, every sender is told to retry (their client ids make the retry
//! safe even when the commit did happen before the connection broke).

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::db::message_batch::{MessageBatch, NewMessage, Stored};
use crate::db::{DatabaseId, Databases, TenantSchema};

/// Tuning of the batcher.
#[derive(Debug, Clone, Copy)]
pub struct GroupCommit {
    /// Most messages in one batch.
    pub max_batch: usize,
    /// Most batches being stored at once (each holds a pooled connection while it runs).
    pub in_flight: usize,
}

impl Default for GroupCommit {
    fn default() -> Self {
        Self { max_batch: 256, in_flight: 2 }
    }
}

/// Sends waiting for a batch before new ones wait for room (back-pressure on the sessions).
const QUEUE: usize = 16 * 1024;

struct Request {
    tenant: TenantSchema,
    message: NewMessage,
    reply: oneshot::Sender<sqlx::Result<Stored>>,
}

/// The handle sessions store messages through. Cheap to clone; the batcher stops when the last
/// handle is dropped.
#[derive(Clone)]
pub struct MessageStore {
    queue: mpsc::Sender<Request>,
}

impl MessageStore {
    /// Starts the batcher over `databases`. Call inside the runtime.
    pub fn start(databases: Databases, tuning: GroupCommit) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(batcher(databases, receiver, tuning));
        Self { queue }
    }

    /// Stores one message; returns once the batch it went in committed (or failed).
    pub async fn store(&self, tenant: &TenantSchema, message: NewMessage) -> sqlx::Result<Stored> {
        let (reply, answer) = oneshot::channel();
        let request = Request { tenant: tenant.clone(), message, reply };
        self.queue.send(request).await.map_err(|_| sqlx::Error::PoolClosed)?;
        answer.await.map_err(|_| sqlx::Error::PoolClosed)?
    }
}

async fn batcher(databases: Databases, mut receiver: mpsc::Receiver<Request>, tuning: GroupCommit) {
    let slots = Arc::new(Semaphore::new(tuning.in_flight.max(1)));
    let max_batch = tuning.max_batch.max(1);
    while let Some(first) = receiver.recv().await {
        // While every slot is busy, later sends queue up behind this one and join its batch.
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let mut batch = Vec::with_capacity(max_batch.min(64));
        batch.push(first);
        while batch.len() < max_batch {
            match receiver.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let databases = databases.clone();
        tokio::spawn(async move {
            let by_database = split_by_database(batch);
            futures_util::future::join_all(
                by_database.into_iter().map(|(database, requests)| store_batch(&databases, database, requests)),
            )
            .await;
            drop(slot);
        });
    }
}

/// The requests grouped by their tenants' databases (usually one group).
fn split_by_database(requests: Vec<Request>) -> Vec<(DatabaseId, Vec<Request>)> {
    let mut groups: Vec<(DatabaseId, Vec<Request>)> = Vec::new();
    for request in requests {
        match groups.iter_mut().find(|(database, _)| database == request.tenant.database()) {
            Some((_, group)) => group.push(request),
            None => groups.push((request.tenant.database().clone(), vec![request])),
        }
    }
    groups
}

async fn store_batch(databases: &Databases, database: DatabaseId, requests: Vec<Request>) {
    let started = Instant::now();
    let size = requests.len();
    metrics::histogram!("kefu_store_batch_size").record(size as f64);
    let mut batch = MessageBatch::new(database.clone(), size);
    for request in &requests {
        batch.push(&request.tenant, request.message.clone());
    }
    match batch.store(databases).await {
        Ok(outcomes) => {
            metrics::histogram!("kefu_store_batch_duration_seconds").record(started.elapsed().as_secs_f64());
            count_stored(&outcomes);
            for (request, outcome) in requests.into_iter().zip(outcomes) {
                let _ = request.reply.send(Ok(outcome));
            }
        }
        Err(error) if size == 1 => {
            metrics::counter!("kefu_store_batches_failed_total").increment(1);
            if let Some(request) = requests.into_iter().next() {
                let _ = request.reply.send(Err(error));
            }
        }
        Err(error) if crate::error::is_unavailable(&error) => {
            metrics::counter!("kefu_store_batches_failed_total").increment(1);
            tracing::warn!(%error, size, "the database is unavailable; senders are told to retry");
            for request in requests {
                let _ = request.reply.send(Err(sqlx::Error::PoolTimedOut));
            }
        }
        Err(error) => {
            // Nothing of the batch was stored: store each message alone, so only a message that
            // fails by itself gets the error.
            metrics::counter!("kefu_store_batches_failed_total").increment(1);
            tracing::warn!(%error, size, "a message batch failed; storing its messages one by one");
            for request in requests {
                let mut single = MessageBatch::new(database.clone(), 1);
                single.push(&request.tenant, request.message);
                let outcome = single.store(databases).await.and_then(|mut outcomes| {
                    outcomes.pop().ok_or_else(|| sqlx::Error::Protocol("no outcome for a single message".into()))
                });
                match &outcome {
                    Ok(outcome) => count_stored(std::slice::from_ref(outcome)),
                    Err(_) => metrics::counter!("kefu_store_batches_failed_total").increment(1),
                }
                let _ = request.reply.send(outcome);
            }
        }
    }
}

fn count_stored(outcomes: &[Stored]) {
    let stored = outcomes.iter().filter(|o| matches!(o, Stored::New { .. })).count();
    metrics::counter!("kefu_messages_stored_total").increment(stored as u64);
}
