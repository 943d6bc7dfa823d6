//! Fan-out of server frames to the connections that subscribed to a topic, on this node and,
//! through Redis pub/sub, on every other node of the region.
//!
//! A published event is delivered to local subscribers at once and sent to Redis tagged with this
//! node's id; each node's listener delivers events of other nodes to its local subscribers. On a
//! single Redis the listener is pattern-subscribed to `kefu:v1:*` (`PUBLISH`). On a Redis Cluster
//! it uses sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`, each channel served by the node of its slot):
//! a node subscribes to a topic's channel while it has local subscribers to it
//! ([`Bus::subscribe`] returns once the subscription is confirmed, so a follower that reads
//! Postgres after subscribing misses nothing) and unsubscribes when the last one left
//! ([`SWEEP_EVERY`]). Pub/sub is best effort: an event lost while a Redis node restarts is
//! recovered from Postgres by the conversation followers (`realtime::recovery`), which fill
//! sequence gaps and resync whenever the listener reconnects (`epoch`). Without Redis the bus is
//! in-process only (a single node).

mod sharded;

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

use redis::cluster_async::ClusterConnection;

use super::socket::encode;
use crate::redis_link::RedisLink;

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

    /// One member's own events in a tenant: all their sessions ending.
    pub fn member(tenant: TenantId, user: kefu_protocol::UserId) -> Self {
        Self(format!("kefu:v1:{}:member:{}", tenant.simple(), user.simple()))
    }

    /// One login session's events: its end.
    pub fn login(tenant: TenantId, session: Uuid) -> Self {
        Self(format!("kefu:v1:{}:login:{}", tenant.simple(), session.simple()))
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
    /// On a cluster: the subscription task's requests.
    sharded: Option<mpsc::UnboundedSender<sharded::Request>>,
    epoch: watch::Sender<u64>,
}

