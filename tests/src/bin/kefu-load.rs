//! `kefu-load`: a load generator for the real-time core. It signs up a tenant, opens visitor
//! connections on some nodes and agent connections on others, sends messages at a fixed total
//! rate, and reports visitor-send → agent-receive latency, the sender's ack latency, throughput,
//! and memory per idle connection from the servers' RSS. Loopback only; bounded in time.
//!
//! Example: `kefu-load --api http://127.0.0.1:8080,http://127.0.0.1:8081 --visitors 1000 --agents 50 --rate 2000 --seconds 20 --idle 10000 --pids 1234,5678`

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use kefu_protocol::VisitorId;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser, Debug)]
#[command(about = "Load generator for the Kefu real-time core")]
struct Args {
    /// Comma-separated api base URLs (nodes); visitors and agents are spread so that each
    /// visitor's agent is on another node when there are several.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    api: String,
    /// Visitor connections (one conversation each).
    #[arg(long, default_value_t = 200)]
    visitors: usize,
    /// Agent connections (each follows its share of the conversations).
    #[arg(long, default_value_t = 20)]
    agents: usize,
    /// Total visitor messages per second.
    #[arg(long, default_value_t = 500)]
    rate: u64,
    /// Seconds of measured sending.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Idle authenticated visitor connections to open afterwards for the memory measurement.
    #[arg(long, default_value_t = 0)]
    idle: usize,
    /// Server process ids whose RSS is read from /proc for the memory measurement.
    #[arg(long, default_value = "")]
    pids: String,
    /// The servers' signing key (`kid:secret`), to mint visitor tokens as the edge does.
    #[arg(long, env = "KEFU_AUTH__SIGNING_KEYS")]
    signing_keys: String,
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn ws_url(base: &str, path: &str) -> String {
    format!("{}{path}", base.replacen("http://", "ws://", 1))
}

fn mint(keys: &kefu_protocol::token::TokenKeys, tenant: &str, visitor: VisitorId) -> String {
    let now = chrono::Utc::now().timestamp();
    keys.sign(&kefu_protocol::VisitorClaims {
        iss: kefu_protocol::ISSUER.into(),
        aud: kefu_protocol::VISITOR_AUDIENCE.into(),
        sub: visitor,
        tid: tenant.parse().expect("tenant id"),
        region: "local".into(),
        ext_user: None,
        country: None,
        iat: now,
        exp: now + 3600,
        jti: uuid::Uuid::new_v4().simple().to_string(),
    })
    .expect("sign")
}

async fn connect(url: &str) -> Socket {
    let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("websocket connect");
    socket
}

async fn hello(socket: &mut Socket) {
    socket.send(Message::text(json!({ "type": "hello", "protocol": 1 }).to_string())).await.expect("send hello");
    loop {
        if let Some(Ok(Message::Text(text))) = socket.next().await {
            let frame: Value = serde_json::from_str(&text).expect("json");
            if frame["type"] == "welcome" {
                return;
            }
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)] as f64 / 1000.0
}

fn rss_kib(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .sum()
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let nodes: Vec<String> = args.api.split(',').map(|s| s.trim().trim_end_matches('/').to_owned()).collect();
    let (kid, secret) = args.signing_keys.split(',').next().and_then(|k| k.split_once(':')).expect("kid:secret");
    let keys = kefu_protocol::token::TokenKeys::new([(kid, secret.as_bytes())]).expect("keys");
    let pids: Vec<u32> = args.pids.split(',').filter_map(|p| p.trim().parse().ok()).collect();

    // A fresh tenant.
    let email = format!("load-{}@load.example", uuid::Uuid::new_v4().simple());
    let signup: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/signup", nodes[0]))
        .json(&json!({ "company_name": "Load Test", "email": email, "password": "load test password 1" }))
        .send()
        .await
        .expect("signup")
        .json()
        .await
        .expect("signup json");
    let tenant = signup["tenant"]["id"].as_str().expect("tenant").to_owned();
    let agent_token = signup["access_token"].as_str().expect("token").to_owned();

    // Visitors: connect, hello, open a conversation with a first message.
    eprintln!("opening {} visitor connections", args.visitors);
    let mut visitors = Vec::with_capacity(args.visitors);
    let mut conversations = Vec::with_capacity(args.visitors);
    for i in 0..args.visitors {
        let node = &nodes[i % nodes.len()];
        let token = mint(&keys, &tenant, VisitorId::from_uuid(uuid::Uuid::new_v4()));
        let mut socket = connect(&ws_url(node, &format!("/ws/visitor?token={token}"))).await;
        hello(&mut socket).await;
        socket
            .send(Message::text(
                json!({ "type": "send", "client_id": format!("open-{i}"), "body": "hello" }).to_string(),
            ))
            .await
            .expect("send");
        let conversation = loop {
            if let Some(Ok(Message::Text(text))) = socket.next().await {
                let frame: Value = serde_json::from_str(&text).expect("json");
                if frame["type"] == "ack" {
                    break frame["conversation_id"].as_str().expect("conversation").to_owned();
                }
            }
        };
        conversations.push(conversation);
        visitors.push(socket);
    }

    // Agents: on another node than their visitors, each joins its share of conversations.
    let start = Instant::now();
    let delivery: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new(Vec::new()));
    let delivered = Arc::new(AtomicU64::new(0));
    eprintln!("opening {} agent connections", args.agents);
    let mut agent_tasks = Vec::new();
    for a in 0..args.agents.max(1) {
        let node = &nodes[(a + 1) % nodes.len()];
        let mut socket = connect(&ws_url(node, &format!("/ws/agent?token={agent_token}"))).await;
        hello(&mut socket).await;
        for (i, conversation) in conversations.iter().enumerate() {
            if i % args.agents.max(1) == a {
                socket
                    .send(Message::text(
                        json!({ "type": "join", "conversation_id": conversation, "last_seq": 1 }).to_string(),
                    ))
                    .await
                    .expect("join");
            }
        }
        let (delivery, delivered) = (delivery.clone(), delivered.clone());
        agent_tasks.push(tokio::spawn(async move {
            let mut local = Vec::new();
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Text(text) = message {
                    let frame: Value = match serde_json::from_str(&text) {
                        Ok(frame) => frame,
                        Err(_) => continue,
                    };
                    if frame["type"] == "message"
                        && let Some(sent) = frame["client_id"]
                            .as_str()
                            .and_then(|c| c.strip_prefix("t"))
                            .and_then(|c| c.split('-').next())
                            .and_then(|c| c.parse::<u64>().ok())
                    {
                        local.push((start.elapsed().as_micros() as u64).saturating_sub(sent));
                        delivered.fetch_add(1, Ordering::Relaxed);
                        if local.len() >= 16 {
                            delivery.lock().await.append(&mut local);
                        }
                    }
                }
            }
            delivery.lock().await.append(&mut local);
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Send at the fixed total rate, spread over the visitors; each visitor reads its acks.
    eprintln!("sending {} msg/s for {} s", args.rate, args.seconds);
    let acks: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(AtomicU64::new(0));
    let per_visitor_interval = Duration::from_secs_f64(args.visitors as f64 / args.rate.max(1) as f64);
    let deadline = Duration::from_secs(args.seconds);
    let mut sender_tasks = Vec::new();
    for (i, socket) in visitors.into_iter().enumerate() {
        let (acks, errors) = (acks.clone(), errors.clone());
        sender_tasks.push(tokio::spawn(async move {
            let (mut sink, mut stream) = socket.split();
            let pending: Arc<std::sync::Mutex<HashMap<String, u64>>> = Arc::new(std::sync::Mutex::new(HashMap::new()));
            let reader_pending = pending.clone();
            let reader = tokio::spawn(async move {
                let mut local = Vec::new();
                while let Some(Ok(message)) = stream.next().await {
                    if let Message::Text(text) = message {
                        let Ok(frame) = serde_json::from_str::<Value>(&text) else { continue };
                        match frame["type"].as_str() {
                            Some("ack") => {
                                if let Some(sent) =
                                    frame["client_id"].as_str().and_then(|c| reader_pending.lock().ok()?.remove(c))
                                {
                                    local.push((start.elapsed().as_micros() as u64).saturating_sub(sent));
                                }
                            }
                            Some("error") => {
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                            _ => {}
                        }
                    }
                }
                local
            });
            // Stagger the visitors over one interval.
            tokio::time::sleep(per_visitor_interval.mul_f64(i as f64 / 1000.0 % 1.0)).await;
            let mut ticker = tokio::time::interval(per_visitor_interval);
            let began = Instant::now();
            let mut n = 0u64;
            while began.elapsed() < deadline {
                ticker.tick().await;
                let sent = start.elapsed().as_micros() as u64;
                let client_id = format!("t{sent}-{i}-{n}");
                if let Ok(mut pending) = pending.lock() {
                    pending.insert(client_id.clone(), sent);
                }
                n += 1;
                let frame = json!({ "type": "send", "client_id": client_id, "body": "load test message 负载测试" });
                if sink.send(Message::text(frame.to_string())).await.is_err() {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
            let _ = sink.close().await;
            let local = reader.await.unwrap_or_default();
            acks.lock().await.extend(local);
        }));
    }
    for task in sender_tasks {
        let _ = task.await;
    }
    let sent_elapsed = deadline.as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Agents keep their last partial batch: close them by aborting only after a final flush
    // window (at most 15 samples per agent are lost, which the counts make visible).
    for task in &agent_tasks {
        task.abort();
    }
    let mut ack_latency = std::mem::take(&mut *acks.lock().await);
    let mut delivery_latency = std::mem::take(&mut *delivery.lock().await);
    ack_latency.sort_unstable();
    delivery_latency.sort_unstable();

    println!(
        "## kefu-load: {} visitors, {} agents, {} node(s), {} msg/s target for {} s",
        args.visitors,
        args.agents,
        nodes.len(),
        args.rate,
        args.seconds
    );
    println!();
    println!("| measure | count | p50 ms | p99 ms | p99.9 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, data) in
        [("visitor send → ack (committed)", &ack_latency), ("visitor send → agent receives", &delivery_latency)]
    {
        println!(
            "| {name} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
            data.len(),
            percentile(data, 0.50),
            percentile(data, 0.99),
            percentile(data, 0.999),
            data.last().map_or(f64::NAN, |m| *m as f64 / 1000.0)
        );
    }
    println!();
    println!(
        "throughput: {:.0} acked msg/s, {:.0} delivered msg/s; errors: {}",
        ack_latency.len() as f64 / sent_elapsed,
        delivered.load(Ordering::Relaxed) as f64 / sent_elapsed,
        errors.load(Ordering::Relaxed)
    );

    if args.idle > 0 && !pids.is_empty() {
        let before = rss_kib(&pids);
        let mut idle = Vec::with_capacity(args.idle);
        for i in 0..args.idle {
            let node = &nodes[i % nodes.len()];
            let token = mint(&keys, &tenant, VisitorId::from_uuid(uuid::Uuid::new_v4()));
            let mut socket = connect(&ws_url(node, &format!("/ws/visitor?token={token}"))).await;
            hello(&mut socket).await;
            idle.push(socket);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = rss_kib(&pids);
        println!(
            "idle connections: {} authenticated visitor sockets added {:.0} MiB of server RSS: {:.1} KiB per idle socket",
            args.idle,
            after.saturating_sub(before) as f64 / 1024.0,
            after.saturating_sub(before) as f64 / args.idle as f64
        );
    }
}
