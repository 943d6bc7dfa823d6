//! Tenant-scoped `messages`: the durable transcript, with gap-free per-conversation sequence
//! numbers and idempotent client ids.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::TenantTx;

/// A message as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    /// Id.
    pub id: Uuid,
    /// Conversation.
    pub conversation_id: Uuid,
    /// Sequence number.
    pub seq: i64,
    /// `visitor`, `agent` or `system`.
    pub sender_kind: String,
    /// Sender id (nil for system).
    pub sender_id: Uuid,
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

impl MessageRow {
    /// The wire form of the message.
    pub fn view(self) -> kefu_protocol::ws::MessageView {
        use kefu_protocol::ws::Sender;
        use kefu_protocol::{ConversationId, MessageId, UserId, VisitorId};
        let sender = match self.sender_kind.as_str() {
            "visitor" => Sender::Visitor { id: VisitorId::from_uuid(self.sender_id) },
            "agent" => {
                Sender::Agent { id: UserId::from_uuid(self.sender_id), name: self.sender_name.unwrap_or_default() }
            }
            _ => Sender::System,
        };
        kefu_protocol::ws::MessageView {
            conversation_id: ConversationId::from_uuid(self.conversation_id),
            message_id: MessageId::from_uuid(self.id),
            seq: self.seq,
            sender,
            private: self.private,
            body: self.body,
            client_id: self.client_id,
            created_at: self.created_at,
            attachment: self.attachment.map(|sqlx::types::Json(a)| kefu_protocol::ws::AttachmentRef {
                id: kefu_protocol::AttachmentId::from_uuid(a.id),
                name: a.name,
                content_type: a.content_type,
                size: a.size,
            }),
            event: self.event.map(|sqlx::types::Json(event)| event),
        }
    }
}

/// The snapshot of an attachment a message keeps.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct AttachmentMeta {
    /// Attachment id.
    pub id: Uuid,
    /// File name.
    pub name: String,
    /// Sniffed media type.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
}

const COLUMNS: &str = "id, conversation_id, seq, sender_kind, sender_id, sender_name, client_id, private, body, created_at, attachment, event";

/// Messages after `after_seq`, oldest first, at most `limit`; private notes only when asked.
pub async fn after(
    tx: &mut TenantTx,
    conversation_id: Uuid,
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
pub async fn page(tx: &mut TenantTx, conversation_id: Uuid, page: Page, limit: i64) -> sqlx::Result<Vec<MessageRow>> {
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
/// gap-free like those group commit hands out (`kefu.store_messages_v1`).
pub async fn insert_system_note(
    tx: &mut TenantTx,
    conversation_id: Uuid,
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
