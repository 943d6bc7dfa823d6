//! The real-time gateway (F11, F12): WebSocket endpoints for visitors (`/ws/visitor`) and agents
//! (`/ws/agent`), speaking protocol v1 (`kefu_protocol::ws`, docs/protocol.md).
//!
//! Architecture invariant: a message is acknowledged and published only after the transaction
//! that stored it committed; publishing never happens inside a transaction.

pub mod agent;
pub mod announce;
pub mod bus;
pub mod connection;
pub mod presence;
pub mod queue;
pub mod service;
pub mod visitor;
pub mod waiting;

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use kefu_protocol::ErrorCode;
use kefu_protocol::ws::limits;
use serde::Deserialize;

use crate::auth::{TenantCtx, invalid_token};
use crate::db;
use crate::error::{ApiError, Result};
use crate::state::AppState;

/// Routes of the gateway.
pub fn router() -> Router<AppState> {
    Router::new().route("/ws/visitor", get(visitor_upgrade)).route("/ws/agent", get(agent_upgrade))
}

/// The token of a WebSocket request: browsers cannot set headers on WebSocket requests, so it
/// comes as `?token=`; an `Authorization: Bearer` header is accepted too.
#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

fn token_of(query: &TokenQuery, headers: &HeaderMap) -> Result<String> {
    if let Some(token) = &query.token {
        return Ok(token.clone());
    }
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
        .ok_or_else(|| ApiError::client(ErrorCode::Unauthenticated, "Pass the token as `?token=`."))
}

/// Applies the protocol's frame limits and small buffers (idle sockets stay cheap).
fn configure(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.max_message_size(limits::MAX_FRAME_BYTES)
        .max_frame_size(limits::MAX_FRAME_BYTES)
        .read_buffer_size(1024)
        .write_buffer_size(0)
        .max_write_buffer_size(limits::MAX_FRAME_BYTES * 4)
}

/// Follows a conversation on this connection (once), replaying what the client has not seen
/// after `after_seq`; agents also get private notes.
pub(crate) async fn follow_conversation(
    state: &AppState,
    tenant: &TenantCtx,
    out: &mut connection::Outbox,
    conversation: kefu_protocol::ConversationId,
    after_seq: i64,
    include_private: bool,
) {
    let topic = bus::Topic::conversation(tenant.id, conversation);
    if out.follows(&topic) {
        return;
    }
    let receiver = state.bus.subscribe(&topic);
    let recovery = connection::Recovery {
        conversation,
        after_seq,
        pool: state.db.clone(),
        schema: tenant.schema.clone(),
        include_private,
        epoch: state.bus.epoch(),
    };
    out.follow(topic, receiver, Some(recovery)).await;
}

/// Checks a visitor token (signature, audience, expiry, this node's region) and admits its
/// tenant (`TenantCtx::admit`). Also used by the visitor's attachment endpoints.
pub(crate) async fn authenticate_visitor(
    state: &AppState,
    token: &str,
) -> Result<(kefu_protocol::VisitorClaims, TenantCtx)> {
    let claims = state.jwt.verify_visitor(token).map_err(|error| {
        tracing::debug!(%error, "visitor token rejected");
        invalid_token()
    })?;
    if claims.region != state.config.region {
        tracing::debug!(region = %claims.region, "visitor token for another region");
        return Err(invalid_token());
    }
    let mut conn = state.db.acquire().await?;
    let (tenant, _) = TenantCtx::admit(db::tenants::find_access(&mut conn, claims.tid).await?)?;
    Ok((claims, tenant))
}

fn next_connection_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

