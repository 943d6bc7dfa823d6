//! The native edge's routes: the loader, the chat UI bundle, visitor sessions, attachment
//! uploads and downloads, the WebSocket upgrade and health.
//! Each answer is either the success body or a problem+json from [`EdgeError`].

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kefu_protocol::{ErrorCode, SiteKeyId};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::EdgeState;
use crate::error::EdgeError;
use crate::session::{self, MAX_BODY_BYTES, SessionRequest};

/// The edge's router.
pub fn router(state: EdgeState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/w/{file}", get(loader))
        .route("/widget/{file}", get(widget_file))
        .route("/c/{link}", get(hosted_page))
        .route("/v1/sessions", post(create_session).options(preflight))
        .route("/v1/attachments", post(upload).options(attachment_preflight))
        .route("/v1/attachments/{id}", get(download))
        .route("/ws", get(upgrade))
        .fallback(|| async { problem(&EdgeError::new(ErrorCode::NotFound, "No such route.")) })
        .with_state(state)
}

/// A problem response with the security headers every answer carries.
pub fn problem(error: &EdgeError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_string(&error.problem()).unwrap_or_default();
    let mut response = (status, [(header::CONTENT_TYPE, "application/problem+json")], body).into_response();
    if let Some(secs) = error.retry_after
        && let Ok(value) = HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    secure(response)
}

fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    response
}

fn respond(result: Result<Response, EdgeError>) -> Response {
    match result {
        Ok(response) => secure(response),
        Err(error) => problem(&error),
    }
}

async fn loader(State(state): State<EdgeState>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    respond(
        async {
            let key: SiteKeyId =
                file.strip_suffix(".js").and_then(|k| k.parse().ok()).ok_or_else(EdgeError::unknown_site)?;
            let site = super::sites::resolve(&state, key).await?;
            let (etag, body) = crate::loader::render(&site, &state.config.public_url, &state.widget.assets);
            let cache = format!("public, max-age={}, must-revalidate", crate::loader::MAX_AGE_SECS);
            let unchanged = headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes());
            let etag = HeaderValue::from_str(&etag).map_err(|_| EdgeError::new(ErrorCode::Internal, "bad etag"))?;
            let cache = HeaderValue::from_str(&cache).map_err(|_| EdgeError::new(ErrorCode::Internal, "bad header"))?;
            if unchanged {
                return Ok(
                    (StatusCode::NOT_MODIFIED, [(header::ETAG, etag), (header::CACHE_CONTROL, cache)]).into_response()
                );
            }
            Ok((
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static("application/javascript; charset=utf-8")),
                    (header::ETAG, etag),
                    (header::CACHE_CONTROL, cache),
                    (header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
                ],
                body,
            )
                .into_response())
        }
        .await,
    )
}

/// The hosted chat page a mailed chat link opens (`page`).
async fn hosted_page(
    State(state): State<EdgeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(link): Path<String>,
) -> Response {
    let page = async {
        state.check_ip(peer.ip())?;
        let claims = session::link_claims(state.regions.iter().map(|(r, k)| (r.name.as_str(), k)), &link)?;
        let site = super::sites::resolve(&state, claims.site).await?;
        let (_, keys) =
            state.regions.iter().find(|(r, _)| r.name == site.region).ok_or_else(|| {
                EdgeError::new(ErrorCode::InvalidToken, "This chat link is not valid or has expired.")
            })?;
        session::verify_link(keys, &site, &link)?;
        Ok::<_, EdgeError>(crate::page::render(&site, &link, &state.config.public_url))
    }
    .await;
    let (status, body) = match page {
        Ok(body) => (StatusCode::OK, body),
        Err(error) if error.code == ErrorCode::InvalidToken || error.code == ErrorCode::ResourceNotFound => {
            (StatusCode::NOT_FOUND, crate::page::invalid())
        }
        Err(error) => return problem(&error),
    };
    let csp = HeaderValue::from_str(&crate::page::csp(&state.config.public_url))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
    let mut response = secure(
        (
            status,
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (header::CONTENT_SECURITY_POLICY, csp),
            ],
            body,
        )
            .into_response(),
    );
    // The link is in the URL: no page it leads to learns it.
    response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// The chat UI bundle, under its content-hashed name (so it is cached for good).
