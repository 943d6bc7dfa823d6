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
}

const COLUMNS: &str =
    "id, conversation_id, seq, sender_kind, sender_id, sender_name, client_id, private, body, created_at";

/// What to insert.
pub struct NewMessage<'a> {
    /// Conversation.
    pub conversation_id: Uuid,
    /// `visitor`, `agent` or `system`.
    pub sender_kind: &'a str,
    /// Sender id.
    pub sender_id: Uuid,
    /// Agent display name.
    pub sender_name: Option<&'a str>,
    /// Client id.
    pub client_id: &'a str,
    /// Private note.
    pub private: bool,
    /// Text.
    pub body: &'a str,
}

/// The message a sender already stored under this client id, if any.
pub async fn by_client_id(
    tx: &mut TenantTx,
    conversation_id: Uuid,
    sender_id: Uuid,
    client_id: &str,
) -> sqlx::Result<Option<MessageRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from messages where conversation_id = $1 and sender_id = $2 and client_id = $3"
    )))
    .bind(conversation_id)
    .bind(sender_id)
    .bind(client_id)
    .fetch_optional(tx.conn())
    .await
}

/// Inserts a message with the given sequence number.
pub async fn insert(tx: &mut TenantTx, new: &NewMessage<'_>, seq: i64) -> sqlx::Result<MessageRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into messages (id, conversation_id, seq, sender_kind, sender_id, sender_name, client_id, private, body)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(new.conversation_id)
    .bind(seq)
    .bind(new.sender_kind)
    .bind(new.sender_id)
    .bind(new.sender_name)
    .bind(new.client_id)
    .bind(new.private)
    .bind(new.body)
    .fetch_one(tx.conn())
    .await
}

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
