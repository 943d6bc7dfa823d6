//! The durable operations behind protocol frames: storing a message (sequence number, client-id
//! idempotency, commit before ack), claiming, closing, marking read. Callers publish to the bus
//! only after these return, i.e. after the commit.

use kefu_protocol::ws::{ConversationSummary, MessageView, Sender, WsErrorCode};
use kefu_protocol::{ConversationId, MessageId, UserId, VisitorId};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::conversations::ConversationRow;
use crate::db::messages::{MessageRow, NewMessage};
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

/// Stores a message durably. The conversation row is locked first, so concurrent senders get
/// consecutive sequence numbers and a retried client id is found before anything is written.
pub async fn send(
    pool: &PgPool,
    schema: &TenantSchema,
    author: &Author,
    client_id: &str,
    body: &str,
) -> Result<Stored, OpError> {
    let mut tx = TenantTx::begin(pool, schema).await?;
    let (conversation_id, opened) = match author {
        Author::Visitor(visitor) => {
            let existing = db::conversations::open_of_visitor(&mut tx, visitor.as_uuid()).await?;
            match existing {
                Some(c) => (c.id, false),
                None => (db::conversations::open_or_create(&mut tx, visitor.as_uuid()).await?.id, true),
            }
        }
        Author::Agent { conversation, .. } => (conversation.as_uuid(), false),
    };
    let (sender_kind, sender_id, sender_name, private) = match author {
        Author::Visitor(v) => ("visitor", v.as_uuid(), None, false),
        Author::Agent { id, name, private, .. } => ("agent", id.as_uuid(), Some(name.as_str()), *private),
    };
    let conversation = db::conversations::lock(&mut tx, conversation_id)
        .await?
        .ok_or_else(|| OpError::refused(WsErrorCode::ConversationNotFound, "No such conversation."))?;
    if let Some(message) = db::messages::by_client_id(&mut tx, conversation_id, sender_id, client_id).await? {
        tx.commit().await?;
        return Ok(Stored { message, conversation, fresh: false, opened: false });
    }
    if conversation.status != "open" {
        return Err(OpError::refused(WsErrorCode::ConversationClosed, "This conversation is closed."));
    }
    let conversation = db::conversations::next_seq(&mut tx, conversation_id).await?;
    let new = NewMessage { conversation_id, sender_kind, sender_id, sender_name, client_id, private, body };
    let message = db::messages::insert(&mut tx, &new, conversation.last_seq).await?;
    tx.commit().await?;
    Ok(Stored { message, conversation, fresh: true, opened })
}

/// Messages after `after_seq` for a resume, oldest first (visitors never get notes).
pub async fn replay(
    pool: &PgPool,
    schema: &TenantSchema,
    conversation: ConversationId,
    after_seq: i64,
    include_private: bool,
) -> Result<Vec<MessageView>, OpError> {
    let mut tx = TenantTx::begin(pool, schema).await?;
    let rows = db::messages::after(
        &mut tx,
        conversation.as_uuid(),
        after_seq,
        include_private,
        kefu_protocol::ws::limits::MAX_REPLAY,
    )
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(message_view).collect())
}

/// The wire form of a stored message.
pub fn message_view(row: MessageRow) -> MessageView {
    let sender = match row.sender_kind.as_str() {
        "visitor" => Sender::Visitor { id: VisitorId::from_uuid(row.sender_id) },
        "agent" => Sender::Agent { id: UserId::from_uuid(row.sender_id), name: row.sender_name.unwrap_or_default() },
        _ => Sender::System,
    };
    MessageView {
        conversation_id: ConversationId::from_uuid(row.conversation_id),
        message_id: MessageId::from_uuid(row.id),
        seq: row.seq,
        sender,
        private: row.private,
        body: row.body,
        client_id: row.client_id,
        created_at: row.created_at,
    }
}

/// The wire form of a conversation.
pub fn summary(row: &ConversationRow) -> ConversationSummary {
    ConversationSummary {
        conversation_id: ConversationId::from_uuid(row.id),
        visitor_id: VisitorId::from_uuid(row.visitor_id),
        status: row.status.clone(),
        assignee: row.assignee.map(UserId::from_uuid),
        last_seq: row.last_seq,
        updated_at: row.updated_at,
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

/// The nil UUID used as the sender of system messages.
pub const SYSTEM_SENDER: Uuid = Uuid::nil();
