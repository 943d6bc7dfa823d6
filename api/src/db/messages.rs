//! Tenant-scoped `messages`: the durable transcript, with gap-free per-conversation sequence
//! numbers and idempotent client ids.

use chrono::{DateTime, Utc};
use kefu_protocol::{AttachmentId, ConversationId, MessageId, TeamId, UserId, VisitorId};
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::TenantTx;

/// A message as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    /// Id.
    pub id: MessageId,
    /// Conversation.
    pub conversation_id: ConversationId,
    /// Sequence number.
    pub seq: i64,
    /// Who wrote it.
    #[sqlx(flatten)]
    pub sender: MessageSender,
    /// Agent display name at the time.
    pub sender_name: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Private note.
    pub private: bool,
    /// Text.
    pub body: String,
    /// Commit time (transaction start).
    pub created_at: DateTime<Utc>,
    /// The attached file's metadata (`{id, name, content_type, size}`), if any.
    pub attachment: Option<sqlx::types::Json<AttachmentMeta>>,
    /// For system notes: the structured event (`kefu_protocol::ws::NoteEvent`).
    pub event: Option<sqlx::types::Json<kefu_protocol::ws::NoteEvent>>,
}

text_enum! {
    /// What kind of author wrote a message (`messages.sender_kind`).
    #[derive(serde::Serialize)]
    #[serde(rename_all = "lowercase")]
    pub enum SenderKind {
        /// The visitor.
        Visitor => "visitor",
        /// A member of the team.
        Agent => "agent",
        /// Kefu itself (system notes).
        System => "system",
    }
}

/// Who wrote a message: the `sender_kind` and `sender_id` columns together (the id is a
/// visitor's, a member's, or nil for Kefu's own notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageSender {
    /// The visitor.
    Visitor(VisitorId),
    /// A member of the team.
    Agent(UserId),
    /// Kefu itself (system notes).
    System,
}

impl MessageSender {
    /// Its kind.
    pub fn kind(self) -> SenderKind {
        match self {
            MessageSender::Visitor(_) => SenderKind::Visitor,
            MessageSender::Agent(_) => SenderKind::Agent,
            MessageSender::System => SenderKind::System,
        }
    }

    fn id(self) -> Uuid {
        match self {
            MessageSender::Visitor(id) => id.as_uuid(),
            MessageSender::Agent(id) => id.as_uuid(),
            MessageSender::System => Uuid::nil(),
        }
    }

    fn from_columns(kind: SenderKind, id: Uuid) -> Self {
        match kind {
            SenderKind::Visitor => MessageSender::Visitor(VisitorId::from_uuid(id)),
            SenderKind::Agent => MessageSender::Agent(UserId::from_uuid(id)),
            SenderKind::System => MessageSender::System,
        }
    }
}

impl<'r> sqlx::FromRow<'r, PgRow> for MessageSender {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Self::from_columns(row.try_get("sender_kind")?, row.try_get("sender_id")?))
    }
}

/// The snapshot of an attachment a message keeps.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct AttachmentMeta {
    /// Attachment id (stored as a bare UUID in the snapshot).
    #[serde(deserialize_with = "bare_attachment_id")]
    pub id: AttachmentId,
    /// File name.
    pub name: String,
    /// Sniffed media type.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
}

/// The snapshot keeps the attachment's id as the bare UUID `send_message` wrote.
fn bare_attachment_id<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<AttachmentId, D::Error> {
    <Uuid as serde::Deserialize>::deserialize(deserializer).map(AttachmentId::from_uuid)
}

const COLUMNS: &str = "id, conversation_id, seq, sender_kind, sender_id, sender_name, client_id, private, body, created_at, attachment, event";

/// What to store.
pub struct NewMessage<'a> {
    /// Who writes it.
    pub sender: MessageSender,
    /// Agent display name.
    pub sender_name: Option<&'a str>,
    /// Client id.
    pub client_id: &'a str,
    /// Private note.
    pub private: bool,
    /// Text.
    pub body: &'a str,
    /// An uploaded, unsent attachment of this sender.
    pub attachment: Option<AttachmentId>,
}

/// Messages after `after_seq`, oldest first, at most `limit`; private notes only when asked.
pub async fn after(
    tx: &mut TenantTx,
    conversation_id: ConversationId,
    after_seq: i64,
    include_private: bool,
    limit: i64,
) -> sqlx::Result<Vec<MessageRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from messages
         where conversation_id = $1 and seq > $2 and ($3 or not private)
         order by seq limit $4"
    )))
    .bind(conversation_id)
    .bind(after_seq)
    .bind(include_private)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// Which way a transcript page goes from a sequence number.
#[derive(Debug, Clone, Copy)]
pub enum Page {
    /// Messages before this sequence number, newest first.
    Before(i64),
    /// Messages after this sequence number, oldest first.
    After(i64),
}

