//! One WebSocket connection's plumbing, independent of who is connected: the bounded outbound
//! queue and its writer task (heartbeats, close codes), bus subscriptions that forward into the
//! queue, and the kill switch used for slow consumers, expired tokens and shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use kefu_protocol::ConversationId;
use kefu_protocol::ws::{ServerFrame, close, limits};
use sqlx::PgPool;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::bus::{Delivered, Topic, encode};
use super::queue::Queue;
use crate::db::TenantSchema;

/// Longest time one frame may take to be written before the client counts as a slow consumer.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Ends a connection with a close code, from any task.
#[derive(Clone, Default)]
pub struct Kill {
    token: CancellationToken,
    code: Arc<AtomicU16>,
}

impl Kill {
    /// Closes the connection with `code` (the first code wins).
    pub fn close(&self, code: u16) {
        let _ = self.code.compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
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

/// The sending half of a connection.
pub struct Outbox {
    /// Connection id (unique per node), used to skip echoes.
    pub id: u64,
    queue: Queue,
    /// The kill switch.
    pub kill: Kill,
    visitor: bool,
    subscriptions: HashMap<Topic, JoinHandle<()>>,
    /// Stops the forwarders between two steps, never inside one: a forwarder may be in the
    /// middle of a replay transaction, which aborting would leave open on a pooled connection.
    stop: CancellationToken,
}

impl Outbox {
    /// Queues a frame; a full queue means a slow consumer, which is disconnected.
    pub fn send(&self, frame: ServerFrame) {
        self.queue.push(encode(&frame));
    }

    /// Whether this connection already follows `topic`.
    pub fn follows(&self, topic: &Topic) -> bool {
        self.subscriptions.contains_key(topic)
    }

    /// Follows a topic. For a conversation, `recovery` first replays everything stored after
    /// the client's last sequence number (page by page, at the client's pace; this returns once
    /// it is queued), and then makes delivery exactly-once and in order whatever the bus does:
    /// live messages at or below the last delivered sequence number are skipped, a gap is filled
    /// from Postgres before the message that revealed it, and when the cross-node bus reconnects
    /// everything after the last delivered message is fetched again. Subscribe (`receiver`)
    /// before calling this, so nothing published during the replay is missed.
    pub async fn follow(
        &mut self,
        topic: Topic,
        receiver: broadcast::Receiver<Arc<Delivered>>,
        recovery: Option<Recovery>,
    ) {
        if self.follows(&topic) {
            return;
        }
        let last_seq = recovery.as_ref().map_or(0, |r| r.after_seq);
        let mut forwarder = Forwarder {
            queue: self.queue.clone(),
            me: self.id,
            visitor: self.visitor,
            recovery,
            last_seq,
            stop: self.stop.clone(),
        };
        if !forwarder.fill(i64::MAX).await {
            return;
        }
        let task = tokio::spawn(forwarder.run(receiver));
        self.subscriptions.insert(topic, task);
    }
}

/// What a conversation forwarder needs to recover missed messages from Postgres.
pub struct Recovery {
    /// The conversation.
    pub conversation: ConversationId,
    /// The sequence number the client already has.
    pub after_seq: i64,
    /// The pool.
    pub pool: PgPool,
    /// The tenant schema.
    pub schema: TenantSchema,
    /// Agents see private notes; visitors do not.
    pub include_private: bool,
    /// Bus reconnections.
    pub epoch: watch::Receiver<u64>,
}

struct Forwarder {
    queue: Queue,
    me: u64,
    visitor: bool,
    recovery: Option<Recovery>,
    last_seq: i64,
    stop: CancellationToken,
}

impl Forwarder {
    async fn run(mut self, mut receiver: broadcast::Receiver<Arc<Delivered>>) {
        let stop = self.stop.clone();
        loop {
            let epoch_changed = async {
                match self.recovery.as_mut() {
                    Some(recovery) => recovery.epoch.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                // Checked only while waiting: a replay or gap fill in progress runs to its end
                // (its pushes fail once the queue is closed), so its transaction is finished.
                () = stop.cancelled() => return,
                event = receiver.recv() => match event {
                    Ok(event) => {
                        if !self.forward(&event).await {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) if self.recovery.is_some() => {
                        // Missed events: messages come back from Postgres; the rest is ephemeral.
                        if !self.fill(i64::MAX).await {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        self.queue.kill.close(close::SLOW_CONSUMER);
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                changed = epoch_changed => {
                    if !changed || !self.fill(i64::MAX).await {
                        return;
                    }
                }
            }
        }
    }

    async fn forward(&mut self, delivered: &Delivered) -> bool {
        let event = &delivered.event;
        if event.skip_connection == Some(self.me) || (self.visitor && event.agents_only) {
            return true;
        }
        if let (Some(recovery), ServerFrame::Message(m)) = (&self.recovery, &event.frame)
            && m.conversation_id == recovery.conversation
        {
            if m.seq <= self.last_seq {
                return true;
            }
            if m.seq > self.last_seq + 1 && !self.fill(m.seq - 1).await {
                return false;
            }
            self.last_seq = m.seq;
        }
        // A conversation update names the conversation's last sequence number: anything beyond
        // what this client got was lost on the way (a node died before publishing it).
        if let (Some(recovery), ServerFrame::ConversationUpdated(summary)) = (&self.recovery, &event.frame)
            && summary.conversation_id == recovery.conversation
            && summary.last_seq > self.last_seq
            && !self.fill(summary.last_seq).await
        {
            return false;
        }
        // Visitors never see the team's internal fields of a conversation (tags, team,
        // participants): their copy of an update is re-encoded without them.
        if self.visitor
            && let ServerFrame::ConversationUpdated(summary) = &event.frame
            && summary.has_internal_fields()
        {
            return self.queue.push(super::bus::encode(&ServerFrame::ConversationUpdated(summary.for_visitor())));
        }
        self.queue.push(delivered.text.clone())
    }

    /// Queues every stored message after the last delivered one, up to `up_to`, page by page.
    /// False when the connection ends; a database failure closes it with `try_again_later`, so
    /// the client resumes rather than silently missing messages.
    async fn fill(&mut self, up_to: i64) -> bool {
        let Some(recovery) = &self.recovery else { return true };
        loop {
            let page = super::service::replay_page(
                &recovery.pool,
                &recovery.schema,
                recovery.conversation,
                self.last_seq,
                recovery.include_private,
            )
            .await;
            let messages = match page {
                Ok(messages) => messages,
                Err(error) => {
                    tracing::warn!(code = ?error.code, "could not replay messages; closing so the client resumes");
                    self.queue.kill.close(close::TRY_AGAIN_LATER);
                    return false;
                }
            };
            let complete = i64::try_from(messages.len()).unwrap_or(i64::MAX) < limits::REPLAY_PAGE;
            for message in messages {
                if message.seq > up_to {
                    return true;
                }
                self.last_seq = message.seq;
                if !self.queue.push_replayed(encode(&ServerFrame::Message(message))).await {
                    return false;
                }
            }
            if complete || self.last_seq >= up_to {
                break;
            }
        }
        if up_to != i64::MAX {
            // Sequence numbers up to `up_to` that are not visible here (private notes) are not gaps.
            self.last_seq = self.last_seq.max(up_to);
        }
        true
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        // The session is over: the writer sends what is queued and closes.
        self.queue.close(false);
        self.stop.cancel();
    }
}

/// Starts the writer task for `sink` and returns the outbox that feeds it. The writer also ends
/// the session with `token_expired` when `token_exp` (seconds since the epoch) passes.
pub fn start(
    id: u64,
    visitor: bool,
    sink: SplitSink<WebSocket, Message>,
    shutdown: CancellationToken,
    token_exp: i64,
) -> (Outbox, JoinHandle<()>) {
    let kill = Kill::default();
    let queue = Queue::new(kill.clone());
    let remaining = u64::try_from(token_exp.saturating_sub(chrono::Utc::now().timestamp())).unwrap_or(0);
    let expires = tokio::time::Instant::now() + Duration::from_secs(remaining);
    let writer = tokio::spawn(write_loop(sink, queue.clone(), kill.clone(), shutdown, expires));
    (Outbox { id, queue, kill, visitor, subscriptions: HashMap::new(), stop: CancellationToken::new() }, writer)
}

async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    frames: Queue,
    kill: Kill,
    shutdown: CancellationToken,
    expires: tokio::time::Instant,
) {
    let mut heartbeat = tokio::time::interval(Duration::from_secs(limits::HEARTBEAT_SECS));
    heartbeat.tick().await;
    loop {
        tokio::select! {
            biased;
            _ = kill.closed() => break,
            _ = shutdown.cancelled() => {
                kill.close(close::GOING_AWAY);
                break;
            }
            _ = tokio::time::sleep_until(expires) => {
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
                    }
                    _ = kill.closed() => break,
                    _ = tokio::time::sleep(WRITE_TIMEOUT) => {
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
    let reason = match code {
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
    };
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
        let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) }))).await;
        let _ = sink.close().await;
    };
    let patience = if slow { WRITE_TIMEOUT } else { Duration::from_secs(2) };
    // A client that does not read may never take the rest: then the socket is simply dropped.
    let _ = tokio::time::timeout(patience, closing).await;
}

/// What the reader got from the client.
pub enum Incoming {
    /// A text frame.
    Text(String),
    /// The connection ended (closed, errored, or killed).
    Closed,
}

/// Reads the next text frame, answering protocol violations with the right close code.
pub async fn next_text(stream: &mut futures_util::stream::SplitStream<WebSocket>, kill: &Kill) -> Incoming {
    let idle = Duration::from_secs(limits::IDLE_TIMEOUT_SECS);
    loop {
        let next = tokio::select! {
            _ = kill.closed() => return Incoming::Closed,
            next = tokio::time::timeout(idle, stream.next()) => next,
        };
        match next {
            Err(_) => {
                kill.close(close::IDLE_TIMEOUT);
                return Incoming::Closed;
            }
            Ok(None) => return Incoming::Closed,
            Ok(Some(Err(error))) => {
                let text = error.to_string();
                kill.close(if text.contains("too long") || text.contains("Space limit") {
                    close::TOO_BIG
                } else {
                    close::NORMAL
                });
                return Incoming::Closed;
            }
            Ok(Some(Ok(message))) => match message {
                Message::Text(text) => return Incoming::Text(text.to_string()),
                Message::Binary(_) => {
                    kill.close(close::UNSUPPORTED_DATA);
                    return Incoming::Closed;
                }
                Message::Close(_) => return Incoming::Closed,
                Message::Ping(_) | Message::Pong(_) => continue,
            },
        }
    }
}
