//! The durable operations behind protocol frames: storing a message (sequence number, client-id
//! idempotency, commit before ack), claiming, closing, marking read. Callers publish to the bus
//! only after these return, i.e. after the commit.

use kefu_protocol::ws::{ConversationSummary, MessageView, Sender, WsErrorCode};
use kefu_protocol::{ConversationId, UserId, VisitorId};
use sqlx::PgPool;

use crate::db::conversations::ConversationRow;
use crate::db::messages::{MessageRow, MessageSender, NewMessage};
use crate::db::{self, TenantSchema, TenantTx};

/// A refused operation, as sent in an `error` frame.
#[derive(Debug, Clone)]
pub struct OpError {
    /// Code.
    pub code: WsErrorCode,
    /// For people.
    pub message: String,
    /// Whether the same frame may succeed later.
    pub retryable: bool,
}

impl OpError {
    /// A non-retryable refusal.
    pub fn refused(code: WsErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retryable: false }
    }
}

impl From<sqlx::Error> for OpError {
    fn from(error: sqlx::Error) -> Self {
        if crate::error::is_unavailable(&error) {
            tracing::warn!(%error, "database unavailable during a realtime operation");
            Self {
                code: WsErrorCode::Unavailable,
                message: "The database is unavailable; retry.".into(),
                retryable: true,
            }
        } else {
            tracing::error!(error = ?error, "database error during a realtime operation");
            Self { code: WsErrorCode::Internal, message: "Unexpected server error.".into(), retryable: true }
        }
    }
}

/// Who is writing.
#[derive(Debug, Clone)]
pub enum Author {
    /// A visitor, writing into their open conversation (created on the first message).
    Visitor(VisitorId),
    /// An agent, writing into a given conversation.
    Agent {
        /// User id.
        id: UserId,
        /// Display name.
        name: String,
        /// The conversation.
        conversation: ConversationId,
        /// A private note.
        private: bool,
    },
}

/// The outcome of a send.
#[derive(Debug)]
pub struct Stored {
    /// The message (the original one for a retried client id).
    pub message: MessageRow,
    /// The conversation after the write.
    pub conversation: ConversationRow,
    /// False when the client id was already stored (a retry): nothing new to publish.
    pub fresh: bool,
    /// True when this send opened the conversation.
    pub opened: bool,
}

/// Stores a message durably in one statement (`send_message` in the tenant schema): the
/// conversation row is locked, so concurrent senders get consecutive sequence numbers, and a
/// retried client id is answered with the original message before anything is written.
pub async fn send(
    pool: &PgPool,
    schema: &TenantSchema,
    author: &Author,
    client_id: &str,
    body: &str,
    attachment: Option<kefu_protocol::AttachmentId>,
) -> Result<Stored, OpError> {
    let (conversation, visitor, sender, sender_name, private) = match author {
        Author::Visitor(v) => (None, Some(*v), MessageSender::Visitor(*v), None, false),
        Author::Agent { id, name, conversation, private } => {
            (Some(*conversation), None, MessageSender::Agent(*id), Some(name.as_str()), *private)
        }
    };
    let new = NewMessage { sender, sender_name, client_id, private, body, attachment };
    let outcome = db::messages::send_atomic(pool, schema, conversation, visitor, &new).await?;
    match outcome.outcome.as_str() {
        "not_found" => Err(OpError::refused(WsErrorCode::ConversationNotFound, "No such conversation.")),
        "closed" => Err(OpError::refused(WsErrorCode::ConversationClosed, "This conversation is closed.")),
        "bad_attachment" => Err(OpError::refused(
            WsErrorCode::InvalidFrame,
            "No such attachment: upload it first; each upload is sent once, by its uploader.",
        )),
        "stored" | "duplicate" => {
            let fresh = outcome.outcome == "stored";
            let opened = outcome.opened;
            let (message, conversation) = split_outcome(outcome).ok_or_else(|| {
                OpError::from(sqlx::Error::Protocol("send_message returned an incomplete row".into()))
            })?;
            Ok(Stored { message, conversation, fresh, opened })
        }
        other => Err(OpError::from(sqlx::Error::Protocol(format!("send_message returned outcome {other}")))),
    }
}

