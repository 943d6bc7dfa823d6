//! Announcing conversation changes made outside a WebSocket session (REST actions: transfer,
//! reopen, tags, participants). Called only after the change committed; visitors get updates
//! without the team's internal fields (see `connection`), and system notes reach agents only.

use kefu_protocol::TenantId;
use kefu_protocol::ws::ServerFrame;

use super::bus::{Bus, BusEvent, Topic};
use super::service;
use crate::db::conversations::ConversationRow;
use crate::db::messages::MessageRow;

/// Publishes `conversation_updated` to the conversation's followers and the tenant's inbox.
pub fn conversation_updated(bus: &Bus, tenant: TenantId, row: &ConversationRow) {
    let frame = ServerFrame::ConversationUpdated(service::summary(row));
    let conversation = row.id;
    bus.publish(
        &Topic::conversation(tenant, conversation),
        BusEvent { frame: frame.clone(), agents_only: false, skip_connection: None },
    );
    bus.publish(&Topic::inbox(tenant), BusEvent { frame, agents_only: true, skip_connection: None });
}

/// Publishes a stored private system note to the conversation's agents.
pub fn system_note(bus: &Bus, tenant: TenantId, note: MessageRow) {
    let conversation = note.conversation_id;
    bus.publish(
        &Topic::conversation(tenant, conversation),
        BusEvent { frame: ServerFrame::Message(service::message_view(note)), agents_only: true, skip_connection: None },
    );
}
