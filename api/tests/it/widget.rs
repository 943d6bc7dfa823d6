//! Widget settings, site keys and the edge's resolve endpoint: validation, versions, roles,
//! revocation, ETag revalidation and tenant boundaries.

use kefu_api::config::TEST_EDGE_SECRET;
use kefu_api::testing::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn resolve(
    app: &TestApp,
    key: &str,
    secret: Option<&str>,
    etag: Option<&str>,
) -> (StatusCode, Option<String>, Value) {
    let mut request = reqwest::Client::new().get(app.url(&format!("/internal/edge/v1/sites/{key}")));
    if let Some(secret) = secret {
        request = request.bearer_auth(secret);
    }
    if let Some(etag) = etag {
        request = request.header("if-none-match", etag);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let text = response.text().await.expect("body");
    (status, etag, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn admins_save_validated_versioned_settings_and_agents_cannot() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (status, widget) = app.get("/api/v1/widget", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK, "{widget}");
    assert_eq!(widget["version"], 1);
    assert_eq!(widget["settings"]["texts"]["zh-CN"]["title"], "在线客服");
    assert_eq!(widget["identity_secret"], Value::Null);

    let mut settings = widget["settings"].clone();
    settings["color"] = json!("#e11d48");
    settings["position"] = json!("left");
    settings["allowed_origins"] = json!(["https://shop.example.com", "https://*.example.cn", "http://localhost:5173"]);
    let (status, saved) = app
        .call("PUT", "/api/v1/widget", Some(&owner.access), Some(json!({ "settings": settings, "version": 1 })))
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!((saved["version"].as_i64(), saved["settings"]["color"].as_str()), (Some(2), Some("#e11d48")));

    // Saving on top of a version someone else replaced is a conflict, not a silent overwrite.
    let (status, problem) = app
        .call("PUT", "/api/v1/widget", Some(&owner.access), Some(json!({ "settings": settings, "version": 1 })))
        .await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::CONFLICT, Some("version_conflict")));

    // Every invalid field at once, with its path.
    let mut bad = settings.clone();
    bad["color"] = json!("red");
    bad["default_language"] = json!("fr");
    bad["texts"]["en"]["title"] = json!("");
    let (status, problem) =
        app.call("PUT", "/api/v1/widget", Some(&owner.access), Some(json!({ "settings": bad }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let fields: Vec<&str> =
        problem["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["settings.color", "settings.default_language", "settings.texts.en.title"]);
    let mut bad_origin = settings.clone();
    bad_origin["allowed_origins"] = json!(["https://shop.example.com/checkout"]);
    let (status, problem) =
        app.call("PUT", "/api/v1/widget", Some(&owner.access), Some(json!({ "settings": bad_origin }))).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed")));
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("no path")), "{problem}");

    let (status, rotated) = app.post("/api/v1/widget/identity-secret", Some(&owner.access), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let secret = rotated["identity_secret"].as_str().expect("secret");
    assert!(secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(rotated["version"], 3);

    let agent = app.invite_and_accept(&owner, "agent").await;
    let (status, _) = app.get("/api/v1/widget", Some(&agent.access)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) =
        app.call("PUT", "/api/v1/widget", Some(&agent.access), Some(json!({ "settings": settings }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.post("/api/v1/site-keys", Some(&agent.access), json!({ "label": "shop" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_edge_resolves_site_keys_with_etags_and_stops_at_revocation() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (status, created) = app.post("/api/v1/site-keys", Some(&owner.access), json!({ "label": "官网" })).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let key = created["site_key"].as_str().expect("key").to_owned();
    assert!(key.starts_with("site_"));
    let (_, listed) = app.get("/api/v1/site-keys", Some(&owner.access)).await;
    assert_eq!(listed[0]["site_key"], key.as_str());

    // Only the edge may resolve.
    let (status, _, problem) = resolve(&app, &key, None, None).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));
    let (status, _, _) = resolve(&app, &key, Some(&owner.access), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a tenant token is not the edge secret");

    let (status, etag, site) = resolve(&app, &key, Some(TEST_EDGE_SECRET), None).await;
    assert_eq!(status, StatusCode::OK, "{site}");
    assert_eq!((site["tenant_id"].as_str(), site["region"].as_str()), (Some(owner.tenant_id.as_str()), Some("local")));
    assert_eq!(site["version"], 1);
    let etag = etag.expect("etag");
    let (status, _, _) = resolve(&app, &key, Some(TEST_EDGE_SECRET), Some(&etag)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    // A save is visible at once: the ETag no longer matches.
    let (_, widget) = app.get("/api/v1/widget", Some(&owner.access)).await;
    let mut settings = widget["settings"].clone();
    settings["allowed_origins"] = json!(["https://shop.example.com"]);
    app.call("PUT", "/api/v1/widget", Some(&owner.access), Some(json!({ "settings": settings }))).await;
    let (status, _, site) = resolve(&app, &key, Some(TEST_EDGE_SECRET), Some(&etag)).await;
    assert_eq!((status, site["version"].as_i64()), (StatusCode::OK, Some(2)));
    assert_eq!(site["settings"]["allowed_origins"], json!(["https://shop.example.com"]));

    // Another tenant's admin cannot revoke it; its owner can, and the edge stops resolving it.
    let other = app.verified_owner().await;
    let (status, _) = app.call("DELETE", &format!("/api/v1/site-keys/{key}"), Some(&other.access), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.call("DELETE", &format!("/api/v1/site-keys/{key}"), Some(&owner.access), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, problem) = resolve(&app, &key, Some(TEST_EDGE_SECRET), None).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::NOT_FOUND, Some("resource_not_found")));
    for bogus in ["site_nonsense", "tnt_0190c8e5b7a87c3e9f000000000000ab", "%00"] {
        let (status, _, _) = resolve(&app, bogus, Some(TEST_EDGE_SECRET), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bogus}");
    }
}

#[tokio::test]
async fn without_an_edge_secret_the_internal_endpoint_does_not_exist() {
    let app = TestApp::spawn_with(|c| c.edge.secret = None).await;
    let owner = app.verified_owner().await;
    let (_, created) = app.post("/api/v1/site-keys", Some(&owner.access), json!({ "label": "shop" })).await;
    let key = created["site_key"].as_str().expect("key");
    let (status, _, _) = resolve(&app, key, Some(TEST_EDGE_SECRET), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The security review: wildcard origins accepted public suffixes, so `https://*.co.uk` or
/// `https://*.github.io` let anyone's site under them embed the widget. They are refused when
/// saved (checked against the Public Suffix List) and dropped when the edge resolves a site saved
/// before the check.
#[tokio::test]
async fn wildcard_origins_over_public_suffixes_are_refused_and_never_reach_the_edge() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (_, created) = app.post("/api/v1/site-keys", Some(&owner.access), json!({ "label": "site" })).await;
    let key = created["site_key"].as_str().expect("key").to_owned();
    let (_, widget) = app.get("/api/v1/widget", Some(&owner.access)).await;
    let mut settings = widget["settings"].clone();
    settings["allowed_origins"] = json!(["https://shop.example.com", "https://*.co.uk", "https://*.github.io"]);
    let (status, problem) =
        app.call("PUT", "/api/v1/widget", Some(&owner.access), Some(json!({ "settings": settings.clone() }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let fields: Vec<(&str, &str)> = problem["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| Some((e["field"].as_str()?, e["code"].as_str()?)))
        .collect();
    assert_eq!(
        fields,
        vec![("settings.allowed_origins[1]", "public_suffix"), ("settings.allowed_origins[2]", "public_suffix")]
    );
    settings["allowed_origins"] = json!(["https://*.shop.co.uk", "https://*.alice.github.io"]);
    let (status, saved) =
        app.call("PUT", "/api/v1/widget", Some(&owner.access), Some(json!({ "settings": settings }))).await;
    assert_eq!(status, StatusCode::OK, "a shop's own domains: {saved}");

    // A site saved before the check: its public-suffix wildcard admits nobody at the edge.
    let schema = app.tenant_schema(&owner.tenant_id).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "update {}.widget_settings set settings = jsonb_set(settings, '{{allowed_origins}}', \
         '[\"https://*.co.uk\", \"https://*.shop.co.uk\"]'), version = version + 1",
        schema.name()
    )))
    .execute(app.db())
    .await
    .expect("an old save");
    let (status, _, site) = resolve(&app, &key, Some(TEST_EDGE_SECRET), None).await;
    assert_eq!(status, StatusCode::OK, "{site}");
    assert_eq!(site["settings"]["allowed_origins"], json!(["https://*.shop.co.uk"]));
}