fn split_outcome(o: db::messages::SendOutcome) -> Option<(MessageRow, ConversationRow)> {
    let conversation_id = o.conversation_id?;
    Some((
        MessageRow {
            id: o.message_id?,
            conversation_id,
            seq: o.message_seq?,
            sender: o.message_sender()?,
            sender_name: o.message_sender_name,
            client_id: o.message_client_id?,
            private: o.message_private?,
            body: o.message_body?,
            created_at: o.message_created_at?,
            attachment: o.message_attachment,
            event: None,
        },
        ConversationRow {
            id: conversation_id,
            visitor_id: o.conversation_visitor?,
            status: o.conversation_status?,
            assignee: o.conversation_assignee,
            last_seq: o.conversation_last_seq?,
            updated_at: o.conversation_updated_at?,
            // Only closed conversations are rated, and a message goes to an open one.
            rating: None,
            team_id: o.conversation_team,
            tags: o.conversation_tags.unwrap_or_default(),
            participants: o.conversation_participants.unwrap_or_default(),
        },
    ))
}

/// One page of messages after `after_seq` for a resume, oldest first (visitors never get notes).
pub async fn replay_page(
    pool: &PgPool,
    schema: &TenantSchema,
    conversation: ConversationId,
    after_seq: i64,
    include_private: bool,
) -> Result<Vec<MessageView>, OpError> {
    let mut tx = TenantTx::begin(pool, schema).await?;
    let rows =
        db::messages::after(&mut tx, conversation, after_seq, include_private, kefu_protocol::ws::limits::REPLAY_PAGE)
            .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(message_view).collect())
}

/// The wire form of a stored message.
pub fn message_view(row: MessageRow) -> MessageView {
    let sender = match row.sender {
        MessageSender::Visitor(id) => Sender::Visitor { id },
        MessageSender::Agent(id) => Sender::Agent { id, name: row.sender_name.unwrap_or_default() },
        MessageSender::System => Sender::System,
    };
    MessageView {
        conversation_id: row.conversation_id,
        message_id: row.id,
        seq: row.seq,
        sender,
        private: row.private,
        body: row.body,
        client_id: row.client_id,
        created_at: row.created_at,
        attachment: row.attachment.map(|sqlx::types::Json(a)| kefu_protocol::ws::AttachmentRef {
            id: a.id,
            name: a.name,
            content_type: a.content_type,
            size: a.size,
        }),
        event: row.event.map(|sqlx::types::Json(event)| event),
    }
}

/// The wire form of a conversation.
pub fn summary(row: &ConversationRow) -> ConversationSummary {
    ConversationSummary {
        conversation_id: row.id,
        visitor_id: row.visitor_id,
        status: row.status,
        assignee: row.assignee,
        last_seq: row.last_seq,
        updated_at: row.updated_at,
        rating: row.rating.and_then(|r| u8::try_from(r).ok()),
        team_id: row.team_id,
        tags: row.tags.clone(),
        participants: row.participants.clone(),
    }
}

/// Runs `f` in a tenant transaction and commits.
pub async fn in_tenant<T>(
    pool: &PgPool,
    schema: &TenantSchema,
    f: impl for<'t> FnOnce(&'t mut TenantTx) -> futures_util::future::BoxFuture<'t, sqlx::Result<T>>,
) -> Result<T, OpError> {
    let mut tx = TenantTx::begin(pool, schema).await?;
    let value = f(&mut tx).await?;
    tx.commit().await?;
    Ok(value)
}

/// Whether a member may take conversations beyond their `max_concurrent_chats`: supervisors and
/// up may (they step in when the team is overloaded). Reads the membership, not the token's role.
pub async fn may_exceed_capacity(tx: &mut TenantTx, user: UserId) -> sqlx::Result<bool> {
    let role = db::memberships::role(tx, user).await?;
    Ok(role.is_some_and(|role| role.includes(kefu_protocol::Role::Supervisor)))
}
