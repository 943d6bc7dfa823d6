//! The native edge in front of real api processes: the loader with its ETag, admitting visitors
//! (origin allow-list, identity, returning visitors, rate limits), the WebSocket proxy in both
//! directions with close codes preserved, a backend that is down, settings changes reaching the
//! edge within seconds, two regions that keep their tenants and tokens apart, and the hosted chat
//! page of mailed chat links.

use kefu_api::testing::{WsClient, WsEnd};
use kefu_tests::{EDGE_ENV, Edge, FreshDatabase, Server, SiteTenant as Tenant, set_origins, tenant_with_site};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SHOP: &str = "https://shop.example";

async fn session(edge: &Edge, origin: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().post(format!("{}/v1/sessions", edge.base)).json(&body);
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let response = request.send().await.expect("session");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn agent_ws(api: &str, access: &str) -> String {
    format!("{}/ws/agent?token={access}", api.replacen("http://", "ws://", 1))
}

#[tokio::test]
async fn visitors_chat_through_the_native_edge_and_everything_else_is_refused_precisely() {
    let db = FreshDatabase::create().await;
    let api = Server::start(&db.url, &[EDGE_ENV]).await;
    let shop = tenant_with_site(&api.base, "owner@edge.example", &[SHOP]).await;
    let edge = Edge::start(&[("local", &api.base)], "cache_secs = 1\nper_ip_per_minute = 1000").await;
    behaves(api, &shop, &edge).await;
}

/// The same behaviour from the wasm build in workerd (the production runtime).
#[tokio::test]
async fn visitors_chat_through_the_wasm_edge_in_workerd_and_everything_else_is_refused_precisely() {
    let db = FreshDatabase::create().await;
    let api = Server::start(&db.url, &[EDGE_ENV]).await;
    let shop = tenant_with_site(&api.base, "owner@wasm-edge.example", &[SHOP]).await;
    let edge = Edge::start_wasm(&[("local", &api.base)], 1, 1000).await;
    behaves(api, &shop, &edge).await;
}

/// A chat link (what reply mails carry, signed with the region's keys) opens the hosted chat page
/// and admits its visitor from it; a forged link opens nothing.
async fn chat_links(edge: &Edge, shop: &Tenant) {
    let http = reqwest::Client::new();
    let (kid, secret) = kefu_tests::VISITOR_KEYS.split_once(':').expect("kid:secret");
    let keys = kefu_protocol::token::TokenKeys::new([(kid, secret.as_bytes())]).expect("keys");
    let visitor = kefu_protocol::VisitorId::from_uuid(uuid::Uuid::now_v7());
    let now = chrono::Utc::now().timestamp();
    let claims = kefu_protocol::ChatLinkClaims {
        iss: kefu_protocol::ISSUER.into(),
        aud: kefu_protocol::CHAT_LINK_AUDIENCE.into(),
        sub: visitor,
        tid: shop.tenant_id.parse().expect("tenant"),
        region: "local".into(),
        site: shop.site_key.parse().expect("site key"),
        iat: now,
        exp: now + 600,
        jti: "link-1".into(),
    };
    let link = keys.sign(&claims).expect("sign");
    let page = http.get(format!("{}/c/{link}", edge.base)).send().await.expect("hosted page");
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert!(page.headers()["content-security-policy"].to_str().is_ok_and(|c| c.contains("script-src 'self'")));
    let html = page.text().await.expect("html");
    assert!(html.contains(&format!("/w/{}.js", shop.site_key)) && html.contains(&link), "{html}");
    // From the edge's own origin, only with the link: admitted as the link's visitor.
    let origin = edge.base.trim_end_matches('/');
    let (status, grant) = session(edge, Some(origin), json!({ "site_key": shop.site_key, "link": link })).await;
    assert_eq!(status, StatusCode::OK, "{grant}");
    assert_eq!(grant["visitor_id"], visitor.to_string());
    let (status, problem) = session(edge, Some(origin), json!({ "site_key": shop.site_key })).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("origin_not_allowed")));
    let forged = format!("{}x", &link[..link.len() - 1]);
    let page = http.get(format!("{}/c/{forged}", edge.base)).send().await.expect("forged page");
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(page.text().await.expect("html").contains("This chat link has expired"));
    let (status, problem) = session(edge, Some(origin), json!({ "site_key": shop.site_key, "link": forged })).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")), "{problem}");
}

