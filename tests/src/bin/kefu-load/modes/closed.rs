//! Durable messages/s at saturation: N visitor connections spread over the nodes; each sends its
//! next message as soon as the previous one is acknowledged (`ack` = committed in Postgres),
//! paced only by the server's per-connection frame limit (so N × 20/s caps the figure).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::hist::{Hist, ms};
use crate::kefu::{open_visitor, send_and_ack};
use crate::net::{Ws, next_text, now_us, send};
use crate::report::{Table, thousands};
use crate::{Ctx, list};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Connection counts, one measurement each.
    #[arg(long, default_value = "50,200,1000")]
    conns: String,
    /// Seconds measured per count (after the warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds of sending before the measured window.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
}

#[derive(Default)]
struct Stats {
    ack: Hist,
    acked: AtomicU64,
    rate_limited: AtomicU64,
    errors: AtomicU64,
    disconnects: AtomicU64,
}

pub async fn run(ctx: &Ctx, args: Args) {
    let tenant = Arc::new(ctx.tenant().await);
    let mut rows = Vec::new();
    let mut best: f64 = 0.0;
    let mut runs = Vec::new();
    for n in list::<usize>(&args.conns) {
        eprintln!("closed loop: {n} visitor connections on {} node(s)", ctx.nodes.len());
        let sockets: Vec<Ws> = super::setup("visitors", n, ctx.common.setup_concurrency, |i| {
            let (tenant, net, node) = (tenant.clone(), ctx.net.clone(), ctx.node(i).to_owned());
            async move {
                let mut ws = open_visitor(&net, &tenant, &node).await?;
                send_and_ack(&mut ws, "hello").await?;
                Ok(ws)
            }
        })
        .await;
        let stats = Arc::new(Stats::default());
        let begin = Instant::now() + Duration::from_millis(100);
        let window_start = begin + Duration::from_secs(args.warmup);
        let window_end = window_start + Duration::from_secs(args.seconds);
        let tasks: Vec<_> = sockets
            .into_iter()
            .enumerate()
            .map(|(i, ws)| {
                // No burst: a row must never exceed connections × the frame limit.
                let pacer = crate::net::Pacer::new(ctx.common.conn_rate, 1);
                tokio::spawn(connection(ws, i, pacer, stats.clone(), begin, window_start, window_end))
            })
            .collect();
        tokio::time::sleep_until(window_start.into()).await;
        let cpu_before = ctx.cpu.sample();
        tokio::time::sleep_until(window_end.into()).await;
        let cpu_after = ctx.cpu.sample();
        for task in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(35), task).await;
        }
        let (cpu_cell, cpu_json) = ctx.cpu.between(&cpu_before, &cpu_after);
        let acked = stats.acked.load(Ordering::Relaxed) as f64 / args.seconds as f64;
        best = best.max(acked);
        let q = stats.ack.summary();
        let cap = n as f64 * ctx.common.conn_rate;
        eprintln!("  {acked:.0} acked msg/s, ack p99 {:.2} ms; {cpu_cell}", q.p99);
        rows.push(vec![
            ctx.common.label.clone(),
            thousands(n as f64),
            thousands(acked),
            ms(q.p50),
            ms(q.p99),
            ms(q.p999),
            ms(q.max),
            if cap > 0.0 { thousands(cap) } else { "–".into() },
            format!(
                "{} / {} / {}",
                stats.rate_limited.load(Ordering::Relaxed),
                stats.errors.load(Ordering::Relaxed),
                stats.disconnects.load(Ordering::Relaxed)
            ),
            cpu_cell,
        ]);
        runs.push(json!({ "conns": n, "acked_per_s": acked, "ack_ms": q.json(), "cpu": cpu_json }));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    ctx.emit(&Table {
        mode: "closed",
        columns: vec![
            "server",
            "connections",
            "acked msg/s",
            "ack p50 ms",
            "ack p99 ms",
            "ack p99.9 ms",
            "ack max ms",
            "cap: conns × frame limit",
            "rate-limited / errors / disconnects",
            "CPU cores",
        ],
        rows,
        notes: vec![format!(
            "Closed loop: each connection sends its next message when the previous one is acked (committed), paced under the server's per-connection frame limit ({}/s, client-side), so a row can never exceed its cap. {} s measured after {} s of warm-up; connections spread over the nodes.",
            ctx.common.conn_rate, args.seconds, args.warmup
        )],
        summary: json!({ "best_acked_per_s": best, "runs": runs }),
    });
}

async fn connection(
    mut ws: Ws,
    i: usize,
    mut pacer: crate::net::Pacer,
    stats: Arc<Stats>,
    begin: Instant,
    window_start: Instant,
    window_end: Instant,
) {
    tokio::time::sleep_until(begin.into()).await;
    let mut n = 0u64;
    'messages: while Instant::now() < window_end {
        let client_id = format!("c{i}_{n}");
        n += 1;
        let frame = format!(r#"{{"type":"send","client_id":"{client_id}","body":"load test message 负载测试"}}"#);
        // Latency counts from the first attempt (after pacing), retries included.
        let mut first_sent = None;
        let needle = format!("\"client_id\":\"{client_id}\"");
        loop {
            pacer.wait().await;
            let sent = *first_sent.get_or_insert_with(now_us);
            if send(&mut ws, frame.as_str()).await.is_err() {
                stats.disconnects.fetch_add(1, Ordering::Relaxed);
                return;
            }
            // Wait for this message's ack (the echo and other frames are skipped).
            let retry = loop {
                let text = match next_text(&mut ws, Duration::from_secs(30)).await {
                    Ok(text) => text,
                    Err(_) => {
                        stats.disconnects.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                };
                if text.contains("\"type\":\"ack\"") && text.contains(&needle) {
                    let now = Instant::now();
                    if now >= window_start && now <= window_end {
                        stats.ack.record(now_us().saturating_sub(sent));
                        stats.acked.fetch_add(1, Ordering::Relaxed);
                    }
                    break false;
                }
                if text.contains("\"type\":\"error\"") {
                    if text.contains("rate_limited") {
                        stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                        break true;
                    }
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    if text.contains(&needle) {
                        continue 'messages;
                    }
                }
            };
            if !retry {
                break;
            }
            // Refused by the frame limit: resend the same client id after a pause.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let _ = ws.close(None).await;
}