async fn visitor_upgrade(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response> {
    let token = token_of(&query, &headers)?;
    let (claims, tenant) = authenticate_visitor(&state, &token).await?;
    let header =
        |name: axum::http::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let device = crate::domain::tracking::Device::from_user_agent(&header(axum::http::header::USER_AGENT));
    let seen = db::visitors::Seen {
        browser: device.browser,
        os: device.os,
        device: device.device,
        language: crate::domain::tracking::preferred_language(&header(axum::http::header::ACCEPT_LANGUAGE)),
        ..Default::default()
    };
    Ok(configure(ws).on_upgrade(move |socket| visitor::run(socket, state, tenant, claims, seen, next_connection_id())))
}

async fn agent_upgrade(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response> {
    let token = token_of(&query, &headers)?;
    let claims = state.jwt.verify_access(&token).map_err(|_| invalid_token())?;
    let mut conn = state.db.acquire().await?;
    // Like the REST extractor: the membership is re-read, so a removed member cannot connect.
    let (tenant, _) = TenantCtx::admit(db::memberships::find_auth(&mut conn, claims.tid, claims.sub).await?)?;
    let user = db::users::find(&mut conn, claims.sub).await?.ok_or_else(invalid_token)?;
    drop(conn);
    // Visitors and colleagues see the name the member goes by in this tenant.
    let mut tx = crate::db::TenantTx::begin(&state.db, &tenant.schema).await?;
    let profile_name = db::agents::display_name(&mut tx, claims.sub).await?;
    tx.commit().await?;
    let name = profile_name.unwrap_or(user.display_name);
    Ok(configure(ws).on_upgrade(move |socket| agent::run(socket, state, tenant, claims, name, next_connection_id())))
}

/// Per-connection frame limiter: 20 frames/s sustained, bursts of 40.
pub(crate) struct FrameLimiter {
    limiter: governor::DefaultDirectRateLimiter,
    strikes: u32,
}

impl FrameLimiter {
    pub(crate) fn new() -> Self {
        let per_second = std::num::NonZeroU32::new(limits::FRAMES_PER_SECOND).unwrap_or(std::num::NonZeroU32::MIN);
        let burst = std::num::NonZeroU32::new(limits::FRAME_BURST).unwrap_or(std::num::NonZeroU32::MIN);
        Self {
            limiter: governor::RateLimiter::direct(governor::Quota::per_second(per_second).allow_burst(burst)),
            strikes: 0,
        }
    }

    /// `Ok` when the frame may be processed; `Err(true)` when the client keeps flooding and must
    /// be disconnected.
    pub(crate) fn check(&mut self) -> std::result::Result<(), bool> {
        if self.limiter.check().is_ok() {
            return Ok(());
        }
        self.strikes += 1;
        Err(self.strikes > 200)
    }
}

/// An `error` frame.
pub(crate) fn error_frame(error: service::OpError, client_id: Option<String>) -> kefu_protocol::ws::ServerFrame {
    kefu_protocol::ws::ServerFrame::Error {
        code: error.code,
        message: error.message,
        client_id,
        retryable: error.retryable,
    }
}

/// Reads the client's next valid frame, answering rate-limited and undecodable frames with
/// `error` frames (and disconnecting a client that keeps flooding). `None` when the session ends.
pub(crate) async fn next_frame<F>(
    stream: &mut futures_util::stream::SplitStream<axum::extract::ws::WebSocket>,
    out: &connection::Outbox,
    limiter: &mut FrameLimiter,
) -> Option<F>
where
    F: for<'de> Deserialize<'de> + kefu_protocol::ws::Validate,
{
    use kefu_protocol::ws::{ServerFrame, WsErrorCode, close, decode};
    loop {
        let connection::Incoming::Text(text) = connection::next_text(stream, &out.kill).await else { return None };
        if let Err(flooding) = limiter.check() {
            if flooding {
                out.kill.close(close::POLICY_VIOLATION);
                return None;
            }
            out.send(error_frame(
                service::OpError::refused(WsErrorCode::RateLimited, "Too many frames; slow down."),
                None,
            ));
            continue;
        }
        match decode::<F>(&text) {
            Ok(frame) => return Some(frame),
            Err(error) => out.send(ServerFrame::Error {
                code: error.code,
                message: error.message,
                client_id: None,
                retryable: false,
            }),
        }
    }
}
