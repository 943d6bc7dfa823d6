//! Socket I/O for one WebSocket connection, whoever is connected: the writer task (queued frames,
//! heartbeats, write timeout, close codes), the reader (idle timeout, frame rate limit, decoding
//! into typed frames) and the kill switch any task can pull.
//!
//! Nothing here touches the database or the bus, and both halves are generic over
//! `Sink`/`Stream` of WebSocket messages, so a session can be driven by channels in a test.
//!
//! Architecture invariant: every frame a connection sends goes through its [`queue::Queue`]: live
//! frames fail fast into a slow-consumer close (4000), replayed frames wait for room.

pub mod queue;

use std::fmt::Display;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use kefu_protocol::ws::{self, ServerFrame, WsErrorCode, close, limits};
use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use queue::Queue;

/// Longest time one frame may take to be written before the client counts as a slow consumer.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Refused frames after which a client that keeps flooding is disconnected (1008).
const FLOOD_STRIKES: u32 = 200;

/// Who is on the other end, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A visitor (through the edge).
    Visitor,
    /// A member of a tenant (the console or an integration).
    Agent,
}

impl Kind {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Visitor => "visitor",
            Kind::Agent => "agent",
        }
    }
}

/// A connection's id, unique on this node (used to skip echoes of a connection's own events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionId(u64);

impl ConnectionId {
    /// The next id on this node.
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Ends a connection with a close code, from any task.
#[derive(Clone, Default)]
pub struct Kill {
    token: CancellationToken,
    code: Arc<AtomicU16>,
}

impl Kill {
    /// Closes the connection with `code` (the first code wins).
    pub fn close(&self, code: u16) {
        if self.code.compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst).is_ok()
            && code == close::SLOW_CONSUMER
        {
            metrics::counter!("kefu_ws_slow_consumer_closes_total").increment(1);
        }
        self.token.cancel();
    }

    /// Resolves once the connection is being closed.
    pub async fn closed(&self) {
        self.token.cancelled().await;
    }

    /// Whether a close was requested.
    pub fn is_closed(&self) -> bool {
        self.token.is_cancelled()
    }

    fn code(&self) -> u16 {
        match self.code.load(Ordering::SeqCst) {
            0 => close::NORMAL,
            code => code,
        }
    }
}

/// The sending side of a connection. Cheap to clone into every task that sends to it.
#[derive(Clone)]
pub struct Outbound {
    /// This connection's id.
    pub id: ConnectionId,
    /// Its queue (which carries the kill switch).
    pub queue: Queue,
}

impl Outbound {
    /// Queues a frame; a full queue means a slow consumer, which is disconnected.
    pub fn send(&self, frame: &ServerFrame) {
        self.queue.push(encode(frame));
    }

    /// Tells the client a frame was refused.
    pub fn refuse(&self, refusal: Refusal) {
        let reconnect = refusal.reconnect;
        self.send(&refusal.into_frame());
        if reconnect {
            self.queue.kill.close(close::GOING_AWAY);
        }
    }

    /// The kill switch.
    pub fn kill(&self) -> &Kill {
        &self.queue.kill
    }
}

/// A refused frame, as sent in an `error` frame.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// Code.
    pub code: WsErrorCode,
    /// For people.
    pub message: String,
    /// Whether the same frame may succeed later.
    pub retryable: bool,
    /// Close the connection after refusing (`going_away`): the client must reconnect first.
    pub reconnect: bool,
    /// The refused frame's client id.
    pub client_id: Option<String>,
    /// The conversation the refused frame named.
    pub conversation_id: Option<kefu_protocol::ConversationId>,
}

impl Refusal {
    /// The `error` frame.
    pub fn into_frame(self) -> ServerFrame {
        ServerFrame::Error {
            code: self.code,
            message: self.message,
            client_id: self.client_id,
            conversation_id: self.conversation_id,
            retryable: self.retryable,
        }
    }
}

/// Encodes a server frame as WebSocket text.
pub fn encode(frame: &ServerFrame) -> Utf8Bytes {
    Utf8Bytes::from(serde_json::to_string(frame).unwrap_or_default())
}

