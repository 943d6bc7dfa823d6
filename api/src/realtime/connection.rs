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
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::bus::{BusEvent, Topic};

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
    queue: mpsc::Sender<ServerFrame>,
    /// The kill switch.
    pub kill: Kill,
    visitor: bool,
    subscriptions: HashMap<Topic, JoinHandle<()>>,
}

impl Outbox {
    /// Queues a frame; a full queue means a slow consumer, which is disconnected.
    pub fn send(&self, frame: ServerFrame) {
        if self.queue.try_send(frame).is_err() {
            self.kill.close(close::SLOW_CONSUMER);
        }
    }

    /// Whether this connection already follows `topic`.
    pub fn follows(&self, topic: &Topic) -> bool {
        self.subscriptions.contains_key(topic)
    }

    /// Follows a topic. `replayed` are frames to send first (a resume); live `message` frames of
    /// `conversation` with a sequence number at or below the last replayed one are skipped, so the
    /// client sees each message once, in order.
    pub fn follow(
        &mut self,
        topic: Topic,
        receiver: broadcast::Receiver<Arc<BusEvent>>,
        conversation: Option<ConversationId>,
        replayed: Vec<ServerFrame>,
    ) {
        if self.follows(&topic) {
            return;
        }
        let mut skip_up_to = 0;
        for frame in replayed {
            if let ServerFrame::Message(m) = &frame {
                skip_up_to = skip_up_to.max(m.seq);
            }
            self.send(frame);
        }
        let (queue, kill, me, visitor) = (self.queue.clone(), self.kill.clone(), self.id, self.visitor);
        let mut receiver = receiver;
        let task = tokio::spawn(async move {
            loop {
                match receiver.recv().await {
                    Ok(event) => {
                        if event.skip_connection == Some(me) || (visitor && event.agents_only) {
                            continue;
                        }
                        if let ServerFrame::Message(m) = &event.frame
                            && Some(m.conversation_id) == conversation
                            && m.seq <= skip_up_to
                        {
                            continue;
                        }
                        if queue.try_send(event.frame.clone()).is_err() {
                            kill.close(close::SLOW_CONSUMER);
                            break;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        kill.close(close::SLOW_CONSUMER);
                        break;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        self.subscriptions.insert(topic, task);
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        for task in self.subscriptions.values() {
            task.abort();
        }
    }
}

/// Starts the writer task for `sink` and returns the outbox that feeds it.
pub fn start(
    id: u64,
    visitor: bool,
    sink: SplitSink<WebSocket, Message>,
    shutdown: CancellationToken,
) -> (Outbox, JoinHandle<()>) {
    let (queue, receiver) = mpsc::channel(limits::OUTBOUND_QUEUE);
    let kill = Kill::default();
    let writer = tokio::spawn(write_loop(sink, receiver, kill.clone(), shutdown));
    (Outbox { id, queue, kill, visitor, subscriptions: HashMap::new() }, writer)
}

async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut frames: mpsc::Receiver<ServerFrame>,
    kill: Kill,
    shutdown: CancellationToken,
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
            frame = frames.recv() => {
                let Some(frame) = frame else { break };
                let Ok(text) = serde_json::to_string(&frame) else { continue };
                if sink.send(Message::Text(text.into())).await.is_err() {
                    kill.close(close::NORMAL);
                    return;
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
    if code != close::SLOW_CONSUMER {
        while let Ok(frame) = frames.try_recv() {
            if let Ok(text) = serde_json::to_string(&frame)
                && sink.send(Message::Text(text.into())).await.is_err()
            {
                return;
            }
        }
    }
    let reason = match code {
        close::GOING_AWAY => "server shutting down; reconnect and resume",
        close::SLOW_CONSUMER => "slow consumer; reconnect and resume",
        close::TOKEN_EXPIRED => "token expired; get a new one and resume",
        close::IDLE_TIMEOUT => "idle timeout",
        close::UNSUPPORTED_VERSION => "unsupported protocol version",
        close::HELLO_REQUIRED => "the first frame must be hello",
        close::TOO_BIG => "frame too large",
        close::UNSUPPORTED_DATA => "binary frames are not supported",
        close::POLICY_VIOLATION => "too many frames",
        _ => "",
    };
    let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) }))).await;
    let _ = sink.close().await;
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
