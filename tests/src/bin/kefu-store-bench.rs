//! `kefu-store-bench`: durable message throughput of the storing path alone, its alternatives
//! side by side in one run against one scratch database (docs/benchmarks.md, "Storing messages").
//!
//! Every mode stores through the same routine (`kefu.store_messages_v3`) and differs only in how
//! sends are grouped:
//! - `per-message`: one statement (one transaction, one WAL flush) per message, 16 at once on the
//!   pool — how messages were stored before group commit;
//! - `per-message + commit_delay`: the same with Postgres' own group commit (`commit_delay`,
//!   `commit_siblings`), which lets concurrent commits share a WAL flush;
//! - `group commit ×N`: the application's batcher with N batches in flight;
//! - `group commit ×2, no search queue`: the same with the `messages` trigger that queues each
//!   message for the search index switched off, the baseline of what that trigger costs;
//! - `group commit ×2, no webhook capture`: the same with the webhook outbox's triggers on
//!   `messages` and `conversations` switched off (the scratch tenants have no endpoint, as most
//!   workspaces: what capturing costs a workspace without webhooks).
//!
//! Each sender is a closed loop (the next message once the previous one is committed), writing
//! into its own visitor's conversation; senders are spread over the given number of tenants.
//! Reports messages/s, commit latency percentiles and the CPU Postgres and the bench used.
//!
//! Example: `kefu-store-bench --senders 64,256 --tenants 1,50 --seconds 5`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use kefu_api::db::message_batch::{Destination, NewMessage, Stored};
use kefu_api::db::{self, TenantSchema};
use kefu_api::ops::group_commit::{GroupCommit, MessageStore};
use kefu_protocol::VisitorId;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, PgPool};

#[derive(Parser, Debug)]
#[command(about = "Durable message throughput of the storing path, its alternatives side by side")]
struct Args {
    /// Concurrent senders (comma-separated list; each value is a scenario).
    #[arg(long, default_value = "64,256")]
    senders: String,
    /// Tenants the senders are spread over (comma-separated list).
    #[arg(long, default_value = "1,50")]
    tenants: String,
    /// Measured seconds per mode (after one second of warm-up).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Postgres to create the scratch database next to.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// A superuser connection to the same server, to set `commit_delay` on the scratch database
    /// for the Postgres group-commit mode (skipped when it cannot connect).
    #[arg(long, env = "KEFU_BENCH_ADMIN_URL", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    admin_url: String,
}

#[derive(Clone, Copy)]
struct Mode {
    name: &'static str,
    tuning: GroupCommit,
    commit_delay: bool,
    /// The `messages` trigger that queues each message for the search index is on (as in
    /// production); off only in the baseline that measures what it costs.
    search_queue: bool,
    /// The compliance feed's columns take the writing transaction's id and are indexed (as in
    /// production); off only in the baseline that measures what they cost.
    feed: bool,
    /// The webhook outbox's capture triggers are on (as in production); off only in the baseline
    /// that measures what they cost.
    webhooks: bool,
}

const MODES: [Mode; 8] = [
    Mode {
        name: "per-message",
        tuning: GroupCommit { max_batch: 1, in_flight: 16 },
        commit_delay: false,
        search_queue: true,
        feed: true,
        webhooks: true,
    },
    Mode {
        name: "per-message + commit_delay",
        tuning: GroupCommit { max_batch: 1, in_flight: 16 },
        commit_delay: true,
        search_queue: true,
        feed: true,
        webhooks: true,
    },
    Mode {
        name: "group commit ×1",
        tuning: GroupCommit { max_batch: 256, in_flight: 1 },
        commit_delay: false,
        search_queue: true,
        feed: true,
        webhooks: true,
    },
    Mode {
        name: "group commit ×2, no search queue",
        tuning: GroupCommit { max_batch: 256, in_flight: 2 },
        commit_delay: false,
        search_queue: false,
        feed: true,
        webhooks: true,
    },
    Mode {
        name: "group commit ×2, no feed index",
        tuning: GroupCommit { max_batch: 256, in_flight: 2 },
        commit_delay: false,
        search_queue: true,
        feed: false,
        webhooks: true,
    },
    Mode {
        name: "group commit ×2, no webhook capture",
        tuning: GroupCommit { max_batch: 256, in_flight: 2 },
        commit_delay: false,
        search_queue: true,
        feed: true,
        webhooks: false,
    },
    Mode {
        name: "group commit ×2",
        tuning: GroupCommit { max_batch: 256, in_flight: 2 },
        commit_delay: false,
        search_queue: true,
        feed: true,
        webhooks: true,
    },
    Mode {
        name: "group commit ×4",
        tuning: GroupCommit { max_batch: 256, in_flight: 4 },
        commit_delay: false,
        search_queue: true,
        feed: true,
        webhooks: true,
    },
];

