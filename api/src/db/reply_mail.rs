//! Agents' replies a visitor has not read, to be emailed to them: the control-plane schedule
//! (`control.reply_mail_due`, one row per conversation) and the tenant-scoped reads and marks
//! (`conversations.emailed_seq`).

use chrono::{DateTime, Utc};
use kefu_protocol::{ConversationId, TenantId};
use sqlx::PgConnection;

use super::TenantTx;

/// Schedules the conversation's unread replies to be mailed at `due_at`, unless they already are
/// (the earlier time stands, so a stream of replies does not put the mail off forever).
pub async fn schedule(
    conn: &mut PgConnection,
    tenant: TenantId,
    conversation: ConversationId,
    due_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into control.reply_mail_due (tenant_id, conversation_id, due_at) values ($1, $2, $3)
         on conflict (tenant_id, conversation_id) do nothing",
    )
    .bind(tenant)
    .bind(conversation)
    .bind(due_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Conversations whose mail is due, oldest first.
pub async fn due(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<(TenantId, ConversationId)>> {
    sqlx::query_as(
        "select tenant_id, conversation_id from control.reply_mail_due where due_at <= now() order by due_at limit $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Takes the transaction's tenant's due row for `conversation`: `false` when another node took it
/// (or it is not due). The row stays locked, and is gone for good, once the transaction commits.
pub async fn take(tx: &mut TenantTx, conversation: ConversationId) -> sqlx::Result<bool> {
    let tenant = tx.tenant_id();
    let taken = sqlx::query(
        "delete from control.reply_mail_due where tenant_id = $1 and conversation_id = $2 and due_at <= now()",
    )
    .bind(tenant)
    .bind(conversation)
    .execute(tx.control().await?)
    .await?;
    Ok(taken.rows_affected() == 1)
}

/// Forgets a due row without a tenant transaction (its tenant is gone or inactive).
pub async fn forget(conn: &mut PgConnection, tenant: TenantId, conversation: ConversationId) -> sqlx::Result<()> {
    sqlx::query("delete from control.reply_mail_due where tenant_id = $1 and conversation_id = $2")
        .bind(tenant)
        .bind(conversation)
        .execute(conn)
        .await?;
    Ok(())
}

/// The visitor a reply mail goes to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Recipient {
    /// The visitor.
    pub visitor_id: kefu_protocol::VisitorId,
    /// Their address, if they gave one.
    pub email: Option<String>,
    /// Their name, if they gave one.
    pub name: Option<String>,
    /// Their preferred language, if known.
    pub language: Option<String>,
    /// What they read, or were already mailed, up to.
    pub seen_seq: i64,
}

/// One unread reply.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnreadReply {
    /// Its sequence number.
    pub seq: i64,
    /// The agent's name at the time.
    pub sender_name: Option<String>,
    /// Its text (empty for a file).
    pub body: String,
    /// The attached file's name, if any.
    pub file_name: Option<String>,
}

/// Most replies in one mail (the oldest unread first).
pub const MAX_REPLIES: i64 = 20;

/// The conversation's visitor and the agents' public replies they have neither read nor been
/// mailed.
pub async fn unread(
    tx: &mut TenantTx,
    conversation: ConversationId,
) -> sqlx::Result<Option<(Recipient, Vec<UnreadReply>)>> {
    let recipient: Option<Recipient> = sqlx::query_as(
        "select v.id as visitor_id, v.email, v.name, v.language, greatest(c.visitor_read_seq, c.emailed_seq) as seen_seq
           from conversations c join visitors v on v.id = c.visitor_id
          where c.id = $1",
    )
    .bind(conversation)
    .fetch_optional(tx.conn())
    .await?;
    let Some(recipient) = recipient else { return Ok(None) };
    let replies = sqlx::query_as(
        "select seq, sender_name, body, attachment->>'name' as file_name from messages
          where conversation_id = $1 and sender_kind = 'agent' and not private and seq > $2
          order by seq limit $3",
    )
    .bind(conversation)
    .bind(recipient.seen_seq)
    .bind(MAX_REPLIES)
    .fetch_all(tx.conn())
    .await?;
    Ok(Some((recipient, replies)))
}

/// Records that the replies up to `seq` were mailed.
pub async fn mark_emailed(tx: &mut TenantTx, conversation: ConversationId, seq: i64) -> sqlx::Result<()> {
    sqlx::query("update conversations set emailed_seq = greatest(emailed_seq, $2) where id = $1")
        .bind(conversation)
        .bind(seq)
        .execute(tx.conn())
        .await?;
    Ok(())
}
