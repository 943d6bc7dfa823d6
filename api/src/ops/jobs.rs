//! Working through a queue of jobs concurrently, up to a limit, until shutdown: how the features
//! fed by the after-commit events (the FAQ bot, automatic replies, routing rules) run their work
//! off the path of the change that triggered it.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};
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
