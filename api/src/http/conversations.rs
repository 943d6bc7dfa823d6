//! Conversations over REST (F14): one conversation's state and its transcript, paged by
//! sequence number in either direction (history scroll-back, catching up without a socket).

use axum::extract::{Path, Query, State};
use kefu_protocol::ConversationId;
use kefu_protocol::ws::{ConversationSummary, MessageView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AnyMember, Auth};
use crate::db::{self, TenantTx};
use crate::error::{ApiError, Result};
use crate::realtime::service::{message_view, summary};
use crate::state::AppState;

/// Most messages one page returns.
pub const MAX_PAGE: i64 = 200;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_conversation)).routes(routes!(list_messages))
}

fn conversation_id(raw: &str) -> Result<ConversationId> {
    raw.parse().map_err(|_| ApiError::not_found("conversation"))
}

/// One conversation.
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}", tag = "conversations",
    security(("bearer" = [])), params(("conversation_id" = String, Path, description = "conv_…")),
    responses((status = 200, body = Object, description = "ConversationSummary, as in the protocol"),
        (status = 404, description = "resource_not_found")))]
async fn get_conversation(
    State(state): State<AppState>,
    auth: Auth<AnyMember>,
    Path(id): Path<String>,
) -> Result<axum::Json<ConversationSummary>> {
    let id = conversation_id(&id)?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let row =
        db::conversations::find(&mut tx, id.as_uuid()).await?.ok_or_else(|| ApiError::not_found("conversation"))?;
    tx.commit().await?;
    Ok(axum::Json(summary(&row)))
}

/// Which page of a transcript.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct MessagesQuery {
    /// Messages before this sequence number (scrolling back). Without either bound: the latest.
    pub before_seq: Option<i64>,
    /// Messages after this sequence number (catching up). Not together with `before_seq`.
    pub after_seq: Option<i64>,
    /// Messages per page, 1–200 (default 50).
    pub limit: Option<i64>,
}

/// One page of a transcript.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    /// Messages and private notes, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<MessageView>,
    /// Whether more exist beyond this page in the direction asked (older for `before_seq` and
    /// for the latest page, newer for `after_seq`).
    pub has_more: bool,
}

/// A conversation's messages and notes, oldest first, paged by sequence number.
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}/messages", tag = "conversations",
    security(("bearer" = [])), params(("conversation_id" = String, Path, description = "conv_…"), MessagesQuery),
    responses((status = 200, body = MessagePage), (status = 400, description = "validation_failed"),
        (status = 404, description = "resource_not_found")))]
async fn list_messages(
    State(state): State<AppState>,
    auth: Auth<AnyMember>,
    Path(id): Path<String>,
    Query(query): Query<MessagesQuery>,
) -> Result<axum::Json<MessagePage>> {
    let id = conversation_id(&id)?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::field("limit", "out_of_range", "limit must be between 1 and 200"));
    }
    let page = match (query.before_seq, query.after_seq) {
        (Some(_), Some(_)) => {
            return Err(ApiError::field("before_seq", "conflict", "give before_seq or after_seq, not both"));
        }
        (Some(before), None) => db::messages::Page::Before(before),
        (None, Some(after)) => db::messages::Page::After(after),
        (None, None) => db::messages::Page::Before(i64::MAX),
    };
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    if db::conversations::find(&mut tx, id.as_uuid()).await?.is_none() {
        return Err(ApiError::not_found("conversation"));
    }
    let mut rows = db::messages::page(&mut tx, id.as_uuid(), page, limit + 1).await?;
    tx.commit().await?;
    let has_more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    if has_more {
        // The extra row is the furthest in the page's direction.
        rows.pop();
    }
    if matches!(page, db::messages::Page::Before(_)) {
        rows.reverse();
    }
    Ok(axum::Json(MessagePage { messages: rows.into_iter().map(message_view).collect(), has_more }))
}