/// How often unused topics are dropped (and, on a cluster, unsubscribed).
pub const SWEEP_EVERY: Duration = Duration::from_secs(30);

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
        Self::build(None, None)
    }

    fn build(
        remote: Option<mpsc::Sender<(Topic, String)>>,
        sharded: Option<mpsc::UnboundedSender<sharded::Request>>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                topics: Mutex::new(HashMap::new()),
                node: Uuid::now_v7(),
                remote,
                sharded,
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
        let bus = Self::build(Some(tx), None);
        tokio::spawn(publish_loop(RedisLink::Single(publisher), "PUBLISH", rx, shutdown.clone()));
        tokio::spawn(listen_loop(bus.clone(), client, shutdown.clone()));
        tokio::spawn(sweep_loop(bus.clone(), shutdown));
        bus
    }

    /// A bus that carries events between nodes through a Redis Cluster's sharded pub/sub:
    /// `commands` publishes, `subscriber` (RESP3, its pushes arriving on `pushes`) subscribes.
    pub fn with_redis_cluster(
        commands: ClusterConnection,
        subscriber: ClusterConnection,
        pushes: crate::redis_link::Pushes,
        shutdown: CancellationToken,
    ) -> Self {
        let (tx, rx) = mpsc::channel(PUBLISH_QUEUE);
        let (requests, requested) = mpsc::unbounded_channel();
        let bus = Self::build(Some(tx), Some(requests));
        tokio::spawn(publish_loop(RedisLink::Cluster(commands), "SPUBLISH", rx, shutdown.clone()));
        tokio::spawn(sharded::subscription_loop(bus.clone(), subscriber, requested, shutdown.clone()));
        tokio::spawn(sharded::push_loop(bus.clone(), pushes, shutdown.clone()));
        tokio::spawn(sweep_loop(bus.clone(), shutdown));
        bus
    }

    /// Subscribes to a topic on this node; on a cluster, returns once this node is subscribed to
    /// the topic's channel (or Redis failed: events missed meanwhile are recovered from
    /// Postgres like any lost event).
    pub async fn subscribe(&self, topic: &Topic) -> broadcast::Receiver<Arc<Delivered>> {
        let (receiver, confirmed) = {
            let mut topics = self.inner.topics.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match topics.get(topic) {
                Some(sender) => (sender.subscribe(), None),
                None => {
                    let (sender, receiver) = broadcast::channel(TOPIC_CAPACITY);
                    topics.insert(topic.clone(), sender);
                    // Sent under the lock, so subscriptions and unsubscriptions of a topic reach
                    // Redis in the order they were decided.
                    let confirmed = self.inner.sharded.as_ref().map(|requests| {
                        let (done, confirmed) = tokio::sync::oneshot::channel();
                        let _ = requests.send(sharded::Request::Subscribe(topic.clone(), done));
                        confirmed
                    });
                    (receiver, confirmed)
                }
            }
        };
        if let Some(confirmed) = confirmed {
            let _ = tokio::time::timeout(Duration::from_secs(5), confirmed).await;
        }
        receiver
    }

    /// Drops the topics nobody on this node follows any more (unsubscribing their channels on
    /// a cluster).
    fn sweep(&self) {
        let mut topics = self.inner.topics.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        topics.retain(|topic, sender| {
            let used = sender.receiver_count() > 0;
            if !used && let Some(requests) = &self.inner.sharded {
                let _ = requests.send(sharded::Request::Unsubscribe(topic.clone()));
            }
            used
        });
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
        let topics = self.inner.topics.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sender) = topics.get(topic) {
            let delivered = Delivered { text: encode(&event.frame), event, published_at, remote };
            // No receivers: the sweep drops the topic.
            let _ = sender.send(Arc::new(delivered));
        }
    }

    /// Delivers an event that arrived from Redis (not one of this node's own).
    fn deliver_remote(&self, channel: String, payload: &str) {
        match serde_json::from_str::<RemoteEvent>(payload) {
            Ok(event) if event.node == self.inner.node => {}
            Ok(event) => self.deliver(
                &Topic(channel),
                BusEvent { frame: event.frame, agents_only: event.agents_only, skip_connection: None },
                event.at,
                true,
            ),
            Err(error) => tracing::warn!(%error, "undecodable bus event"),
        }
    }

    /// Events may have been missed (a Redis connection was lost): followers resync.
    fn missed_events(&self) {
        metrics::counter!("kefu_bus_reconnects_total").increment(1);
        self.inner.epoch.send_modify(|epoch| *epoch += 1);
    }
}

/// Events sent to Redis in one pipeline: under load the publisher sends what queued while the
/// previous pipeline was in flight, one round trip for many events.
const PUBLISH_BATCH: usize = 256;

/// Sends published events to Redis (`PUBLISH`, or `SPUBLISH` on a cluster), in pipelines. On a
/// cluster a pipeline must stay in one slot, so there each event is its own command (the
/// cluster connection still writes them together to each node).
async fn publish_loop(
    mut conn: RedisLink,
    command: &'static str,
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
        let result: redis::RedisResult<()> = if conn.is_cluster() {
            let sends = batch.drain(..).map(|(topic, payload)| {
                let mut conn = conn.clone();
                async move { redis::cmd(command).arg(topic.as_str()).arg(payload).query_async::<()>(&mut conn).await }
            });
            futures_util::future::join_all(sends).await.into_iter().collect()
        } else {
            let mut pipe = redis::pipe();
            for (topic, payload) in batch.drain(..) {
                pipe.cmd(command).arg(topic.as_str()).arg(payload).ignore();
            }
            pipe.query_async(&mut conn).await
        };
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
                    tracing::info!("Redis pub/sub reconnected; resyncing conversations from Postgres");
                    bus.missed_events();
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
                    bus.deliver_remote(channel, &payload);
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

/// Drops unused topics every [`SWEEP_EVERY`].
async fn sweep_loop(bus: Bus, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => bus.sweep(),
        }
    }
}
