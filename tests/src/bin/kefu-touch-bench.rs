//! `kefu-touch-bench`: Postgres backend memory under a load that touches every tenant
//! (docs/benchmarks.md, "Backend memory under a load touching every tenant").
//!
//! Against an existing control database (and its tenant databases), every tenant is touched once
//! in turn through the api's own pools (`db::Databases`): one message batch per tenant, a message
//! to a conversation that does not exist, so the storing routine's statements all run (planned
//! for that tenant's schema) and nothing is written. Meanwhile the private memory (`RssAnon`) of
//! the pools' backends is sampled; the peak is reported. Run once per `--recycle` value, side by
//! side in one process: `0` (connections kept forever, as before) and the api's default.
//!
//! Example: `kefu-touch-bench --control postgres://… --recycle 0,1000 --connections 4`

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use kefu_api::db::databases::PoolSettings;
use kefu_api::db::message_batch::{Destination, MessageBatch, NewMessage};
use kefu_api::db::{self, Databases, TenantSchema};

#[derive(Parser, Debug)]
#[command(about = "Postgres backend memory under a load that touches every tenant")]
struct Args {
    /// The control database's URL.
    #[arg(long)]
    control: String,
    /// `database.recycle_after_uses` values to compare (comma-separated; 0 = never).
    #[arg(long, default_value = "0,1000")]
    recycle: String,
    /// Connections per pool (the control pool and each tenant database's).
    #[arg(long, default_value_t = 4)]
    connections: u32,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tokio::runtime::Runtime::new()?.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    println!(
        "| connections recycled after (uses) | tenants touched | seconds | peak backend private memory MiB (RssAnon, per backend) | peak total MiB (all backends) | backends opened |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for recycle in args.recycle.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let recycle: u32 = recycle.parse()?;
        let settings = PoolSettings {
            max_connections: args.connections,
            acquire_timeout: Duration::from_secs(30),
            recycle_after_uses: recycle,
            ..PoolSettings::default()
        };
        let control = db::connect_recycling(&args.control, args.connections, settings.acquire_timeout, recycle)?;
        let databases = Databases::new(control, settings);
        let tenants = placed_tenants(&databases).await?;
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = tokio::spawn(sample(args.control.clone(), stop.clone()));
        let started = Instant::now();
        for schema in &tenants {
            let mut batch = MessageBatch::new(schema.database().clone(), 1);
            batch.push(
                schema,
                NewMessage {
                    destination: Destination::Agent {
                        agent: kefu_protocol::UserId::from_uuid(uuid::Uuid::now_v7()),
                        name: "bench".into(),
                        conversation: kefu_protocol::ConversationId::from_uuid(uuid::Uuid::now_v7()),
                        private: false,
                        directs: false,
                    },
                    client_id: "touch".into(),
                    body: "touch".into(),
                    attachment: None,
                },
            );
            batch.store(&databases).await?;
        }
        let elapsed = started.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let (peak, peak_total, opened) = sampler.await??;
        println!(
            "| {} | {} | {elapsed:.1} | {:.0} | {:.0} | {opened} |",
            if recycle == 0 { "never".to_owned() } else { recycle.to_string() },
            tenants.len(),
            peak as f64 / 1024.0,
            peak_total as f64 / 1024.0,
        );
        databases.control().close().await;
        for (_, pool) in databases.open_pools() {
            pool.close().await;
        }
    }
    Ok(())
}

/// Every tenant with its placement, as the api reads it.
async fn placed_tenants(databases: &Databases) -> anyhow::Result<Vec<TenantSchema>> {
    let ids: Vec<kefu_protocol::TenantId> =
        sqlx::query_scalar("select id from control.tenants order by database_id, created_at")
            .fetch_all(databases.control())
            .await?;
    let mut conn = databases.control().acquire().await?;
    let mut tenants = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(access) = db::tenants::find_access(&mut conn, id).await? {
            tenants.push(access.schema);
        }
    }
    Ok(tenants)
}

/// Samples the `RssAnon` of the backends the pools opened (application name `kefu`, on the
/// clusters of every registered database) every 200 ms until `stop`; returns the peak of one
/// backend (KiB), the peak of their sum (KiB) and how many distinct backends were seen.
async fn sample(control: String, stop: Arc<AtomicBool>) -> anyhow::Result<(u64, u64, u64)> {
    let admin = db::connect_recycling(&control, 1, Duration::from_secs(30), 0)?;
    let mut urls = vec![control.clone()];
    let registered: Vec<Option<String>> =
        sqlx::query_scalar("select url from control.tenant_databases").fetch_all(&admin).await?;
    urls.extend(registered.into_iter().flatten());
    admin.close().await;
    let mut pools = Vec::new();
    for url in urls {
        pools.push(db::connect_recycling(&url, 1, Duration::from_secs(30), 0)?);
    }
    let (mut peak, mut peak_total) = (0u64, 0u64);
    let seen = AtomicU64::new(0);
    let mut pids: HashMap<i32, ()> = HashMap::new();
    loop {
        let mut total = 0;
        for pool in &pools {
            let backends: Vec<i32> = sqlx::query_scalar(
                "select pid from pg_stat_activity
                 where application_name = 'kefu' and backend_type = 'client backend' and datname = current_database()
                   and pid <> pg_backend_pid()",
            )
            .fetch_all(pool)
            .await
            .unwrap_or_default();
            for pid in backends {
                if pids.insert(pid, ()).is_none() {
                    seen.fetch_add(1, Ordering::Relaxed);
                }
                let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
                    .ok()
                    .and_then(|status| {
                        status
                            .lines()
                            .find(|l| l.starts_with("RssAnon:"))
                            .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()))
                    })
                    .unwrap_or(0);
                peak = peak.max(rss);
                total += rss;
            }
        }
        peak_total = peak_total.max(total);
        if stop.load(Ordering::Relaxed) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for pool in pools {
        pool.close().await;
    }
    // The sampler's own connections (application `kefu` too) are excluded: each asks about its
    // own database only, without itself.
    Ok((peak, peak_total, seen.load(Ordering::Relaxed)))
}
