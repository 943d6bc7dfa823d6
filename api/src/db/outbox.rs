//! `control.outbox_mail`: mail written in the same transaction as its cause, delivered later.
//! Bodies carry links that are credentials (verification, password reset, invitations, chat
//! links), so a body is kept only while the mail may still be sent: it is replaced by
//! [`BODY_REMOVED`] once delivered, once given up, and after [`BODY_KEPT_DAYS`] in any case.

use chrono::{DateTime, Utc};
use kefu_protocol::TenantId;
use sqlx::PgConnection;
use uuid::Uuid;

use super::TenantTx;

/// A mail as stored.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct MailRow {
    /// Mail id.
    pub id: Uuid,
    /// Recipient.
    pub to_address: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub body_text: String,
    /// Queued at.
    pub created_at: DateTime<Utc>,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// Delivered at (SMTP only).
    pub sent_at: Option<DateTime<Utc>>,
    /// HTML body, for mail that has one (reports).
    pub body_html: Option<String>,
    /// The PNG the HTML shows as `cid:chart`.
    #[serde(skip)]
    pub inline_png: Option<Vec<u8>>,
}

/// What a mail's text says once its body is gone.
pub const BODY_REMOVED: &str = "(not kept after delivery: mail bodies hold sign-in and chat links)";
/// Days a body is kept at most (the longest link a mail carries, a chat link, lives 30 days).
pub const BODY_KEPT_DAYS: i32 = 30;
/// Delivery attempts before a mail is given up.
pub const MAX_ATTEMPTS: i32 = 10;

const COLUMNS: &str = "id, to_address, subject, body_text, created_at, attempts, sent_at, body_html, inline_png";

/// Queues a mail.
pub async fn enqueue(
    conn: &mut PgConnection,
    tenant_id: Option<TenantId>,
    to: &str,
    subject: &str,
    body_text: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into control.outbox_mail (id, tenant_id, to_address, subject, body_text) values ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::now_v7())
    .bind(tenant_id)
    .bind(to)
    .bind(subject)
    .bind(body_text)
    .execute(conn)
    .await?;
    Ok(())
}

/// Queues a mail with an HTML body and an inline PNG besides its plain text.
pub async fn enqueue_rich(
    conn: &mut PgConnection,
    tenant_id: Option<TenantId>,
    to: &str,
    subject: &str,
    body_text: &str,
    body_html: &str,
    inline_png: Option<&[u8]>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into control.outbox_mail (id, tenant_id, to_address, subject, body_text, body_html, inline_png)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7())
    .bind(tenant_id)
    .bind(to)
    .bind(subject)
    .bind(body_text)
    .bind(body_html)
    .bind(inline_png)
    .execute(conn)
    .await?;
    Ok(())
}

/// Queues a mail about the transaction's tenant, committed (and so sent) with its changes.
pub async fn enqueue_for_tenant(tx: &mut TenantTx, to: &str, subject: &str, body_text: &str) -> sqlx::Result<()> {
    let tenant_id = tx.tenant_id();
    enqueue(tx.control().await?, Some(tenant_id), to, subject, body_text).await
}

/// Claims up to `limit` due mails, locked so other nodes skip them until this transaction ends.
pub async fn claim_due(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<MailRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from control.outbox_mail
         where sent_at is null and next_attempt_at <= now() and attempts < $2
         order by next_attempt_at limit $1 for update skip locked"
    )))
    .bind(limit)
    .bind(MAX_ATTEMPTS)
    .fetch_all(conn)
    .await
}

/// Records a successful delivery; the body goes.
pub async fn mark_sent(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "update control.outbox_mail set sent_at = now(), attempts = attempts + 1, last_error = null,
             body_text = $2, body_html = null, inline_png = null
         where id = $1",
    )
    .bind(id)
    .bind(BODY_REMOVED)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed attempt and schedules the next with exponential backoff (capped at 1 h);
/// the last attempt gives the mail up, and its body goes.
pub async fn mark_failed(conn: &mut PgConnection, id: Uuid, error: &str) -> sqlx::Result<()> {
    sqlx::query(
        "update control.outbox_mail
         set attempts = attempts + 1, last_error = left($2, 1000),
             next_attempt_at = now() + least(interval '1 hour', interval '5 seconds' * power(2, attempts)),
             body_text = case when attempts + 1 >= $3 then $4 else body_text end,
             body_html = case when attempts + 1 >= $3 then null else body_html end,
             inline_png = case when attempts + 1 >= $3 then null else inline_png end
         where id = $1",
    )
    .bind(id)
    .bind(error)
    .bind(MAX_ATTEMPTS)
    .bind(BODY_REMOVED)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes the bodies of mail older than [`BODY_KEPT_DAYS`] (never sent: no SMTP, or still
/// retrying); returns how many.
pub async fn purge_old_bodies(conn: &mut PgConnection) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "update control.outbox_mail set body_text = $1, body_html = null, inline_png = null
         where created_at < now() - make_interval(days => $2) and body_text <> $1",
    )
    .bind(BODY_REMOVED)
    .bind(BODY_KEPT_DAYS)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// The newest mails, optionally only to one address (dev mailbox).
pub async fn latest(conn: &mut PgConnection, to: Option<&str>, limit: i64) -> sqlx::Result<Vec<MailRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from control.outbox_mail
         where $1::text is null or lower(to_address) = lower($1)
         order by created_at desc, id desc limit $2"
    )))
    .bind(to)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// One mail by id (dev mailbox).
pub async fn find(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<MailRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("select {COLUMNS} from control.outbox_mail where id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await
}
