//! Fan-out of server frames to the connections that subscribed to a topic, on this node and,
//! through Redis pub/sub, on every other node of the region.
//!
//! A published event is delivered to local subscribers at once and sent to Redis tagged with this
//! node's id; each node's listener (pattern-subscribed to `kefu:v1:*`) delivers events of other
//! nodes to its local subscribers. Pub/sub is best effort: an event lost while Redis restarts is
//! recovered from Postgres by the conversation forwarders (`connection::Outbox::follow`), which
//! fill sequence gaps and resync whenever the listener reconnects (`epoch`). Without Redis the
//! bus is in-process only (a single node).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use futures_util::StreamExt;
use kefu_protocol::ws::ServerFrame;
use kefu_protocol::{ConversationId, TenantId};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::socket::encode;

/// Events buffered per topic for a slow subscriber before it lags (and is disconnected).
const TOPIC_CAPACITY: usize = 1024;
/// Events waiting for the Redis publisher before new ones are dropped (and recovered from
/// Postgres by the receivers).
const PUBLISH_QUEUE: usize = 16 * 1024;
/// The pattern every node listens to.
const PATTERN: &str = "kefu:v1:*";

/// A typed, tenant-prefixed, versioned topic (and Redis channel) name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Topic(String);

impl Topic {
    /// Everything that happens in one conversation.
    pub fn conversation(tenant: TenantId, conversation: ConversationId) -> Self {
        Self(format!("kefu:v1:{}:conv:{}", tenant.simple(), conversation.simple()))
    }

    /// Conversation lifecycle and presence for a tenant's agents.
    pub fn inbox(tenant: TenantId) -> Self {
        Self(format!("kefu:v1:{}:inbox", tenant.simple()))
    }

    /// The wire name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One published frame and who may see it.
#[derive(Debug)]
pub struct BusEvent {
    /// The frame.
    pub frame: ServerFrame,
    /// Private notes and agent-only events: never delivered to visitors.
    pub agents_only: bool,
    /// The local connection that caused it, which does not get it back (typing indicators).
    pub skip_connection: Option<u64>,
}

/// An event as delivered to local followers: the frame (for filtering) and its JSON text,
/// encoded once for every follower on this node.
#[derive(Debug)]
pub struct Delivered {
    /// The event.
    pub event: BusEvent,
    /// The frame as sent on the wire.
    pub text: Utf8Bytes,
    /// When it was published (microseconds since the epoch, by the publishing node's clock).
    pub published_at: i64,
    /// Whether it came from another node.
    pub remote: bool,
}

impl Delivered {
    /// Records how long the event took from publication to a follower's queue
    /// (`kefu_fanout_seconds`, `path` = `local` or `remote`; across nodes it relies on their
    /// clocks agreeing).
    pub fn observe_fanout(&self) {
        let micros = now_micros().saturating_sub(self.published_at).max(0);
        let path = if self.remote { "remote" } else { "local" };
        metrics::histogram!("kefu_fanout_seconds", "path" => path).record(micros as f64 / 1e6);
    }
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// An event as carried by Redis.
#[derive(Serialize, Deserialize)]
struct RemoteEvent {
    node: Uuid,
    agents_only: bool,
    /// Microseconds since the epoch when it was published.
    #[serde(default)]
    at: i64,
    frame: ServerFrame,
}

struct Inner {
    topics: Mutex<HashMap<Topic, broadcast::Sender<Arc<Delivered>>>>,
    node: Uuid,
    remote: Option<mpsc::Sender<(Topic, String)>>,
    epoch: watch::Sender<u64>,
}

/// The bus. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

impl Default for Bus {
    fn default() -> Self {
        Self::local()
    }
}

impl Bus {
    /// A bus for a single node.
    pub fn local() -> Self {
        Self::build(None)
    }

    fn build(remote: Option<mpsc::Sender<(Topic, String)>>) -> Self {
        Self {
            inner: Arc::new(Inner {
                topics: Mutex::new(HashMap::new()),
                node: Uuid::now_v7(),
                remote,
                epoch: watch::channel(0).0,
            }),
        }
    }

    /// A bus that also carries events between nodes through Redis. Starts the publisher and the
    /// listener; both reconnect on their own until `shutdown`.
    pub fn with_redis(
        client: redis::Client,
        publisher: redis::aio::ConnectionManager,
        shutdown: CancellationToken,
    ) -> Self {
        let (tx, rx) = mpsc::channel(PUBLISH_QUEUE);
        let bus = Self::build(Some(tx));
        tokio::spawn(publish_loop(publisher, rx, shutdown.clone()));
        tokio::spawn(listen_loop(bus.clone(), client, shutdown));
        bus
    }

