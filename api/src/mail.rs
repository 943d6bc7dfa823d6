//! Outgoing mail: templates, queueing into `control.outbox_mail` inside the caller's
//! transaction, and the worker that delivers queued mail over SMTP with retries.
//!
//! Without SMTP configured, mail stays in the outbox; in development the dev mailbox
//! (`/dev/mailbox`) shows it so a person can click the links.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use sqlx::{PgConnection, PgPool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::db;

/// A rendered mail.
pub struct Mail {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// The mails Kefu sends. Bodies are bilingual (English, then Simplified Chinese) because the
/// recipient's language is not known when they are sent.
pub mod templates {
    use super::Mail;

    /// Confirms a new account's address.
    pub fn verify_email(name: &str, link: &str) -> Mail {
        Mail {
            subject: "Confirm your email for Kefu / 确认您的 Kefu 邮箱".into(),
            body: format!(
                "Hello {name},\n\nConfirm your email address by opening this link (valid for 48 hours):\n{link}\n\n\
                 您好 {name}，\n\n请打开以下链接确认您的邮箱（48 小时内有效）：\n{link}\n"
            ),
        }
    }

    /// Lets a user set a new password.
    pub fn reset_password(name: &str, link: &str) -> Mail {
        Mail {
            subject: "Reset your Kefu password / 重置您的 Kefu 密码".into(),
            body: format!(
                "Hello {name},\n\nSomeone asked to reset your password. If it was you, open this link (valid for 1 hour):\n{link}\n\
                 If it was not you, ignore this mail.\n\n\
                 您好 {name}，\n\n有人请求重置您的密码。如果是您本人，请在 1 小时内打开以下链接：\n{link}\n如果不是您，请忽略此邮件。\n"
            ),
        }
    }

    /// The second step locked after too many wrong codes: whoever tried knew the password.
    pub fn two_factor_locked(name: &str, minutes: u64) -> Mail {
        Mail {
            subject: "Kefu sign-in locked after wrong codes / Kefu 登录因验证码错误被锁定".into(),
            body: format!(
                "Hello {name},\n\nSomeone signed in to Kefu with your password, then entered several wrong two-factor codes. \
                 The second step is locked for {minutes} minutes. If it was not you, change your password now.\n\n\
                 您好 {name}，\n\n有人使用您的密码登录 Kefu，但多次输入了错误的两步验证码，两步验证已锁定 {minutes} 分钟。\
                 如果不是您本人，请立即修改密码。\n"
            ),
        }
    }

    /// A recovery code was used to sign in.
    pub fn recovery_code_used(name: &str, left: i64) -> Mail {
        Mail {
            subject: "A Kefu recovery code was used / 您的 Kefu 恢复码已被使用".into(),
            body: format!(
                "Hello {name},\n\nA recovery code was just used to sign in to Kefu instead of your authenticator app. \
                 {left} codes are left; make new ones in Settings → Two-factor sign-in. If it was not you, change your password now.\n\n\
                 您好 {name}，\n\n刚刚有人使用恢复码（而不是身份验证器）登录了 Kefu，还剩 {left} 个恢复码，\
                 可在“设置 → 两步验证”中重新生成。如果不是您本人，请立即修改密码。\n"
            ),
        }
    }

    /// Invites someone into a tenant.
    pub fn invitation(inviter: &str, company: &str, role: &str, link: &str) -> Mail {
        Mail {
            subject: format!("{inviter} invited you to {company} on Kefu / {inviter} 邀请您加入 {company}"),
            body: format!(
                "{inviter} invited you to answer customers for {company} on Kefu as {role}.\n\
                 Accept the invitation (valid for 7 days):\n{link}\n\n\
                 {inviter} 邀请您以 {role} 身份加入 {company} 的 Kefu 客服团队。\n接受邀请（7 天内有效）：\n{link}\n"
            ),
        }
    }

    /// Tells a workspace's admins that Kefu disabled a webhook endpoint whose deliveries kept
    /// failing.
    pub fn webhook_disabled(company: &str, url: &str, reason: &str) -> Mail {
        Mail {
            subject: format!("Webhook endpoint disabled for {company} / {company} 的 Webhook 端点已停用"),
            body: format!(
                "Kefu kept failing to deliver events to your webhook endpoint\n{url}\n\
                 for the whole retry schedule (last error: {reason}), so it has been disabled and no further events \
                 are sent to it. Fix the receiver, then enable the endpoint again under Admin → Webhooks; failed \
                 deliveries can be replayed from its delivery log.\n\n\
                 Kefu 在整个重试周期内都无法将事件送达您的 Webhook 端点\n{url}\n\
                 （最后一次错误：{reason}），因此已将其停用，之后不再发送事件。请修复接收端后在「管理 → Webhooks」中重新启用该端点；\
                 失败的投递可在投递日志中重新发送。\n"
            ),
        }
    }
}

/// Replies a visitor has not read, in their language (zh-CN for Chinese, English otherwise).
pub mod replies {
    use super::Mail;

    /// One reply: the agent's name and what they wrote (a file's name for a file).
    pub struct Reply<'a> {
        /// The agent's name.
        pub from: &'a str,
        /// Their text.
        pub text: &'a str,
    }