/// Starts the writer task for `sink` and returns the connection's sending side. The writer ends
/// the session with `going_away` on `shutdown` and with `token_expired` once `token_exp`
/// (seconds since the epoch) passes.
pub fn start<S>(kind: Kind, sink: S, shutdown: CancellationToken, token_exp: i64) -> (Outbound, JoinHandle<()>)
where
    S: Sink<Message> + Send + Unpin + 'static,
    S::Error: Display,
{
    let kill = Kill::default();
    let queue = Queue::new(kill.clone());
    let remaining = u64::try_from(token_exp.saturating_sub(chrono::Utc::now().timestamp())).unwrap_or(0);
    let expires = tokio::time::Instant::now() + Duration::from_secs(remaining);
    let writer = tokio::spawn(write_loop(kind, sink, queue.clone(), kill, shutdown, expires));
    (Outbound { id: ConnectionId::next(), queue }, writer)
}

async fn write_loop<S>(
    kind: Kind,
    mut sink: S,
    frames: Queue,
    kill: Kill,
    shutdown: CancellationToken,
    expires: tokio::time::Instant,
) where
    S: Sink<Message> + Unpin,
    S::Error: Display,
{
    let _open = OpenGauge::new(kind);
    let sent = metrics::counter!("kefu_ws_frames_out_total", "kind" => kind.label());
    let mut heartbeat = tokio::time::interval(Duration::from_secs(limits::HEARTBEAT_SECS));
    heartbeat.tick().await;
    loop {
        tokio::select! {
            biased;
            () = kill.closed() => break,
            () = shutdown.cancelled() => {
                kill.close(close::GOING_AWAY);
                break;
            }
            () = tokio::time::sleep_until(expires) => {
                kill.close(close::TOKEN_EXPIRED);
                break;
            }
            frame = frames.next() => {
                let Some(text) = frame else { break };
                // A write that cannot complete (the client stopped reading) must not pin the task:
                // it is abandoned when the connection is killed or after the write timeout.
                tokio::select! {
                    result = sink.send(Message::Text(text)) => {
                        if let Err(error) = result {
                            tracing::debug!(%error, "websocket write failed");
                            kill.close(close::NORMAL);
                            return;
                        }
                        sent.increment(1);
                    }
                    () = kill.closed() => break,
                    () = tokio::time::sleep(WRITE_TIMEOUT) => {
                        kill.close(close::SLOW_CONSUMER);
                        break;
                    }
                }
            }
            _ = heartbeat.tick() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    kill.close(close::NORMAL);
                    return;
                }
            }
        }
    }
    // Flush what is already queued unless the consumer was too slow, then close with the code.
    let code = kill.code();
    tracing::debug!(code, "closing websocket");
    // A slow consumer's queue is dropped (it resumes from its last sequence number), but the
    // close frame waits behind what the socket already holds for as long as one write may take,
    // so a client that reads again learns why. Otherwise the queue is flushed first, briefly.
    let slow = code == close::SLOW_CONSUMER;
    frames.close(slow);
    let closing = async {
        if !slow {
            while let Some(text) = frames.try_next() {
                if sink.send(Message::Text(text)).await.is_err() {
                    return;
                }
            }
        }
        let reason = Utf8Bytes::from_static(close_reason(code));
        let _ = sink.send(Message::Close(Some(CloseFrame { code, reason }))).await;
        let _ = sink.close().await;
    };
    let patience = if slow { WRITE_TIMEOUT } else { Duration::from_secs(2) };
    // A client that does not read may never take the rest: then the socket is simply dropped.
    let _ = tokio::time::timeout(patience, closing).await;
}

fn close_reason(code: u16) -> &'static str {
    match code {
        close::GOING_AWAY => "server shutting down; reconnect and resume",
        close::SLOW_CONSUMER => "slow consumer; reconnect and resume",
        close::TOKEN_EXPIRED => "token expired; get a new one and resume",
        close::ACCESS_REVOKED => "access revoked; sign in again",
        close::IDLE_TIMEOUT => "idle timeout",
        close::UNSUPPORTED_VERSION => "unsupported protocol version",
        close::HELLO_REQUIRED => "the first frame must be hello",
        close::TOO_BIG => "frame too large",
        close::TRY_AGAIN_LATER => "temporarily unavailable; reconnect after a pause",
        close::UNSUPPORTED_DATA => "binary frames are not supported",
        close::POLICY_VIOLATION => "too many frames",
        _ => "",
    }
}

