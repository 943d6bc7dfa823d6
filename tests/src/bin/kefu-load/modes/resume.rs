//! Resume of many conversations: an agent that followed M conversations reconnects and
//! re-follows all of them with the last seq it had; each conversation got one message while it
//! was away. Measures the time from connecting until every join is answered and until every
//! missed message has arrived (which proves every join was processed).
//!
//! Today's server has no answer to `join` and allows 20 frames/s (bursts of 40): the client
//! sends paced bursts of joins, each followed by a `ping` whose `pong` says the burst was
//! handled, and resends a burst that drew `rate_limited` errors. A server that takes
//! `join_many` (up to 200 entries per frame, each answered by `joined`) is detected (today's
//! answers `unknown_type`) and then measured that way too.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::Ctx;
use crate::kefu::{JoinStrategy, join_all, open_agent, open_visitor, send_and_ack, supports_join_many};
use crate::net::next_text;
use crate::report::{Table, thousands};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Conversations the agent follows.
    #[arg(long, default_value_t = 750)]
    conversations: usize,
    /// Entries per `join_many` frame (1–200).
    #[arg(long, default_value_t = 200)]
    batch: usize,
    /// `auto` (single joins, plus join_many when the server takes it), `single` or `bulk`.
    #[arg(long, default_value = "auto")]
    strategy: String,
}

/// Notes a replayed missed message (seq ≥ 2).
fn missed(replayed: &mut HashSet<String>, frame: &Value) {
    if frame["type"] == "message"
        && frame["seq"].as_u64().unwrap_or(0) >= 2
        && let Some(c) = frame["conversation_id"].as_str()
    {
        replayed.insert(c.to_owned());
    }
}

pub async fn run(ctx: &Ctx, args: Args) {
    let tenant = Arc::new(ctx.tenant().await);
    let visitor_node = ctx.node(0).to_owned();
    let agent_node = ctx.node(1).to_owned();
    eprintln!("resume: {} conversations (visitors on {visitor_node}, agent on {agent_node})", args.conversations);
    // Each conversation: seq 1 (the agent saw it), seq 2 (sent while the agent was away).
    let entries: Vec<(String, u64)> =
        super::setup("conversations", args.conversations, ctx.common.setup_concurrency, |_| {
            let (tenant, net, node) = (tenant.clone(), ctx.net.clone(), visitor_node.clone());
            async move {
                let mut ws = open_visitor(&net, &tenant, &node).await?;
                let (conversation, seq) = send_and_ack(&mut ws, "hello").await?;
                send_and_ack(&mut ws, "sent while the agent was away").await?;
                let _ = ws.close(None).await;
                Ok((conversation, seq))
            }
        })
        .await;
    let mut probe = open_agent(&ctx.net, &tenant, &agent_node).await.expect("open an agent connection");
    let bulk = supports_join_many(&mut probe, (&entries[0].0, entries[0].1)).await.unwrap_or(false);
    let _ = probe.close(None).await;
    drop(probe);
    eprintln!("  join_many supported: {bulk}");
    let strategies: Vec<JoinStrategy> = match args.strategy.as_str() {
        "single" => vec![JoinStrategy::Single],
        "bulk" => vec![JoinStrategy::Bulk { batch: args.batch }],
        _ if bulk => vec![JoinStrategy::Single, JoinStrategy::Bulk { batch: args.batch }],
        _ => vec![JoinStrategy::Single],
    };
    let mut rows = Vec::new();
    let mut strategies_json = Vec::new();
    for strategy in strategies {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let cpu_before = ctx.cpu.sample();
        let started = Instant::now();
        let mut ws = open_agent(&ctx.net, &tenant, &agent_node).await.expect("reconnect the agent");
        let welcome = started.elapsed();
        let mut replayed: HashSet<String> = HashSet::new();
        let mut pacer = ctx.pacer();
        let mut note = |_: &str, frame: &Value| missed(&mut replayed, frame);
        let outcome = match join_all(&mut ws, &entries, strategy, &mut pacer, ctx.common.conn_burst, &mut note).await {
            Ok(outcome) => outcome,
            Err(error) => {
                eprintln!("  {}: failed: {error}", strategy.name());
                continue;
            }
        };
        let joined = started.elapsed();
        let deadline = Instant::now() + Duration::from_secs(60);
        while replayed.len() < entries.len() && Instant::now() < deadline {
            let Ok(text) = next_text(&mut ws, Duration::from_secs(10)).await else { break };
            if let Ok(frame) = serde_json::from_str::<Value>(&text) {
                missed(&mut replayed, &frame);
            }
        }
        let all = started.elapsed();
        let cpu_after = ctx.cpu.sample();
        let _ = ws.close(None).await;
        let (cpu_cell, cpu_json) = ctx.cpu.between(&cpu_before, &cpu_after);
        let complete = replayed.len() == entries.len();
        eprintln!(
            "  {}: joins answered after {:.2} s, {} of {} missed messages after {:.2} s",
            strategy.name(),
            joined.as_secs_f64(),
            replayed.len(),
            entries.len(),
            all.as_secs_f64()
        );
        rows.push(vec![
            ctx.common.label.clone(),
            thousands(entries.len() as f64),
            strategy.name(),
            thousands(outcome.frames as f64),
            format!("{} / {}", outcome.rate_limited, outcome.refused),
            format!("{:.1}", welcome.as_secs_f64() * 1000.0),
            format!("{:.2}", joined.as_secs_f64()),
            if complete {
                format!("{:.2}", all.as_secs_f64())
            } else {
                format!("incomplete: {} of {}", replayed.len(), entries.len())
            },
            cpu_cell,
        ]);
        strategies_json.push(json!({
            "strategy": strategy.name(), "conversations": entries.len(), "frames": outcome.frames,
            "rate_limited": outcome.rate_limited, "refused": outcome.refused,
            "welcome_ms": welcome.as_secs_f64() * 1000.0, "joined_s": joined.as_secs_f64(),
            "all_replayed_s": if complete { Some(all.as_secs_f64()) } else { None }, "cpu": cpu_json,
        }));
    }
    ctx.emit(&Table {
        mode: "resume",
        columns: vec![
            "server",
            "conversations",
            "strategy",
            "frames sent",
            "rate-limited / refused",
            "connect → welcome ms",
            "all joins answered s",
            "all missed messages in s",
            "CPU cores",
        ],
        rows,
        notes: vec![format!(
            "An agent reconnects and re-follows every conversation with `last_seq` = 1; each conversation has one message it missed (seq 2). Single joins are paced under the frame limit ({}/s, bursts of {}), each burst closed by a `ping` (frames are handled in order, so its `pong` marks the burst done); `join_many` is used when the server takes it (detected: today's server answers `unknown_type`). The last column is when every missed message had arrived.",
            ctx.common.conn_rate, ctx.common.conn_burst
        )],
        summary: json!({ "join_many": bulk, "strategies": strategies_json }),
    });
}
