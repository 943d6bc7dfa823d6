//! Conversations over REST (F14): the inbox list (by status, assignee, team and tag, newest
//! activity first, with the visitor, the latest message and the team's unread count), one conversation's
//! state, and its transcript paged by sequence number in either direction.

use axum::extract::{Path, Query, State};
use kefu_protocol::ConversationId;
use kefu_protocol::ws::{ConversationStatus, ConversationSummary, MessageView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AnyMember, Auth, ConversationsRead};
use crate::db::conversations::ListCursor;
use crate::db::{self, TenantTx};
use crate::error::{ApiError, Result};
use crate::state::AppState;

/// Most messages one page returns.
pub const MAX_PAGE: i64 = 200;

/// A member reading the same transcript or downloading the same file again within this time is
/// one audit entry (docs/api.md, "Audit log").
pub const READ_AUDIT_WINDOW: chrono::Duration = chrono::Duration::hours(1);

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_conversations))
        .routes(routes!(get_conversation))
        .routes(routes!(list_messages))
}

/// A `conv_…` path segment; a malformed one is simply not found (shared by the conversation
/// routes).
pub(super) fn conversation_id(raw: &str) -> Result<ConversationId> {
    raw.parse().map_err(|_| ApiError::not_found("conversation"))
}

/// Most conversations one inbox page returns.
pub const MAX_LIST: i64 = 100;

/// Which conversations.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// `open` (default), `closed` or `all`.
    pub status: Option<String>,
    /// `any` (default), `none` (the queue), `me`, or a member's `usr_…`.
    pub assignee: Option<String>,
    /// Conversations per page, 1–100 (default 50).
    pub limit: Option<i64>,
    /// The previous page's `next_before`.
    pub before: Option<String>,
    /// Only conversations in this team's queue (`team_…`).
    pub team: Option<String>,
    /// Only conversations with this tag (compared lowercase and trimmed).
    pub tag: Option<String>,
}

/// A conversation in the inbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListedConversation {
    /// As in the protocol's `conversation_updated`.
    #[serde(flatten)]
    pub summary: ConversationSummary,
    /// The visitor's name and email, when they gave them.
    pub visitor_name: Option<String>,
    /// Email.
    pub visitor_email: Option<String>,
    /// Visitor messages the team has not read.
    pub unread: i64,
    /// The latest public message.
    pub last_message: Option<LastMessage>,
}

/// A conversation's latest public message, as the inbox previews it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastMessage {
    /// Its text.
    pub body: String,
    /// Who wrote it.
    pub sender_kind: db::messages::SenderKind,
    /// When.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// One inbox page.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationPage {
    /// Newest activity first.
    pub conversations: Vec<ListedConversation>,
    /// Pass as `before` for the next page; absent on the last one.
    pub next_before: Option<String>,
}

fn list_filter(query: &ListQuery, me: Option<kefu_protocol::UserId>) -> Result<db::conversations::ListFilter> {
    let status = match query.status.as_deref() {
        None | Some("open") => Some(ConversationStatus::Open),
        Some("closed") => Some(ConversationStatus::Closed),
        Some("all") => None,
        Some(_) => return Err(ApiError::field("status", "invalid", "open, closed or all")),
    };
    let assignee = match query.assignee.as_deref() {
        None | Some("any") => None,
        Some("none") => Some(None),
        Some("me") => {
            Some(Some(me.ok_or_else(|| ApiError::field("assignee", "invalid", "`me` needs a member, not an API key"))?))
        }
        Some(user) => Some(Some(
            user.parse::<kefu_protocol::UserId>()
                .map_err(|_| ApiError::field("assignee", "invalid", "any, none, me or a usr_… id"))?,
        )),
    };
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_LIST).contains(&limit) {
        return Err(ApiError::field("limit", "out_of_range", format!("1 to {MAX_LIST}")));
    }
    let before = match &query.before {
        None => None,
        Some(cursor) => {
            Some(ListCursor::parse(cursor).ok_or_else(|| ApiError::field("before", "invalid", "use next_before"))?)
        }
    };
    let team = match &query.team {
        None => None,
        Some(team) => {
            Some(team.parse::<kefu_protocol::TeamId>().map_err(|_| ApiError::field("team", "invalid", "a team_… id"))?)
        }
    };
    let tag = match &query.tag {
        None => None,
        Some(tag) => Some(crate::domain::tags::parse_tag(tag).map_err(|m| ApiError::field("tag", "invalid", m))?),
    };
    Ok(db::conversations::ListFilter { team, tag, status, assignee, before, limit })
}

/// The inbox: conversations by status and assignee, newest activity first.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", security(("bearer" = [])),
    params(ListQuery), responses((status = 200, body = ConversationPage), (status = 422, description = "validation_failed")))]
async fn list_conversations(
    State(state): State<AppState>,
    auth: Auth<AnyMember, ConversationsRead>,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<ConversationPage>> {
    let filter = list_filter(&query, auth.principal.user_id())?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let rows = db::conversations::list(&mut tx, &filter).await?;
    tx.commit().await?;
    let next_before = (i64::try_from(rows.len()).unwrap_or(i64::MAX) == filter.limit)
        .then(|| rows.last().map(|r| ListCursor::of(&r.conversation).to_string()))
        .flatten();
    let conversations = rows
        .into_iter()
        .map(|row| {
            ListedConversation {
                summary: row.conversation.summary(),
                visitor_name: row.visitor_name,
                visitor_email: row.visitor_email,
                unread: row.unread,
                // One row of messages: the three are there together or not at all.
                last_message: row
                    .last_body
                    .zip(row.last_sender_kind)
                    .zip(row.last_at)
                    .map(|((body, sender_kind), created_at)| LastMessage { body, sender_kind, created_at }),
            }
        })
        .collect();
    Ok(axum::Json(ConversationPage { conversations, next_before }))
}

/// One conversation.
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}", tag = "conversations",
    security(("bearer" = [])), params(("conversation_id" = String, Path, description = "conv_…")),
    responses((status = 200, body = ConversationSummary, description = "As in the protocol"),
        (status = 404, description = "resource_not_found")))]
async fn get_conversation(
    State(state): State<AppState>,
    auth: Auth<AnyMember, ConversationsRead>,
    Path(id): Path<String>,
) -> Result<axum::Json<ConversationSummary>> {
    let id = conversation_id(&id)?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let row = db::conversations::find(&mut tx, id).await?.ok_or_else(|| ApiError::not_found("conversation"))?;
    tx.commit().await?;
    Ok(axum::Json(row.summary()))
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
    auth: Auth<AnyMember, ConversationsRead>,
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
    if db::conversations::find(&mut tx, id).await?.is_none() {
        return Err(ApiError::not_found("conversation"));
    }
    let mut rows = db::messages::page(&mut tx, id, page, limit + 1).await?;
    db::audit::record_read(
        &mut tx,
        auth.principal.actor(),
        "transcript.read",
        &id.to_string(),
        serde_json::json!({}),
        READ_AUDIT_WINDOW,
    )
    .await?;
    tx.commit().await?;
    let has_more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    if has_more {
        // The extra row is the furthest in the page's direction.
        rows.pop();
    }
    if matches!(page, db::messages::Page::Before(_)) {
        rows.reverse();
    }
    Ok(axum::Json(MessagePage { messages: rows.into_iter().map(db::messages::MessageRow::view).collect(), has_more }))
}
