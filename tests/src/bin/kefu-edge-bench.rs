//! `kefu-edge-bench`: the edge's added latency per WebSocket round trip. It sets up a tenant
//! with a site key on the api, then opens pairs of visitor connections with the same token: one
//! through the edge, one straight to the api. Each pair sends `ping` frames alternately on both
//! and times the `pong`, so both paths are measured in the same run under the same load; the
//! report is the two distributions and their difference. Loopback only; bounded in time.
//!
//! Example: `kefu-edge-bench --api http://127.0.0.1:18080 --edge http://127.0.0.1:18787 --pairs 20 --seconds 10`

use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser, Debug)]
#[command(about = "Edge overhead per WebSocket round trip, against a direct connection")]
struct Args {
    /// The api base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    api: String,
    /// The edge base URL.
    #[arg(long, default_value = "http://127.0.0.1:8787")]
    edge: String,
    /// Connection pairs (edge + direct).
    #[arg(long, default_value_t = 20)]
    pairs: usize,
    /// Seconds of measuring.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Round trips per second per connection (the protocol allows 20 frames/s).
    #[arg(long, default_value_t = 10)]
    rate: u64,
    /// What the edge is, for the report.
    #[arg(long, default_value = "the native edge")]
    label: String,
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const ORIGIN: &str = "https://bench.example";

async fn setup(api: &str) -> String {
    let email = format!("edge-bench-{}@bench.example", uuid::Uuid::new_v4().simple());
    kefu_tests::tenant_with_site(api, &email, &[ORIGIN]).await.site_key
}

async fn open(url: &str) -> Socket {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().expect("a websocket url");
    // The direct path stands in for the edge: the api takes visitor sockets with its proof.
    if let Ok(secret) = std::env::var("KEFU_EDGE__SECRET")
        && let Ok(proof) = secret.parse()
    {
        request.headers_mut().insert(kefu_protocol::ws::EDGE_PROOF_HEADER, proof);
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("connect");
    socket.send(Message::text(json!({ "type": "hello", "protocol": 1 }).to_string())).await.expect("hello");
    loop {
        if let Some(Ok(Message::Text(text))) = socket.next().await
            && text.contains("\"welcome\"")
        {
            return socket;
        }
    }
}

async fn round_trip(socket: &mut Socket) -> u64 {
    let started = Instant::now();
    socket.send(Message::text(r#"{"type":"ping"}"#)).await.expect("ping");
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) if text.contains("\"pong\"") => {
                return u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            }
            Some(Ok(_)) => {}
            other => panic!("connection ended: {other:?}"),
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)] as f64
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let site_key = setup(&args.api).await;
    let http = reqwest::Client::new();
    let api_ws = args.api.replacen("http://", "ws://", 1);
    eprintln!("opening {} connection pairs", args.pairs);
    let mut pairs = Vec::new();
    for _ in 0..args.pairs {
        let grant: Value = http
            .post(format!("{}/v1/sessions", args.edge))
            .header("origin", ORIGIN)
            .json(&json!({ "site_key": site_key }))
            .send()
            .await
            .expect("session")
            .json()
            .await
            .expect("grant");
        let token = grant["token"].as_str().expect("token").to_owned();
        let via_edge = open(&format!("{}?token={token}", grant["ws_url"].as_str().expect("ws url"))).await;
        let direct = open(&format!("{api_ws}/ws/visitor?token={token}")).await;
        pairs.push((via_edge, direct));
    }
    eprintln!("measuring for {} s", args.seconds);
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let every = Duration::from_micros(1_000_000 / args.rate.max(1));
    let tasks: Vec<_> = pairs
        .into_iter()
        .map(|(mut via_edge, mut direct)| {
            tokio::spawn(async move {
                let (mut edge_rtt, mut direct_rtt) = (Vec::new(), Vec::new());
                let mut tick = tokio::time::interval(every);
                let mut edge_first = true;
                while Instant::now() < deadline {
                    tick.tick().await;
                    // Alternate which path goes first so neither always runs on a warmer cache.
                    if edge_first {
                        edge_rtt.push(round_trip(&mut via_edge).await);
                        direct_rtt.push(round_trip(&mut direct).await);
                    } else {
                        direct_rtt.push(round_trip(&mut direct).await);
                        edge_rtt.push(round_trip(&mut via_edge).await);
                    }
                    edge_first = !edge_first;
                }
                (edge_rtt, direct_rtt)
            })
        })
        .collect();
    let (mut edge_all, mut direct_all) = (Vec::new(), Vec::new());
    for task in tasks {
        let (edge, direct) = task.await.expect("pair");
        edge_all.extend(edge);
        direct_all.extend(direct);
    }
    edge_all.sort_unstable();
    direct_all.sort_unstable();
    println!("## kefu-edge-bench: {} pairs, {} round trips/s each, {} s\n", args.pairs, args.rate, args.seconds);
    println!("| path | round trips | p50 µs | p99 µs | p99.9 µs |");
    println!("|---|---:|---:|---:|---:|");
    let through = format!("through {}", args.label);
    for (name, samples) in [("direct to the api", &direct_all), (through.as_str(), &edge_all)] {
        println!(
            "| {name} | {} | {:.0} | {:.0} | {:.0} |",
            samples.len(),
            percentile(samples, 0.5),
            percentile(samples, 0.99),
            percentile(samples, 0.999)
        );
    }
    println!(
        "\nadded by the edge: p50 {:.0} µs, p99 {:.0} µs",
        percentile(&edge_all, 0.5) - percentile(&direct_all, 0.5),
        percentile(&edge_all, 0.99) - percentile(&direct_all, 0.99)
    );
}
