//! Noisy neighbour: what one abusive workspace does to another's service. A quiet workspace runs
//! a steady load in every phase — visitors sending messages at a fixed total rate (send → ack,
//! i.e. committed) and a member reading its conversation list over REST at a fixed rate — while a
//! noisy workspace, phase by phase, does nothing (the baseline) or goes at ten times or more its
//! limits: the API with one key (closed loop, many workers), sockets (ten times the per-visitor
//! cap), page views and messages from many sockets (ten times the socket's frame rate), uploads
//! never sent (closed loop). Reports the quiet workspace's latencies per phase, their p95 and p99
//! against the baseline of the same run (the brief: p99 within 20 %), and what the noisy
//! workspace got served or refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::hist::{Hist, ms};
use crate::kefu::{Tenant, open_visitor, send_and_ack};
use crate::net::{Ws, send};
use crate::report::{Table, thousands};
use crate::{Ctx, list};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Seconds measured per phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Phases, in order: quiet (the baseline), api, sockets, page-views, messages, uploads.
    #[arg(long, default_value = "quiet,api,sockets,page-views,messages,uploads")]
    phases: String,
    /// The quiet workspace's visitors (one conversation each).
    #[arg(long, default_value_t = 50)]
    quiet_visitors: usize,
    /// The quiet workspace's messages per second, all visitors together.
    #[arg(long, default_value_t = 100.0)]
    quiet_rate: f64,
    /// The quiet workspace's REST requests per second (a member listing conversations).
    #[arg(long, default_value_t = 20.0)]
    rest_rate: f64,
    /// Noisy workers calling the API with one key, each as fast as answers come.
    #[arg(long, default_value_t = 64)]
    flood_workers: usize,
    /// Noisy visitor sockets (one visitor each) in the page-view and message phases.
    #[arg(long, default_value_t = 100)]
    flood_sockets: usize,
    /// Noisy visitors in the socket and upload phases (each tries ten times the per-visitor
    /// socket cap, or uploads back to back).
    #[arg(long, default_value_t = 20)]
    flood_visitors: usize,
}

/// The api's per-visitor socket cap (`realtime.max_sockets_per_visitor`).
const SOCKETS_PER_VISITOR: usize = 5;
/// Frames a socket may send per second (the api's limit); the flood sends ten times that.
const SOCKET_FRAMES_PER_SECOND: f64 = 20.0;

/// A 1×1 PNG: the smallest file every plan accepts.
const PIXEL: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d,
    0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// p50, p95 and p99 in milliseconds.
struct Q3 {
    p50: f64,
    p95: f64,
    p99: f64,
}

impl Q3 {
    fn of(h: &Hist) -> Self {
        Self { p50: h.ms(0.5), p95: h.ms(0.95), p99: h.ms(0.99) }
    }

    fn json(&self) -> Value {
        json!({ "p50": self.p50, "p95": self.p95, "p99": self.p99 })
    }
}

#[derive(Default)]
struct Quiet {
    ack: Hist,
    rest: Hist,
    failed: AtomicU64,
}

#[derive(Default)]
struct Noisy {
    offered: AtomicU64,
    served: AtomicU64,
    refused: AtomicU64,
    other: AtomicU64,
}

