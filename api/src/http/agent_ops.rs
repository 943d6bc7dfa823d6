//! An agent's real-time operations over REST (issue 17, "REST parity"): sending a message or a
//! private note, claiming, closing and marking read, with a member's token or an API key (a
//! member's key acts as its member). Each goes through the same `ops` function as the socket
//! frame: a message is acknowledged only once committed (group commit), retried with the same
//! `Idempotency-Key` it is stored once and answered with the original, and every change is
//! announced to sockets like the frame's. Reopen, transfer, tags and participants live in
//! `conversation_actions` (REST only).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use chrono::{DateTime, Utc};
use kefu_protocol::ws::{self, ConversationSummary, Sender};
use kefu_protocol::{AttachmentId, ConversationId, MessageId, Role, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::conversations::conversation_id;
use super::extract::{AnyMember, ApiJson, Auth, ConversationsWrite, MessagesWrite};
use crate::auth::TenantCtx;
use crate::db::{self, TenantTx};
use crate::error::{ApiError, Result};
use crate::ops::conversations::Closer;
use crate::ops::messages::Author;
use crate::state::AppState;

/// The request header whose value makes a send idempotent (the socket's `client_id`).
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on the answer to a send that repeated an earlier `Idempotency-Key`.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_message))
        .routes(routes!(claim_conversation))
        .routes(routes!(close_conversation))
        .routes(routes!(mark_read))
}

/// A message or a private note.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// Text, 1–4000 characters, no NUL (with an attachment: a caption, or its file name).
    pub body: String,
    /// A private note, which only the team sees (default false).
    #[serde(default)]
    pub private: bool,
    /// A file uploaded with `POST /api/v1/attachments` by the same member, not sent yet (not on
    /// notes).
    #[serde(default)]
    pub attachment_id: Option<AttachmentId>,
}

/// A stored message.
#[derive(Debug, Serialize, ToSchema)]
pub struct SentMessage {
    /// The message (`msg_…`); the original one when the `Idempotency-Key` was used before.
    pub message_id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Its sequence number in the conversation.
    pub seq: i64,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// True when this answers a repeated `Idempotency-Key`: nothing new was stored.
    pub replayed: bool,
}

/// How far the caller has read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    /// The highest sequence number read.
    pub seq: i64,
}

/// The read position recorded (never backwards, never past the last message).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadPosition {
    /// The sequence number recorded.
    pub seq: i64,
}

/// The name the member goes by in the tenant (their profile's, else their account's).
async fn name_of(state: &AppState, tenant: &TenantCtx, member: UserId) -> Result<String> {
    let mut tx = TenantTx::begin(&state.db, &tenant.schema).await?;
    let profile = db::agents::display_name(&mut tx, member).await?;
    tx.commit().await?;
    if let Some(name) = profile {
        return Ok(name);
    }
    let mut conn = state.db.control().acquire().await?;
    Ok(db::users::find(&mut conn, member).await?.map_or_else(|| "A colleague".to_owned(), |user| user.display_name))
}

/// The `Idempotency-Key` header as a client id (1–64 characters of `[A-Za-z0-9_-]`); without
/// one, a fresh id (a retry then stores the message again).
fn client_id(headers: &HeaderMap) -> Result<String> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(format!("rest-{}", uuid::Uuid::now_v7().simple()));
    };
    let key = value.to_str().map_err(|_| invalid_key("must be ASCII"))?;
    ws::check_client_id(key).map_err(|e| invalid_key(&e.message))?;
    Ok(key.to_owned())
}

fn invalid_key(message: &str) -> ApiError {
    ApiError::field("Idempotency-Key", "invalid", format!("The Idempotency-Key header {message}."))
}

/// Sends a message to the visitor, or a private note (`private: true`), as the member (a member's
/// key: as its member; a workspace key cannot send). Answered once the message is committed:
/// `201` with its sequence number, or `200` with the original message for a repeated
/// `Idempotency-Key` (header `Idempotent-Replayed: true`). A reply into a colleague's
/// conversation is for its assignee, its participants and supervisors and up (anyone while
/// unassigned); notes for any member.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/messages", tag = "conversations",
    security(("bearer" = [])),
    params(("conversation_id" = String, Path, description = "conv_…"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–64 characters of [A-Za-z0-9_-]: a retry with the same key is stored once")),
    request_body = SendRequest,
    responses((status = 201, body = SentMessage, description = "stored"),
        (status = 200, body = SentMessage, description = "an earlier send with this Idempotency-Key"),
        (status = 403, description = "forbidden: a colleague's conversation, or a workspace key"),
        (status = 404, description = "resource_not_found"), (status = 409, description = "conversation_closed"),
        (status = 422, description = "validation_failed")))]
