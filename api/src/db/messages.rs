//! Tenant-scoped `messages`: the durable transcript, with gap-free per-conversation sequence
//! numbers and idempotent client ids.

use chrono::{DateTime, Utc};
use kefu_protocol::{AttachmentId, ConversationId, MessageId, UserId, VisitorId};
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
    /// For the bot's messages: what it offers besides the text.
    pub bot: Option<sqlx::types::Json<kefu_protocol::ws::BotReply>>,
}

text_enum! {
    /// What kind of author wrote a message (`messages.sender_kind`).
    #[derive(serde::Serialize, utoipa::ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum SenderKind {
        /// The visitor.
        Visitor => "visitor",
        /// A member of the team.
        Agent => "agent",
        /// Kefu itself (system notes).
        System => "system",
        /// The FAQ bot.
        Bot => "bot",
        /// An automatic reply (greeting, away message).
        Auto => "auto",
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
    /// The FAQ bot (its name is the message's `sender_name`).
    Bot,
    /// An automatic reply sent on the team's behalf (its name is the message's `sender_name`).
    Auto,
}

impl MessageSender {
    /// Its kind.
    pub fn kind(self) -> SenderKind {
        match self {
            MessageSender::Visitor(_) => SenderKind::Visitor,
            MessageSender::Agent(_) => SenderKind::Agent,
            MessageSender::System => SenderKind::System,
            MessageSender::Bot => SenderKind::Bot,
            MessageSender::Auto => SenderKind::Auto,
        }
    }

    pub(super) fn id(self) -> Uuid {
        match self {
            MessageSender::Visitor(id) => id.as_uuid(),
            MessageSender::Agent(id) => id.as_uuid(),
            MessageSender::System | MessageSender::Bot | MessageSender::Auto => Uuid::nil(),
        }
    }

    fn from_columns(kind: SenderKind, id: Uuid) -> Self {
        match kind {
            SenderKind::Visitor => MessageSender::Visitor(VisitorId::from_uuid(id)),
            SenderKind::Agent => MessageSender::Agent(UserId::from_uuid(id)),
            SenderKind::System => MessageSender::System,
            SenderKind::Bot => MessageSender::Bot,
            SenderKind::Auto => MessageSender::Auto,
        }
    }
}

impl<'r> sqlx::FromRow<'r, PgRow> for MessageSender {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Self::from_columns(row.try_get("sender_kind")?, row.try_get("sender_id")?))
    }
}

impl MessageRow {
    /// The wire form of the message.
    pub fn view(self) -> kefu_protocol::ws::MessageView {
        use kefu_protocol::ws::Sender;
        let sender = match self.sender {
            MessageSender::Visitor(id) => Sender::Visitor { id },
            MessageSender::Agent(id) => Sender::Agent { id, name: self.sender_name.unwrap_or_default() },
            MessageSender::System => Sender::System,
            MessageSender::Bot => Sender::Bot { name: self.sender_name.unwrap_or_default() },
            MessageSender::Auto => Sender::Auto { name: self.sender_name.unwrap_or_default() },
        };
        kefu_protocol::ws::MessageView {
            conversation_id: self.conversation_id,
            message_id: self.id,
            seq: self.seq,
            sender,
            private: self.private,
            body: self.body,
            client_id: self.client_id,
            created_at: self.created_at,
            attachment: self.attachment.map(|sqlx::types::Json(a)| kefu_protocol::ws::AttachmentRef {
                id: a.id,
                name: a.name,
                content_type: a.content_type,
                size: a.size,
            }),
            event: self.event.map(|sqlx::types::Json(event)| event),
            bot: self.bot.map(|sqlx::types::Json(bot)| bot),
        }
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

/// The snapshot keeps the attachment's id as the bare UUID `kefu.store_messages_v3` wrote.
fn bare_attachment_id<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<AttachmentId, D::Error> {
    <Uuid as serde::Deserialize>::deserialize(deserializer).map(AttachmentId::from_uuid)
}

const COLUMNS: &str = "id, conversation_id, seq, sender_kind, sender_id, sender_name, client_id, private, body, created_at, attachment, event, bot";

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

/// The messages with these ids (any order; missing ones are left out).
pub async fn by_ids(tx: &mut TenantTx, ids: &[MessageId]) -> sqlx::Result<Vec<MessageRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("select {COLUMNS} from messages where id = any($1)")))
        .bind(ids)
        .fetch_all(tx.conn())
        .await
}

/// Every message and note of these conversations, by conversation and sequence number.
pub async fn of_conversations(tx: &mut TenantTx, ids: &[ConversationId]) -> sqlx::Result<Vec<MessageRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from messages where conversation_id = any($1) order by conversation_id, seq"
    )))
    .bind(ids)
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

/// Stores a private system note with the conversation's next sequence number. The caller holds
/// the conversation's row lock (`conversations::lock`) in the same transaction, so the number is
/// gap-free like those group commit hands out (`kefu.store_messages_v3`).
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

/// What kind of message Kefu writes on the team's behalf (no member typed it).
#[derive(Debug, Clone, Copy)]
pub enum Automated<'a> {
    /// The FAQ bot, with what it offers besides the text.
    Bot(&'a kefu_protocol::ws::BotReply),
    /// An automatic reply (greeting, away, closing).
    Auto(super::auto_replies::AutoReplyKind),
}

/// Stores a message visible to the visitor from the bot or an automatic reply, under `name`, with
/// the conversation's next sequence number; the caller holds the conversation's row lock.
pub async fn insert_automated(
    tx: &mut TenantTx,
    conversation_id: ConversationId,
    name: &str,
    body: &str,
    kind: Automated<'_>,
) -> sqlx::Result<MessageRow> {
    let id = Uuid::now_v7();
    let (sender, bot, auto_reply) = match kind {
        Automated::Bot(reply) => (SenderKind::Bot, Some(sqlx::types::Json(reply)), None),
        Automated::Auto(reply) => (SenderKind::Auto, None, Some(reply)),
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with bumped as (
             update conversations set last_seq = last_seq + 1, updated_at = now() where id = $1 returning last_seq
         )
         insert into messages (id, conversation_id, seq, sender_kind, sender_id, sender_name, client_id, private, body,
                               bot, auto_reply)
         select $2, $1, bumped.last_seq, $3, '00000000-0000-0000-0000-000000000000', $4, $5, false, $6, $7, $8
         from bumped
         returning {COLUMNS}"
    )))
    .bind(conversation_id)
    .bind(id)
    .bind(sender)
    .bind(name)
    .bind(id.simple().to_string())
    .bind(body)
    .bind(bot)
    .bind(auto_reply)
    .fetch_one(tx.conn())
    .await
}
