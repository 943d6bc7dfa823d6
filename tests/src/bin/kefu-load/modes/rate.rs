//! Visitor → agent across nodes at fixed total rates: visitors on every node each open a
//! conversation; agents on another node follow them. Reports the visitor's send → ack
//! (committed) and send → agent receives (commit, Redis, the other node, the agent's socket)
//! latencies per rate, and the highest rate within the brief's bounds.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::hist::ms;
use crate::kefu::{JoinStrategy, join_all, open_agent, open_visitor, send_and_ack};
use crate::net::Ws;
use crate::report::{Table, thousands};
use crate::sweep::{self, Plan, Proto, Sender};
use crate::{Ctx, list};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Visitor connections (one conversation each).
    #[arg(long, default_value_t = 1000)]
    visitors: usize,
    /// Agent connections (each follows its share of the conversations, on another node).
    #[arg(long, default_value_t = 50)]
    agents: usize,
    /// Total visitor messages per second: one step per rate, lowest first.
    #[arg(long, alias = "rate", default_value = "500,1000,2000,3000")]
    rates: String,
    /// Seconds of sending per rate.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The sweep stops after a rate whose delivery p99 exceeds this (saturated).
    #[arg(long, default_value_t = 1000.0)]
    stop_ms: f64,
}

pub async fn run(ctx: &Ctx, args: Args) {
    let tenant = Arc::new(ctx.tenant().await);
    let nodes = ctx.nodes.len();
    eprintln!("fixed rate: {} visitors, {} agents, {nodes} node(s)", args.visitors, args.agents);
    let visitors: Vec<(usize, Ws, String)> =
        super::setup("visitors", args.visitors, ctx.common.setup_concurrency, |i| {
            let (tenant, net, node) = (tenant.clone(), ctx.net.clone(), ctx.node(i).to_owned());
            async move {
                let mut ws = open_visitor(&net, &tenant, &node).await?;
                let (conversation, _) = send_and_ack(&mut ws, "hello").await?;
                Ok((i, ws, conversation))
            }
        })
        .await;
    // Agent `a` is on node `a % nodes`; conversation `i` (visitor on node `i % nodes`) goes to an
    // agent on the next node.
    let agents = args.agents.max(1);
    let mut shares: Vec<Vec<(String, u64)>> = vec![Vec::new(); agents];
    for (i, _, conversation) in &visitors {
        let node = (i + 1) % nodes;
        let on_node: Vec<usize> = (0..agents).filter(|a| a % nodes == node).collect();
        let on_node = if on_node.is_empty() { (0..agents).collect() } else { on_node };
        shares[on_node[(i / nodes) % on_node.len()]].push((conversation.clone(), 1));
    }
    let shares = Arc::new(shares);
    let receivers: Vec<Ws> = super::setup("agents", agents, ctx.common.setup_concurrency, |a| {
        let (tenant, net, node, shares) = (tenant.clone(), ctx.net.clone(), ctx.node(a).to_owned(), shares.clone());
        let (mut pacer, burst) = (ctx.pacer(), ctx.common.conn_burst);
        async move {
            let mut ws = open_agent(&net, &tenant, &node).await?;
            join_all(&mut ws, &shares[a], JoinStrategy::Single, &mut pacer, burst, &mut |_, _| {}).await?;
            Ok(ws)
        }
    })
    .await;
    let senders: Vec<Sender> = visitors.into_iter().map(|(_, ws, _)| Sender { ws, room: String::new() }).collect();
    let count = senders.len();
    let plan =
        Plan { rates: list(&args.rates), seconds: args.seconds, drain: Duration::from_secs(5), stop_ms: args.stop_ms };
    let mut notes = vec![format!(
        "{count} visitors and {} agents over {nodes} node(s), each agent on another node than its visitors; {} s per rate. Latency is from the visitor's send to its `ack` (committed) and to the agent's receipt, in one process clock.",
        receivers.len(),
        args.seconds
    )];
    if let Some(max) = plan.rates.iter().max()
        && *max as f64 / count as f64 > ctx.common.conn_rate
    {
        notes.push(format!(
            "Warning: {max} msg/s over {count} visitors exceeds the per-connection frame limit; rate-limited sends are refused."
        ));
    }
    let results = sweep::run(Proto::Kefu, senders, receivers, 1, &plan, &ctx.cpu).await;
    let rows = results
        .iter()
        .map(|r| {
            vec![
                ctx.common.label.clone(),
                thousands(r.rate as f64),
                thousands(r.acked_per_s()),
                thousands(r.delivered_per_s()),
                format!("{} / {} / {} / {}", ms(r.ack.p50), ms(r.ack.p99), ms(r.ack.p999), ms(r.ack.max)),
                format!(
                    "{} / {} / {} / {}",
                    ms(r.delivery.p50),
                    ms(r.delivery.p99),
                    ms(r.delivery.p999),
                    ms(r.delivery.max)
                ),
                format!("{:.2} %", r.complete() * 100.0),
                format!("{} / {} / {}", r.rate_limited, r.errors, r.disconnects),
                r.cpu_cell.clone(),
            ]
        })
        .collect();
    ctx.emit(&Table {
        mode: "rate",
        columns: vec![
            "server",
            "msg/s",
            "acked/s",
            "delivered/s",
            "send → ack p50 / p99 / p99.9 / max ms",
            "send → agent p50 / p99 / p99.9 / max ms",
            "delivered",
            "rate-limited / errors / disconnects",
            "CPU cores",
        ],
        rows,
        notes,
        summary: json!({ "steps": results.iter().map(sweep::StepResult::json).collect::<Vec<_>>() }),
    });
}
