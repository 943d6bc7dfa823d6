//! Leave a message, get the answer by email (F21): an agent's public reply that the visitor has
//! not read within `mail.reply_delay_secs` is emailed to them, when they gave an address (the
//! offline form asks for one), in their language, through the outbox. Each reply is mailed at
//! most once (`conversations.emailed_seq`), and never once the widget showed it to them
//! (`visitor_read_seq`).
//!
//! [`ReplyMailHandle`] listens to the after-commit events and schedules the conversation in
//! `control.reply_mail_due` (one row per conversation, the earliest due time standing); the
//! worker started by [`start`] takes due rows on any node (a row is taken in the same
//! transaction that queues the mail, so two nodes never mail the same replies) and mails what is
//! still unread then. A node dying between an agent's commit and the scheduling (milliseconds)
//! loses that schedule; the next reply in the conversation schedules it again with everything
//! unread.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kefu_protocol::{ConversationId, TenantId};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::db::messages::MessageSender;
use crate::db::{self, Databases, TenantTx};
use crate::mail::replies::{self, Reply};
use crate::ops::events::{Change, Subscriber};

/// What signs the links that continue a conversation on the edge's hosted chat page.
#[derive(Clone)]
pub struct Linker {
    /// The region's token keys: links are signed with its visitor keys (the edge verifies with the same).
    pub keys: Arc<crate::auth::jwt::JwtKeys>,
    /// The edge's public URL (`edge.public_url`); without it mails carry no link.
    pub edge_url: Option<String>,
    /// This region.
    pub region: String,
}

impl Linker {
    /// The link for `visitor` of the transaction's tenant, through the tenant's oldest active
    /// site key; `None` without an edge URL or a site key.
    async fn link(&self, tx: &mut TenantTx, visitor: kefu_protocol::VisitorId) -> sqlx::Result<Option<String>> {
        let Some(edge_url) = &self.edge_url else { return Ok(None) };
        let Some(site) = db::site_keys::list(tx).await?.into_iter().next() else { return Ok(None) };
        let now = chrono::Utc::now().timestamp();
        let claims = kefu_protocol::ChatLinkClaims {
            iss: kefu_protocol::ISSUER.into(),
            aud: kefu_protocol::CHAT_LINK_AUDIENCE.into(),
            sub: visitor,
            tid: tx.tenant_id(),
            region: self.region.clone(),
            site: site.id,
            iat: now,
            exp: now + kefu_protocol::CHAT_LINK_TTL_SECS,
            jti: uuid::Uuid::now_v7().simple().to_string(),
        };
        match self.keys.visitor_keys().sign(&claims) {
            Ok(token) => Ok(Some(format!("{}/c/{token}", edge_url.trim_end_matches('/')))),
            Err(error) => {
                tracing::warn!(%error, "could not sign a chat link; the mail goes without it");
                Ok(None)
            }
        }
    }
}

/// Conversations handled per worker round.
const BATCH: i64 = 50;
/// How often the worker looks for due mail.
const ROUND: Duration = Duration::from_secs(2);

/// The subscription: schedules a conversation when an agent replies in it.
pub struct ReplyMailHandle {
    replies: mpsc::UnboundedSender<(TenantId, ConversationId)>,
}

/// The replies [`ReplyMailHandle`] queues, until [`start`] takes them.
pub struct ReplyMailJobs {
    receiver: mpsc::UnboundedReceiver<(TenantId, ConversationId)>,
}

impl ReplyMailHandle {
    /// The subscription and its queue.
    pub fn new() -> (Self, ReplyMailJobs) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Self { replies: sender }, ReplyMailJobs { receiver })
    }
}

impl Subscriber for ReplyMailHandle {
    fn committed(&self, change: &Change) {
        if let Change::MessageStored { tenant, message, conversation: Some(conversation), .. } = change
            && matches!(message.sender, MessageSender::Agent(_))
            && !message.private
        {
            let _ = self.replies.send((*tenant, conversation.id));
        }
    }
}