/// One page of a conversation's messages and notes, at most `limit`, in the page's direction.
pub async fn page(
    tx: &mut TenantTx,
    conversation_id: ConversationId,
    page: Page,
    limit: i64,
) -> sqlx::Result<Vec<MessageRow>> {
    let (condition, order, seq) = match page {
        Page::Before(seq) => ("seq < $2", "seq desc", seq),
        Page::After(seq) => ("seq > $2", "seq", seq),
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from messages where conversation_id = $1 and {condition} order by {order} limit $3"
    )))
    .bind(conversation_id)
    .bind(seq)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// The row `send_message` returns (outcome `stored`, `duplicate`, `closed`, `not_found` or
/// `bad_attachment`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SendOutcome {
    /// `stored`, `duplicate`, `closed` or `not_found`.
    pub outcome: String,
    /// Whether this call created the conversation.
    pub opened: bool,
    /// Message id (stored or duplicate).
    pub message_id: Option<MessageId>,
    /// Sequence number.
    pub message_seq: Option<i64>,
    /// Commit time.
    pub message_created_at: Option<DateTime<Utc>>,
    /// Sender kind.
    pub message_sender_kind: Option<SenderKind>,
    /// Sender id.
    pub message_sender_id: Option<Uuid>,
    /// Sender name.
    pub message_sender_name: Option<String>,
    /// Client id.
    pub message_client_id: Option<String>,
    /// Private note.
    pub message_private: Option<bool>,
    /// Text.
    pub message_body: Option<String>,
    /// Attachment snapshot.
    pub message_attachment: Option<sqlx::types::Json<AttachmentMeta>>,
    /// Conversation id.
    pub conversation_id: Option<ConversationId>,
    /// Conversation's visitor.
    pub conversation_visitor: Option<VisitorId>,
    /// Conversation status.
    pub conversation_status: Option<kefu_protocol::ws::ConversationStatus>,
    /// Assignee.
    pub conversation_assignee: Option<UserId>,
    /// Highest sequence number.
    pub conversation_last_seq: Option<i64>,
    /// Last change.
    pub conversation_updated_at: Option<DateTime<Utc>>,
    /// The conversation's team.
    pub conversation_team: Option<TeamId>,
    /// Its tags.
    pub conversation_tags: Option<Vec<String>>,
    /// Its participants.
    pub conversation_participants: Option<Vec<UserId>>,
}

impl SendOutcome {
    /// The stored message's author, when a message was stored or found.
    pub fn message_sender(&self) -> Option<MessageSender> {
        Some(MessageSender::from_columns(self.message_sender_kind?, self.message_sender_id?))
    }
}

/// Stores a message with the tenant's `send_message` function in a single autocommit statement
/// (one round trip; durable when it returns). This is the one tenant-scoped call that does not go
/// through `TenantTx`: the function's `search_path` is pinned to its own schema at creation, and
/// the schema-qualified name is built only from a validated `TenantSchema`.
pub async fn send_atomic(
    pool: &sqlx::PgPool,
    schema: &super::TenantSchema,
    conversation: Option<ConversationId>,
    visitor: Option<VisitorId>,
    new: &NewMessage<'_>,
) -> sqlx::Result<SendOutcome> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select * from {}.send_message($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        schema.name()
    )))
    .bind(conversation)
    .bind(visitor)
    .bind(Uuid::now_v7())
    .bind(Uuid::now_v7())
    .bind(new.sender.kind())
    .bind(new.sender.id())
    .bind(new.sender_name)
    .bind(new.client_id)
    .bind(new.private)
    .bind(new.body)
    .bind(new.attachment)
    .fetch_one(pool)
    .await
}

/// Stores a private system note with the conversation's next sequence number. The caller holds
/// the conversation's row lock (`conversations::lock`) in the same transaction, so the number is
/// gap-free like those `send_message` hands out.
pub async fn insert_system_note(
    tx: &mut TenantTx,
    conversation_id: ConversationId,
    body: &str,
    event: &kefu_protocol::ws::NoteEvent,
) -> sqlx::Result<MessageRow> {
    let id = Uuid::now_v7();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with bumped as (
             update conversations set last_seq = last_seq + 1, updated_at = now() where id = $1 returning last_seq
         )
         insert into messages (id, conversation_id, seq, sender_kind, sender_id, client_id, private, body, event)
         select $2, $1, bumped.last_seq, 'system', '00000000-0000-0000-0000-000000000000', $3, true, $4, $5
         from bumped
         returning {COLUMNS}"
    )))
    .bind(conversation_id)
    .bind(id)
    .bind(id.simple().to_string())
    .bind(body)
    .bind(sqlx::types::Json(event))
    .fetch_one(tx.conn())
    .await
}
