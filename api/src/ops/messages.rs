//! Sending a message, a private note or a visitor's first message (which opens their
//! conversation): validated by the protocol decoder, stored through group commit, announced once
//! committed.

use chrono::{DateTime, Utc};
use kefu_protocol::ws::WsErrorCode;
use kefu_protocol::{AttachmentId, ConversationId, MessageId, UserId, VisitorId};

use super::OpError;
use super::events::{Change, Events};
use super::group_commit::MessageStore;
use crate::auth::TenantCtx;
use crate::db::message_batch::{Destination, NewMessage, Stored};

/// Who is writing.
#[derive(Debug, Clone)]
pub enum Author {
    /// A visitor, writing into their open conversation (opened by the first message).
    Visitor(VisitorId),
    /// An agent, writing into a given conversation.
    Agent {
        /// User id.
        id: UserId,
        /// The name they go by in the tenant.
        name: String,
        /// The conversation.
        conversation: ConversationId,
        /// A private note.
        private: bool,
        /// They may reply in any conversation (supervisors and up, by their current role);
        /// others only in their own, ones they take part in and unassigned ones (docs/decisions.md
        /// "Who may act in a colleague's conversation").
        directs: bool,
    },
}

/// What a send came to.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The message (the original one for a retried client id).
    pub message_id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Its sequence number.
    pub seq: i64,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// False for a retried client id: nothing new was stored or announced.
    pub fresh: bool,
    /// This message opened the conversation.
    pub opened: bool,
    /// The conversation has no agent (the visitor is waiting), as of this message.
    pub waiting: bool,
}

/// Stores a message through group commit and, once its batch committed, announces it.
pub async fn send(
    store: &MessageStore,
    events: &Events,
    tenant: &TenantCtx,
    author: Author,
    client_id: String,
    body: String,
    attachment: Option<AttachmentId>,
) -> Result<Sent, OpError> {
    let destination = match author {
        Author::Visitor(visitor) => Destination::Visitor { visitor },
        Author::Agent { id, name, conversation, private, directs } => {
            Destination::Agent { agent: id, name, conversation, private, directs }
        }
    };
    let new = NewMessage { destination, client_id, body, attachment };
    match store.store(&tenant.schema, new).await? {
        Stored::New { message, conversation, opened } => {
            let sent = Sent {
                message_id: message.id,
                conversation_id: conversation.id,
                seq: message.seq,
                created_at: message.created_at,
                fresh: true,
                opened,
                waiting: conversation.assignee.is_none(),
            };
            events.publish(Change::MessageStored {
                tenant: tenant.id,
                message,
                conversation: Some(conversation),
                opened,
            });
            Ok(sent)
        }
        Stored::Duplicate { message_id, conversation_id, seq, created_at } => {
            Ok(Sent { message_id, conversation_id, seq, created_at, fresh: false, opened: false, waiting: false })
        }
        Stored::Closed => Err(OpError::refused(WsErrorCode::ConversationClosed, "This conversation is closed.")),
        Stored::NotFound => Err(OpError::conversation_not_found()),
        Stored::Forbidden => Err(OpError::refused(
            WsErrorCode::Forbidden,
            "This conversation is a colleague's: join it as a participant (ask them or a supervisor) or write a private note.",
        )),
        Stored::BadAttachment => Err(OpError::refused(
            WsErrorCode::InvalidFrame,
            "No such attachment: upload it first; each upload is sent once, by its uploader.",
        )),
    }
}