async fn widget_file(State(state): State<EdgeState>, Path(file): Path<String>) -> Response {
    // The bare loader (no tenant config) is what the console's widget preview runs, with the
    // draft settings it sets itself; in Workers the static-assets layer serves the same file.
    let (body, cache) = if format!("/widget/{file}") == state.widget.assets.ui_route() {
        (state.widget.ui.clone(), crate::assets::IMMUTABLE)
    } else if file == "loader.js" {
        (state.widget.assets.loader.clone().into(), "no-cache")
    } else {
        return problem(&EdgeError::new(ErrorCode::NotFound, "No such widget file."));
    };
    secure(
        (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("application/javascript; charset=utf-8")),
                (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
            ],
            body,
        )
            .into_response(),
    )
}

/// CORS preflight for sessions: the real request is checked against the tenant's origins, so
/// the preflight only echoes the asking origin for `POST` with a JSON body.
async fn preflight(headers: HeaderMap) -> Response {
    cors_preflight(&headers, "content-type")
}

/// CORS preflight for uploads: the visitor token in `Authorization` is what authorizes them.
async fn attachment_preflight(headers: HeaderMap) -> Response {
    cors_preflight(&headers, "authorization, content-type")
}

/// Lets the asking origin send a `POST` with `allow_headers`.
fn cors_preflight(headers: &HeaderMap, allow_headers: &'static str) -> Response {
    let Some(origin) = headers.get(header::ORIGIN).cloned() else {
        return problem(&EdgeError::new(ErrorCode::OriginNotAllowed, "The request has no Origin header."));
    };
    secure(
        (
            StatusCode::NO_CONTENT,
            [
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, origin),
                (header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST")),
                (header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(allow_headers)),
                (header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600")),
                (header::VARY, HeaderValue::from_static("Origin")),
            ],
        )
            .into_response(),
    )
}

/// Forwards a visitor's upload to the region the token names.
async fn upload(
    State(state): State<EdgeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let origin = headers.get(header::ORIGIN).cloned();
    let result = async {
        state.check_ip(peer.ip())?;
        let token = crate::attachments::bearer(headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()));
        let url = crate::attachments::upload_url(&state.regions, token, query.as_deref())?;
        let limit = crate::attachments::MAX_UPLOAD_BYTES;
        let body = axum::body::to_bytes(body, limit).await.map_err(|_| {
            EdgeError::new(ErrorCode::PayloadTooLarge, format!("Files are at most {} MiB.", limit / (1024 * 1024)))
        })?;
        let upstream = state
            .http
            .post(url)
            .header(header::AUTHORIZATION, format!("Bearer {}", token.unwrap_or_default()))
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .timeout(std::time::Duration::from_secs(60))
            .body(body)
            .send()
            .await
            .map_err(|_| EdgeError::upstream())?;
        relay(upstream).await
    }
    .await;
    readable_by(respond(result), origin)
}

