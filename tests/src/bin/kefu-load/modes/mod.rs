//! One module per benchmark mode.

pub mod closed;
pub mod fanout;
pub mod idle;
pub mod noisy;
pub mod rate;
pub mod resume;
pub mod upgrades;

use futures_util::StreamExt;

/// Runs `make(i)` for `0..count` with `concurrency` in flight; results in index order. Failed
/// connections are counted and reported, not fatal (unless none succeed).
pub async fn setup<T, F, Fut>(what: &str, count: usize, concurrency: usize, make: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let started = std::time::Instant::now();
    let mut results: Vec<(usize, Result<T, String>)> = futures_util::stream::iter(0..count)
        .map(|i| {
            let f = make(i);
            async move { (i, f.await) }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    results.sort_by_key(|(i, _)| *i);
    let mut out = Vec::with_capacity(count);
    let mut failed = 0;
    let mut first_error = None;
    for (_, result) in results {
        match result {
            Ok(value) => out.push(value),
            Err(error) => {
                failed += 1;
                first_error.get_or_insert(error);
            }
        }
    }
    eprintln!("  {what}: {} ready in {:.1} s", out.len(), started.elapsed().as_secs_f64());
    if let Some(error) = first_error {
        eprintln!("  {what}: {failed} failed, first: {error}");
    }
    assert!(out.len() == count || !out.is_empty(), "no {what} could be set up");
    out
}
