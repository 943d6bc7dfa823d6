//! The open-loop driver behind the fixed-rate and fan-out modes: senders send stamped messages
//! at a fixed total rate, one step per rate, on connections that stay open across the steps;
//! receivers record send → receive latency from the stamp. Every sample carries its step in
//! the stamp, so late arrivals still count for the step that sent them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::cpu::CpuSpec;
use crate::hist::{Hist, Quantiles};
use crate::net::{Ws, now_us, send, stamp, stamp_after};
use crate::sio;

/// Which server the connections speak to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Kefu,
    SocketIo,
}

/// Precedes the stamp in Kefu's `ack` and `message` frames.
pub const KEFU_MARKER: &str = "\"client_id\":\"k";

/// A sending connection: a visitor (Kefu) or a room member (Socket.IO, `room` names its room).
pub struct Sender {
    pub ws: Ws,
    pub room: String,
}

/// The rates to step through.
pub struct Plan {
    /// Total messages per second, one step each.
    pub rates: Vec<u64>,
    /// Seconds of sending per step.
    pub seconds: u64,
    /// Longest wait after a step for its acks and deliveries.
    pub drain: Duration,
    /// A step is saturated (and the sweep stops) when its delivery p99 exceeds this or fewer
    /// than 95 % of the deliveries arrived.
    pub stop_ms: f64,
}

#[derive(Default)]
struct StepStats {
    ack: Hist,
    delivery: Hist,
    sent: AtomicU64,
    rate_limited: AtomicU64,
    errors: AtomicU64,
}

/// One step's figures.
pub struct StepResult {
    pub rate: u64,
    pub seconds: f64,
    pub sent: u64,
    pub acked: u64,
    pub delivered: u64,
    pub expected: u64,
    pub ack: Quantiles,
    pub delivery: Quantiles,
    pub rate_limited: u64,
    pub errors: u64,
    pub disconnects: u64,
    pub cpu_cell: String,
    pub cpu: Value,
}

impl StepResult {
    pub fn sent_per_s(&self) -> f64 {
        self.sent as f64 / self.seconds
    }
    pub fn acked_per_s(&self) -> f64 {
        self.acked as f64 / self.seconds
    }
    pub fn delivered_per_s(&self) -> f64 {
        self.delivered as f64 / self.seconds
    }
    /// Share of the expected deliveries that arrived.
    pub fn complete(&self) -> f64 {
        if self.expected == 0 { 1.0 } else { self.delivered as f64 / self.expected as f64 }
    }
    pub fn json(&self) -> Value {
        json!({
            "rate": self.rate, "seconds": self.seconds, "sent": self.sent, "acked": self.acked,
            "delivered": self.delivered, "expected": self.expected,
            "sent_per_s": self.sent_per_s(), "acked_per_s": self.acked_per_s(), "delivered_per_s": self.delivered_per_s(),
            "complete": self.complete(), "ack_ms": self.ack.json(), "delivery_ms": self.delivery.json(),
            "rate_limited": self.rate_limited, "errors": self.errors, "disconnects": self.disconnects, "cpu": self.cpu,
        })
    }
}

#[derive(Clone)]
struct StepSpec {
    index: usize,
    interval: Duration,
    start: Instant,
    deadline: Instant,
}

struct Shared {
    proto: Proto,
    steps: Vec<StepStats>,
    disconnects: AtomicU64,
    stopping: AtomicBool,
}

