//! The one publish path after commit: every durable change (a message stored, a conversation
//! claimed or closed, a read receipt, a page view, a visitor's profile) is announced here once,
//! after its transaction committed.
//!
//! This is the extension point later features hang off (the FAQ bot, search indexing, outgoing
//! webhooks, analytics). Two ways to listen:
//! - a [`Subscriber`] registered at start-up is called synchronously, in commit order per
//!   publisher, and must not block: the real-time fan-out is one (it queues frames and hands
//!   events to Redis), anything slower hands the change to its own task;
//! - [`Events::subscribe`] gives a stream for a task of its own; a receiver that falls more than
//!   [`STREAM_CAPACITY`] changes behind is told it lagged and must catch up from Postgres.
//!
//! Changes are announced on the node that made them, once; they are a trigger, not a record: a
//! node can die between the commit and the announcement. A feature that must not miss one
//! records what it needs in the same transaction as the change (an outbox table) and uses the
//! announcement only to react quickly: webhooks do, their outbox written by triggers
//! (`crate::webhooks`).

use std::sync::Arc;

use kefu_protocol::ws::Sender;
use kefu_protocol::{ConversationId, TenantId, VisitorId};
use tokio::sync::broadcast;

use crate::db::conversations::ConversationRow;
use crate::db::messages::MessageRow;

/// Changes buffered for each stream subscriber before it lags.
pub const STREAM_CAPACITY: usize = 4096;

/// Why a conversation changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationChange {
    /// An agent took it.
    Claimed,
    /// The assignment engine gave it to an agent.
    Assigned,
    /// Closed by an agent or the visitor.
    Closed,
    /// Opened again.
    Reopened,
    /// Handed to another agent or a team.
    Transferred,
    /// Its tags changed.
    Tagged,
    /// A colleague was invited in.
    ParticipantAdded,
    /// The visitor rated it.
    Rated,
    /// Its team went away.
    TeamRemoved,
    /// The FAQ bot handed it to people: it joins the queue.
    HandedOff,
}

/// A committed change.
// Built once per commit and handed out by reference: the size difference between variants costs
// nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Change {
    /// A message, note or system note was stored.
    MessageStored {
        /// The tenant.
        tenant: TenantId,
        /// The message.
        message: MessageRow,
        /// The conversation, when the same transaction changed it (every chat message does).
        conversation: Option<ConversationRow>,
        /// Whether this message opened the conversation.
        opened: bool,
    },
    /// A conversation's state changed (status, assignee, team, tags, participants, rating).
    ConversationChanged {
        /// The tenant.
        tenant: TenantId,
        /// The conversation as it now is.
        conversation: ConversationRow,
        /// Why.
        cause: ConversationChange,
    },
    /// One side read a conversation up to a sequence number.
    Read {
        /// The tenant.
        tenant: TenantId,
        /// The conversation.
        conversation: ConversationId,
        /// Who read.
        reader: Sender,
        /// Up to here.
        seq: i64,
        /// The node-local number of the connection it came from, which is not told again.
        origin: Option<u64>,
    },
    /// A visitor opened a page.
    PageViewed {
        /// The tenant.
        tenant: TenantId,
        /// The visitor.
        visitor: VisitorId,
        /// Their open conversation, if any.
        conversation: Option<ConversationId>,
        /// The page.
        url: String,
        /// Its title.
        title: Option<String>,
        /// When.
        viewed_at: chrono::DateTime<chrono::Utc>,
    },
    /// A visitor's profile or the host page's context changed.
    VisitorUpdated {
        /// The tenant.
        tenant: TenantId,
        /// The visitor.
        visitor: VisitorId,
    },
    /// The queue's order changed while no conversation did: a priority set by hand, the
    /// routing settings.
    QueueReordered {
        /// The tenant.
        tenant: TenantId,
    },
}

/// Something that reacts to every committed change, synchronously; it must not block.
pub trait Subscriber: Send + Sync {
    /// Called once per change, after its commit.
    fn committed(&self, change: &Change);
}

/// The publish path. Cheap to clone.
#[derive(Clone)]
pub struct Events {
    subscribers: Arc<[Arc<dyn Subscriber>]>,
    stream: broadcast::Sender<Arc<Change>>,
}

impl Events {
    /// The publish path with its synchronous subscribers.
    pub fn new(subscribers: Vec<Arc<dyn Subscriber>>) -> Self {
        Self { subscribers: subscribers.into(), stream: broadcast::channel(STREAM_CAPACITY).0 }
    }

    /// Announces a committed change.
    pub fn publish(&self, change: Change) {
        for subscriber in self.subscribers.iter() {
            subscriber.committed(&change);
        }
        if self.stream.receiver_count() > 0 {
            let _ = self.stream.send(Arc::new(change));
        }
    }

    /// A stream of every change published on this node from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.stream.subscribe()
    }
}