/// Lets `origin` (the page that asked) read the answer, errors included.
fn readable_by(mut response: Response, origin: Option<HeaderValue>) -> Response {
    if let Some(origin) = origin {
        response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        response.headers_mut().insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

/// Forwards a visitor's download (`?token=`, as an `<img src>` makes it) to the token's region.
async fn download(
    State(state): State<EdgeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let result = async {
        state.check_ip(peer.ip())?;
        let token = crate::upgrade::token_from_query(query.as_deref());
        let url = crate::attachments::download_url(&state.regions, &id, token)?;
        let upstream = state
            .http
            .get(url)
            .timeout(std::time::Duration::from_secs(60))
            .send()
            .await
            .map_err(|_| EdgeError::upstream())?;
        relay(upstream).await
    }
    .await;
    respond(result)
}

/// The region's answer as the edge's, with the headers that describe the body.
async fn relay(upstream: reqwest::Response) -> Result<Response, EdgeError> {
    let status = StatusCode::from_u16(upstream.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut headers = HeaderMap::new();
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_DISPOSITION,
        header::CACHE_CONTROL,
        header::CONTENT_SECURITY_POLICY,
        header::RETRY_AFTER,
    ] {
        if let Some(value) =
            upstream.headers().get(name.as_str()).and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
        {
            headers.insert(name, value);
        }
    }
    let body = upstream.bytes().await.map_err(|_| EdgeError::upstream())?;
    Ok((status, headers, body).into_response())
}

async fn create_session(
    State(state): State<EdgeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let result = async {
        state.check_ip(peer.ip())?;
        let body = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
            EdgeError::new(ErrorCode::PayloadTooLarge, format!("A session request is at most {MAX_BODY_BYTES} bytes."))
        })?;
        let request: SessionRequest = serde_json::from_slice(&body)
            .map_err(|e| EdgeError::new(ErrorCode::MalformedJson, format!("The body is not a session request: {e}")))?;
        let site = super::sites::resolve(&state, request.site_key).await?;
        session::check_admission(&state.config, &site, &request, origin.as_deref())?;
        // The site's budget is spent only by requests its origins admit: refused ones (a wrong
        // or missing origin, an unknown key) cannot use it up for the site's real visitors.
        state.check_site(request.site_key)?;
        let (_, keys) =
            state.regions.iter().find(|(r, _)| r.name == site.region).ok_or_else(|| {
                EdgeError::new(ErrorCode::UpstreamUnavailable, "This site's region is not served here.")
            })?;
        let country = headers.get("cf-ipcountry").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let grant = session::grant(&state.config, keys, &site, &request, country, chrono::Utc::now().timestamp())?;
        Ok::<_, EdgeError>(axum::Json(grant).into_response())
    }
    .await;
    // Only an allowed origin gets a session; it reads refusals too, so the widget can show them.
    readable_by(respond(result), origin.and_then(|o| HeaderValue::from_str(&o).ok()))
}

async fn upgrade(
    State(state): State<EdgeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    RawQuery(query): RawQuery,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let result = async {
        state.check_ip(peer.ip())?;
        let Ok(ws) = ws else {
            return Err(EdgeError::new(ErrorCode::UpgradeRequired, format!("{method} /ws needs a WebSocket upgrade.")));
        };
        let upstream = crate::upgrade::admit(&state.regions, crate::upgrade::token_from_query(query.as_deref()))?;
        // The region takes visitor sockets only from the edge: the proof goes with the upgrade.
        let mut request = upstream.url.as_str().into_client_request().map_err(|_| EdgeError::upstream())?;
        let proof = HeaderValue::from_str(&state.config.api_secret).map_err(|_| EdgeError::upstream())?;
        request.headers_mut().insert(kefu_protocol::ws::EDGE_PROOF_HEADER, proof);
        // No Nagle delay on the hop to the region.
        let connect = tokio_tungstenite::connect_async_with_config(request, None, true);
        let socket = match tokio::time::timeout(std::time::Duration::from_secs(5), connect).await {
            Ok(Ok((socket, _))) => socket,
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response))) if response.status() == 401 => {
                return Err(EdgeError::new(ErrorCode::InvalidToken, "The region refused the visitor token."));
            }
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response))) if response.status() == 429 => {
                return Err(EdgeError::new(
                    ErrorCode::RateLimited,
                    "Too many connections for this visitor; retry shortly.",
                ));
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, region = %upstream.region, "upstream websocket failed");
                return Err(EdgeError::upstream());
            }
            Err(_) => return Err(EdgeError::upstream()),
        };
        Ok(ws
            .max_message_size(kefu_protocol::ws::limits::MAX_FRAME_BYTES)
            .on_upgrade(move |client| super::proxy::pump(client, socket))
            .into_response())
    }
    .await;
    respond(result)
}
