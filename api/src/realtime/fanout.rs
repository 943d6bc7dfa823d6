//! Who hears about what: committed changes ([`Change`], as a [`Subscriber`] of the publish path)
//! and ephemeral signals (typing, presence, a visitor coming back) become server frames on the
//! bus topics of the right audience. This is the only place that builds bus events.
//!
//! Audiences: a conversation's topic reaches its followers (the visitor and the agents in it); the
//! tenant's inbox topic reaches its agents. Private notes, page views, visitor updates and
//! ratings are for agents only; visitors get conversation updates without the team's internal
//! fields (the forwarder strips them, `recovery`).

use kefu_protocol::ws::{AgentStatus, Sender, ServerFrame};
use kefu_protocol::{ConversationId, TenantId, UserId, VisitorId};

use super::bus::{Bus, BusEvent, Topic};
use crate::db::conversations::ConversationRow;
use crate::ops::events::{Change, ConversationChange, Subscriber};

/// The fan-out. Cheap to clone.
#[derive(Clone)]
pub struct Fanout {
    bus: Bus,
}

/// Who on a topic gets an event.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Audience {
    Everyone,
    AgentsOnly,
}

impl Fanout {
    /// The fan-out over `bus`.
    pub fn new(bus: Bus) -> Self {
        Self { bus }
    }

    fn publish(&self, topic: &Topic, frame: ServerFrame, audience: Audience, skip: Option<u64>) {
        self.bus
            .publish(topic, BusEvent { frame, agents_only: audience == Audience::AgentsOnly, skip_connection: skip });
    }

    fn conversation_updated(&self, tenant: TenantId, row: &ConversationRow, audience: Audience, skip: Option<u64>) {
        let frame = ServerFrame::ConversationUpdated(row.summary());
        let conversation = row.id;
        self.publish(&Topic::conversation(tenant, conversation), frame.clone(), audience, skip);
        self.publish(&Topic::inbox(tenant), frame, Audience::AgentsOnly, None);
    }

    /// Someone in a conversation is (no longer) typing; their own connection is skipped.
    pub fn typing(&self, tenant: TenantId, conversation: ConversationId, sender: Sender, typing: bool, origin: u64) {
        let frame = ServerFrame::Typing { conversation_id: conversation, sender, typing };
        self.publish(&Topic::conversation(tenant, conversation), frame, Audience::Everyone, Some(origin));
    }

    /// An agent's status across all their connections changed.
    pub fn agent_presence(&self, tenant: TenantId, agent: UserId, status: AgentStatus) {
        let frame = ServerFrame::Presence { agent_id: agent, status };
        self.publish(&Topic::inbox(tenant), frame, Audience::AgentsOnly, None);
    }

    /// A visitor's first tab opened or their last one closed.
    pub fn visitor_presence(&self, tenant: TenantId, visitor: VisitorId, online: bool) {
        let frame = ServerFrame::VisitorPresence { visitor_id: visitor, online };
        self.publish(&Topic::inbox(tenant), frame, Audience::AgentsOnly, None);
    }

    /// A visitor with an open conversation came back: agents learn it, and their forwarders
    /// catch up on anything a dead node committed but never published (the update names the
    /// conversation's last sequence number).
    pub fn visitor_returned(&self, tenant: TenantId, row: &ConversationRow, origin: u64) {
        self.conversation_updated(tenant, row, Audience::Everyone, Some(origin));
    }
}

impl Subscriber for Fanout {
    fn committed(&self, change: &Change) {
        match change {
            Change::MessageStored { tenant, message, conversation, .. } => {
                let id = message.conversation_id;
                let audience = if message.private { Audience::AgentsOnly } else { Audience::Everyone };
                let frame = ServerFrame::Message(message.clone().view());
                self.publish(&Topic::conversation(*tenant, id), frame, audience, None);
                if let Some(row) = conversation {
                    let frame = ServerFrame::ConversationUpdated(row.summary());
                    self.publish(&Topic::inbox(*tenant), frame, Audience::AgentsOnly, None);
                }
            }
            Change::ConversationChanged { tenant, conversation, cause } => {
                // A visitor learns of their rating from `rated`; the rest is for the team.
                let audience =
                    if *cause == ConversationChange::Rated { Audience::AgentsOnly } else { Audience::Everyone };
                self.conversation_updated(*tenant, conversation, audience, None);
            }
            Change::Read { tenant, conversation, reader, seq, origin } => {
                let frame = ServerFrame::Read { conversation_id: *conversation, reader: reader.clone(), seq: *seq };
                self.publish(&Topic::conversation(*tenant, *conversation), frame, Audience::Everyone, *origin);
            }
            Change::PageViewed { tenant, visitor, conversation, url, title, viewed_at } => {
                let frame = ServerFrame::PageView {
                    visitor_id: *visitor,
                    conversation_id: *conversation,
                    url: url.clone(),
                    title: title.clone(),
                    viewed_at: *viewed_at,
                };
                if let Some(conversation) = conversation {
                    self.publish(
                        &Topic::conversation(*tenant, *conversation),
                        frame.clone(),
                        Audience::AgentsOnly,
                        None,
                    );
                }
                self.publish(&Topic::inbox(*tenant), frame, Audience::AgentsOnly, None);
            }
            Change::VisitorUpdated { tenant, visitor } => {
                let frame = ServerFrame::VisitorUpdated { visitor_id: *visitor };
                self.publish(&Topic::inbox(*tenant), frame, Audience::AgentsOnly, None);
            }
            Change::QueueReordered { tenant } => {
                self.publish(&Topic::inbox(*tenant), ServerFrame::QueueChanged, Audience::AgentsOnly, None);
            }
        }
    }
}
