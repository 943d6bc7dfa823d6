//! The web console's built files (`http.console_dir`, from `console/`): content-hashed assets
//! cached for a year, everything else revalidated, and any other path answered with
//! `index.html` so the single-page app's own routes (`/inbox/…`, `/verify-email?token=…`) load.
//! Paths of the api itself (`/api/`, `/ws/`, `/internal/`) keep their problem-JSON 404.

use std::path::Path;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::state::AppState;

/// What the console's pages may load: its own files, the api on the same origin (REST and
/// WebSocket: `'self'` covers `ws:`/`wss:` to the same host), images from anywhere (avatars,
/// logos), and the widget's scripts from the edge in the editor's preview frame (a page of the
/// console itself, sandboxed without `allow-same-origin`, so the edge's code cannot reach the
/// console's storage).
/// Ant Design injects its styles at run time, hence `style-src 'unsafe-inline'`.
fn content_security_policy(edge: Option<&str>) -> String {
    let edge = edge.map(|e| format!(" {}", e.trim_end_matches('/'))).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'{edge}; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; \
         connect-src 'self'; font-src 'self' data:; frame-src 'self'; worker-src 'self'; \
         manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
    )
}

/// The fallback router serving `dir`.
pub fn fallback(dir: &Path, edge_public_url: Option<&str>) -> Router<AppState> {
    let index = ServeFile::new(dir.join("index.html"));
    // A missing hashed asset is a 404, never the index: that answer would be cached as immutable.
    let assets = ServeDir::new(dir.join("assets")).append_index_html_on_directories(false);
    let files = ServeDir::new(dir).append_index_html_on_directories(false).fallback(index);
    let csp = HeaderValue::from_str(&content_security_policy(edge_public_url))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    Router::new()
        .nest_service("/assets", assets)
        .fallback_service(files)
        .layer(middleware::from_fn(cache_and_api_paths))
        .layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, csp))
        // The widget preview frames a page of the console itself.
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN")))
}

const API_PREFIXES: [&str; 4] = ["/api/", "/ws/", "/internal/", "/dev/"];

async fn cache_and_api_paths(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if API_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return super::not_found().await.into_response();
    }
    let mut response = next.run(request).await;
    let cache = if path.starts_with("/assets/") && response.status().is_success() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}
