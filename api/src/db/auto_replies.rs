//! Tenant-scoped automatic replies: messages of sender kind `auto` with the reply they were
//! (`messages.auto_reply`), and what decides whether one is due.

use kefu_protocol::ConversationId;

use super::TenantTx;
use super::messages::MessageRow;

text_enum! {
    /// Which automatic reply (`messages.auto_reply`).
    pub enum AutoReplyKind {
        /// The first message while the team is there.
        Greeting => "greeting",
        /// A message while the team is offline.
        Away => "away",
        /// The message that closed an idle conversation.
        Closing => "closing",
    }
}

/// Whether `kind` is still due in the conversation: a greeting while no agent has written and
/// none was sent; an away message when none was sent since the last agent message.
pub async fn due(tx: &mut TenantTx, conversation: ConversationId, kind: AutoReplyKind) -> sqlx::Result<bool> {
    let sql = match kind {
        AutoReplyKind::Greeting => {
            "select not exists (select 1 from messages
                                 where conversation_id = $1
                                   and (sender_kind = 'agent' and not private or auto_reply = 'greeting'))"
        }
        AutoReplyKind::Closing => "select true",
        AutoReplyKind::Away => {
            "select not exists (select 1 from messages
                                 where conversation_id = $1 and auto_reply = 'away'
                                   and seq > coalesce((select max(seq) from messages
                                                        where conversation_id = $1 and sender_kind = 'agent'
                                                          and not private), 0))"
        }
    };
    sqlx::query_scalar(sql).bind(conversation).fetch_one(tx.conn()).await
}

/// Stores an automatic reply (visible to the visitor) with the conversation's next sequence
/// number; the caller holds the conversation's row lock.
pub async fn insert(
    tx: &mut TenantTx,
    conversation_id: ConversationId,
    kind: AutoReplyKind,
    name: &str,
    body: &str,
) -> sqlx::Result<MessageRow> {
    super::messages::insert_automated(tx, conversation_id, name, body, super::messages::Automated::Auto(kind)).await
}

/// The preferred language of the conversation's visitor, if known.
pub async fn visitor_language(tx: &mut TenantTx, conversation: ConversationId) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select v.language from conversations c join visitors v on v.id = c.visitor_id where c.id = $1")
        .bind(conversation)
        .fetch_optional(tx.conn())
        .await
        .map(Option::flatten)
}