    /// The mail of `replies` from `company` to a visitor called `name` (if known), with the
    /// link that continues the conversation when there is one.
    pub fn unread(chinese: bool, company: &str, name: Option<&str>, replies: &[Reply<'_>], link: Option<&str>) -> Mail {
        let quoted: String = replies
            .iter()
            .map(|r| {
                let text: String = r.text.lines().map(|line| format!("    {line}\n")).collect();
                format!("{}:\n{text}\n", r.from)
            })
            .collect();
        if chinese {
            Mail {
                subject: format!("{company} 回复了您的留言"),
                body: format!(
                    "{greeting}\n\n{company} 回复了您：\n\n{quoted}{next}",
                    greeting = name.map_or_else(|| "您好！".to_owned(), |n| format!("{n}，您好！")),
                    next = match link {
                        Some(link) => format!("打开以下链接继续对话（30 天内有效；本邮箱不接收回复）：\n{link}\n"),
                        None => "您可以回到我们网站上的在线客服继续对话（本邮箱不接收回复）。\n".to_owned(),
                    },
                ),
            }
        } else {
            Mail {
                subject: format!("{company} replied to your message"),
                body: format!(
                    "{greeting}\n\n{company} replied:\n\n{quoted}{next}",
                    greeting = name.map_or_else(|| "Hello,".to_owned(), |n| format!("Hello {n},")),
                    next = match link {
                        Some(link) => format!(
                            "Continue the conversation here (the link works for 30 days; this address does not receive replies):\n{link}\n"
                        ),
                        None => "You can continue the conversation in the chat on our website (this address does not receive replies).\n".to_owned(),
                    },
                ),
            }
        }
    }
}

/// Queues a mail in the caller's transaction; it is delivered only if that transaction commits.
pub async fn enqueue(
    conn: &mut PgConnection,
    tenant_id: Option<kefu_protocol::TenantId>,
    to: &str,
    mail: &Mail,
) -> sqlx::Result<()> {
    db::outbox::enqueue(conn, tenant_id, to, &mail.subject, &mail.body).await
}

/// Queues a mail about the transaction's tenant; it is delivered only if that transaction
/// commits.
pub async fn enqueue_for_tenant(tx: &mut db::TenantTx, to: &str, mail: &Mail) -> sqlx::Result<()> {
    db::outbox::enqueue_for_tenant(tx, to, &mail.subject, &mail.body).await
}

/// Starts the delivery worker when SMTP is configured. Returns `None` otherwise.
pub fn spawn_worker(
    config: &Config,
    pool: PgPool,
    wakeup: Arc<Notify>,
    shutdown: CancellationToken,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    purge_old_bodies(pool.clone(), shutdown.clone());
    let Some(url) = &config.mail.smtp_url else {
        if config.mode == crate::config::Mode::Production {
            tracing::warn!("mail.smtp_url is not set: mail is queued in control.outbox_mail but not delivered");
        }
        return Ok(None);
    };
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())?
        .timeout(Some(Duration::from_secs(20)))
        .build();
    let from: Mailbox = config.mail.from.parse()?;
    Ok(Some(tokio::spawn(async move {
        loop {
            match deliver_due(&pool, &transport, &from).await {
                // A full batch means more may be waiting: go again at once.
                Ok(handled) if handled == BATCH => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(error = format!("{error:#}"), "mail delivery round failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = wakeup.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    })))
}

/// Every hour, removes the bodies (and their links) of mail older than the longest link lives.
fn purge_old_bodies(pool: PgPool, shutdown: CancellationToken) {
    tokio::spawn(async move {
        loop {
            match pool.acquire().await {
                Ok(mut conn) => match db::outbox::purge_old_bodies(&mut conn).await {
                    Ok(0) => {}
                    Ok(purged) => tracing::info!(purged, "old mail bodies removed from the outbox"),
                    Err(error) => tracing::warn!(%error, "could not remove old mail bodies"),
                },
                Err(error) => tracing::warn!(%error, "could not remove old mail bodies"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(3600)) => {}
            }
        }
    });
}

/// Plain text, or HTML with its inline chart (`cid:chart`), as alternatives.
fn rich_body(text: &str, html: &str, png: Option<&[u8]>) -> MultiPart {
    let html_part = SinglePart::html(html.to_owned());
    let html = match png {
        Some(png) => MultiPart::related().singlepart(html_part).singlepart(
            Attachment::new_inline("chart".to_owned())
                .body(png.to_vec(), ContentType::parse("image/png").unwrap_or(ContentType::TEXT_PLAIN)),
        ),
        None => MultiPart::related().singlepart(html_part),
    };
    MultiPart::alternative().singlepart(SinglePart::plain(text.to_owned())).multipart(html)
}

/// Mails claimed per delivery round.
const BATCH: usize = 20;

async fn deliver_due(
    pool: &PgPool,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &Mailbox,
) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await?;
    let due = db::outbox::claim_due(&mut tx, BATCH as i64).await?;
    let handled = due.len();
    for mail in due {
        let message = mail.to_address.parse::<Mailbox>().map_err(anyhow::Error::from).and_then(|to| {
            let builder = Message::builder().from(from.clone()).to(to).subject(mail.subject.clone());
            match &mail.body_html {
                None => builder.body(mail.body_text.clone()),
                Some(html) => builder.multipart(rich_body(&mail.body_text, html, mail.inline_png.as_deref())),
            }
            .map_err(anyhow::Error::from)
        });
        let result = match message {
            Ok(message) => transport.send(message).await.map(|_| ()).map_err(anyhow::Error::from),
            Err(error) => Err(error),
        };
        match result {
            Ok(()) => db::outbox::mark_sent(&mut tx, mail.id).await?,
            Err(error) => {
                tracing::warn!(mail_id = %mail.id, error = %error, "mail delivery failed; will retry");
                db::outbox::mark_failed(&mut tx, mail.id, &error.to_string()).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(handled)
}
