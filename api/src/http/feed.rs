//! The compliance feed (F24, docs/compliance-feed.md): every message, note and system event and
//! every audit entry of the workspace, in the order their transactions committed, from a cursor,
//! for external archives (a bank's archive system, a data warehouse). A client keeps the last
//! `next` it processed and asks again; it never misses a row that commits late and never gets one
//! twice. Admins and admin API keys; reading it is audited (once an hour per reader).

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::AuditEntry;
use super::extract::{AdminUp, Auth, FeedRead};
use super::validate::Fields;
use crate::db::feed::{self, Position};
use crate::db::{self, TenantTx};
use crate::error::Result;
use crate::state::AppState;

/// Items per page by default, and at most.
const DEFAULT_LIMIT: i64 = 500;
const MAX_LIMIT: i64 = 1_000;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(read_feed))
}

/// Where to read from.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FeedQuery {
    /// The previous page's `next` (absent: from the beginning of the workspace's history).
    pub after: Option<String>,
    /// Items per page, 1–1000 (default 500).
    pub limit: Option<i64>,
}

/// One item of the feed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FeedItem {
    /// A message, note (`private`) or system event of a conversation, as the protocol shows it.
    Message {
        /// This item's place (a valid `after`).
        position: String,
        /// The message.
        message: kefu_protocol::ws::MessageView,
    },
    /// An audit entry: an admin change, a read of conversations, an export, an erasure's receipt.
    Audit {
        /// This item's place (a valid `after`).
        position: String,
        /// The entry.
        entry: AuditEntry,
    },
}

/// A page of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedPage {
    /// In commit order.
    pub items: Vec<FeedItem>,
    /// Pass as `after` for the next page (the same as `after` when nothing new has committed).
    pub next: String,
    /// More items are ready now: ask again at once (else wait a few seconds).
    pub more: bool,
}

/// Reads the workspace's messages and audit entries after a cursor, in commit order.
#[utoipa::path(get, path = "/api/v1/compliance/feed", tag = "audit", security(("bearer" = [])),
    params(FeedQuery),
    responses((status = 200, body = FeedPage), (status = 403, description = "forbidden: admins and admin API keys"),
        (status = 422, description = "validation_failed: `after` is not a cursor of this feed, `limit` out of range")))]
async fn read_feed(
    State(state): State<AppState>,
    auth: Auth<AdminUp, FeedRead>,
    Query(query): Query<FeedQuery>,
) -> Result<Json<FeedPage>> {
    let mut fields = Fields::default();
    let after = match query.after.as_deref() {
        None | Some("") => Position::START,
        Some(raw) => fields
            .take("after", "invalid", raw.parse::<Position>().map_err(|()| "a `next` from this feed"))
            .unwrap_or(Position::START),
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        fields.take::<(), _>("limit", "out_of_range", Err("1–1000"));
    }
    fields.finish()?;

    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    // The audit entry first: a write that waits on a move's pause must not hold a read lock the
    // move's final drop waits for (a deadlock).
    let details = serde_json::json!({ "after": query.after });
    db::audit::record_read(
        &mut tx,
        auth.principal.actor(),
        "compliance.feed_read",
        "feed",
        details,
        super::conversations::READ_AUDIT_WINDOW,
    )
    .await?;
    let epoch = feed::current_epoch(&mut tx).await?;
    let horizon = feed::horizon(&mut tx).await?;
    let messages = feed::messages(&mut tx, after, epoch, &horizon, limit).await?;
    let entries = feed::audit(&mut tx, after, epoch, &horizon, limit).await?;
    tx.commit().await?;

    let full = i64::try_from(messages.len()).unwrap_or(i64::MAX) >= limit
        || i64::try_from(entries.len()).unwrap_or(i64::MAX) >= limit;
    let mut merged: Vec<(Position, FeedItem)> = messages
        .into_iter()
        .map(|row| {
            let position = feed::message_position(&row);
            (position, FeedItem::Message { position: position.to_string(), message: row.message.view() })
        })
        .chain(entries.into_iter().map(|row| {
            let position = feed::audit_position(&row);
            let entry = AuditEntry::from(db::audit::NamedRow { row: row.entry, actor_name: None });
            (position, FeedItem::Audit { position: position.to_string(), entry })
        }))
        .collect();
    merged.sort_by_key(|(position, _)| *position);
    let more = full || i64::try_from(merged.len()).unwrap_or(i64::MAX) > limit;
    merged.truncate(usize::try_from(limit).unwrap_or(0));
    let next = merged.last().map_or(after, |(position, _)| *position);
    let next = if next == Position::START { String::new() } else { next.to_string() };
    Ok(Json(FeedPage { items: merged.into_iter().map(|(_, item)| item).collect(), next, more }))
}
