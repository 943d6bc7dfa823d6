//! Working through a queue of jobs concurrently, up to a limit, until shutdown: how the features
//! fed by the after-commit events (the FAQ bot, automatic replies, routing rules) run their work
//! off the path of the change that triggered it; and [`drain_tenants`], for work that catches a
//! whole tenant up (search indexing, webhook visits), where wake-ups of one tenant coalesce.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;

use kefu_protocol::TenantId;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Spawns a task that runs `work` on each job from `jobs`, at most `limit` at once, until
/// `shutdown` (jobs running then finish; queued ones are dropped).
pub fn run_concurrently<J, F, Fut>(
    mut jobs: mpsc::UnboundedReceiver<J>,
    limit: usize,
    shutdown: CancellationToken,
    work: F,
) where
    J: Send + 'static,
    F: Fn(J) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let work = Arc::new(work);
    tokio::spawn(async move {
        let permits = Arc::new(Semaphore::new(limit));
        loop {
            let job = tokio::select! {
                _ = shutdown.cancelled() => return,
                job = jobs.recv() => match job { Some(job) => job, None => return },
            };
            let Ok(permit) = permits.clone().acquire_owned().await else { return };
            let work = work.clone();
            tokio::spawn(async move {
                work(job).await;
                drop(permit);
            });
        }
    });
}

/// Runs `work` for each woken tenant until `shutdown`: at most `limit` tenants at once, each
/// tenant once at a time, wake-ups of a waiting tenant merged into one, and a wake-up during its
/// run running it once more afterwards (so nothing committed meanwhile waits for the next wake).
pub async fn drain_tenants<F, Fut>(
    mut wakes: mpsc::UnboundedReceiver<TenantId>,
    limit: usize,
    shutdown: CancellationToken,
    work: F,
) where
    F: Fn(TenantId) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut queued: VecDeque<TenantId> = VecDeque::new();
    let mut waiting: HashSet<TenantId> = HashSet::new();
    let mut running: HashMap<tokio::task::Id, TenantId> = HashMap::new();
    let mut again: HashSet<TenantId> = HashSet::new();
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            woken = wakes.recv() => {
                let Some(tenant) = woken else { return };
                if running.values().any(|t| *t == tenant) {
                    again.insert(tenant);
                } else if waiting.insert(tenant) {
                    queued.push_back(tenant);
                }
            }
            Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(error) => error.id(),
                };
                if let Some(tenant) = running.remove(&id)
                    && again.remove(&tenant)
                    && waiting.insert(tenant)
                {
                    queued.push_back(tenant);
                }
            }
        }
        while tasks.len() < limit {
            let Some(tenant) = queued.pop_front() else { break };
            waiting.remove(&tenant);
            let handle = tasks.spawn(work(tenant));
            running.insert(handle.id(), tenant);
        }
    }
}
