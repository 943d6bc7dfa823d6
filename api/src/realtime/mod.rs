//! The real-time gateway (F11, F12): WebSocket endpoints for visitors (`/ws/visitor`) and agents
//! (`/ws/agent`), speaking protocol v1 (`kefu_protocol::ws`, docs/protocol.md).
//!
//! Architecture invariant: a message is acknowledged and published only after the transaction
//! that stored it committed; publishing never happens inside a transaction.

pub mod agent;
pub mod bus;
pub mod caps;
pub mod fanout;
pub mod presence;
pub mod recovery;
pub mod session_ends;
pub mod socket;
pub mod visitor;
pub mod waiting;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use futures_util::StreamExt;
use kefu_protocol::ws::limits;
use kefu_protocol::{ConversationId, ErrorCode};
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::auth::{TenantCtx, invalid_token};
use crate::db;
use crate::error::{ApiError, Result};
use crate::ops::OpError;
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

/// Checks a visitor token (signature, audience, expiry, this node's region) and resolves its
/// tenant (active, at home here). Also used by the visitor's attachment endpoints.
pub(crate) async fn authenticate_visitor(
    state: &AppState,
    token: &str,
) -> Result<(kefu_protocol::VisitorClaims, TenantCtx)> {
    let claims = verify_visitor_token(state, token)?;
    let tenant = admit_visitor(state, &claims).await?;
    Ok((claims, tenant))
}

/// The claims of a visitor token signed for this region (no database read).
pub(crate) fn verify_visitor_token(state: &AppState, token: &str) -> Result<kefu_protocol::VisitorClaims> {
    let claims = state.jwt.verify_visitor(token).map_err(|error| {
        tracing::debug!(%error, "visitor token rejected");
        invalid_token()
    })?;
    if claims.region != state.config.region {
        tracing::debug!(region = %claims.region, "visitor token for another region");
        return Err(invalid_token());
    }
    Ok(claims)
}

/// The tenant a verified visitor token names, if it is active.
pub(crate) async fn admit_visitor(state: &AppState, claims: &kefu_protocol::VisitorClaims) -> Result<TenantCtx> {
    let mut conn = state.db.control().acquire().await?;
    let (tenant, _) =
        TenantCtx::admit_here(db::tenants::find_access(&mut conn, claims.tid).await?, &state.config.region)?;
    Ok(tenant)
}

async fn visitor_upgrade(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response> {
    from_the_edge(&state, &headers)?;
    let token = token_of(&query, &headers)?;
    let (claims, tenant) = authenticate_visitor(&state, &token).await?;
    let slot = state.socket_caps.visitor(tenant.id, claims.sub).map_err(refused)?;
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
    Ok(configure(ws).on_upgrade(move |socket| async move {
        let (sink, stream) = socket.split();
        visitor::run(sink, stream, state, tenant, claims, seen).await;
        drop(slot);
    }))
}

/// With an edge secret configured, visitor sockets come only through the edge, whose limits
/// (per address, per site after the origin check) they would otherwise skip.
fn from_the_edge(state: &AppState, headers: &HeaderMap) -> Result<()> {
    let Some(secret) = &state.config.edge.secret else { return Ok(()) };
    let presented =
        headers.get(kefu_protocol::ws::EDGE_PROOF_HEADER).map(axum::http::HeaderValue::as_bytes).unwrap_or_default();
    aws_lc_rs::constant_time::verify_slices_are_equal(presented, secret.expose_secret().as_bytes())
        .map_err(|_| ApiError::forbidden("Visitors connect through the edge (`/ws` on the edge's address)."))
}

/// A browser opening an agent socket must be on the console: its `Origin` is this api's own
/// address (the console it serves, as the `Host` it asked), `public_url`, `app_url` or one of
/// `http.cors_origins`; anything else (another site's page holding a stolen token, `null`) gets
/// `403`. A client sending no `Origin` is not a browser page and is judged by its token alone.
fn from_the_console(config: &crate::config::Config, headers: &HeaderMap) -> Result<()> {
    let Some(origin) = headers.get(axum::http::header::ORIGIN) else { return Ok(()) };
    let refused = || ApiError::forbidden("Agent sockets are opened from the console.");
    let origin = origin.to_str().map_err(|_| refused())?;
    let parsed = url::Url::parse(origin).map_err(|_| refused())?;
    let serialized = parsed.origin().ascii_serialization();
    let same_host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).is_some_and(|host| {
        let authority = match parsed.port() {
            Some(port) => format!("{}:{port}", parsed.host_str().unwrap_or_default()),
            None => parsed.host_str().unwrap_or_default().to_owned(),
        };
        host.eq_ignore_ascii_case(&authority)
    });
    let of = |url: &str| url::Url::parse(url).ok().map(|u| u.origin().ascii_serialization());
    let listed = std::iter::once(config.public_url.as_str())
        .chain(config.app_url.as_deref())
        .chain(config.http.cors_origins.iter().map(String::as_str))
        .filter_map(of)
        .any(|allowed| allowed == serialized);
    if same_host || listed { Ok(()) } else { Err(refused()) }
}

/// A full cap as the upgrade's answer: `429` for a visitor or a workspace (retry later), `503`
/// for a full node (another node takes the retry).
fn refused(full: caps::Full) -> ApiError {
    match full {
        caps::Full::Node => ApiError::client(ErrorCode::ServiceUnavailable, full.to_string()),
        caps::Full::Tenant | caps::Full::Visitor => ApiError::busy(10),
    }
}

async fn agent_upgrade(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response> {
    from_the_console(&state.config, &headers)?;
    let token = token_of(&query, &headers)?;
    let claims = state.jwt.verify_access(&token).map_err(|_| invalid_token())?;
    let mut conn = state.db.control().acquire().await?;
    // Like the REST extractor: the membership is re-read, so a removed member cannot connect.
    let (tenant, member) = TenantCtx::admit_here(
        db::memberships::find_auth_in_session(&mut conn, claims.tid, claims.sub, claims.sid).await?,
        &state.config.region,
    )?;
    let user = db::users::find(&mut conn, claims.sub).await?.ok_or_else(invalid_token)?;
    drop(conn);
    // Visitors and colleagues see the name the member goes by in this tenant.
    let mut tx = crate::db::TenantTx::begin(&state.db, &tenant.schema).await?;
    let profile_name = db::agents::display_name(&mut tx, claims.sub).await?;
    tx.commit().await?;
    let name = profile_name.unwrap_or(user.display_name);
    let slot = state.socket_caps.agent().map_err(refused)?;
    Ok(configure(ws).on_upgrade(move |socket| async move {
        let (sink, stream) = socket.split();
        agent::run(sink, stream, state, tenant, claims, name, member.role).await;
        drop(slot);
    }))
}

/// The `error` frame's content for a refused operation, naming the frame's client id and
/// conversation when it had them.
pub(crate) fn refusal(
    error: OpError,
    client_id: Option<String>,
    conversation_id: Option<ConversationId>,
) -> socket::Refusal {
    socket::Refusal {
        code: error.code,
        message: error.message,
        retryable: error.retryable,
        reconnect: error.reconnect,
        client_id,
        conversation_id,
    }
}

/// Records how long a `send` or `note` took from its frame to its `ack` (`kefu_ws_ack_seconds`):
/// validation, the group-commit batch and its commit.
pub(crate) fn observe_ack(started: std::time::Instant) {
    metrics::histogram!("kefu_ws_ack_seconds").record(started.elapsed().as_secs_f64());
}