/// Turns the compliance feed's transaction column and index on or off in every tenant schema.
async fn set_feed(pool: &PgPool, schemas: &[TenantSchema], on: bool) -> anyhow::Result<()> {
    for schema in schemas {
        let s = schema.name();
        let sql = if on {
            format!(
                "alter table {s}.messages alter column feed_txid set default pg_current_xact_id();
                 create index messages_feed_idx on {s}.messages (feed_epoch, feed_txid, id)"
            )
        } else {
            format!("drop index {s}.messages_feed_idx; alter table {s}.messages alter column feed_txid set default '0'")
        };
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(pool).await?;
    }
    Ok(())
}

/// Turns the search queue's trigger on or off in every tenant schema.
async fn set_search_queue(pool: &PgPool, schemas: &[TenantSchema], on: bool) -> anyhow::Result<()> {
    let verb = if on { "enable" } else { "disable" };
    for schema in schemas {
        pool.execute(sqlx::AssertSqlSafe(format!(
            "alter table {}.messages {verb} trigger messages_search_enqueue",
            schema.name()
        )))
        .await?;
    }
    Ok(())
}

/// Turns the webhook outbox's capture triggers on `messages` and `conversations` on or off in
/// every tenant schema.
async fn set_webhook_capture(pool: &PgPool, schemas: &[TenantSchema], on: bool) -> anyhow::Result<()> {
    let verb = if on { "enable" } else { "disable" };
    for schema in schemas {
        let s = schema.name();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "alter table {s}.messages {verb} trigger messages_webhook_capture;
             alter table {s}.conversations {verb} trigger conversations_webhook_created;
             alter table {s}.conversations {verb} trigger conversations_webhook_changed"
        )))
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// `commit_delay` (µs) and `commit_siblings` of the Postgres group-commit mode: a committing
/// backend waits this long for company when at least that many other transactions are open.
const COMMIT_DELAY: (u32, u32) = (500, 5);

fn list(text: &str) -> Vec<usize> {
    text.split(',').filter_map(|s| s.trim().parse().ok()).collect()
}

/// CPU seconds (user + system) used so far by processes named `comm` (all of them), or by this one.
fn cpu_seconds(comm: Option<&str>) -> f64 {
    let ticks = 100.0;
    let stat = |path: &std::path::Path| -> Option<(String, f64)> {
        let text = std::fs::read_to_string(path).ok()?;
        let open = text.find('(')?;
        let close = text.rfind(')')?;
        let name = text[open + 1..close].to_owned();
        let fields: Vec<&str> = text[close + 2..].split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        Some((name, (utime + stime) / ticks))
    };
    match comm {
        None => stat(std::path::Path::new("/proc/self/stat")).map_or(0.0, |(_, s)| s),
        Some(comm) => std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| stat(&entry.path().join("stat")))
            .filter(|(name, _)| name == comm)
            .map(|(_, seconds)| seconds)
            .sum(),
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)] as f64 / 1000.0
}

fn pool(url: &str) -> PgPool {
    let options: PgConnectOptions = url.parse().expect("database url");
    PgPoolOptions::new()
        .max_connections(24)
        .acquire_timeout(Duration::from_secs(60))
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("set search_path to ''").await?;
                Ok(())
            })
        })
        .connect_lazy_with(options)
}