impl Noisy {
    /// Counts an HTTP answer: served (2xx), refused (as `refused` says), or other.
    async fn answered(&self, sent: reqwest::Result<reqwest::Response>, refused: impl Fn(reqwest::StatusCode) -> bool) {
        let counter = match sent {
            Ok(response) => {
                let status = response.status();
                let _ = response.bytes().await;
                if status.is_success() {
                    &self.served
                } else if refused(status) {
                    &self.refused
                } else {
                    &self.other
                }
            }
            Err(_) => &self.other,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

pub async fn run(ctx: &Ctx, args: Args) {
    let node = ctx.nodes[0].clone();
    let quiet = Arc::new(ctx.tenant().await);
    let noisy = Arc::new(ctx.tenant().await);
    let http = reqwest::Client::builder().pool_max_idle_per_host(256).build().expect("http client");
    let noisy_key = api_key(&http, &node, &noisy).await;
    eprintln!(
        "noisy neighbour: quiet {} visitors at {} msg/s and {} REST req/s; noisy {} API workers, {} sockets",
        args.quiet_visitors, args.quiet_rate, args.rest_rate, args.flood_workers, args.flood_sockets
    );
    let mut rows = Vec::new();
    let mut phases_json = Vec::new();
    let mut baseline: Option<[f64; 4]> = None;
    for phase in list::<String>(&args.phases) {
        if !["quiet", "api", "sockets", "page-views", "messages", "uploads"].contains(&phase.as_str()) {
            eprintln!("unknown phase {phase}, skipped");
            continue;
        }
        let visitors = super::setup("quiet visitors", args.quiet_visitors, ctx.common.setup_concurrency, |i| {
            let (tenant, net, node) = (quiet.clone(), ctx.net.clone(), ctx.node(i).to_owned());
            async move {
                let mut ws = open_visitor(&net, &tenant, &node).await?;
                send_and_ack(&mut ws, "hello").await?;
                Ok(ws)
            }
        })
        .await;
        let sockets = if phase == "page-views" || phase == "messages" {
            super::setup("noisy visitors", args.flood_sockets, ctx.common.setup_concurrency, |i| {
                let (tenant, net, node) = (noisy.clone(), ctx.net.clone(), ctx.node(i).to_owned());
                async move { open_visitor(&net, &tenant, &node).await }
            })
            .await
        } else {
            Vec::new()
        };
        eprintln!("noisy neighbour: phase {phase}, {} s", args.seconds);
        let (q, n) = (Arc::new(Quiet::default()), Arc::new(Noisy::default()));
        let start = Instant::now() + Duration::from_millis(200);
        let end = start + Duration::from_secs(args.seconds);
        let mut tasks = Vec::new();
        let every = Duration::from_secs_f64(visitors.len().max(1) as f64 / args.quiet_rate.max(0.1));
        for ws in visitors {
            tasks.push(tokio::spawn(quiet_messages(ws, every, start, end, q.clone())));
        }
        let rest_workers = 4;
        let rest_every = Duration::from_secs_f64(f64::from(rest_workers) / args.rest_rate.max(0.1));
        for _ in 0..rest_workers {
            let url = format!("{node}/api/v1/conversations?limit=20");
            tasks.push(tokio::spawn(quiet_rest(
                http.clone(),
                url,
                quiet.agent_token.clone(),
                rest_every,
                start,
                end,
                q.clone(),
            )));
        }
        match phase.as_str() {
            "api" => {
                for _ in 0..args.flood_workers {
                    let url = format!("{node}/api/v1/conversations?limit=20");
                    tasks.push(tokio::spawn(api_flood(http.clone(), url, noisy_key.clone(), start, end, n.clone())));
                }
            }
            "page-views" | "messages" => {
                let messages = phase == "messages";
                for ws in sockets {
                    let pacer = crate::net::Pacer::new(10.0 * SOCKET_FRAMES_PER_SECOND, 20);
                    tasks.push(tokio::spawn(socket_flood(ws, pacer, messages, start, end, n.clone())));
                }
            }
            "sockets" => {
                for _ in 0..args.flood_visitors {
                    let url = noisy.visitor_url(&node, &noisy.visitor_token());
                    tasks.push(tokio::spawn(socket_grab(ctx.net.clone(), url, start, end, n.clone())));
                }
            }
            "uploads" => {
                for _ in 0..args.flood_visitors {
                    let url = format!("{node}/api/v1/visitor/attachments?name=pixel.png");
                    let token = noisy.visitor_token();
                    tasks.push(tokio::spawn(upload_flood(http.clone(), url, token, start, end, n.clone())));
                }
            }
            _ => {}
        }
        tokio::time::sleep_until(start.into()).await;
        let cpu_before = ctx.cpu.sample();
        tokio::time::sleep_until(end.into()).await;
        let cpu_after = ctx.cpu.sample();
        for task in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
        let (cpu_cell, cpu_json) = ctx.cpu.between(&cpu_before, &cpu_after);
        let (ack, rest) = (Q3::of(&q.ack), Q3::of(&q.rest));
        let base = *baseline.get_or_insert([ack.p95, ack.p99, rest.p95, rest.p99]);
        let ratio = |now: f64, before: f64| if before > 0.0 { format!("{:.2}×", now / before) } else { "—".into() };
        let per_s = |counter: &AtomicU64| counter.load(Ordering::Relaxed) as f64 / args.seconds as f64;
        eprintln!(
            "  quiet ack p95 {:.2} ms, REST p95 {:.2} ms; noisy served {:.0}/s refused {:.0}/s; {cpu_cell}",
            ack.p95,
            rest.p95,
            per_s(&n.served),
            per_s(&n.refused)
        );
        rows.push(vec![
            ctx.common.label.clone(),
            describe(&phase, &args),
            format!("{} / {} / {}", ms(ack.p50), ms(ack.p95), ms(ack.p99)),
            format!("{} / {} / {}", ms(rest.p50), ms(rest.p95), ms(rest.p99)),
            format!(
                "{} / {}; {} / {}",
                ratio(ack.p95, base[0]),
                ratio(ack.p99, base[1]),
                ratio(rest.p95, base[2]),
                ratio(rest.p99, base[3])
            ),
            q.failed.load(Ordering::Relaxed).to_string(),
            thousands(per_s(&n.offered)),
            thousands(per_s(&n.served)),
            thousands(per_s(&n.refused)),
            cpu_cell,
        ]);
        phases_json.push(json!({
            "phase": phase, "quiet_ack_ms": ack.json(), "quiet_rest_ms": rest.json(),
            "quiet_failed": q.failed.load(Ordering::Relaxed),
            "noisy_offered_per_s": per_s(&n.offered), "noisy_served_per_s": per_s(&n.served),
            "noisy_refused_per_s": per_s(&n.refused), "noisy_other": n.other.load(Ordering::Relaxed), "cpu": cpu_json,
        }));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    ctx.emit(&Table {
        mode: "noisy",
        columns: vec![
            "server",
            "noisy workspace",
            "quiet ack p50 / p95 / p99 ms",
            "quiet REST p50 / p95 / p99 ms",
            "quiet p95 / p99 vs baseline (ack; REST)",
            "quiet failures",
            "noisy offered/s",
            "noisy served/s",
            "noisy refused/s",
            "CPU cores",
        ],
        rows,
        notes: vec![format!(
            "Two workspaces on the same nodes. Quiet: {} visitors sending {} msg/s in total (send → ack, committed) and a member listing conversations {} times a second over REST, in every phase. Noisy: nothing (baseline); {} workers calling `GET /api/v1/conversations` with one API key as fast as answers come (served = 200, refused = 429); {} visitors each opening {} sockets and holding them (served = 101, refused = 429); {} visitor sockets each sending page views, then messages, at 200 frames/s, ten times the socket's limit (refused = `rate_limited` error frames; a message is served when acknowledged); {} visitors uploading a 1×1 PNG back to back, never sending it (served = 201, refused = 403/429). {} s per phase; fresh quiet visitors per phase.",
            args.quiet_visitors,
            args.quiet_rate,
            args.rest_rate,
            args.flood_workers,
            args.flood_visitors,
            10 * SOCKETS_PER_VISITOR,
            args.flood_sockets,
            args.flood_visitors,
            args.seconds
        )],
        summary: json!({ "phases": phases_json }),
    });
}

fn describe(phase: &str, args: &Args) -> String {
    match phase {
        "quiet" => "idle (baseline)".into(),
        "api" => format!("API flood, {} workers, one key", args.flood_workers),
        "sockets" => format!("{} visitors × {} sockets", args.flood_visitors, 10 * SOCKETS_PER_VISITOR),
        "page-views" => format!("page views from {} sockets, 200/s each", args.flood_sockets),
        "messages" => format!("messages from {} sockets, 200/s each", args.flood_sockets),
        _ => format!("unsent uploads from {} visitors", args.flood_visitors),
    }
}

/// A fresh API key of the workspace's owner.
async fn api_key(http: &reqwest::Client, node: &str, tenant: &Tenant) -> String {
    let response = http
        .post(format!("{node}/api/v1/api-keys"))
        .bearer_auth(&tenant.agent_token)
        .json(&json!({ "name": "noisy" }))
        .send()
        .await
        .expect("create an API key");
    let body: Value = response.json().await.expect("API key response");
    body["secret"].as_str().expect("the key's secret").to_owned()
}

/// One quiet visitor: a message every `every`, timed from send to its ack.
async fn quiet_messages(mut ws: Ws, every: Duration, start: Instant, end: Instant, q: Arc<Quiet>) {
    let mut tick = tokio::time::interval_at(
        (start + Duration::from_millis(fastrand::u64(0..every.as_millis().max(1) as u64))).into(),
        every,
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if Instant::now() >= end {
            return;
        }
        let client_id = format!("q-{}", uuid::Uuid::new_v4().simple());
        let began = Instant::now();
        let frame = json!({ "type": "send", "client_id": client_id, "body": "Where is my order? 我的订单到哪了？" });
        if send(&mut ws, frame.to_string()).await.is_err() {
            q.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        loop {
            match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                Ok(Some(Ok(message))) => {
                    let text = message.into_text().map(|t| t.to_string()).unwrap_or_default();
                    if !text.contains(&client_id) {
                        continue;
                    }
                    // Its own message may come back before the ack (the visitor's other tabs).
                    let kind =
                        serde_json::from_str::<Value>(&text).ok().and_then(|f| f["type"].as_str().map(str::to_owned));
                    match kind.as_deref() {
                        Some("ack") => q.ack.record(u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX)),
                        Some("error") => {
                            q.failed.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => continue,
                    }
                    break;
                }
                _ => {
                    q.failed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
    }
}

/// One quiet REST worker: a conversation list every `every`.
async fn quiet_rest(
    http: reqwest::Client,
    url: String,
    token: String,
    every: Duration,
    start: Instant,
    end: Instant,
    q: Arc<Quiet>,
) {
    let mut tick = tokio::time::interval_at(start.into(), every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if Instant::now() >= end {
            return;
        }
        let began = Instant::now();
        match http.get(&url).bearer_auth(&token).send().await {
            Ok(response) if response.status().is_success() => {
                let _ = response.bytes().await;
                q.rest.record(u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX));
            }
            _ => {
                q.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// One noisy API worker: requests back to back.
async fn api_flood(http: reqwest::Client, url: String, key: String, start: Instant, end: Instant, n: Arc<Noisy>) {
    tokio::time::sleep_until(start.into()).await;
    while Instant::now() < end {
        n.offered.fetch_add(1, Ordering::Relaxed);
        let sent = http.get(&url).bearer_auth(&key).send().await;
        n.answered(sent, |status| status == reqwest::StatusCode::TOO_MANY_REQUESTS).await;
    }
}

/// One noisy visitor socket: page views (or messages) at the socket's pace, answers counted.
async fn socket_flood(
    mut ws: Ws,
    mut pacer: crate::net::Pacer,
    messages: bool,
    start: Instant,
    end: Instant,
    n: Arc<Noisy>,
) {
    tokio::time::sleep_until(start.into()).await;
    let mut k = 0u64;
    while Instant::now() < end {
        pacer.wait().await;
        k += 1;
        let frame = if messages {
            json!({ "type": "send", "client_id": format!("n-{}", uuid::Uuid::new_v4().simple()), "body": format!("spam {k}") })
        } else {
            json!({ "type": "page_view", "url": format!("https://noisy.example/p/{k}"), "title": "Noisy" })
        };
        if send(&mut ws, frame.to_string()).await.is_err() {
            n.other.fetch_add(1, Ordering::Relaxed);
            return;
        }
        n.offered.fetch_add(1, Ordering::Relaxed);
        if !messages {
            // A page view is not answered unless refused: count it served until told otherwise.
            n.served.fetch_add(1, Ordering::Relaxed);
        }
        // Read what has arrived, without waiting.
        while let Ok(Some(Ok(message))) = tokio::time::timeout(Duration::ZERO, ws.next()).await {
            let text = message.into_text().map(|t| t.to_string()).unwrap_or_default();
            if text.contains("\"rate_limited\"") {
                n.refused.fetch_add(1, Ordering::Relaxed);
                if !messages {
                    n.served.fetch_sub(1, Ordering::Relaxed);
                }
            } else if messages && text.contains("\"ack\"") {
                n.served.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// One noisy visitor: opens sockets until ten times the per-visitor cap were tried, holding those
/// accepted until the phase ends.
async fn socket_grab(net: crate::net::Net, url: String, start: Instant, end: Instant, n: Arc<Noisy>) {
    tokio::time::sleep_until(start.into()).await;
    let mut held = Vec::new();
    for _ in 0..10 * SOCKETS_PER_VISITOR {
        if Instant::now() >= end {
            break;
        }
        n.offered.fetch_add(1, Ordering::Relaxed);
        match net.connect(&url).await {
            Ok(ws) => {
                n.served.fetch_add(1, Ordering::Relaxed);
                held.push(ws);
            }
            Err(crate::net::ConnectError::Handshake(_)) => {
                n.refused.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                n.other.fetch_add(1, Ordering::Relaxed);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep_until(end.into()).await;
    drop(held);
}

/// One noisy visitor uploading a file back to back, never sending it.
async fn upload_flood(http: reqwest::Client, url: String, token: String, start: Instant, end: Instant, n: Arc<Noisy>) {
    tokio::time::sleep_until(start.into()).await;
    while Instant::now() < end {
        n.offered.fetch_add(1, Ordering::Relaxed);
        let sent = http
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/octet-stream")
            .body(PIXEL)
            .send()
            .await;
        let refused =
            |status| status == reqwest::StatusCode::TOO_MANY_REQUESTS || status == reqwest::StatusCode::FORBIDDEN;
        n.answered(sent, refused).await;
    }
}