/// Runs every step of `plan` and returns the figures, stopping after a saturated step.
/// `fanout` is the deliveries each message should produce.
pub async fn run(
    proto: Proto,
    senders: Vec<Sender>,
    receivers: Vec<Ws>,
    fanout: u64,
    plan: &Plan,
    cpu: &CpuSpec,
) -> Vec<StepResult> {
    let shared = Arc::new(Shared {
        proto,
        steps: (0..=plan.rates.len()).map(|_| StepStats::default()).collect(),
        disconnects: AtomicU64::new(0),
        stopping: AtomicBool::new(false),
    });
    let (tx, rx) = watch::channel::<Option<StepSpec>>(None);
    let count = senders.len();
    let mut sender_tasks = Vec::with_capacity(count);
    for (i, sender) in senders.into_iter().enumerate() {
        sender_tasks.push(tokio::spawn(sender_task(sender, i, count, shared.clone(), rx.clone())));
    }
    let receiver_tasks: Vec<_> =
        receivers.into_iter().map(|ws| tokio::spawn(receiver_task(ws, shared.clone()))).collect();
    // Let the servers finish what the setup started (presence, announcements) before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut results = Vec::new();
    for (k, &rate) in plan.rates.iter().enumerate() {
        let index = k + 1;
        let stats = &shared.steps[index];
        let interval = Duration::from_secs_f64(count as f64 / rate.max(1) as f64);
        let start = Instant::now() + Duration::from_millis(200);
        let deadline = start + Duration::from_secs(plan.seconds);
        let disconnects_before = shared.disconnects.load(Ordering::Relaxed);
        eprintln!("  step {index}: {rate} msg/s for {} s", plan.seconds);
        let _ = tx.send(Some(StepSpec { index, interval, start, deadline }));
        tokio::time::sleep_until(start.into()).await;
        let cpu_before = cpu.sample();
        tokio::time::sleep_until(deadline.into()).await;
        let cpu_after = cpu.sample();
        let drain_end = Instant::now() + plan.drain;
        loop {
            let sent = stats.sent.load(Ordering::Relaxed);
            let acks_in =
                proto == Proto::SocketIo || stats.ack.count() + stats.rate_limited.load(Ordering::Relaxed) >= sent;
            if (acks_in && stats.delivery.count() >= sent * fanout) || Instant::now() >= drain_end {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (cpu_cell, cpu_json) = cpu.between(&cpu_before, &cpu_after);
        let sent = stats.sent.load(Ordering::Relaxed);
        let result = StepResult {
            rate,
            seconds: plan.seconds as f64,
            sent,
            acked: stats.ack.count(),
            delivered: stats.delivery.count(),
            expected: sent * fanout,
            ack: stats.ack.summary(),
            delivery: stats.delivery.summary(),
            rate_limited: stats.rate_limited.load(Ordering::Relaxed),
            errors: stats.errors.load(Ordering::Relaxed),
            disconnects: shared.disconnects.load(Ordering::Relaxed) - disconnects_before,
            cpu_cell,
            cpu: cpu_json,
        };
        eprintln!(
            "    sent {:.0}/s, delivered {:.0}/s ({:.1} %), delivery p99 {:.2} ms, ack p99 {:.2} ms; {}",
            result.sent_per_s(),
            result.delivered_per_s(),
            result.complete() * 100.0,
            result.delivery.p99,
            result.ack.p99,
            result.cpu_cell
        );
        let p99 = result.delivery.p99;
        let saturated = p99.is_nan() || p99 > plan.stop_ms || result.complete() < 0.95;
        results.push(result);
        if saturated {
            if k + 1 < plan.rates.len() {
                eprintln!("    saturated: the sweep stops here");
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    shared.stopping.store(true, Ordering::Relaxed);
    let _ = tx.send(None);
    for task in sender_tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    for task in receiver_tasks {
        task.abort();
    }
    results
}

/// Handles a frame on a sending connection; `false` when the connection ended.
async fn on_sender_frame(
    ws: &mut Ws,
    frame: Option<Result<Message, impl std::fmt::Display>>,
    shared: &Shared,
    step: usize,
) -> bool {
    let text = match frame {
        Some(Ok(Message::Text(text))) => text,
        Some(Ok(Message::Close(_)) | Err(_)) | None => {
            if !shared.stopping.load(Ordering::Relaxed) {
                shared.disconnects.fetch_add(1, Ordering::Relaxed);
            }
            return false;
        }
        Some(Ok(_)) => return true,
    };
    let text = text.as_str();
    match shared.proto {
        Proto::Kefu => {
            if text.contains("\"type\":\"ack\"") {
                if let Some((step, sent)) = stamp_after(text, KEFU_MARKER)
                    && let Some(stats) = shared.steps.get(step)
                {
                    stats.ack.record(now_us().saturating_sub(sent));
                }
            } else if text.contains("\"type\":\"error\"") {
                let stats = &shared.steps[step];
                if text.contains("rate_limited") {
                    stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                } else {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Proto::SocketIo => {
            if text == "2" {
                return send(ws, "3").await.is_ok();
            }
        }
    }
    true
}

async fn sender_task(
    mut sender: Sender,
    i: usize,
    count: usize,
    shared: Arc<Shared>,
    mut rx: watch::Receiver<Option<StepSpec>>,
) {
    let mut n = 0u64;
    let mut current = 0usize;
    loop {
        // Between steps: keep reading until the next step (or the end).
        let spec = loop {
            tokio::select! {
                changed = rx.changed() => {
                    let next = if changed.is_ok() { rx.borrow_and_update().clone() } else { None };
                    match next {
                        Some(spec) => break spec,
                        None => {
                            let _ = sender.ws.close(None).await;
                            return;
                        }
                    }
                }
                frame = sender.ws.next() => {
                    if !on_sender_frame(&mut sender.ws, frame, &shared, current).await {
                        return;
                    }
                }
            }
        };
        current = spec.index;
        let offset = spec.interval.mul_f64(i as f64 / count as f64);
        let mut ticker = tokio::time::interval_at((spec.start + offset).into(), spec.interval);
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    if Instant::now() >= spec.deadline {
                        break;
                    }
                    let stamp = stamp(current, i, n);
                    n += 1;
                    let text = match shared.proto {
                        Proto::Kefu => format!(r#"{{"type":"send","client_id":"{stamp}","body":"load test message 负载测试"}}"#),
                        Proto::SocketIo => sio::message(&sender.room, &stamp),
                    };
                    shared.steps[current].sent.fetch_add(1, Ordering::Relaxed);
                    if send(&mut sender.ws, text).await.is_err() {
                        shared.disconnects.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
                frame = sender.ws.next() => {
                    if !on_sender_frame(&mut sender.ws, frame, &shared, current).await {
                        return;
                    }
                }
            }
        }
    }
}

async fn receiver_task(mut ws: Ws, shared: Arc<Shared>) {
    let marker = match shared.proto {
        Proto::Kefu => KEFU_MARKER,
        Proto::SocketIo => sio::MARKER,
    };
    while let Some(frame) = ws.next().await {
        match frame {
            Ok(Message::Text(text)) => {
                let text = text.as_str();
                if shared.proto == Proto::SocketIo && text == "2" {
                    if send(&mut ws, "3").await.is_err() {
                        break;
                    }
                    continue;
                }
                if shared.proto == Proto::Kefu && !text.contains("\"type\":\"message\"") {
                    continue;
                }
                if let Some((step, sent)) = stamp_after(text, marker)
                    && let Some(stats) = shared.steps.get(step)
                {
                    stats.delivery.record(now_us().saturating_sub(sent));
                }
            }
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    if !shared.stopping.load(Ordering::Relaxed) {
        shared.disconnects.fetch_add(1, Ordering::Relaxed);
    }
}