/// Counts a connection in `kefu_ws_connections{kind}` while it lives.
struct OpenGauge(Kind);

impl OpenGauge {
    fn new(kind: Kind) -> Self {
        metrics::gauge!("kefu_ws_connections", "kind" => kind.label()).increment(1.0);
        Self(kind)
    }
}

impl Drop for OpenGauge {
    fn drop(&mut self) {
        metrics::gauge!("kefu_ws_connections", "kind" => self.0.label()).decrement(1.0);
    }
}

/// What the reader got from the client.
pub enum Incoming {
    /// A text frame.
    Text(String),
    /// The connection ended (closed, errored, or killed).
    Closed,
}

/// The receiving side of a connection: text frames with the idle timeout, the per-connection
/// frame limit (20/s, bursts of 40) and decoding into typed frames.
pub struct Reader<St> {
    stream: St,
    kill: Kill,
    limiter: governor::DefaultDirectRateLimiter,
    strikes: u32,
    received: metrics::Counter,
}

impl<St, E> Reader<St>
where
    St: Stream<Item = Result<Message, E>> + Unpin,
    E: Display,
{
    /// Reads `stream` for the connection whose kill switch is `kill`.
    pub fn new(kind: Kind, stream: St, kill: Kill) -> Self {
        let per_second = std::num::NonZeroU32::new(limits::FRAMES_PER_SECOND).unwrap_or(std::num::NonZeroU32::MIN);
        let burst = std::num::NonZeroU32::new(limits::FRAME_BURST).unwrap_or(std::num::NonZeroU32::MIN);
        Self {
            stream,
            kill,
            limiter: governor::RateLimiter::direct(governor::Quota::per_second(per_second).allow_burst(burst)),
            strikes: 0,
            received: metrics::counter!("kefu_ws_frames_in_total", "kind" => kind.label()),
        }
    }

    /// The next text frame, answering protocol violations with the right close code.
    pub async fn next_text(&mut self) -> Incoming {
        let idle = Duration::from_secs(limits::IDLE_TIMEOUT_SECS);
        loop {
            let next = tokio::select! {
                () = self.kill.closed() => return Incoming::Closed,
                next = tokio::time::timeout(idle, self.stream.next()) => next,
            };
            match next {
                Err(_) => {
                    self.kill.close(close::IDLE_TIMEOUT);
                    return Incoming::Closed;
                }
                Ok(None) => return Incoming::Closed,
                Ok(Some(Err(error))) => {
                    let text = error.to_string();
                    let too_big = text.contains("too long") || text.contains("Space limit");
                    self.kill.close(if too_big { close::TOO_BIG } else { close::NORMAL });
                    return Incoming::Closed;
                }
                Ok(Some(Ok(message))) => match message {
                    Message::Text(text) => {
                        self.received.increment(1);
                        return Incoming::Text(text.to_string());
                    }
                    Message::Binary(_) => {
                        self.kill.close(close::UNSUPPORTED_DATA);
                        return Incoming::Closed;
                    }
                    Message::Close(_) => return Incoming::Closed,
                    Message::Ping(_) | Message::Pong(_) => continue,
                },
            }
        }
    }

    /// The client's next valid frame, answering rate-limited and undecodable frames with
    /// `error` frames on `out` (and disconnecting a client that keeps flooding). `None` when the
    /// session ends.
    pub async fn next_frame<F>(&mut self, out: &Outbound) -> Option<F>
    where
        F: for<'de> Deserialize<'de> + ws::Validate,
    {
        loop {
            let Incoming::Text(text) = self.next_text().await else { return None };
            if self.limiter.check().is_err() {
                self.strikes += 1;
                if self.strikes > FLOOD_STRIKES {
                    self.kill.close(close::POLICY_VIOLATION);
                    return None;
                }
                out.refuse(Refusal {
                    code: WsErrorCode::RateLimited,
                    message: "Too many frames; slow down.".into(),
                    retryable: false,
                    reconnect: false,
                    client_id: None,
                    conversation_id: None,
                });
                continue;
            }
            match ws::decode::<F>(&text) {
                Ok(frame) => return Some(frame),
                Err(error) => out.refuse(Refusal {
                    code: error.code,
                    message: error.message,
                    retryable: false,
                    reconnect: false,
                    client_id: None,
                    conversation_id: None,
                }),
            }
        }
    }
}