    /// Subscribes to a topic on this node.
    pub fn subscribe(&self, topic: &Topic) -> broadcast::Receiver<Arc<Delivered>> {
        let mut topics = self.inner.topics.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        topics.entry(topic.clone()).or_insert_with(|| broadcast::channel(TOPIC_CAPACITY).0).subscribe()
    }

    /// Changes whenever the cross-node listener reconnected, i.e. events may have been missed.
    pub fn epoch(&self) -> watch::Receiver<u64> {
        self.inner.epoch.subscribe()
    }

    /// Publishes to the topic's subscribers here and on every other node.
    pub fn publish(&self, topic: &Topic, event: BusEvent) {
        let at = now_micros();
        if let Some(remote) = &self.inner.remote {
            let wire =
                RemoteEvent { node: self.inner.node, agents_only: event.agents_only, at, frame: event.frame.clone() };
            match serde_json::to_string(&wire) {
                Ok(payload) => {
                    if remote.try_send((topic.clone(), payload)).is_err() {
                        metrics::counter!("kefu_bus_publish_dropped_total").increment(1);
                    }
                }
                Err(error) => tracing::error!(%error, "could not encode a bus event"),
            }
        }
        self.deliver(topic, event, at, false);
    }

    fn deliver(&self, topic: &Topic, event: BusEvent, published_at: i64, remote: bool) {
        let mut topics = self.inner.topics.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sender) = topics.get(topic) {
            let delivered = Delivered { text: encode(&event.frame), event, published_at, remote };
            if sender.send(Arc::new(delivered)).is_err() {
                topics.remove(topic);
            }
        }
    }
}

/// Events sent to Redis in one pipeline: under load the publisher sends what queued while the
/// previous pipeline was in flight, one round trip for many events.
const PUBLISH_BATCH: usize = 256;

async fn publish_loop(
    mut conn: redis::aio::ConnectionManager,
    mut rx: mpsc::Receiver<(Topic, String)>,
    shutdown: CancellationToken,
) {
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    loop {
        let received = tokio::select! {
            _ = shutdown.cancelled() => return,
            received = rx.recv_many(&mut batch, PUBLISH_BATCH) => received,
        };
        if received == 0 {
            return;
        }
        let mut pipe = redis::pipe();
        for (topic, payload) in batch.drain(..) {
            pipe.cmd("PUBLISH").arg(topic.as_str()).arg(payload).ignore();
        }
        let result: redis::RedisResult<()> = pipe.query_async(&mut conn).await;
        match result {
            Ok(()) => metrics::counter!("kefu_bus_published_total").increment(received as u64),
            Err(error) => {
                metrics::counter!("kefu_bus_publish_failed_total").increment(received as u64);
                tracing::warn!(%error, events = received, "publishing to Redis failed; receivers recover from Postgres");
            }
        }
    }
}

async fn listen_loop(bus: Bus, client: redis::Client, shutdown: CancellationToken) {
    let mut connected_before = false;
    let mut backoff = Duration::from_millis(200);
    loop {
        let attempt = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.psubscribe(PATTERN).await?;
            redis::RedisResult::Ok(pubsub)
        };
        let pubsub = tokio::select! {
            _ = shutdown.cancelled() => return,
            result = tokio::time::timeout(Duration::from_secs(5), attempt) => result,
        };
        match pubsub {
            Ok(Ok(pubsub)) => {
                if connected_before {
                    metrics::counter!("kefu_bus_reconnects_total").increment(1);
                    tracing::info!("Redis pub/sub reconnected; resyncing conversations from Postgres");
                    bus.inner.epoch.send_modify(|epoch| *epoch += 1);
                }
                connected_before = true;
                backoff = Duration::from_millis(200);
                let mut messages = pubsub.into_on_message();
                loop {
                    let message = tokio::select! {
                        _ = shutdown.cancelled() => return,
                        message = messages.next() => message,
                    };
                    let Some(message) = message else { break };
                    let channel = message.get_channel_name().to_owned();
                    let Ok(payload) = message.get_payload::<String>() else { continue };
                    match serde_json::from_str::<RemoteEvent>(&payload) {
                        Ok(event) if event.node == bus.inner.node => {}
                        Ok(event) => bus.deliver(
                            &Topic(channel),
                            BusEvent { frame: event.frame, agents_only: event.agents_only, skip_connection: None },
                            event.at,
                            true,
                        ),
                        Err(error) => tracing::warn!(%error, "undecodable bus event"),
                    }
                }
                tracing::warn!("Redis pub/sub connection lost; reconnecting");
            }
            Ok(Err(error)) => tracing::warn!(%error, "cannot subscribe to Redis; retrying"),
            Err(_) => tracing::warn!("subscribing to Redis timed out; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
