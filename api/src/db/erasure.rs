//! Erasing one visitor's data on request (GDPR, PIPL; docs/erasure.md): their profile, page
//! views, conversations with every message and note, search index entries, attachments (rows
//! here, files by the caller after commit), the webhook events and deliveries about them, and the
//! tenant's queued and sent mail to them.

use kefu_protocol::VisitorId;

use super::TenantTx;

/// What an erasure removed (counts only: the receipt keeps no personal data).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erased {
    /// Conversations.
    pub conversations: i64,
    /// Messages and notes.
    pub messages: i64,
    /// Page views.
    pub page_views: i64,
    /// Mail to the visitor's address.
    pub mails: i64,
    /// The object store keys of their attachments, to delete after commit.
    pub files: Vec<String>,
}

/// Erases the visitor; `None` when there is no such visitor (never was, or already erased).
pub async fn erase_visitor(tx: &mut TenantTx, visitor: VisitorId) -> sqlx::Result<Option<Erased>> {
    let found: Option<(Option<String>,)> = sqlx::query_as("select email from visitors where id = $1 for update")
        .bind(visitor)
        .fetch_optional(tx.conn())
        .await?;
    let Some((email,)) = found else {
        return Ok(None);
    };
    let (conversations, messages, page_views): (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from conversations where visitor_id = $1),
                (select count(*) from messages m join conversations c on c.id = m.conversation_id where c.visitor_id = $1),
                (select count(*) from page_views where visitor_id = $1)",
    )
    .bind(visitor)
    .fetch_one(tx.conn())
    .await?;
    // Files sent in their conversations (by anyone), and their own uploads never sent.
    let files: Vec<String> = sqlx::query_scalar(
        "delete from attachments
         where conversation_id in (select id from conversations where visitor_id = $1)
            or (uploader_kind = 'visitor' and uploader_id = $1)
         returning storage_key",
    )
    .bind(visitor)
    .fetch_all(tx.conn())
    .await?;
    let conversation_ids: Vec<uuid::Uuid> = sqlx::query_scalar("select id from conversations where visitor_id = $1")
        .bind(visitor)
        .fetch_all(tx.conn())
        .await?;
    // Webhook events and deliveries about them (their conversations' and their own), sent or not.
    let keys: Vec<uuid::Uuid> = conversation_ids.iter().copied().chain([visitor.as_uuid()]).collect();
    sqlx::query("delete from webhook_events where ordering_key = any($1)").bind(&keys).execute(tx.conn()).await?;
    sqlx::query("delete from webhook_deliveries where ordering_key = any($1)").bind(&keys).execute(tx.conn()).await?;
    // Their hours' analytics rollups are counted again without them.
    super::analytics::mark_visitor_stale(tx, visitor).await?;
    // Conversations, messages (with their index entries), page views, bot records and analytics
    // facts follow by foreign key.
    sqlx::query("delete from visitors where id = $1").bind(visitor).execute(tx.conn()).await?;
    let tenant = tx.tenant_id();
    let control = tx.control().await?;
    sqlx::query("delete from control.reply_mail_due where tenant_id = $1 and conversation_id = any($2)")
        .bind(tenant)
        .bind(&conversation_ids)
        .execute(&mut *control)
        .await?;
    let mails = match email {
        Some(email) => {
            sqlx::query("delete from control.outbox_mail where tenant_id = $1 and lower(to_address) = lower($2)")
                .bind(tenant)
                .bind(email)
                .execute(&mut *control)
                .await?
                .rows_affected()
        }
        None => 0,
    };
    Ok(Some(Erased { conversations, messages, page_views, mails: i64::try_from(mails).unwrap_or(i64::MAX), files }))
}