async fn send_message(
    State(state): State<AppState>,
    auth: Auth<AnyMember, MessagesWrite>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<SendRequest>,
) -> Result<(StatusCode, HeaderMap, axum::Json<SentMessage>)> {
    let conversation = conversation_id(&id)?;
    let client_id = client_id(&headers)?;
    ws::check_body(&request.body).map_err(|e| ApiError::field("body", "invalid", e.message))?;
    if request.private && request.attachment_id.is_some() {
        return Err(ApiError::field("attachment_id", "invalid", "Notes carry no attachments."));
    }
    let member = auth.require_member()?;
    let name = name_of(&state, &auth.tenant, member).await?;
    let directs = auth.principal.role().includes(Role::Supervisor);
    let author = Author::Agent { id: member, name, conversation, private: request.private, directs };
    let (store, events) = (&state.store, &state.events);
    let sent =
        crate::ops::messages::send(store, events, &auth.tenant, author, client_id, request.body, request.attachment_id)
            .await?;
    let mut answer = HeaderMap::new();
    let status = if sent.fresh {
        StatusCode::CREATED
    } else {
        answer.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
        StatusCode::OK
    };
    let body = SentMessage {
        message_id: sent.message_id,
        conversation_id: sent.conversation_id,
        seq: sent.seq,
        created_at: sent.created_at,
        replayed: !sent.fresh,
    };
    Ok((status, answer, axum::Json(body)))
}

/// Takes an open, unassigned conversation for the member (within their `max_concurrent_chats`;
/// supervisors and up may exceed it), as the socket's `claim`.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/claim", tag = "conversations",
    security(("bearer" = [])), params(("conversation_id" = String, Path, description = "conv_…")),
    responses((status = 200, body = ConversationSummary, description = "The conversation as it is now"),
        (status = 403, description = "forbidden: closed, someone else's, or a workspace key"),
        (status = 404, description = "resource_not_found"), (status = 409, description = "capacity_reached")))]
async fn claim_conversation(
    State(state): State<AppState>,
    auth: Auth<AnyMember, ConversationsWrite>,
    Path(id): Path<String>,
) -> Result<axum::Json<ConversationSummary>> {
    let conversation = conversation_id(&id)?;
    let member = auth.require_member()?;
    let row = crate::ops::conversations::claim(&state.db, &state.events, &auth.tenant, member, conversation).await?;
    Ok(axum::Json(row.summary()))
}

/// Closes an open conversation: its assignee, supervisors and up, anyone while unassigned (a
/// workspace key by its role), as the socket's `close`.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/close", tag = "conversations",
    security(("bearer" = [])), params(("conversation_id" = String, Path, description = "conv_…")),
    responses((status = 200, body = ConversationSummary, description = "The conversation as it is now"),
        (status = 403, description = "forbidden: a colleague's conversation"),
        (status = 404, description = "resource_not_found"), (status = 409, description = "conversation_closed")))]
async fn close_conversation(
    State(state): State<AppState>,
    auth: Auth<AnyMember, ConversationsWrite>,
    Path(id): Path<String>,
) -> Result<axum::Json<ConversationSummary>> {
    let conversation = conversation_id(&id)?;
    let closer = Closer::Api {
        member: auth.principal.acting_member(),
        directs: auth.principal.role().includes(Role::Supervisor),
    };
    let row = crate::ops::conversations::close(&state.db, &state.events, &auth.tenant, closer, conversation).await?;
    Ok(axum::Json(row.summary()))
}

/// Records that the member has read the conversation up to `seq` (the team's unread count and
/// the member's other tabs follow), as the socket's `read`.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/read", tag = "conversations",
    security(("bearer" = [])), params(("conversation_id" = String, Path, description = "conv_…")),
    request_body = ReadRequest,
    responses((status = 200, body = ReadPosition), (status = 403, description = "forbidden: a workspace key"),
        (status = 404, description = "resource_not_found"), (status = 422, description = "validation_failed")))]
async fn mark_read(
    State(state): State<AppState>,
    auth: Auth<AnyMember, ConversationsWrite>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ReadRequest>,
) -> Result<axum::Json<ReadPosition>> {
    let conversation = conversation_id(&id)?;
    if request.seq < 0 {
        return Err(ApiError::field("seq", "out_of_range", "Must be 0 or more."));
    }
    let member = auth.require_member()?;
    let name = name_of(&state, &auth.tenant, member).await?;
    let reader = Sender::Agent { id: member, name };
    let (db, events) = (&state.db, &state.events);
    let seq =
        crate::ops::conversations::mark_read(db, events, &auth.tenant, reader, conversation, request.seq, None).await?;
    Ok(axum::Json(ReadPosition { seq }))
}
