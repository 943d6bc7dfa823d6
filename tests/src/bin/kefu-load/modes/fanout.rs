//! Fan-out in rooms: R rooms of one sender and `room_size - 1` receivers. On Kefu a room is a
//! conversation: its visitor sends (persisted, acknowledged), and agent connections that joined
//! it (on the other node when there are two) receive. With `--socketio` the same load goes to
//! the Socket.IO relay: ten sockets join a room, one emits, the relay sends to the rest.
//! Reports deliveries/s and send → receive latency per total rate, and the highest deliveries/s
//! at p99 ≤ 50 ms.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::hist::ms;
use crate::kefu::{JoinStrategy, Tenant, join_all, open_agent, open_visitor, send_and_ack};
use crate::net::Ws;
use crate::report::{Table, thousands};
use crate::sweep::{self, Plan, Proto, Sender};
use crate::{Ctx, list, sio};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Rooms (conversations).
    #[arg(long, default_value_t = 1000)]
    rooms: usize,
    /// Connections per room: one sender, the rest receive.
    #[arg(long, default_value_t = 10)]
    room_size: usize,
    /// Total messages per second sent (each is delivered `room_size - 1` times): one step each.
    #[arg(long, default_value = "500,1000,2000,4000,6000,10000,17000")]
    rates: String,
    /// Seconds of sending per rate.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The sweep stops after a rate whose delivery p99 exceeds this (saturated).
    #[arg(long, default_value_t = 1000.0)]
    stop_ms: f64,
    /// Rooms per tenant (Kefu): each tenant has this many conversations and nine times as many
    /// agent connections. All rooms in one tenant (0) puts thousands of agent connections in one
    /// tenant's presence, which today's server reads whole for every waiting message.
    #[arg(long, default_value_t = 10)]
    rooms_per_tenant: usize,
    /// Drive the Socket.IO relay at this base URL (e.g. http://127.0.0.1:18090) instead of Kefu.
    #[arg(long)]
    socketio: Option<String>,
}

type Room = (Sender, Vec<Ws>);

pub async fn run(ctx: &Ctx, args: Args) {
    let receivers_per_room = args.room_size.saturating_sub(1).max(1);
    let proto = if args.socketio.is_some() { Proto::SocketIo } else { Proto::Kefu };
    eprintln!("fan-out: {} rooms of {} ({proto:?})", args.rooms, receivers_per_room + 1);
    let concurrency = (ctx.common.setup_concurrency / 4).max(1);
    let rooms: Vec<Room> = match &args.socketio {
        Some(base) => {
            super::setup("rooms", args.rooms, concurrency, |r| {
                let (net, base) = (ctx.net.clone(), base.clone());
                async move {
                    let room = format!("r{r}");
                    let mut sender = sio::connect(&net, &base).await?;
                    sio::join(&mut sender, &room).await?;
                    let mut receivers = Vec::with_capacity(receivers_per_room);
                    for _ in 0..receivers_per_room {
                        let mut ws = sio::connect(&net, &base).await?;
                        sio::join(&mut ws, &room).await?;
                        receivers.push(ws);
                    }
                    Ok((Sender { ws: sender, room }, receivers))
                }
            })
            .await
        }
        None => {
            let per_tenant = if args.rooms_per_tenant == 0 { args.rooms.max(1) } else { args.rooms_per_tenant };
            let tenants: Vec<Arc<Tenant>> = super::setup("tenants", args.rooms.div_ceil(per_tenant), 4, |_| async {
                Ok(Arc::new(ctx.tenant().await))
            })
            .await;
            super::setup("rooms", args.rooms, concurrency, |r| {
                let (tenant, net) = (tenants[(r / per_tenant) % tenants.len()].clone(), ctx.net.clone());
                let (visitor_node, agent_node) = (ctx.node(r).to_owned(), ctx.node(r + 1).to_owned());
                let (mut pacer, burst) = (ctx.pacer(), ctx.common.conn_burst);
                async move {
                    let mut visitor = open_visitor(&net, &tenant, &visitor_node).await?;
                    let (conversation, seq) = send_and_ack(&mut visitor, "hello").await?;
                    let mut receivers = Vec::with_capacity(receivers_per_room);
                    for _ in 0..receivers_per_room {
                        let mut ws = open_agent(&net, &tenant, &agent_node).await?;
                        let entries = [(conversation.clone(), seq)];
                        join_all(&mut ws, &entries, JoinStrategy::Single, &mut pacer, burst, &mut |_, _| {}).await?;
                        receivers.push(ws);
                    }
                    Ok((Sender { ws: visitor, room: conversation }, receivers))
                }
            })
            .await
        }
    };
    let count = rooms.len();
    let (senders, receivers): (Vec<Sender>, Vec<Vec<Ws>>) = rooms.into_iter().unzip();
    let receivers: Vec<Ws> = receivers.into_iter().flatten().collect();
    let plan =
        Plan { rates: list(&args.rates), seconds: args.seconds, drain: Duration::from_secs(5), stop_ms: args.stop_ms };
    let mut notes = vec![format!(
        "Rooms of {} connections: one sends, {receivers_per_room} receive; Kefu rooms are conversations (a visitor sends, agents that joined receive, on the other node when there are two; every message is committed before it is delivered), {} per tenant. The Socket.IO relay is one Node process with no persistence. Deliveries/s = receipts per second; latency from send to each receipt; {} s per rate.",
        receivers_per_room + 1,
        if args.rooms_per_tenant == 0 { "all".to_owned() } else { args.rooms_per_tenant.to_string() },
        args.seconds
    )];
    if proto == Proto::Kefu
        && let Some(max) = plan.rates.iter().max()
        && *max as f64 / count as f64 > ctx.common.conn_rate
    {
        notes.push(format!(
            "Warning: {max} msg/s over {count} rooms exceeds Kefu's per-connection frame limit; rate-limited sends are refused."
        ));
    }
    let results = sweep::run(proto, senders, receivers, receivers_per_room as u64, &plan, &ctx.cpu).await;
    let rows = results
        .iter()
        .map(|r| {
            vec![
                ctx.common.label.clone(),
                thousands(count as f64),
                thousands(r.rate as f64),
                thousands(r.delivered_per_s()),
                ms(r.delivery.p50),
                ms(r.delivery.p99),
                ms(r.delivery.p999),
                ms(r.delivery.max),
                format!("{:.2} %", r.complete() * 100.0),
                if proto == Proto::Kefu {
                    format!("{} / {}", thousands(r.acked_per_s()), ms(r.ack.p99))
                } else {
                    "–".into()
                },
                format!("{} / {} / {}", r.rate_limited, r.errors, r.disconnects),
                r.cpu_cell.clone(),
            ]
        })
        .collect();
    ctx.emit(&Table {
        mode: "fanout",
        columns: vec![
            "server",
            "rooms",
            "msg/s",
            "deliveries/s",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
            "delivered",
            "acked/s / ack p99 ms",
            "rate-limited / errors / disconnects",
            "CPU cores",
        ],
        rows,
        notes,
        summary: json!({
            "proto": if proto == Proto::Kefu { "kefu" } else { "socketio" },
            "steps": results.iter().map(sweep::StepResult::json).collect::<Vec<_>>(),
        }),
    });
}
