//! WebSocket upgrades/s including the token check and the tenant lookup: C concurrent workers
//! repeatedly open a visitor (or agent) WebSocket with a valid token, complete the handshake
//! (101) and, for the second figure, `hello` → `welcome`, then drop it. Client sockets rotate
//! over loopback source addresses so the ports left in TIME_WAIT do not run out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::hist::{Hist, ms};
use crate::kefu::hello;
use crate::report::{Table, thousands};
use crate::{Ctx, list};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Concurrent workers.
    #[arg(long, default_value_t = 32)]
    workers: usize,
    /// Seconds measured per kind.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// What to measure: visitor-101, visitor-welcome, agent-101, agent-welcome.
    #[arg(long, default_value = "visitor-101,visitor-welcome,agent-101,agent-welcome")]
    kinds: String,
    /// Distinct visitors whose tokens are reused in turn (returning visitors).
    #[arg(long, default_value_t = 1000)]
    visitors: usize,
}

#[derive(Default)]
struct Stats {
    latency: Hist,
    ok: AtomicU64,
    tcp_errors: AtomicU64,
    refused: AtomicU64,
    no_welcome: AtomicU64,
}

pub async fn run(ctx: &Ctx, args: Args) {
    let tenant = Arc::new(ctx.tenant().await);
    let node = ctx.nodes[0].clone();
    let visitor_urls: Arc<Vec<String>> =
        Arc::new((0..args.visitors.max(1)).map(|_| tenant.visitor_url(&node, &tenant.visitor_token())).collect());
    let agent_url = tenant.agent_url(&node);
    let mut rows = Vec::new();
    let mut kinds_json = Vec::new();
    for kind in list::<String>(&args.kinds) {
        let (agent, welcome) = match kind.as_str() {
            "visitor-101" => (false, false),
            "visitor-welcome" => (false, true),
            "agent-101" => (true, false),
            "agent-welcome" => (true, true),
            other => {
                eprintln!("unknown kind {other}, skipped");
                continue;
            }
        };
        eprintln!("upgrades: {kind}, {} workers, {} s", args.workers, args.seconds);
        let stats = Arc::new(Stats::default());
        let start = Instant::now() + Duration::from_millis(100);
        let end = start + Duration::from_secs(args.seconds);
        let next = Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = (0..args.workers.max(1))
            .map(|_| {
                let (stats, net, next, visitor_urls, agent_url) =
                    (stats.clone(), ctx.net.clone(), next.clone(), visitor_urls.clone(), agent_url.clone());
                tokio::spawn(async move {
                    tokio::time::sleep_until(start.into()).await;
                    while Instant::now() < end {
                        let url = if agent {
                            agent_url.as_str()
                        } else {
                            let k = next.fetch_add(1, Ordering::Relaxed) as usize % visitor_urls.len();
                            visitor_urls[k].as_str()
                        };
                        let began = Instant::now();
                        match net.connect(url).await {
                            Err(crate::net::ConnectError::Tcp(_)) => {
                                stats.tcp_errors.fetch_add(1, Ordering::Relaxed);
                                tokio::time::sleep(Duration::from_millis(10)).await;
                            }
                            Err(crate::net::ConnectError::Handshake(_)) => {
                                stats.refused.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(mut ws) => {
                                if welcome && hello(&mut ws).await.is_err() {
                                    stats.no_welcome.fetch_add(1, Ordering::Relaxed);
                                    continue;
                                }
                                if Instant::now() <= end {
                                    stats
                                        .latency
                                        .record(u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX));
                                    stats.ok.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        tokio::time::sleep_until(start.into()).await;
        let cpu_before = ctx.cpu.sample();
        tokio::time::sleep_until(end.into()).await;
        let cpu_after = ctx.cpu.sample();
        for task in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(40), task).await;
        }
        let (cpu_cell, cpu_json) = ctx.cpu.between(&cpu_before, &cpu_after);
        let per_s = stats.ok.load(Ordering::Relaxed) as f64 / args.seconds as f64;
        let q = stats.latency.summary();
        let label = match kind.as_str() {
            "visitor-101" => "visitor: upgrade (101)",
            "visitor-welcome" => "visitor: upgrade + hello → welcome",
            "agent-101" => "agent: upgrade (101)",
            _ => "agent: upgrade + hello → welcome",
        };
        eprintln!("  {per_s:.0}/s, p99 {:.2} ms; {cpu_cell}", q.p99);
        rows.push(vec![
            ctx.common.label.clone(),
            label.to_owned(),
            thousands(args.workers as f64),
            thousands(per_s),
            ms(q.p50),
            ms(q.p99),
            format!(
                "{} / {} / {}",
                stats.tcp_errors.load(Ordering::Relaxed),
                stats.refused.load(Ordering::Relaxed),
                stats.no_welcome.load(Ordering::Relaxed)
            ),
            cpu_cell,
        ]);
        kinds_json.push(json!({ "kind": label, "per_s": per_s, "latency_ms": q.json(), "cpu": cpu_json }));
        // Let the server finish closing the sessions before the next kind.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    ctx.emit(&Table {
        mode: "upgrades",
        columns: vec![
            "server",
            "kind",
            "workers",
            "upgrades/s",
            "p50 ms",
            "p99 ms",
            "tcp errors / refused / no welcome",
            "CPU cores",
        ],
        rows,
        notes: vec![format!(
            "One node. Each worker opens a WebSocket with a valid token (visitor: the tenant is looked up; agent: membership, user, tenant and display name are read), completes the handshake, optionally exchanges `hello`/`welcome`, and drops the connection; then the next. Latency is TCP connect to 101 (or to `welcome`). {} s per kind; client sockets rotate over {} loopback source addresses.",
            args.seconds, ctx.common.source_ips
        )],
        summary: json!({ "kinds": kinds_json }),
    });
}
