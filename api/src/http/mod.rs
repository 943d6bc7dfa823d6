//! The HTTP surface: resource routers merged under `/api/v1`, the OpenAPI document, operator
//! endpoints, development pages, and the tower layers every request passes through (request id,
//! tracing, metrics, problem-shaped errors, security headers, CORS, timeout, body limit).

pub mod agent_ops;
pub mod analytics;
pub mod api_keys;
pub mod attachments;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod bot;
pub mod canned_responses;
pub mod console;
pub mod conversation_actions;
pub mod conversations;
pub mod dev;
pub mod edge;
pub mod export_jobs;
pub mod exports;
pub mod extract;
pub mod feed;
pub mod health;
pub mod invitations;
pub mod members;
pub mod presence;
pub mod queue;
pub mod regions;
pub mod retention;
pub mod routing;
pub mod rules;
pub mod search;
pub mod service_hours;
pub mod session_cookie;
pub mod site_keys;
pub mod teams;
pub mod tenant;
pub mod two_factor;
pub mod usage;
pub mod validate;
pub mod views;
pub mod visitors;
pub mod webhooks;
pub mod widget;

use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use kefu_protocol::ErrorCode;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::Mode;
use crate::error::problem_response;
use crate::state::AppState;

/// The OpenAPI document's static part; paths are collected from the routers.
#[derive(OpenApi)]
#[openapi(
    info(title = "Kefu API", description = "Multi-tenant live chat: accounts, members, API keys. Errors are `application/problem+json` with a stable `code`."),
    modifiers(&BearerAuth),
    tags((name = "auth", description = "Signup, login and sessions"), (name = "members", description = "Members and invitations"),
         (name = "api-keys", description = "Tenant API keys"), (name = "audit", description = "Audit log"), (name = "tenant", description = "The caller's tenant"), (name = "visitors", description = "Visitor profiles and tracking"), (name = "conversations", description = "Conversations and transcripts"), (name = "search", description = "Searching the history"), (name = "analytics", description = "Analytics and stats"), (name = "teams", description = "Teams and their members"), (name = "canned-responses", description = "Canned responses"), (name = "widget", description = "Widget settings and site keys"), (name = "edge", description = "Internal: the edge resolves site keys (edge secret, not tenant tokens)"), (name = "webhooks", description = "Outgoing webhooks: endpoints and the delivery log"))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An access token from login, or a tenant API key `kefu_sk_…`."))
                    .build(),
            ),
        );
    }
}

/// The REST routes with their OpenAPI document.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(regions::router())
        .merge(two_factor::router())
        .merge(members::router())
        .merge(invitations::router())
        .merge(api_keys::router())
        .merge(analytics::router())
        .merge(audit::router())
        .merge(tenant::router())
        .merge(usage::router())
        .merge(billing::router())
        .merge(presence::router())
        .merge(visitors::router())
        .merge(conversations::router())
        .merge(conversation_actions::router())
        .merge(agent_ops::router())
        .merge(search::router())
        .merge(exports::router())
        .merge(export_jobs::router())
        .merge(feed::router())
        .merge(retention::router())
        .merge(teams::router())
        .merge(routing::router())
        .merge(rules::router())
        .merge(bot::router())
        .merge(service_hours::router())
        .merge(queue::router())
        .merge(canned_responses::router())
        .merge(attachments::router())
        .merge(widget::router())
        .merge(site_keys::router())
        .merge(edge::router())
        .merge(webhooks::router())
        .split_for_parts()
}

/// The OpenAPI document as JSON (also written to docs/openapi.json by `kefu openapi`).
pub fn openapi_json() -> anyhow::Result<String> {
    Ok(api().1.to_pretty_json()?)
}

/// The whole application router with its layers.
pub fn router(state: AppState) -> Router {
    let config = state.config.clone();
    let (api, openapi) = api();
    let docs = Router::from(SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi)).layer(
        SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'",
            ),
        ),
    );
    let mut app = Router::new().merge(api).merge(health::router()).merge(crate::realtime::router()).merge(docs);
    if config.mode == Mode::Development {
        // The console's own pages answer mailed links when it is served.
        app = app.merge(dev::router(config.http.console_dir.is_none()));
    }
    let app = match &config.http.console_dir {
        Some(dir) => {
            app.fallback_service(console::fallback(dir, config.edge.public_url.as_deref()).with_state(state.clone()))
        }
        None => app.fallback(not_found),
    };

    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(config.http.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok())))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::PUT, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, HeaderName::from_static("x-request-id")])
        .expose_headers([HeaderName::from_static("x-request-id"), header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(600));
    let request_id = HeaderName::from_static("x-request-id");
    let hsts = config.public_url.starts_with("https://");

    app.layer(DefaultBodyLimit::max(config.http.body_limit_bytes))
        .layer(CatchPanicLayer::new())
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, config.request_timeout()))
        .layer(cors)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            hsts.then(|| HeaderValue::from_static("max-age=31536000; includeSubDomains")),
        ))
        .layer(middleware::from_fn(problem_fallback))
        .layer(middleware::from_fn(record_metrics))
        .layer(
            TraceLayer::new_for_http()
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO))
                .make_span_with(|request: &Request<Body>| {
                    let request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    // The path only: query strings can carry one-time tokens.
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id,
                        tenant_id = tracing::field::Empty,
                        user_id = tracing::field::Empty,
                    )
                }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

async fn not_found() -> Response {
    problem_response(ErrorCode::NotFound, "No route matches this path.".into(), Vec::new())
}

/// Turns error responses produced outside our handlers (method not allowed, timeouts, body
/// limits, path/query rejections, panics) into problem responses with stable codes.
async fn problem_fallback(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    // Our own handlers answer in JSON; only bare or plain-text errors from layers and axum's
    // built-in rejections are rewritten.
    let is_bare = response.headers().get(header::CONTENT_TYPE).is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !is_bare {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text =
        axum::body::to_bytes(body, 4096).await.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let (code, detail) = match status {
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "No route matches this path.".to_owned()),
        StatusCode::METHOD_NOT_ALLOWED => (ErrorCode::MethodNotAllowed, "This method is not allowed here.".to_owned()),
        StatusCode::REQUEST_TIMEOUT => (ErrorCode::Timeout, "The request took too long.".to_owned()),
        StatusCode::PAYLOAD_TOO_LARGE => (ErrorCode::PayloadTooLarge, "The body is larger than the limit.".to_owned()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (ErrorCode::UnsupportedMediaType, "Unsupported content type.".to_owned()),
        StatusCode::TOO_MANY_REQUESTS => (ErrorCode::RateLimited, "Too many requests.".to_owned()),
        s if s.is_client_error() => {
            (ErrorCode::ValidationFailed, if text.is_empty() { "Invalid request.".to_owned() } else { text })
        }
        _ => {
            tracing::error!(status = status.as_u16(), body = %text, "unhandled server error");
            (ErrorCode::Internal, "An unexpected error occurred.".to_owned())
        }
    };
    let mut problem = problem_response(code, detail, Vec::new());
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    problem
}

async fn record_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("kefu_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("kefu_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response.into_response()
}
