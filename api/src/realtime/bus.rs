//! Fan-out of server frames to the connections that subscribed to a topic.
//!
//! In-process for now (one node, or tests); the Redis pub/sub backend that carries the same
//! events between nodes plugs in behind `Bus::publish`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kefu_protocol::ws::ServerFrame;
use kefu_protocol::{ConversationId, TenantId};
use tokio::sync::broadcast;

/// Events buffered per topic for a slow subscriber before it lags (and is disconnected).
const TOPIC_CAPACITY: usize = 1024;

/// A typed, tenant-prefixed, versioned topic name.
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
    /// The connection that caused it, which does not get it back (typing indicators).
    pub skip_connection: Option<u64>,
}

/// The in-process bus.
#[derive(Clone, Default)]
pub struct Bus {
    topics: Arc<Mutex<HashMap<Topic, broadcast::Sender<Arc<BusEvent>>>>>,
}

impl Bus {
    /// Subscribes to a topic.
    pub fn subscribe(&self, topic: &Topic) -> broadcast::Receiver<Arc<BusEvent>> {
        let mut topics = self.topics.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        topics.entry(topic.clone()).or_insert_with(|| broadcast::channel(TOPIC_CAPACITY).0).subscribe()
    }

    /// Publishes to a topic's current subscribers; topics nobody listens to are dropped.
    pub fn publish(&self, topic: &Topic, event: BusEvent) {
        let mut topics = self.topics.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sender) = topics.get(topic)
            && sender.send(Arc::new(event)).is_err()
        {
            topics.remove(topic);
        }
    }
}