/// Sets (or resets) Postgres' group commit for new sessions of the scratch database
/// (`commit_delay` can only be set by a superuser). False when that is not possible.
async fn set_commit_delay(admin_url: &str, database: &str, on: bool) -> bool {
    let Ok(options) = admin_url.parse::<PgConnectOptions>() else { return false };
    let Ok(mut admin) = options.connect().await else { return false };
    let (delay, siblings) = COMMIT_DELAY;
    let statements = if on {
        [
            format!("alter database {database} set commit_delay = {delay}"),
            format!("alter database {database} set commit_siblings = {siblings}"),
        ]
    } else {
        [
            format!("alter database {database} reset commit_delay"),
            format!("alter database {database} reset commit_siblings"),
        ]
    };
    for statement in statements {
        if admin.execute(sqlx::AssertSqlSafe(statement)).await.is_err() {
            return false;
        }
    }
    let _ = admin.close().await;
    true
}

struct Sender {
    schema: TenantSchema,
    visitor: VisitorId,
}

struct Outcome {
    stored: u64,
    latencies_us: Vec<u64>,
    postgres_cpu: f64,
    bench_cpu: f64,
    elapsed: f64,
}

async fn run_mode(url: &str, mode: Mode, run: usize, senders: &[Arc<Sender>], seconds: u64) -> Outcome {
    let pool = pool(url);
    let store = MessageStore::start(db::Databases::new(pool.clone(), Default::default()), mode.tuning);
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (i, sender) in senders.iter().enumerate() {
        let (store, sender, measuring, stop) = (store.clone(), sender.clone(), measuring.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let message = NewMessage {
                    destination: Destination::Visitor { visitor: sender.visitor },
                    client_id: format!("r{run}-{i}-{n}"),
                    body: "load test message 负载测试".into(),
                    attachment: None,
                };
                let started = Instant::now();
                let stored = store.store(&sender.schema, message).await;
                if measuring.load(Ordering::Relaxed) {
                    match stored {
                        Ok(Stored::New { .. }) => latencies.push(started.elapsed().as_micros() as u64),
                        other => panic!("store failed: {other:?}"),
                    }
                }
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (pg_before, me_before) = (cpu_seconds(Some("postgres")), cpu_seconds(None));
    let started = Instant::now();
    measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let (pg_after, me_after) = (cpu_seconds(Some("postgres")), cpu_seconds(None));
    stop.store(true, Ordering::Relaxed);
    let mut latencies_us = Vec::new();
    for task in tasks {
        latencies_us.extend(task.await.expect("sender"));
    }
    latencies_us.sort_unstable();
    drop(store);
    pool.close().await;
    Outcome {
        stored: latencies_us.len() as u64,
        latencies_us,
        postgres_cpu: (pg_after - pg_before) / elapsed,
        bench_cpu: (me_after - me_before) / elapsed,
        elapsed,
    }
}

struct Progress;

impl kefu_api::tenancy::migrate::Progress for Progress {
    fn start(&self, _total: u64) {}
    fn advance(&self) {}
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (senders_list, tenants_list) = (list(&args.senders), list(&args.tenants));
    let base: PgConnectOptions = args.database_url.parse()?;
    let name = format!("kefu_storebench_{}", std::process::id());
    let mut admin = base.connect().await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "create database {name} encoding 'UTF8' template template0 lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8'"
        )))
        .await?;
    let url = base.clone().database(&name).to_url_lossy().to_string();
    let result = bench(&args, &url, &name, &senders_list, &tenants_list).await;
    admin.execute(sqlx::AssertSqlSafe(format!("drop database if exists {name} with (force)"))).await?;
    admin.close().await?;
    result
}

