//! The edge as a Cloudflare Worker: the `worker` adapter over the kefu-edge core. Everything
//! here is plumbing between `worker` types and the core (`kefu_edge::{session, upgrade, loader,
//! site}`); the policies and their tests live in the core.
//!
//! Bindings (see infra/edge/wrangler.toml): vars `PUBLIC_URL`, `CACHE_SECS`, `TOKEN_TTL_SECS`;
//! secrets `API_SECRET`, `VISITOR_SECRET` and `REGIONS` (a JSON array of
//! `{ name, api_url, visitor_keys }`); rate limiters `RATE_LIMIT_IP` and `RATE_LIMIT_SITE`;
//! static assets `ASSETS` (edge/widget's `dist/`: the chat UI bundle is served by the assets
//! layer itself, the loader code is read from it here).

use std::cell::{OnceCell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use kefu_edge::assets::WidgetAssets;
use kefu_edge::config::{EdgeConfig, RegionConfig};
use kefu_edge::error::EdgeError;
use kefu_edge::protocol::token::TokenKeys;
use kefu_edge::protocol::widget::EdgeSite;
use kefu_edge::protocol::{ErrorCode, Problem, SiteKeyId};
use kefu_edge::session::{self, MAX_BODY_BYTES, SessionRequest};
use kefu_edge::site::{Fetched, Lookup, Shared, SiteCache};
use worker::{Cache, Context, Env, Fetch, Headers, Method, Request, RequestInit, Response, event};

struct Edge {
    config: EdgeConfig,
    regions: Vec<(RegionConfig, TokenKeys)>,
    sites: SiteCache,
    /// The widget's loader code, read from `ASSETS` once per isolate (not cached on failure).
    widget: RefCell<Option<Arc<WidgetAssets>>>,
}

thread_local! {
    static EDGE: OnceCell<Rc<Edge>> = const { OnceCell::new() };
}

fn load(env: &Env) -> Result<Rc<Edge>, EdgeError> {
    if let Some(edge) = EDGE.with(|cell| cell.get().cloned()) {
        return Ok(edge);
    }
    let text = |name: &str| env.var(name).map(|v| v.to_string()).or_else(|_| env.secret(name).map(|v| v.to_string()));
    let misconfigured = |what: &str| EdgeError::new(ErrorCode::Internal, format!("edge misconfigured: {what}"));
    let regions: Vec<RegionConfig> =
        serde_json::from_str(&text("REGIONS").map_err(|_| misconfigured("REGIONS is missing"))?)
            .map_err(|e| misconfigured(&format!("REGIONS: {e}")))?;
    let config = EdgeConfig {
        public_url: text("PUBLIC_URL").map_err(|_| misconfigured("PUBLIC_URL is missing"))?,
        api_secret: text("API_SECRET").map_err(|_| misconfigured("API_SECRET is missing"))?,
        visitor_secret: text("VISITOR_SECRET").map_err(|_| misconfigured("VISITOR_SECRET is missing"))?,
        token_ttl_secs: text("TOKEN_TTL_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(600),
        cache_secs: text("CACHE_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(5),
        per_ip_per_minute: 60,
        per_site_per_minute: 1200,
        regions,
        widget_dir: String::new(),
    };
    let problems = config.problems();
    if !problems.is_empty() {
        return Err(misconfigured(&problems.join("; ")));
    }
    let regions = config
        .regions
        .iter()
        .filter_map(|r| kefu_edge::crypto::token_keys(&r.visitor_keys).map(|k| (r.clone(), k)))
        .collect();
    let edge = Rc::new(Edge { sites: SiteCache::new(config.cache_secs), config, regions, widget: RefCell::default() });
    EDGE.with(|cell| {
        let _ = cell.set(edge.clone());
    });
    Ok(edge)
}

fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

fn secure(headers: &Headers) {
    let _ = headers.set("x-content-type-options", "nosniff");
    let _ = headers.set("referrer-policy", "strict-origin-when-cross-origin");
    let _ = headers.set("strict-transport-security", "max-age=31536000");
}

fn problem(error: &EdgeError) -> worker::Result<Response> {
    let body: Problem = error.problem();
    let headers = Headers::new();
    headers.set("content-type", "application/problem+json")?;
    if let Some(secs) = error.retry_after {
        headers.set("retry-after", &secs.to_string())?;
    }
    secure(&headers);
    Ok(Response::from_json(&body)?.with_status(error.status()).with_headers(headers))
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let path = req.path();
    let result = match load(&env) {
        Err(error) => Err(error),
        Ok(edge) => match (req.method(), path.as_str()) {
            (Method::Get, "/healthz") => return Response::ok("ok"),
            (Method::Get, p) if p.starts_with("/w/") => loader(&edge, &env, &req, &p[3..]).await,
            (Method::Get, p) if p.starts_with("/c/") => match limit(&env, "RATE_LIMIT_IP", client_ip(&req)).await {
                Ok(()) => hosted_page(&edge, &p[3..]).await,
                Err(error) => Err(error),
            },
            (Method::Post, "/v1/sessions") => match limit(&env, "RATE_LIMIT_IP", client_ip(&req)).await {
                Ok(()) => create_session(&edge, &env, req).await,
                Err(error) => Err(error),
            },
            (Method::Options, "/v1/sessions") => preflight(&req, "content-type"),
            (Method::Post, "/v1/attachments") => match limit(&env, "RATE_LIMIT_IP", client_ip(&req)).await {
                Ok(()) => upload(&edge, req).await,
                Err(error) => Err(error),
            },
            (Method::Options, "/v1/attachments") => preflight(&req, "authorization, content-type"),
            (Method::Get, p) if p.starts_with("/v1/attachments/") => {
                match limit(&env, "RATE_LIMIT_IP", client_ip(&req)).await {
                    Ok(()) => download(&edge, &req, &p["/v1/attachments/".len()..]).await,
                    Err(error) => Err(error),
                }
            }
            (Method::Get, "/ws") => match limit(&env, "RATE_LIMIT_IP", client_ip(&req)).await {
                Ok(()) => upgrade(&edge, req).await,
                Err(error) => Err(error),
            },
            _ => Err(EdgeError::new(ErrorCode::NotFound, "No such route.")),
        },
    };
    match result {
        Ok(response) => Ok(response),
        Err(error) => problem(&error),
    }
}

fn client_ip(req: &Request) -> String {
    req.headers().get("cf-connecting-ip").ok().flatten().unwrap_or_else(|| "unknown".into())
}

/// Cloudflare's rate-limiting binding (`[[ratelimits]]` in wrangler.toml): counted per data centre,
/// per key. Without the binding (a misconfigured deployment) requests are not limited.
async fn limit(env: &Env, binding: &str, key: String) -> Result<(), EdgeError> {
    let Ok(limiter) = env.rate_limiter(binding) else { return Ok(()) };
    match limiter.limit(key).await {
        Ok(outcome) if !outcome.success => {
            Err(EdgeError::new(ErrorCode::RateLimited, "Too many requests; slow down.").retry_after(10))
        }
        _ => Ok(()),
    }
}

/// Resolves a site key: this isolate's memory first, then the data centre's Cache API (shared by
/// every isolate there), then the api; what the api says is written back to both.
async fn resolve(edge: &Edge, key: SiteKeyId) -> Result<Arc<EdgeSite>, EdgeError> {
    let (stale, etag) = match edge.sites.lookup(key, now_ms()) {
        Lookup::Fresh(site) => return Ok(site),
        Lookup::Refused(error) => return Err(error),
        Lookup::Stale { site, etag } => (Some(site), Some(etag)),
        Lookup::Missing => match shared_get(key).await {
            Some(shared) => return edge.sites.import(key, shared),
            None => (None, None),
        },
    };
    // A key never seen is asked of every region at once; a known one of its own region.
    let etag = etag.as_deref();
    let ask = |region| async move { fetch_site(edge, region, key, etag).await.map_err(|e| e.to_string()) };
    match kefu_edge::site::ask_regions(&edge.config.regions, stale.as_deref(), ask).await {
        Ok(fetched) => {
            let served = edge.sites.store(key, fetched, now_ms());
            if let Some(shared) = edge.sites.export(key) {
                shared_put(key, &shared, edge.config.cache_secs).await;
            }
            served
        }
        Err(_) => stale.ok_or_else(EdgeError::upstream),
    }
}

/// The Cache API key of a site: a synthetic URL that no request can reach.
fn shared_url(key: SiteKeyId) -> String {
    format!("https://sites.kefu-edge.invalid/v1/{key}")
}

/// The data centre's record for `key`, if it has a live one. Cache failures are misses.
async fn shared_get(key: SiteKeyId) -> Option<Shared> {
    let mut response = Cache::default().get(shared_url(key), false).await.ok()??;
    response.json::<Shared>().await.ok()
}

/// Keeps `shared` in the data centre's cache for `ttl_secs` (counted from now, which is no
/// earlier than its `checked_at_ms`, and an adopting isolate uses `checked_at_ms`). Failures are
/// ignored: the record is only an optimisation.
async fn shared_put(key: SiteKeyId, shared: &Shared, ttl_secs: u64) {
    let Ok(response) = Response::from_json(shared) else { return };
    let headers = Headers::new();
    if headers.set("cache-control", &format!("public, max-age={ttl_secs}")).is_err() {
        return;
    }
    let _ = Cache::default().put(shared_url(key), response.with_headers(headers)).await;
}

/// What one region's api says about `key`.
async fn fetch_site(edge: &Edge, region: &RegionConfig, key: SiteKeyId, etag: Option<&str>) -> worker::Result<Fetched> {
    let url = format!("{}/internal/edge/v1/sites/{key}", region.api_url.trim_end_matches('/'));
    let headers = Headers::new();
    headers.set("authorization", &format!("Bearer {}", edge.config.api_secret))?;
    if let Some(etag) = etag {
        headers.set("if-none-match", etag)?;
    }
    let mut init = RequestInit::new();
    init.with_headers(headers);
    let mut response = Fetch::Request(Request::new_with_init(&url, &init)?).send().await?;
    match response.status_code() {
        304 => Ok(Fetched::NotModified),
        200 => {
            let etag = response.headers().get("etag")?.unwrap_or_default();
            let site: EdgeSite = response.json().await?;
            Ok(Fetched::Site(Box::new(site), etag))
        }
        404 => Ok(Fetched::Refused(EdgeError::unknown_site())),
        403 => Ok(Fetched::Refused(EdgeError::new(ErrorCode::TenantInactive, "This site's account is suspended."))),
        status => Err(worker::Error::RustError(format!("the api answered {status}"))),
    }
}

fn internal(e: worker::Error) -> EdgeError {
    EdgeError::new(ErrorCode::Internal, e.to_string())
}

/// The widget's manifest and loader code from the static assets.
async fn widget(edge: &Edge, env: &Env) -> Result<Arc<WidgetAssets>, EdgeError> {
    if let Some(assets) = edge.widget.borrow().clone() {
        return Ok(assets);
    }
    let missing = |what: &str| EdgeError::new(ErrorCode::Internal, format!("edge misconfigured: {what}"));
    let fetcher = env.assets("ASSETS").map_err(|_| missing("the ASSETS binding is missing"))?;
    let text = async |path: &str| -> Result<String, EdgeError> {
        let mut response = fetcher.fetch(format!("https://assets.invalid/{path}"), None).await.map_err(internal)?;
        if response.status_code() != 200 {
            return Err(missing(&format!("widget asset {path} answered {}", response.status_code())));
        }
        response.text().await.map_err(internal)
    };
    let assets = WidgetAssets::new(&text("widget/manifest.json").await?, text("widget/loader.js").await?)
        .map_err(|e| missing(&e))?;
    let assets = Arc::new(assets);
    *edge.widget.borrow_mut() = Some(assets.clone());
    Ok(assets)
}

async fn loader(edge: &Edge, env: &Env, req: &Request, file: &str) -> Result<Response, EdgeError> {
    let key: SiteKeyId = file.strip_suffix(".js").and_then(|k| k.parse().ok()).ok_or_else(EdgeError::unknown_site)?;
    let site = resolve(edge, key).await?;
    let assets = widget(edge, env).await?;
    let (etag, body) = kefu_edge::loader::render(&site, &edge.config.public_url, &assets);
    let headers = Headers::new();
    let cache = format!("public, max-age={}, must-revalidate", kefu_edge::loader::MAX_AGE_SECS);
    headers.set("etag", &etag).map_err(internal)?;
    headers.set("cache-control", &cache).map_err(internal)?;
    secure(&headers);
    if req.headers().get("if-none-match").ok().flatten().as_deref() == Some(etag.as_str()) {
        return Ok(Response::empty().map_err(internal)?.with_status(304).with_headers(headers));
    }
    headers.set("content-type", "application/javascript; charset=utf-8").map_err(internal)?;
    headers.set("access-control-allow-origin", "*").map_err(internal)?;
    Ok(Response::ok(body).map_err(internal)?.with_headers(headers))
}

/// The hosted chat page a mailed chat link opens (kefu_edge::page).
async fn hosted_page(edge: &Edge, link: &str) -> Result<Response, EdgeError> {
    let page = async {
        let claims = session::link_claims(edge.regions.iter().map(|(r, k)| (r.name.as_str(), k)), link)?;
        let site = resolve(edge, claims.site).await?;
        let (_, keys) =
            edge.regions.iter().find(|(r, _)| r.name == site.region).ok_or_else(|| {
                EdgeError::new(ErrorCode::InvalidToken, "This chat link is not valid or has expired.")
            })?;
        session::verify_link(keys, &site, link)?;
        Ok::<_, EdgeError>(kefu_edge::page::render(&site, link, &edge.config.public_url))
    }
    .await;
    let (status, body) = match page {
        Ok(body) => (200, body),
        Err(error) if error.code == ErrorCode::InvalidToken || error.code == ErrorCode::ResourceNotFound => {
            (404, kefu_edge::page::invalid())
        }
        Err(error) => return Err(error),
    };
    let headers = Headers::new();
    secure(&headers);
    for (name, value) in [
        ("content-type", "text/html; charset=utf-8".to_owned()),
        ("cache-control", "no-store".to_owned()),
        ("content-security-policy", kefu_edge::page::csp(&edge.config.public_url)),
        // The link is in the URL: no page it leads to learns it.
        ("referrer-policy", "no-referrer".to_owned()),
    ] {
        headers.set(name, &value).map_err(internal)?;
    }
    Ok(Response::ok(body).map_err(internal)?.with_status(status).with_headers(headers))
}

/// CORS preflight: sessions are checked against the site's origins when they arrive, uploads by
/// their visitor token, so the preflight only says which method and headers may follow.
fn preflight(req: &Request, allow_headers: &str) -> Result<Response, EdgeError> {
    let origin = req
        .headers()
        .get("origin")
        .ok()
        .flatten()
        .ok_or_else(|| EdgeError::new(ErrorCode::OriginNotAllowed, "The request has no Origin header."))?;
    let headers = Headers::new();
    for (name, value) in [
        ("access-control-allow-origin", origin.as_str()),
        ("access-control-allow-methods", "POST"),
        ("access-control-allow-headers", allow_headers),
        ("access-control-max-age", "600"),
        ("vary", "Origin"),
    ] {
        headers.set(name, value).map_err(internal)?;
    }
    secure(&headers);
    Ok(Response::empty().map_err(internal)?.with_status(204).with_headers(headers))
}

async fn create_session(edge: &Edge, env: &Env, mut req: Request) -> Result<Response, EdgeError> {
    let origin = req.headers().get("origin").ok().flatten();
    let result = async {
        // Refuse big bodies before reading them: the declared length must be within the limit.
        let declared = req.headers().get("content-length").ok().flatten().and_then(|v| v.parse::<usize>().ok());
        if declared.is_none_or(|n| n > MAX_BODY_BYTES) {
            return Err(EdgeError::new(
                ErrorCode::PayloadTooLarge,
                format!("A session request needs a Content-Length of at most {MAX_BODY_BYTES} bytes."),
            ));
        }
        let body = req.bytes().await.map_err(internal)?;
        if body.len() > MAX_BODY_BYTES {
            return Err(EdgeError::new(
                ErrorCode::PayloadTooLarge,
                format!("A session request is at most {MAX_BODY_BYTES} bytes."),
            ));
        }
        let request: SessionRequest = serde_json::from_slice(&body)
            .map_err(|e| EdgeError::new(ErrorCode::MalformedJson, format!("The body is not a session request: {e}")))?;
        let site = resolve(edge, request.site_key).await?;
        session::check_admission(&edge.config, &site, &request, origin.as_deref())?;
        // Spent only by requests the site's origins admit (see the native edge).
        limit(env, "RATE_LIMIT_SITE", request.site_key.to_string()).await?;
        let (_, keys) =
            edge.regions.iter().find(|(r, _)| r.name == site.region).ok_or_else(|| {
                EdgeError::new(ErrorCode::UpstreamUnavailable, "This site's region is not served here.")
            })?;
        let country = req.headers().get("cf-ipcountry").ok().flatten();
        let now = i64::try_from(now_ms() / 1000).unwrap_or(i64::MAX);
        let grant = session::grant(&edge.config, keys, &site, &request, country, now)?;
        Response::from_json(&grant).map_err(internal)
    }
    .await;
    let response = match result {
        Ok(response) => response,
        Err(error) => problem(&error).map_err(internal)?,
    };
    if let Some(origin) = origin {
        let headers = response.headers().clone();
        headers.set("access-control-allow-origin", &origin).map_err(internal)?;
        headers.set("vary", "Origin").map_err(internal)?;
        secure(&headers);
        return Ok(response.with_headers(headers));
    }
    Ok(response)
}

/// Forwards a visitor's upload to the region the token names (the body is bounded by its
/// declared length before it is read).
async fn upload(edge: &Edge, mut req: Request) -> Result<Response, EdgeError> {
    let origin = req.headers().get("origin").ok().flatten();
    let result = async {
        let authorization = req.headers().get("authorization").ok().flatten();
        let token = kefu_edge::attachments::bearer(authorization.as_deref()).map(str::to_owned);
        let query = req.url().map_err(internal)?.query().map(str::to_owned);
        let url = kefu_edge::attachments::upload_url(&edge.regions, token.as_deref(), query.as_deref())?;
        let limit = kefu_edge::attachments::MAX_UPLOAD_BYTES;
        let declared = req.headers().get("content-length").ok().flatten().and_then(|v| v.parse::<usize>().ok());
        if declared.is_none_or(|n| n > limit) {
            return Err(EdgeError::new(
                ErrorCode::PayloadTooLarge,
                format!("An upload needs a Content-Length of at most {} MiB.", limit / (1024 * 1024)),
            ));
        }
        let body = req.bytes().await.map_err(internal)?;
        let headers = Headers::new();
        headers.set("authorization", &format!("Bearer {}", token.unwrap_or_default())).map_err(internal)?;
        headers.set("content-type", "application/octet-stream").map_err(internal)?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
        let request = Request::new_with_init(&url, &init).map_err(internal)?;
        Fetch::Request(request).send().await.map_err(|_| EdgeError::upstream())
    }
    .await;
    let response = match result {
        Ok(response) => response,
        Err(error) => problem(&error).map_err(internal)?,
    };
    match origin {
        Some(origin) => {
            let headers = response.headers().clone();
            headers.set("access-control-allow-origin", &origin).map_err(internal)?;
            headers.set("vary", "Origin").map_err(internal)?;
            Ok(response.with_headers(headers))
        }
        None => Ok(response),
    }
}

/// Forwards a visitor's download (`?token=`) to the token's region; the region's response (type,
/// disposition, sandboxing CSP) is returned as it is.
async fn download(edge: &Edge, req: &Request, id: &str) -> Result<Response, EdgeError> {
    let url = req.url().map_err(internal)?;
    let token = kefu_edge::upgrade::token_from_query(url.query());
    let upstream = kefu_edge::attachments::download_url(&edge.regions, id, token)?;
    let request = Request::new(&upstream, Method::Get).map_err(internal)?;
    Fetch::Request(request).send().await.map_err(|_| EdgeError::upstream())
}

/// Pass-through proxy: the upgrade request goes to the region with `fetch`, and the region's
/// `101` response (with its socket) is returned untouched, so frames and close codes flow
/// unchanged between the visitor and the region.
async fn upgrade(edge: &Edge, req: Request) -> Result<Response, EdgeError> {
    let is_upgrade = req.headers().get("upgrade").ok().flatten().is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !is_upgrade {
        return Err(EdgeError::new(ErrorCode::UpgradeRequired, "GET /ws needs a WebSocket upgrade."));
    }
    let url = req.url().map_err(internal)?;
    let upstream = kefu_edge::upgrade::admit(&edge.regions, kefu_edge::upgrade::token_from_query(url.query()))?;
    let http_url = upstream.url.replacen("wss://", "https://", 1).replacen("ws://", "http://", 1);
    let headers = Headers::new();
    headers.set("upgrade", "websocket").map_err(internal)?;
    // The region takes visitor sockets only from the edge.
    headers.set(kefu_edge::protocol::ws::EDGE_PROOF_HEADER, &edge.config.api_secret).map_err(internal)?;
    let mut init = RequestInit::new();
    init.with_headers(headers);
    let request = Request::new_with_init(&http_url, &init).map_err(internal)?;
    let response = Fetch::Request(request).send().await.map_err(|_| EdgeError::upstream())?;
    match response.status_code() {
        101 => Ok(response),
        401 => Err(EdgeError::new(ErrorCode::InvalidToken, "The region refused the visitor token.")),
        429 => Err(EdgeError::new(ErrorCode::RateLimited, "Too many connections for this visitor; retry shortly.")),
        _ => Err(EdgeError::upstream()),
    }
}
