//! The HTTP platform: health, readiness, metrics, OpenAPI, docs, headers, request ids, fallbacks.

use kefu_api::testing::TestApp;
use reqwest::StatusCode;

/// `/metrics` is for the bearer of `http.metrics_token` (the security review found it public).
#[tokio::test]
async fn health_readiness_and_metrics_for_the_metrics_tokens_bearer() {
    const TOKEN: &str = "a-metrics-token-for-prometheus-000000";
    let app = TestApp::spawn_with(|c| c.http.metrics_token = Some(TOKEN.to_owned().into())).await;
    let (status, body) = app.get("/healthz", None).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (status, body) = app.get("/readyz", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["postgres"], "ok");
    assert_eq!(body["redis"], "not_configured");

    app.get("/api/v1/me", None).await;
    let (status, problem) = app.get("/metrics", None).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")), "{problem}");
    let (status, _) = app.get("/metrics", Some("not-the-metrics-token-but-long-enough-0")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let response = app.http.get(app.url("/metrics")).bearer_auth(TOKEN).send().await.expect("metrics");
    assert_eq!(response.status(), StatusCode::OK);
    let metrics = response.text().await.expect("text");
    assert!(metrics.contains("kefu_http_requests_total"), "{metrics}");
    assert!(metrics.contains("route=\"/api/v1/me\""), "{metrics}");
}

#[tokio::test]
async fn readiness_checks_redis_when_configured() {
    let Ok(redis_url) = std::env::var("REDIS_URL") else {
        panic!("REDIS_URL is not set: run tests through `make test`");
    };
    let app = TestApp::spawn_with(|c| c.redis.url = Some(redis_url.into())).await;
    let (status, body) = app.get("/readyz", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["redis"], "ok");
}

#[tokio::test]
async fn readiness_reports_an_unreachable_database() {
    let app = TestApp::spawn_with(|c| {
        c.database.url = Some("postgres://kefu:kefu@127.0.0.1:1/nothing".to_owned().into());
        c.database.acquire_timeout_ms = 500;
    })
    .await;
    let (status, body) = app.get("/readyz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["postgres"], "unavailable");
    // Requests needing the database get a retryable 503, not a 500.
    let response = app
        .http
        .post(app.url("/api/v1/auth/login"))
        .json(&serde_json::json!({ "email": "a@example.com", "password": "whatever it is" }))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    let problem: serde_json::Value = response.json().await.expect("json");
    assert_eq!(problem["code"], "service_unavailable");
}

#[tokio::test]
async fn openapi_31_document_and_browsable_docs() {
    let app = TestApp::spawn().await;
    let (status, spec) = app.get("/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(spec["openapi"], "3.1.0");
    for path in [
        "/api/v1/auth/signup",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/members/{user_id}",
        "/api/v1/api-keys",
        "/api/v1/invitations/accept",
    ] {
        assert!(spec["paths"].get(path).is_some(), "{path} missing from the spec");
    }
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
    let docs = app.http.get(app.url("/api/docs/")).send().await.expect("docs");
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.expect("html").contains("swagger"), "Swagger UI page");
}

#[test]
fn committed_typescript_declarations_match_the_code() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/protocol/ts/kefu-protocol.ts"))
        .expect("api/protocol/ts/kefu-protocol.ts");
    assert!(
        committed == kefu_protocol::typescript::declarations(),
        "api/protocol/ts/kefu-protocol.ts is stale: run \
         `cargo run -p kefu-api --bin kefu -- typescript > api/protocol/ts/kefu-protocol.ts`"
    );
}

#[tokio::test]
async fn committed_openapi_document_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json"))
        .expect("docs/openapi.json");
    let generated = kefu_api::http::openapi_json().expect("generate");
    assert!(
        committed.trim() == generated.trim(),
        "docs/openapi.json is stale: run `cargo run -p kefu-api --bin kefu -- openapi > docs/openapi.json`"
    );
}

/// Every successful JSON answer is a named schema (`$ref`, or an array of them), so clients get
/// a type for it; a file (CSV) is a string. Free-form JSON may appear inside a named schema only.
#[test]
fn every_successful_answer_has_a_named_schema() {
    let document: serde_json::Value =
        serde_json::from_str(&kefu_api::http::openapi_json().expect("generate")).expect("json");
    let named = |schema: &serde_json::Value| {
        schema.get("$ref").is_some() || (schema["type"] == "array" && schema["items"].get("$ref").is_some())
    };
    let mut unnamed = Vec::new();
    for (path, operations) in document["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            let Some(responses) = operation["responses"].as_object() else { continue };
            for (status, response) in responses.iter().filter(|(status, _)| status.starts_with('2')) {
                for (media, content) in response["content"].as_object().into_iter().flatten() {
                    let schema = &content["schema"];
                    let fine = if media.contains("json") { named(schema) } else { schema["type"] == "string" };
                    if !fine {
                        unnamed.push(format!("{} {path} {status} {media}", method.to_uppercase()));
                    }
                }
            }
        }
    }
    assert!(
        unnamed.is_empty(),
        "these successful answers have no named schema (use `body = SomeType`, not `Object`):\n{}",
        unnamed.join("\n")
    );
}

#[tokio::test]
async fn security_headers_request_ids_and_problem_fallbacks() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.url("/healthz")).header("x-request-id", "req-123").send().await.expect("send");
    let headers = response.headers();
    assert_eq!(headers["x-request-id"], "req-123", "request id is propagated");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(headers["content-security-policy"].to_str().is_ok_and(|v| v.contains("default-src 'none'")));
    assert!(!headers.contains_key("strict-transport-security"), "no HSTS on plain http");

    let generated = app.http.get(app.url("/healthz")).send().await.expect("send");
    assert!(generated.headers().get("x-request-id").is_some_and(|v| v.len() >= 32), "an id is generated");

    let (status, problem) = app.get("/no/such/route", None).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let response = app.http.put(app.url("/api/v1/auth/login")).send().await.expect("send");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(response.headers().contains_key("allow"));
    assert_eq!(response.headers()["content-type"], "application/problem+json");
}

