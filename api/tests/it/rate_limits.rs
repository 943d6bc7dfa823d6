//! Sign-in abuse (issue 16, the security review): the per-IP limit counts the client behind a
//! trusted proxy, not the proxy, and ignores forwarding headers from anyone else; a per-account
//! limit holds whatever address the attempts come from; 429 says when to retry.

use kefu_api::testing::TestApp;
use reqwest::StatusCode;
use serde_json::json;

async fn login_from(app: &TestApp, headers: &[(&str, &str)], email: &str, password: &str) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(app.url("/api/v1/auth/login"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.json(&json!({ "email": email, "password": password })).send().await.expect("login")
}

#[tokio::test]
async fn the_ip_limit_counts_clients_behind_a_trusted_proxy_and_ignores_headers_from_others() {
    // Behind a trusted proxy (the test's loopback peer): each forwarded client has its own budget.
    let app = TestApp::spawn_with(|c| {
        c.http.trusted_proxies = vec!["127.0.0.0/8".into()];
        c.auth.auth_rate_per_minute = 3;
    })
    .await;
    let owner = app.verified_owner().await;
    let via = |ip: &'static str| [("x-forwarded-for", ip)];
    for _ in 0..3 {
        let response = login_from(&app, &via("203.0.113.7"), &owner.email, "wrong password 1").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let limited = login_from(&app, &via("203.0.113.7"), &owner.email, "wrong password 1").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = limited.headers()["retry-after"].to_str().expect("text").parse().expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    // Another client behind the same proxy is not locked out, nor is one named by Cloudflare's
    // header; a spoofed entry to the left of the proxy's own is not the client.
    let other = login_from(&app, &via("203.0.113.8"), &owner.email, &owner.password).await;
    assert_eq!(other.status(), StatusCode::OK);
    let cloudflare = login_from(&app, &[("cf-connecting-ip", "198.51.100.20")], &owner.email, &owner.password).await;
    assert_eq!(cloudflare.status(), StatusCode::OK);
    let spoofed = login_from(&app, &via("198.51.100.99, 203.0.113.7"), &owner.email, &owner.password).await;
    assert_eq!(spoofed.status(), StatusCode::TOO_MANY_REQUESTS, "the rightmost untrusted entry is the client");

    // Without trusted proxies, forwarding headers are the client's own words: ignored. (The
    // signup and the verification already spent two of the peer's five.)
    let app = TestApp::spawn_with(|c| c.auth.auth_rate_per_minute = 5).await;
    let owner = app.verified_owner().await;
    let mut refused_at = None;
    for n in 0..10 {
        let ip = format!("203.0.113.{}", n + 1);
        let response = login_from(&app, &[("x-forwarded-for", ip.as_str())], &owner.email, "wrong password 1").await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            refused_at = Some(n);
            break;
        }
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {n}");
    }
    assert_eq!(refused_at, Some(3), "a new forwarded address does not reset the peer's budget");
}

#[tokio::test]
async fn the_account_limit_holds_across_addresses() {
    let app = TestApp::spawn_with(|c| {
        c.http.trusted_proxies = vec!["127.0.0.1".into()];
        c.auth.login_rate_per_account_per_minute = 4;
    })
    .await;
    let owner = app.verified_owner().await;
    let other = app.verified_owner().await;
    // A guesser spreading attempts over many addresses still gets four a minute on one account
    // (the email in any case).
    for n in 0..4 {
        let ip = format!("203.0.113.{}", 10 + n);
        let email = if n % 2 == 0 { owner.email.to_uppercase() } else { owner.email.clone() };
        let response = login_from(&app, &[("x-forwarded-for", &ip)], &email, "wrong password 1").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {n}");
    }
    let limited = login_from(&app, &[("x-forwarded-for", "203.0.113.99")], &owner.email, &owner.password).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
    let problem: serde_json::Value = limited.json().await.expect("problem");
    assert_eq!(problem["code"], "rate_limited");
    // Other accounts are untouched.
    let fine = login_from(&app, &[("x-forwarded-for", "203.0.113.99")], &other.email, &other.password).await;
    assert_eq!(fine.status(), StatusCode::OK);
}

#[test]
fn trusted_proxies_must_parse() {
    let mut config = kefu_api::config::Config::for_tests("postgres://localhost/x");
    config.http.trusted_proxies = vec!["10.0.0.0/8".into(), "192.0.2.1".into(), "::1".into(), "not-an-ip".into()];
    let problems = config.validate().expect_err("refused").to_string();
    assert!(problems.contains("`not-an-ip` is not an IP address or CIDR block"), "{problems}");
    assert!(!problems.contains("10.0.0.0/8"), "{problems}");
}

/// The security review's socket abuse: `/ws/visitor` reached straight at the api (skipping the
/// edge's limits), one token opening hundreds of sockets, each writing 20 page views a second.
/// Now the api takes visitor sockets only with the edge's proof, caps sockets per visitor and per
/// workspace on each node, and records a bounded number of page views per socket.
#[tokio::test]
async fn visitor_sockets_come_through_the_edge_are_capped_and_page_views_are_bounded() {
    use kefu_api::testing::{EDGE_PROOF, WsClient};
    let app = TestApp::spawn_with(|c| c.realtime.max_visitor_sockets_per_tenant = 7).await;
    let owner = app.signup().await;
    let other = app.signup().await;
    let url_of = |tenant: &str| {
        let token = app.visitor_token(tenant, kefu_protocol::VisitorId::from_uuid(uuid::Uuid::now_v7()), 600);
        app.ws_url(&format!("/ws/visitor?token={token}"))
    };
    let url = url_of(&owner.tenant_id);
    assert_eq!(WsClient::connect(&url).await.err(), Some(403), "not through the edge");
    let wrong = (kefu_protocol::ws::EDGE_PROOF_HEADER, "a-wrong-secret-that-is-long-enough-too");
    assert_eq!(WsClient::connect_with_headers(&url, &[wrong]).await.err(), Some(403), "a wrong proof");

    // Five sockets per visitor (tabs); the sixth is told to wait; a closed one makes room.
    let mut tabs = Vec::new();
    for _ in 0..5 {
        tabs.push(WsClient::connect_with_headers(&url, &[EDGE_PROOF]).await.expect("room"));
    }
    assert_eq!(WsClient::connect_with_headers(&url, &[EDGE_PROOF]).await.err(), Some(429));
    drop(tabs.pop());
    let mut reopened = None;
    for _ in 0..100 {
        if let Ok(client) = WsClient::connect_with_headers(&url, &[EDGE_PROOF]).await {
            reopened = Some(client);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tabs.push(reopened.expect("a closed socket gives its place back"));

    // Seven visitor sockets per workspace on this node (set low here): two more visitors fill it.
    let mut others = Vec::new();
    for _ in 0..2 {
        others.push(WsClient::connect_with_headers(&url_of(&owner.tenant_id), &[EDGE_PROOF]).await.expect("room"));
    }
    assert_eq!(WsClient::connect_with_headers(&url_of(&owner.tenant_id), &[EDGE_PROOF]).await.err(), Some(429));
    // Another workspace has its own share.
    let (mut theirs, _) =
        app.visitor(&other.tenant_id, kefu_protocol::VisitorId::from_uuid(uuid::Uuid::now_v7()), None).await;

    // Page views: ten at once, then the per-minute rate; the rest are refused, not written.
    for i in 0..15 {
        theirs.send(json!({ "type": "page_view", "url": format!("https://shop.example/p/{i}") })).await;
    }
    let refused = theirs.take_of("error").await;
    assert_eq!(refused["code"], "rate_limited", "{refused}");
    let schema = app.tenant_schema(&other.tenant_id).await;
    let mut written = 0;
    for _ in 0..50 {
        written = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
            "select count(*) from {}.page_views",
            schema.name()
        )))
        .fetch_one(app.db())
        .await
        .expect("count");
        if written >= 10 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!((10..=11).contains(&written), "the burst is written, the rest not: {written}");
}

/// A workspace's API keys together get the plan's requests a minute, counted in Redis so two
/// nodes share one budget; the 429 says when to retry and names the budget in the RateLimit
/// headers; another workspace's budget is its own.
#[tokio::test]
async fn api_keys_share_the_plans_budget_across_nodes_with_ratelimit_headers() {
    let (a, b) = TestApp::spawn_pair().await;
    let owner = a.verified_owner().await;
    let other = a.verified_owner().await;
    a.own_plan(&owner, "api_requests_per_minute = 6").await;
    let key = |session: &kefu_api::testing::Session| {
        let (app, session) = (&a, session.clone());
        async move {
            let (status, key) = app.post("/api/v1/api-keys", Some(&session.access), json!({ "name": "CRM" })).await;
            assert_eq!(status, StatusCode::CREATED, "{key}");
            key["secret"].as_str().expect("secret").to_owned()
        }
    };
    let (first, second) = (key(&owner).await, key(&owner).await);
    let theirs = key(&other).await;
    // Six requests in all, from two keys on two nodes (a window may turn over between two
    // requests: then the budget starts again, so keep going until one is refused).
    let mut refused = None;
    for i in 0..40 {
        let (app, secret) = if i % 2 == 0 { (&a, &first) } else { (&b, &second) };
        let response = reqwest::Client::new()
            .get(app.url("/api/v1/conversations"))
            .bearer_auth(secret)
            .send()
            .await
            .expect("request");
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some((i, response));
            break;
        }
        assert_eq!(response.status(), StatusCode::OK);
    }
    let (at, response) = refused.expect("the budget runs out");
    assert!(at >= 6, "not before six requests: {at}");
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(header("ratelimit-limit").as_deref(), Some("6"));
    assert_eq!(header("ratelimit-policy").as_deref(), Some("6;w=60"));
    assert!(header("retry-after").and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| (1..=60).contains(&s)));
    let problem: serde_json::Value = response.json().await.expect("problem");
    assert_eq!(problem["code"], "rate_limited");
    // The refused key is refused again by that node without a lookup, with the same headers.
    let (node, secret) = if at % 2 == 0 { (&a, &first) } else { (&b, &second) };
    let again = reqwest::Client::new()
        .get(node.url("/api/v1/conversations"))
        .bearer_auth(secret)
        .send()
        .await
        .expect("request");
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    let limit = again.headers().get("ratelimit-limit").and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(limit.as_deref(), Some("6"));
    let (status, _) = b.get("/api/v1/conversations", Some(&theirs)).await;
    assert_eq!(status, StatusCode::OK, "another workspace's budget is its own");
}
