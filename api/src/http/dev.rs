//! Development-only routes, mounted when `mode = development`: the dev mailbox (mail that would
//! have gone out over SMTP) and minimal account pages so mailed links can be clicked before the
//! console exists.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde::Deserialize;
use uuid::Uuid;

use crate::db;
use crate::error::{ApiError, Result};
use crate::state::AppState;

/// Routes of this module; `account_pages` when no console is served to answer mailed links.
pub fn router(account_pages: bool) -> axum::Router<AppState> {
    let mailbox = axum::Router::new()
        .route("/dev/mailbox", get(mailbox_page))
        .route("/dev/mailbox.json", get(mailbox_json))
        .route("/dev/mailbox/{id}", get(mail_page));
    if !account_pages {
        return mailbox;
    }
    mailbox
        .route("/verify-email", get(account_page))
        .route("/accept-invite", get(account_page))
        .route("/reset-password", get(account_page))
}

/// Filter of the dev mailbox.
#[derive(Debug, Deserialize)]
struct MailboxQuery {
    to: Option<String>,
}

async fn mailbox_json(State(state): State<AppState>, Query(query): Query<MailboxQuery>) -> Result<impl IntoResponse> {
    let mut conn = state.db.control().acquire().await?;
    let mails = db::outbox::latest(&mut conn, query.to.as_deref(), 100).await?;
    Ok(axum::Json(mails))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Escapes text and turns http(s) URLs into links.
fn linkify(text: &str) -> String {
    text.split_inclusive(char::is_whitespace)
        .map(|word| {
            let trimmed = word.trim_end();
            if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
                let url = escape(trimmed);
                format!("<a href=\"{url}\">{url}</a>{}", &word[trimmed.len()..])
            } else {
                escape(word)
            }
        })
        .collect()
}

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:760px;margin:2rem auto;padding:0 1rem;color:#1f2937}\
    a{color:#2563eb}table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.4rem;border-bottom:1px solid #e5e7eb}\
    pre{white-space:pre-wrap;background:#f9fafb;padding:1rem;border-radius:8px}";

async fn mailbox_page(State(state): State<AppState>, Query(query): Query<MailboxQuery>) -> Result<Html<String>> {
    let mut conn = state.db.control().acquire().await?;
    let mails = db::outbox::latest(&mut conn, query.to.as_deref(), 100).await?;
    let rows: String = mails
        .iter()
        .map(|m| {
            format!(
                "<tr><td>{}</td><td>{}</td><td><a href=\"/dev/mailbox/{}\">{}</a></td></tr>",
                m.created_at.format("%Y-%m-%d %H:%M:%S"),
                escape(&m.to_address),
                m.id,
                escape(&m.subject)
            )
        })
        .collect();
    Ok(Html(format!(
        "<!doctype html><meta charset=utf-8><title>Kefu dev mailbox</title><style>{STYLE}</style>\
         <h1>Dev mailbox</h1><p>Mail the api queued (newest first). Nothing here was sent.</p>\
         <table><tr><th>Queued</th><th>To</th><th>Subject</th></tr>{rows}</table>"
    )))
}

async fn mail_page(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Html<String>> {
    let mut conn = state.db.control().acquire().await?;
    let mail = db::outbox::find(&mut conn, id).await?.ok_or_else(|| ApiError::not_found("mail"))?;
    Ok(Html(format!(
        "<!doctype html><meta charset=utf-8><title>{subject}</title><style>{STYLE}</style>\
         <p><a href=\"/dev/mailbox\">← mailbox</a></p><h1>{subject}</h1><p>To: {to}</p><pre>{body}</pre>",
        subject = escape(&mail.subject),
        to = escape(&mail.to_address),
        body = linkify(&mail.body_text)
    )))
}

async fn account_page() -> impl IntoResponse {
    (
        [(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'",
        )],
        Html(include_str!("account_page.html")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_bodies_are_escaped_and_links_clickable() {
        let html = linkify("open <b>this</b>:\nhttp://x.test/a?token=1&b=2\n");
        assert!(html.contains("&lt;b&gt;"));
        assert!(html.contains("<a href=\"http://x.test/a?token=1&amp;b=2\">"));
    }
}