async fn bench(
    args: &Args,
    url: &str,
    database: &str,
    senders_list: &[usize],
    tenants_list: &[usize],
) -> anyhow::Result<()> {
    let setup = db::Databases::new(db::connect(url, 4, Duration::from_secs(30))?, Default::default());
    kefu_api::tenancy::migrate::migrate_all(&setup, 2, &Progress).await?;
    let most_tenants = tenants_list.iter().copied().max().unwrap_or(1) as u64;
    kefu_api::tenancy::migrate::create_unmigrated_tenants(&setup, &db::DatabaseId::main(), most_tenants, "storebench")
        .await?;
    kefu_api::tenancy::migrate::migrate_all(&setup, 2, &Progress).await?;
    let ids: Vec<kefu_protocol::TenantId> =
        sqlx::query_scalar("select id from control.tenants order by id").fetch_all(setup.control()).await?;
    let mut schemas: Vec<TenantSchema> = Vec::new();
    let mut conn = setup.control().acquire().await?;
    for id in ids {
        let access = db::tenants::find_access(&mut conn, id).await?;
        let (tenant, _) = kefu_api::auth::TenantCtx::admit(access).map_err(|e| anyhow::anyhow!("{e}"))?;
        schemas.push(tenant.schema);
    }
    drop(conn);
    let most_senders = senders_list.iter().copied().max().unwrap_or(1);
    // One visitor per sender per tenant, created up front.
    let mut visitors: Vec<Vec<VisitorId>> = Vec::new();
    for schema in &schemas {
        let ids: Vec<VisitorId> = (0..most_senders).map(|_| VisitorId::from_uuid(uuid::Uuid::now_v7())).collect();
        let mut tx = db::TenantTx::begin(&setup, schema).await?;
        for id in &ids {
            db::visitors::touch(&mut tx, *id, &db::visitors::Seen::default()).await?;
        }
        tx.commit().await?;
        visitors.push(ids);
    }
    // Kept open to switch the search queue's trigger between modes.
    let switches = setup.control().clone();

    println!(
        "## kefu-store-bench: durable messages/s by grouping mode ({} s each, same database, same run)",
        args.seconds
    );
    println!();
    println!(
        "| senders | tenants | mode | msg/s | p50 ms | p99 ms | p99.9 ms | Postgres CPU (cores) | bench CPU (cores) |"
    );
    println!("|---:|---:|---|---:|---:|---:|---:|---:|---:|");
    let mut run = 0;
    for &tenant_count in tenants_list {
        for &sender_count in senders_list {
            let senders: Vec<Arc<Sender>> = (0..sender_count)
                .map(|i| {
                    let t = i % tenant_count.max(1);
                    Arc::new(Sender { schema: schemas[t].clone(), visitor: visitors[t][i] })
                })
                .collect();
            for mode in MODES {
                run += 1;
                if mode.commit_delay && !set_commit_delay(&args.admin_url, database, true).await {
                    println!(
                        "| {sender_count} | {tenant_count} | {} | skipped: no superuser connection (KEFU_BENCH_ADMIN_URL) | | | | | |",
                        mode.name
                    );
                    continue;
                }
                if !mode.search_queue {
                    set_search_queue(&switches, &schemas, false).await?;
                }
                if !mode.webhooks {
                    set_webhook_capture(&switches, &schemas, false).await?;
                }
                if !mode.feed {
                    set_feed(&switches, &schemas, false).await?;
                }
                let outcome = run_mode(url, mode, run, &senders, args.seconds).await;
                if !mode.search_queue {
                    set_search_queue(&switches, &schemas, true).await?;
                }
                if !mode.webhooks {
                    set_webhook_capture(&switches, &schemas, true).await?;
                }
                if !mode.feed {
                    set_feed(&switches, &schemas, true).await?;
                }
                if mode.commit_delay {
                    set_commit_delay(&args.admin_url, database, false).await;
                }
                println!(
                    "| {sender_count} | {tenant_count} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                    mode.name,
                    outcome.stored as f64 / outcome.elapsed,
                    percentile(&outcome.latencies_us, 0.50),
                    percentile(&outcome.latencies_us, 0.99),
                    percentile(&outcome.latencies_us, 0.999),
                    outcome.postgres_cpu,
                    outcome.bench_cpu,
                );
            }
        }
    }
    println!();
    let (delay, siblings) = COMMIT_DELAY;
    println!(
        "commit_delay mode: commit_delay = {delay} µs, commit_siblings = {siblings}; per-message modes keep 16 statements in flight; group commit batches up to 256 messages."
    );
    Ok(())
}