/// Starts the scheduler (for [`ReplyMailHandle`]'s replies) and the worker that mails due ones;
/// both run until `shutdown`. `mail_wakeup` wakes the SMTP delivery worker.
pub fn start(
    jobs: ReplyMailJobs,
    databases: Databases,
    linker: Linker,
    delay: Duration,
    mail_wakeup: Arc<Notify>,
    shutdown: CancellationToken,
) {
    tokio::spawn(schedule(jobs.receiver, databases.clone(), delay, shutdown.clone()));
    tokio::spawn(async move {
        loop {
            match mail_due(&databases, &linker).await {
                Ok(0) => {}
                Ok(_) => mail_wakeup.notify_one(),
                Err(error) => tracing::warn!(%error, "reply mail round failed; retrying"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(ROUND) => {}
            }
        }
    });
}

/// Writes each conversation's schedule once per `delay` per node (the row keeps the earliest
/// time anyway; this spares the control database one write per reply).
async fn schedule(
    mut replies: mpsc::UnboundedReceiver<(TenantId, ConversationId)>,
    databases: Databases,
    delay: Duration,
    shutdown: CancellationToken,
) {
    let recent: Mutex<HashMap<(TenantId, ConversationId), Instant>> = Mutex::new(HashMap::new());
    loop {
        let reply = tokio::select! {
            _ = shutdown.cancelled() => return,
            reply = replies.recv() => match reply { Some(reply) => reply, None => return },
        };
        {
            let mut recent = recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            recent.retain(|_, at| at.elapsed() < delay);
            if recent.contains_key(&reply) {
                continue;
            }
            recent.insert(reply, Instant::now());
        }
        let due_at = chrono::Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        let written = async {
            let mut conn = databases.control().acquire().await?;
            db::reply_mail::schedule(&mut conn, reply.0, reply.1, due_at).await
        };
        if let Err(error) = written.await {
            // The next reply schedules it again.
            recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&reply);
            tracing::warn!(%error, "could not schedule a reply mail");
        }
    }
}

/// Mails the due conversations' unread replies; how many mails were queued.
async fn mail_due(databases: &Databases, linker: &Linker) -> sqlx::Result<usize> {
    let due = {
        let mut conn = databases.control().acquire().await?;
        db::reply_mail::due(&mut conn, BATCH).await?
    };
    let mut queued = 0;
    for (tenant, conversation) in due {
        match mail_one(databases, linker, tenant, conversation).await {
            Ok(true) => queued += 1,
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, %tenant, %conversation, "reply mail failed; retrying"),
        }
    }
    Ok(queued)
}

/// Takes the conversation's due row and, in the same transaction, queues the mail of what the
/// visitor has not read; whether a mail was queued.
async fn mail_one(
    databases: &Databases,
    linker: &Linker,
    tenant: TenantId,
    conversation: ConversationId,
) -> sqlx::Result<bool> {
    let Some(schema) = db::tenants::active_schema(databases, tenant).await? else {
        db::reply_mail::forget(&mut *databases.control().acquire().await?, tenant, conversation).await?;
        return Ok(false);
    };
    let mut tx = TenantTx::begin(databases, &schema).await?;
    if !db::reply_mail::take(&mut tx, conversation).await? {
        return Ok(false);
    }
    let Some((recipient, unread)) = db::reply_mail::unread(&mut tx, conversation).await? else {
        tx.commit().await?;
        return Ok(false);
    };
    let (Some(email), Some(last)) = (recipient.email.as_deref(), unread.last()) else {
        tx.commit().await?;
        return Ok(false);
    };
    let company = db::tenants::current(&mut tx).await?.map(|t| t.name).unwrap_or_default();
    let chinese = recipient.language.as_deref().is_some_and(|l| l.starts_with("zh"));
    let texts: Vec<String> = unread
        .iter()
        .map(|r| match &r.file_name {
            Some(file) if chinese => format!("[文件：{file}]"),
            Some(file) => format!("[file: {file}]"),
            None => r.body.clone(),
        })
        .collect();
    let list: Vec<Reply<'_>> = unread
        .iter()
        .zip(&texts)
        .map(|(r, text)| Reply { from: r.sender_name.as_deref().unwrap_or(&company), text })
        .collect();
    let link = linker.link(&mut tx, recipient.visitor_id).await?;
    let mail = replies::unread(chinese, &company, recipient.name.as_deref(), &list, link.as_deref());
    crate::mail::enqueue_for_tenant(&mut tx, email, &mail).await?;
    db::reply_mail::mark_emailed(&mut tx, conversation, last.seq).await?;
    tx.commit().await?;
    metrics::counter!("kefu_reply_mails_total").increment(1);
    Ok(true)
}