/// Behind a TLS-terminating load balancer the api sees plain HTTP: HSTS and the refresh cookie's
/// `Secure` follow `public_url`, not the connection. An https `public_url` gets both; a plain-http
/// one on a LAN address (a development setup) gets neither; plain http on loopback keeps
/// `Secure` (browsers treat it as a secure context) without HSTS.
#[tokio::test]
async fn hsts_and_the_secure_cookie_follow_the_public_url() {
    for (public_url, hsts, secure) in [
        (Some("https://chat.kefu.example"), true, true),
        (Some("http://192.168.1.20:8080"), false, false),
        (None, false, true),
    ] {
        let app = TestApp::spawn_with(|c| {
            if let Some(url) = public_url {
                c.public_url = url.into();
            }
        })
        .await;
        let health = app.http.get(app.url("/healthz")).send().await.expect("send");
        let header =
            health.headers().get("strict-transport-security").map(|v| v.to_str().unwrap_or_default().to_owned());
        assert_eq!(header.is_some(), hsts, "{public_url:?}: {header:?}");
        if hsts {
            assert_eq!(header.as_deref(), Some("max-age=31536000; includeSubDomains"));
        }
        let owner = app.signup().await;
        let login = serde_json::json!({ "email": owner.email, "password": owner.password, "token_delivery": "cookie" });
        let response = app.http.post(app.url("/api/v1/auth/login")).json(&login).send().await.expect("login");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers().contains_key("strict-transport-security"), hsts, "{public_url:?}: every answer");
        let cookie = response.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert!(cookie.starts_with("kefu_rt=kefu_rt_") && cookie.contains("HttpOnly"), "{cookie}");
        assert_eq!(cookie.contains("; Secure"), secure, "{public_url:?}: {cookie}");
    }
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app = TestApp::spawn_with(|c| c.http.cors_origins = vec!["http://console.example".into()]).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/auth/login"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("http://console.example").await.expect("send");
    assert_eq!(
        allowed.headers().get("access-control-allow-origin").map(|v| v.as_bytes()),
        Some(&b"http://console.example"[..])
    );
    let denied = preflight("http://evil.example").await.expect("send");
    assert!(denied.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn dev_mailbox_and_account_pages_exist_only_in_development() {
    let dev = TestApp::spawn().await;
    let (status, _) = dev.get("/dev/mailbox.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let page = dev.http.get(dev.url("/accept-invite?token=x")).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let prod = TestApp::spawn_with(|c| c.mode = kefu_api::config::Mode::Production).await;
    for path in ["/dev/mailbox", "/dev/mailbox.json", "/verify-email"] {
        let (status, _) = prod.get(path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

/// The built console (`http.console_dir`): its pages answer every path that is not the api's,
/// hashed assets are cached for good, a missing asset is a 404 (never the index, which would be
/// cached as that asset), and the api's own paths keep their problem answers.
#[tokio::test]
async fn the_console_is_served_with_a_single_page_fallback_and_its_own_headers() {
    let dir = std::env::temp_dir().join(format!("kefu-console-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(dir.join("assets")).expect("dir");
    std::fs::write(dir.join("index.html"), "<!doctype html><title>console</title>").expect("index");
    std::fs::write(dir.join("assets/app-1a2b.js"), "console.log(1)").expect("asset");
    std::fs::write(dir.join("manifest.webmanifest"), "{}").expect("manifest");
    let console_dir = dir.clone();
    let app = TestApp::spawn_with(move |c| {
        c.http.console_dir = Some(console_dir);
        c.edge.public_url = Some("https://edge.example".into());
    })
    .await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(app.url(path)).send();

    for path in ["/", "/inbox/open/conv_0190c8e5b7a87c3e9f000000000000ab", "/verify-email?token=x"] {
        let page = get(path).await.expect("page");
        assert_eq!(page.status(), 200, "{path}");
        assert_eq!(page.headers()["cache-control"], "no-cache", "{path}");
        let csp = page.headers()["content-security-policy"].to_str().expect("csp").to_owned();
        assert!(
            csp.contains("script-src 'self' https://edge.example;") && csp.contains("connect-src 'self';"),
            "{csp}"
        );
        assert_eq!(page.headers()["x-frame-options"], "SAMEORIGIN");
        assert!(page.text().await.expect("body").contains("<title>console</title>"), "{path}");
    }
    let asset = get("/assets/app-1a2b.js").await.expect("asset");
    assert_eq!(asset.status(), 200);
    assert_eq!(asset.headers()["cache-control"], "public, max-age=31536000, immutable");
    let missing = get("/assets/app-gone.js").await.expect("missing asset");
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["cache-control"], "no-cache");
    assert!(!missing.text().await.expect("body").contains("<title>console</title>"));
    assert_eq!(get("/manifest.webmanifest").await.expect("manifest").status(), 200);
    let api_missing = get("/api/v1/nothing-here").await.expect("api 404");
    assert_eq!(api_missing.status(), 404);
    assert_eq!(api_missing.headers()["content-type"], "application/problem+json");
    let (status, widget) = app.get("/api/v1/widget", Some(&app.verified_owner().await.access)).await;
    assert_eq!((status, widget["edge_url"].as_str()), (StatusCode::OK, Some("https://edge.example")));
    let _ = std::fs::remove_dir_all(&dir);
}
