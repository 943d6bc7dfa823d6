//! Idle authenticated sockets on one node: opens as many idle visitor sockets (after `hello`) as
//! asked on ONE node, from several client processes (each has its own open-files limit) and
//! several loopback source addresses, and reports the server RSS added per socket
//! (`/proc/<pid>/status`) and its extrapolation to 50,000 and 100,000 sockets.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::Ctx;
use crate::cpu::rss_kib;
use crate::kefu::{Tenant, open_visitor};
use crate::net::{Net, Ws};
use crate::report::{Table, thousands};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Idle sockets to open on the (first) node.
    #[arg(long, default_value_t = 19_000)]
    count: usize,
    /// Client processes sharing them.
    #[arg(long, default_value_t = 2)]
    procs: usize,
    /// The node's process id (its RSS is read).
    #[arg(long)]
    pid: u32,
    /// Seconds to let the server settle before reading its RSS.
    #[arg(long, default_value_t = 3)]
    settle: u64,
}

#[derive(clap::Args, Debug)]
pub struct WorkerArgs {
    #[arg(long)]
    tenant: String,
    #[arg(long)]
    count: usize,
    /// First source address is 127.0.0.(2 + offset).
    #[arg(long, default_value_t = 0)]
    ip_offset: u32,
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

pub async fn run(ctx: &Ctx, args: Args) {
    let tenant = ctx.tenant().await;
    let node = ctx.nodes[0].clone();
    let procs = args.procs.max(1);
    let ips = (ctx.common.source_ips / procs as u32).max(1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_kib(args.pid).expect("read the node's RSS (is --pid right?)");
    let fds_before = fds(args.pid);
    eprintln!("idle: {} sockets on {node} from {procs} processes; node RSS before {} MiB", args.count, before / 1024);
    let exe = std::env::current_exe().expect("current executable");
    let started = Instant::now();
    let mut children = Vec::new();
    for p in 0..procs {
        let count = args.count / procs + usize::from(p < args.count % procs);
        let child = tokio::process::Command::new(&exe)
            .args(["--api", &node, "--source-ips", &ips.to_string(), "--setup-concurrency"])
            .arg(ctx.common.setup_concurrency.to_string())
            .args(["idle-worker", "--tenant", &tenant.id, "--count", &count.to_string(), "--ip-offset"])
            .arg((p as u32 * ips).to_string())
            .env("KEFU_AUTH__VISITOR_KEYS", &ctx.common.visitor_keys)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn an idle-worker process");
        children.push(child);
    }
    let mut cpu = ctx.cpu.clone();
    cpu.load_children = children.iter().filter_map(tokio::process::Child::id).collect();
    let cpu_before = cpu.sample();
    let mut opened = 0usize;
    let mut failed = 0usize;
    for child in &mut children {
        let stdout = child.stdout.take().expect("worker stdout");
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.strip_prefix("ready ") {
                let mut it = rest.split_whitespace().filter_map(|x| x.parse::<usize>().ok());
                opened += it.next().unwrap_or(0);
                failed += it.next().unwrap_or(0);
                break;
            }
        }
    }
    let open_secs = started.elapsed().as_secs_f64();
    let cpu_after = cpu.sample();
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let after = rss_kib(args.pid).unwrap_or(0);
    let fds_after = fds(args.pid);
    let (cpu_cell, cpu_json) = cpu.between(&cpu_before, &cpu_after);
    let added = after.saturating_sub(before);
    let per = added as f64 / opened.max(1) as f64;
    let base_mib = before as f64 / 1024.0;
    let at = |n: f64| base_mib + per * n / 1024.0;
    eprintln!("  {opened} open ({failed} failed) in {open_secs:.1} s; +{} MiB: {per:.2} KiB per socket", added / 1024);
    for mut child in children {
        drop(child.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    }
    ctx.emit(&Table {
        mode: "idle",
        columns: vec![
            "server",
            "idle sockets (failed)",
            "node RSS before MiB",
            "after MiB",
            "added per socket KiB",
            "extrapolated 50,000 MiB",
            "extrapolated 100,000 MiB",
            "node fds before → after",
            "opened in s",
            "CPU cores",
        ],
        rows: vec![vec![
            ctx.common.label.clone(),
            format!("{} ({failed})", thousands(opened as f64)),
            thousands(base_mib),
            thousands(after as f64 / 1024.0),
            format!("{per:.2}"),
            thousands(at(50_000.0)),
            thousands(at(100_000.0)),
            format!("{fds_before} → {fds_after}"),
            format!("{open_secs:.1}"),
            cpu_cell,
        ]],
        notes: vec![format!(
            "Authenticated visitor sockets (after `hello` → `welcome`), idle, on one fresh node, opened from {procs} client processes (CPU: while opening). The open-files limit (20,000 per process, the server's included) caps one node at about 19,000 here, so the 50,000 and 100,000 figures are extrapolated: the node's RSS before plus the measured added RSS per socket times the count."
        )],
        summary: json!({ "kib_per_socket": per, "base_mib": base_mib, "opened": opened, "failed": failed, "cpu": cpu_json }),
    });
}

/// One client process of `idle`: opens its sockets, says `ready <opened> <failed>`, keeps them
/// open (answering the server's pings) until stdin closes.
pub async fn worker(ctx: &Ctx, args: WorkerArgs) {
    let tenant = Arc::new(Tenant::existing(&args.tenant, &ctx.common.visitor_keys));
    let net = Net::new(ctx.common.source_ips, args.ip_offset);
    let node = ctx.nodes[0].clone();
    let sockets: Vec<Ws> = super::setup("idle sockets", args.count, ctx.common.setup_concurrency, |_| {
        let (tenant, net, node) = (tenant.clone(), net.clone(), node.clone());
        async move { open_visitor(&net, &tenant, &node).await }
    })
    .await;
    let opened = sockets.len();
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|mut ws| tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} }))
        .collect();
    println!("ready {opened} {}", args.count - opened);
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    for task in tasks {
        task.abort();
    }
}