/// Everything both runtimes must do; `api` is dropped (stopped) at the end.
async fn behaves(api: Server, shop: &Tenant, edge: &Edge) {
    let http = reqwest::Client::new();

    // The loader: JavaScript with the tenant's config, revalidated by ETag.
    let loader = http.get(format!("{}/w/{}.js", edge.base, shop.site_key)).send().await.expect("loader");
    assert_eq!(loader.status(), StatusCode::OK);
    assert_eq!(loader.headers()["content-type"], "application/javascript; charset=utf-8");
    assert!(loader.headers()["cache-control"].to_str().is_ok_and(|c| c.contains("max-age=10")));
    let etag = loader.headers()["etag"].to_str().expect("etag").to_owned();
    let body = loader.text().await.expect("body");
    assert!(body.contains("window.KefuConfig") && body.contains(&shop.site_key) && body.contains("在线客服"));
    let again = http
        .get(format!("{}/w/{}.js", edge.base, shop.site_key))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("loader");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    // The loader names the chat UI bundle, served for good under its content-hashed name.
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(kefu_tests::widget_dist().join("widget/manifest.json")).expect("manifest"),
    )
    .expect("manifest json");
    let ui_path = manifest["ui"].as_str().expect("ui path");
    assert!(body.contains(ui_path), "the loader loads {ui_path}");
    let ui = http.get(format!("{}/{ui_path}", edge.base)).send().await.expect("ui bundle");
    assert_eq!(ui.status(), StatusCode::OK);
    assert!(ui.headers()["content-type"].to_str().is_ok_and(|c| c.contains("javascript")), "{:?}", ui.headers());
    assert!(ui.headers()["cache-control"].to_str().is_ok_and(|c| c.contains("immutable")), "{:?}", ui.headers());
    // The bare loader (no tenant config): what the console's widget preview runs.
    let bare = http.get(format!("{}/widget/loader.js", edge.base)).send().await.expect("bare loader");
    assert_eq!(bare.status(), StatusCode::OK);
    assert!(bare.headers()["content-type"].to_str().is_ok_and(|c| c.contains("javascript")), "{:?}", bare.headers());
    let bare = bare.text().await.expect("bare loader body");
    assert!(!bare.contains("window.KefuConfig=c") && body.contains(bare.trim()), "the loader code alone");
    for bad in ["site_0190c8e5b7a87c3e9f000000000000ab.js", "nonsense.js", &shop.site_key] {
        let response = http.get(format!("{}/w/{bad}", edge.base)).send().await.expect("loader");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{bad}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
    }

    // Admission.
    let ask = json!({ "site_key": shop.site_key });
    let (status, grant) = session(edge, Some(SHOP), ask.clone()).await;
    assert_eq!(status, StatusCode::OK, "{grant}");
    for (origin, code) in [(Some("https://evil.example"), "origin_not_allowed"), (None, "origin_not_allowed")] {
        let (status, problem) = session(edge, origin, ask.clone()).await;
        assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some(code)), "{origin:?}");
    }
    let (status, problem) =
        session(edge, Some(SHOP), json!({ "site_key": "site_0190c8e5b7a87c3e9f000000000000ab" })).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::NOT_FOUND, Some("resource_not_found")));
    let (status, problem) = session(edge, Some(SHOP), json!({ "site": "x" })).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::BAD_REQUEST, Some("malformed_json")));
    let huge = json!({ "site_key": shop.site_key, "user": { "id": "x".repeat(10_000), "hash": "0" } });
    let (status, problem) = session(edge, Some(SHOP), huge).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")));
    let forged = json!({ "site_key": shop.site_key, "user": { "id": "customer-1", "hash": "00" } });
    let (status, problem) = session(edge, Some(SHOP), forged).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("invalid_identity")));

    chat_links(edge, shop).await;

    // Chat through the edge: the visitor's frames reach the api and an agent's reply comes back.
    let url =
        format!("{}?token={}", grant["ws_url"].as_str().expect("ws url"), grant["token"].as_str().expect("token"));
    let mut visitor = WsClient::connect(&url).await.expect("upgrade through the edge");
    visitor.send(json!({ "type": "hello", "protocol": 1 })).await;
    visitor.next_of("welcome").await;
    visitor.send(json!({ "type": "send", "client_id": "v-1", "body": "你好，经过边缘节点" })).await;
    let ack = visitor.next_of("ack").await;
    let conversation = ack["conversation_id"].as_str().expect("conversation").to_owned();
    let mut agent = WsClient::connect(&agent_ws(&api.base, &shop.access)).await.expect("agent");
    agent.send(json!({ "type": "hello", "protocol": 1 })).await;
    agent.next_of("welcome").await;
    agent.send(json!({ "type": "join", "conversation_id": conversation })).await;
    assert_eq!(agent.next_of("message").await["body"], "你好，经过边缘节点");
    agent.send(json!({ "type": "send", "conversation_id": conversation, "client_id": "a-1", "body": "您好！" })).await;
    let reply = visitor.next_of("message").await;
    assert_eq!((reply["body"].as_str(), reply["seq"].as_i64()), (Some("您好！"), Some(2)));

    // Attachments through the edge: upload with the visitor token, send, download by URL.
    let token = grant["token"].as_str().expect("token");
    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{}/v1/attachments", edge.base))
        .header("origin", SHOP)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-type")
        .send()
        .await
        .expect("preflight");
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert!(preflight.headers()["access-control-allow-headers"].to_str().is_ok_and(|h| h.contains("authorization")));
    let file = "退货地址：上海市\n".repeat(20).into_bytes();
    let uploaded = http
        .post(format!("{}/v1/attachments?name=%E5%9C%B0%E5%9D%80.txt", edge.base))
        .header("origin", SHOP)
        .bearer_auth(token)
        .body(file.clone())
        .send()
        .await
        .expect("upload");
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    assert_eq!(uploaded.headers()["access-control-allow-origin"], SHOP);
    let uploaded: Value = uploaded.json().await.expect("json");
    assert_eq!(uploaded["name"], "地址.txt");
    let attachment = uploaded["id"].as_str().expect("id");
    visitor
        .send(json!({ "type": "send", "client_id": "v-file", "body": "地址.txt", "attachment_id": attachment }))
        .await;
    assert_eq!(visitor.next_of("message").await["attachment"]["id"], attachment);
    let fetched =
        http.get(format!("{}/v1/attachments/{attachment}?token={token}", edge.base)).send().await.expect("get");
    assert_eq!(fetched.status(), StatusCode::OK);
    assert!(fetched.headers()["content-disposition"].to_str().is_ok_and(|d| d.starts_with("attachment;")));
    assert_eq!(fetched.bytes().await.expect("bytes").as_ref(), file.as_slice());
    let forged = http
        .post(format!("{}/v1/attachments?name=x.txt", edge.base))
        .bearer_auth("abc.def.ghi")
        .body("hi")
        .send()
        .await
        .expect("forged upload");
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let unknown = http
        .get(format!("{}/v1/attachments/att_0190c8e5b7a87c3e9f000000000000ab?token={token}", edge.base))
        .send()
        .await
        .expect("unknown");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    // A returning visitor keeps their id (and conversation) with the proof the edge gave them.
    let back = json!({ "site_key": shop.site_key, "visitor_id": grant["visitor_id"], "visitor_proof": grant["visitor_proof"] });
    let (_, regrant) = session(edge, Some(SHOP), back).await;
    assert_eq!(regrant["visitor_id"], grant["visitor_id"]);
    let url2 =
        format!("{}?token={}", regrant["ws_url"].as_str().expect("ws"), regrant["token"].as_str().expect("token"));
    let mut resumed = WsClient::connect(&url2).await.expect("upgrade");
    resumed.send(json!({ "type": "hello", "protocol": 1, "last_seq": 1 })).await;
    assert_eq!(resumed.next_of("welcome").await["conversation_id"], conversation.as_str());
    assert_eq!(resumed.next_of("message").await["seq"], 2);
    assert_eq!(resumed.next_of("message").await["attachment"]["name"], "地址.txt");

    // Close codes pass through unchanged: the api closes 4004 when the first frame is not hello.
    let (_, fresh) = session(edge, Some(SHOP), ask.clone()).await;
    let url3 = format!("{}?token={}", fresh["ws_url"].as_str().expect("ws"), fresh["token"].as_str().expect("token"));
    let mut rude = WsClient::connect(&url3).await.expect("upgrade");
    rude.send(json!({ "type": "typing", "typing": true })).await;
    assert_eq!(rude.next().await.expect_err("closed"), WsEnd::Closed(4004));

    // Tokens: forged, agent tokens, and plain requests are refused before any upstream work.
    let ws = format!("{}/ws", edge.base.replacen("http://", "ws://", 1));
    assert_eq!(WsClient::connect(&format!("{ws}?token=abc.def.ghi")).await.err(), Some(401));
    assert_eq!(WsClient::connect(&format!("{ws}?token={}", shop.access)).await.err(), Some(401), "agent token");
    assert_eq!(WsClient::connect(&ws).await.err(), Some(401));
    let plain = http.get(format!("{}/ws", edge.base)).send().await.expect("plain get");
    assert_eq!(plain.status(), StatusCode::UPGRADE_REQUIRED);
    let problem: Value = plain.json().await.expect("problem");
    assert_eq!(problem["code"], "upgrade_required");

    // An admin's change reaches the edge within seconds (cache_secs = 1 here).
    set_origins(&api.base, &shop.access, &[SHOP, "https://new.example"]).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    let (status, _) = session(edge, Some("https://new.example"), ask.clone()).await;
    assert_eq!(status, StatusCode::OK);

    // The backend goes away: a clear, retryable 502 for new WebSockets.
    let (_, late) = session(edge, Some(SHOP), ask.clone()).await;
    drop(api);
    let url4 = format!("{}?token={}", late["ws_url"].as_str().expect("ws"), late["token"].as_str().expect("token"));
    assert_eq!(WsClient::connect(&url4).await.err(), Some(502));
    let down = http
        .get(format!("{}/ws?token={}", edge.base, late["token"].as_str().expect("token")))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .expect("upgrade attempt");
    assert_eq!(down.status(), StatusCode::BAD_GATEWAY);
    assert!(down.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after_natively() {
    let db = FreshDatabase::create().await;
    let api = Server::start(&db.url, &[EDGE_ENV]).await;
    let shop = tenant_with_site(&api.base, "owner@limits.example", &[SHOP]).await;
    let edge = Edge::start(&[("local", &api.base)], "per_ip_per_minute = 3").await;
    limited_after_three(&shop, &edge).await;
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after_in_workerd() {
    let db = FreshDatabase::create().await;
    let api = Server::start(&db.url, &[EDGE_ENV]).await;
    let shop = tenant_with_site(&api.base, "owner@wasm-limits.example", &[SHOP]).await;
    let edge = Edge::start_wasm(&[("local", &api.base)], 5, 3).await;
    limited_after_three(&shop, &edge).await;
}

async fn limited_after_three(shop: &Tenant, edge: &Edge) {
    let ask = json!({ "site_key": shop.site_key });
    for _ in 0..3 {
        assert_eq!(session(edge, Some(SHOP), ask.clone()).await.0, StatusCode::OK);
    }
    let response = reqwest::Client::new()
        .post(format!("{}/v1/sessions", edge.base))
        .header("origin", SHOP)
        .json(&ask)
        .send()
        .await
        .expect("session");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers()["retry-after"].to_str().is_ok_and(|s| s.parse::<u64>().is_ok_and(|n| n >= 1)));
    let problem: Value = response.json().await.expect("problem");
    assert_eq!(problem["code"], "rate_limited");
}

#[tokio::test]
async fn each_region_serves_its_own_tenants_and_refuses_the_others_tokens() {
    let (east_db, west_db) = (FreshDatabase::create().await, FreshDatabase::create().await);
    let east_keys = "east:an-east-region-visitor-secret-of-length";
    let west_keys = "west:a-west-region-visitor-secret-of-length!";
    let east =
        Server::start(&east_db.url, &[EDGE_ENV, ("KEFU_REGION", "east"), ("KEFU_AUTH__VISITOR_KEYS", east_keys)]).await;
    let west =
        Server::start(&west_db.url, &[EDGE_ENV, ("KEFU_REGION", "west"), ("KEFU_AUTH__VISITOR_KEYS", west_keys)]).await;
    // Each region knows only its own tenants' site keys: the edge asks every region about a key
    // it has not seen, serves each tenant's widget and routes its visitors to its region.
    let shop = tenant_with_site(&east.base, "owner@east.example", &[SHOP]).await;
    let edge = Edge::start_with_keys(&[("east", &east.base, east_keys), ("west", &west.base, west_keys)], "").await;
    let (status, grant) = session(&edge, Some(SHOP), json!({ "site_key": shop.site_key })).await;
    assert_eq!(status, StatusCode::OK, "{grant}");
    let token = grant["token"].as_str().expect("token");
    let url = format!("{}?token={token}", grant["ws_url"].as_str().expect("ws"));
    let mut visitor = WsClient::connect(&url).await.expect("routed to east");
    visitor.send(json!({ "type": "hello", "protocol": 1 })).await;
    visitor.next_of("welcome").await;
    visitor.send(json!({ "type": "send", "client_id": "e-1", "body": "east" })).await;
    assert_eq!(visitor.next_of("ack").await["seq"], 1);

    // East's visitor token is worthless in west, directly or with its region claim swapped.
    let direct = format!("{}/ws/visitor?token={token}", west.base.replacen("http://", "ws://", 1));
    assert_eq!(WsClient::connect(&direct).await.err(), Some(403), "only through the edge");
    let proof = (kefu_protocol::ws::EDGE_PROOF_HEADER, kefu_tests::EDGE_SECRET);
    assert_eq!(WsClient::connect_with_headers(&direct, &[proof]).await.err(), Some(401));
    let (kid, secret) = west_keys.split_once(':').expect("keys");
    let west_signer = kefu_protocol::token::TokenKeys::new([(kid, secret.as_bytes())]).expect("keys");
    let east_signer = {
        let (kid, secret) = east_keys.split_once(':').expect("keys");
        kefu_protocol::token::TokenKeys::new([(kid, secret.as_bytes())]).expect("keys")
    };
    let mut claims: kefu_protocol::VisitorClaims =
        east_signer.verify(token, kefu_protocol::VISITOR_AUDIENCE).expect("east token");
    assert_eq!(claims.tid.to_string(), shop.tenant_id);
    claims.region = "west".into();
    let relabelled = east_signer.sign(&claims).expect("sign");
    let ws = format!("{}/ws", edge.base.replacen("http://", "ws://", 1));
    assert_eq!(WsClient::connect(&format!("{ws}?token={relabelled}")).await.err(), Some(401));
    // A genuine west token for an east tenant is routed to west, which does not know the tenant.
    let west_token = west_signer.sign(&claims).expect("sign");
    assert_eq!(WsClient::connect(&format!("{ws}?token={west_token}")).await.err(), Some(401));

    // A tenant homed in west (the second region) is found there and its visitors chat with west.
    let west_shop = tenant_with_site(&west.base, "owner@west.example", &[SHOP]).await;
    let (status, grant) = session(&edge, Some(SHOP), json!({ "site_key": west_shop.site_key })).await;
    assert_eq!(status, StatusCode::OK, "{grant}");
    let token = grant["token"].as_str().expect("token");
    let claims: kefu_protocol::VisitorClaims =
        west_signer.verify(token, kefu_protocol::VISITOR_AUDIENCE).expect("signed with west's keys");
    assert_eq!((claims.tid.to_string(), claims.region.as_str()), (west_shop.tenant_id.clone(), "west"));
    let mut visitor =
        WsClient::connect(&format!("{}?token={token}", grant["ws_url"].as_str().expect("ws"))).await.expect("to west");
    visitor.send(json!({ "type": "hello", "protocol": 1 })).await;
    visitor.next_of("welcome").await;
    visitor.send(json!({ "type": "send", "client_id": "w-1", "body": "west" })).await;
    let ack = visitor.next_of("ack").await;
    let conversation = ack["conversation_id"].as_str().expect("conversation");
    let stored = reqwest::Client::new()
        .get(format!("{}/api/v1/conversations/{conversation}/messages", west.base))
        .bearer_auth(&west_shop.access)
        .send()
        .await
        .expect("west's api");
    assert_eq!(stored.status(), StatusCode::OK, "the conversation lives in west's database");
    // East never heard of it.
    let elsewhere = reqwest::Client::new()
        .get(format!("{}/api/v1/conversations/{conversation}/messages", east.base))
        .bearer_auth(&shop.access)
        .send()
        .await
        .expect("east's api");
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
    // An unknown key is unknown everywhere.
    let unknown = kefu_protocol::SiteKeyId::from_uuid(uuid::Uuid::new_v4());
    let (status, problem) = session(&edge, Some(SHOP), json!({ "site_key": unknown })).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
}

/// The security review's finding: the per-site budget was spent before the origin check, so a
/// few addresses sending forged session requests shut off a site's widget for real visitors.
/// Requests the site's origins refuse no longer spend it.
#[tokio::test]
async fn a_sites_budget_is_spent_only_by_requests_its_origins_admit() {
    let db = FreshDatabase::create().await;
    let api = Server::start(&db.url, &[EDGE_ENV]).await;
    let shop = tenant_with_site(&api.base, "owner@site-budget.example", &[SHOP]).await;
    let edge = Edge::start(&[("local", &api.base)], "per_site_per_minute = 3").await;
    let ask = json!({ "site_key": shop.site_key });
    for _ in 0..10 {
        let (status, problem) = session(&edge, Some("https://forged.example"), ask.clone()).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("origin_not_allowed")),
            "{problem}"
        );
    }
    for _ in 0..3 {
        assert_eq!(session(&edge, Some(SHOP), ask.clone()).await.0, StatusCode::OK, "real visitors still get in");
    }
    let (status, problem) = session(&edge, Some(SHOP), ask).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")), "{problem}");
}
