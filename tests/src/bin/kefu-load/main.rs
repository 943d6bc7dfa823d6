//! `kefu-load`: the real-time core's benchmark suite. It speaks only the public WebSocket
//! protocol and HTTP, so it measures today's `kefu` and any later one the same way. Modes:
//!
//! - `closed`: durable messages/s at saturation (closed loop, next send on the previous ack);
//! - `rate`: visitor → agent across nodes at fixed rates (ack and delivery latency, sweep);
//! - `fanout`: rooms of one visitor and nine agents, persisted; `--socketio` drives the
//!   Socket.IO relay baseline (`infra/bench/socketio`) with the same load instead;
//! - `upgrades`: WebSocket upgrades/s with token check and tenant lookup;
//! - `idle`: server RSS per idle authenticated socket on one node (several client processes);
//! - `resume`: an agent re-following many conversations after a reconnect;
//! - `noisy`: a quiet workspace's latencies while another floods the API, page views or messages;
//! - `report`: one table per mode from a record file, every server side by side.
//!
//! Every mode reports the CPU each process used over its measured window. `infra/local/
//! bench-realtime.sh` (`make bench-realtime`) starts the servers and runs them all;
//! docs/benchmarks.md describes each mode. Loopback only; bounded in time.

mod cpu;
mod hist;
mod kefu;
mod modes;
mod net;
mod report;
mod sio;
mod sweep;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(about = "Benchmark suite for the Kefu real-time core")]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// Comma-separated api base URLs (nodes).
    #[arg(long, global = true, default_value = "http://127.0.0.1:8080")]
    api: String,
    /// The servers' visitor key (`kid:secret`), to mint visitor tokens as the edge does.
    #[arg(long, global = true, env = "KEFU_AUTH__VISITOR_KEYS", hide_env_values = true, default_value = "")]
    visitor_keys: String,
    /// What is measured, the first column of every row (e.g. `kefu 1a2b3c4`).
    #[arg(long, global = true, default_value = "kefu")]
    label: String,
    /// Appends each table as a JSON line here, for `report`.
    #[arg(long, global = true)]
    record: Option<PathBuf>,
    /// Processes whose CPU is reported, `label=pid,label=pid` (one label may repeat: summed).
    #[arg(long, global = true, default_value = "")]
    cpu: String,
    /// The bench database: Postgres backends serving it are reported apart from all postgres.
    #[arg(long, global = true)]
    pg_db: Option<String>,
    /// Client sockets bind to 127.0.0.2 … 127.0.0.(1+N) in turn (0: the kernel's choice), so
    /// thousands of connections do not exhaust one address's ephemeral ports.
    #[arg(long, global = true, default_value_t = 16)]
    source_ips: u32,
    /// Client-side pacing per connection, frames/s (the server allows 20/s; 0 = none).
    #[arg(long, global = true, default_value_t = 20.0)]
    conn_rate: f64,
    /// Client-side burst per connection (the server allows 40).
    #[arg(long, global = true, default_value_t = 20)]
    conn_burst: u32,
    /// Connections set up concurrently.
    #[arg(long, global = true, default_value_t = 64)]
    setup_concurrency: usize,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// Durable messages/s at saturation: N visitors, each sends as soon as its previous message
    /// is acknowledged (committed).
    Closed(modes::closed::Args),
    /// Visitor → agent across nodes at fixed total rates (a sweep when several).
    Rate(modes::rate::Args),
    /// Fan-out in rooms (one sender, the rest receive), persisted; or the Socket.IO relay.
    Fanout(modes::fanout::Args),
    /// WebSocket upgrades/s including token check and tenant lookup.
    Upgrades(modes::upgrades::Args),
    /// Server RSS per idle authenticated visitor socket on one node.
    Idle(modes::idle::Args),
    /// (internal) One client process of `idle`.
    #[command(hide = true)]
    IdleWorker(modes::idle::WorkerArgs),
    /// Resume: an agent reconnects and re-follows many conversations.
    Resume(modes::resume::Args),
    /// Noisy neighbour: a quiet workspace's latencies while another floods.
    Noisy(modes::noisy::Args),
    /// Prints one table per mode from a record file.
    Report {
        /// The record file (`--record` of the runs).
        file: PathBuf,
    },
}

/// What every mode shares.
pub struct Ctx {
    pub common: Common,
    pub nodes: Vec<String>,
    pub net: net::Net,
    pub cpu: cpu::CpuSpec,
}

impl Ctx {
    fn new(common: Common) -> Self {
        let nodes = common
            .api
            .split(',')
            .map(|s| s.trim().trim_end_matches('/').to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        let cpu = cpu::CpuSpec {
            named: cpu::parse_named(&common.cpu),
            pg_db: common.pg_db.clone(),
            load_children: Vec::new(),
        };
        Self { net: net::Net::new(common.source_ips, 0), nodes, cpu, common }
    }

    /// Node `i` modulo the number of nodes.
    pub fn node(&self, i: usize) -> &str {
        &self.nodes[i % self.nodes.len()]
    }

    pub fn pacer(&self) -> net::Pacer {
        net::Pacer::new(self.common.conn_rate, self.common.conn_burst)
    }

    pub async fn tenant(&self) -> kefu::Tenant {
        kefu::Tenant::signup(&self.nodes[0], &self.common.visitor_keys).await
    }

    pub fn emit(&self, table: &report::Table) {
        table.emit(&self.common.label, self.common.record.as_deref());
    }
}

/// Parses `500,1000,2000`.
pub fn list<T: std::str::FromStr>(spec: &str) -> Vec<T> {
    spec.split(',').filter_map(|s| s.trim().parse().ok()).collect()
}

fn main() {
    let cli = Cli::parse();
    let _ = net::now_us();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(async move {
        let ctx = Ctx::new(cli.common);
        match cli.mode {
            Mode::Closed(args) => modes::closed::run(&ctx, args).await,
            Mode::Rate(args) => modes::rate::run(&ctx, args).await,
            Mode::Fanout(args) => modes::fanout::run(&ctx, args).await,
            Mode::Upgrades(args) => modes::upgrades::run(&ctx, args).await,
            Mode::Idle(args) => modes::idle::run(&ctx, args).await,
            Mode::IdleWorker(args) => modes::idle::worker(&ctx, args).await,
            Mode::Resume(args) => modes::resume::run(&ctx, args).await,
            Mode::Noisy(args) => modes::noisy::run(&ctx, args).await,
            Mode::Report { file } => report::print(&file),
        }
    });
}
