//! Bad input gets the right 4xx problem and writes nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use kefu_api::testing::{TestApp, unique};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn raw_post(
    app: &TestApp,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, String, Value) {
    let mut request = app.http.post(app.url(path)).body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.expect("send");
    let status = response.status();
    let ctype = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let json = response.json().await.unwrap_or(Value::Null);
    (status, ctype, json)
}

async fn user_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from control.users").fetch_one(app.db()).await.expect("count")
}

#[tokio::test]
async fn malformed_bodies_get_precise_problems_and_write_nothing() {
    let app = TestApp::spawn().await;
    let before = user_count(&app).await;
    let cases: Vec<(Option<&str>, String, StatusCode, &str)> = vec![
        (Some("application/json"), "{\"company_name\":".into(), StatusCode::BAD_REQUEST, "malformed_json"),
        (Some("application/json"), "not json at all".into(), StatusCode::BAD_REQUEST, "malformed_json"),
        (Some("text/plain"), "{}".into(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        (None, "{}".into(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        (Some("application/json"), "{}".into(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (
            Some("application/json"),
            r#"{"company_name":5,"email":"a@b.co","password":"x"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            Some("application/json"),
            r#"{"company_name":"A","email":"a@b.co","password":"long enough pw","admin":true}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (Some("application/json"), "[]".into(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
    ];
    for (content_type, body, status, code) in cases {
        let (got, ctype, problem) = raw_post(&app, "/api/v1/auth/signup", content_type, body.clone()).await;
        assert_eq!(got, status, "{body}: {problem}");
        assert_eq!(problem["code"], code, "{body}");
        assert_eq!(ctype, "application/problem+json");
        assert_eq!(problem["status"], status.as_u16());
        assert!(problem["type"].as_str().is_some_and(|t| t == format!("urn:kefu:error:{code}")));
    }
    let (_, _, missing) =
        raw_post(&app, "/api/v1/auth/signup", Some("application/json"), r#"{"email":"a@b.co"}"#).await;
    assert_eq!(missing["errors"][0]["field"], "company_name");
    assert_eq!(user_count(&app).await, before, "nothing was written");
}

#[tokio::test]
async fn field_validation_reports_every_invalid_field() {
    let app = TestApp::spawn().await;
    let (status, problem) = app
        .post(
            "/api/v1/auth/signup",
            None,
            json!({ "company_name": "  ", "email": "not-an-email", "password": "short" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<(&str, &str)> = problem["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| (e["field"].as_str().unwrap_or_default(), e["code"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(fields, vec![("company_name", "invalid"), ("email", "invalid_email"), ("password", "weak_password")]);

    for (email, password) in [
        ("user@localhost", "a fine long password"),
        ("x@example.com", "password123"),
        ("x@example.com", "aaaaaaaaaaaaaaaa"),
        ("x@example.com", &"p".repeat(129)),
        ("somebodylong@example.com", "somebodylong-2026!"),
    ] {
        let (status, problem) = app
            .post("/api/v1/auth/signup", None, json!({ "company_name": "Acme", "email": email, "password": password }))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{email} / {password}: {problem}");
    }
    let long_name = "名".repeat(121);
    let (status, _) = app
        .post("/api/v1/auth/signup", None, json!({ "company_name": long_name, "email": format!("{}@example.com", unique("n-")), "password": "a fine long password" }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let app = TestApp::spawn().await;
    let huge = format!(r#"{{"company_name":"{}","email":"a@b.co","password":"x"}}"#, "x".repeat(200 * 1024));
    let (status, ctype, problem) = raw_post(&app, "/api/v1/auth/signup", Some("application/json"), huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{problem}");
    assert_eq!(ctype, "application/problem+json");
    assert_eq!(problem["code"], "payload_too_large");
}

fn claims_for(session_access: &str) -> Value {
    let payload = session_access.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json")
}

#[tokio::test]
async fn expired_forged_none_wrong_key_and_wrong_audience_tokens_are_401() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let claims = claims_for(&owner.access);
    let sign = |claims: &Value, kid: &str, secret: &str| {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret.as_bytes())).expect("encode")
    };
    let real_secret = "a-test-signing-secret-that-is-long-enough-2";

    let mut expired = claims.clone();
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("visitor");
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("someone-else");
    let none_token = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"test-2"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut elevated = claims.clone();
    elevated["role"] = json!("owner");
    let tampered = {
        let parts: Vec<&str> = owner.access.split('.').collect();
        let mut c = claims.clone();
        c["sub"] = json!("usr_00000000000000000000000000000001");
        format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(c.to_string()), parts[2])
    };

    let cases = vec![
        ("expired", sign(&expired, "test-2", real_secret)),
        ("wrong audience", sign(&wrong_aud, "test-2", real_secret)),
        ("wrong issuer", sign(&wrong_iss, "test-2", real_secret)),
        ("alg none", none_token),
        ("wrong key", sign(&claims, "test-2", "an-attacker-secret-that-is-long-enough")),
        ("unknown kid", sign(&claims, "k-unknown", real_secret)),
        ("tampered", tampered),
        ("garbage", "abc.def.ghi".into()),
        ("refresh token as access", owner.refresh.clone()),
        ("malformed api key", "kefu_sk_short".into()),
    ];
    for (name, token) in cases {
        let (status, problem) = app.get("/api/v1/me", Some(&token)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {problem}");
        assert_eq!(problem["code"], "invalid_token", "{name}");
    }
    // The previous key still verifies (rotation).
    let (status, _) =
        app.get("/api/v1/me", Some(&sign(&claims, "test-1", "a-test-signing-secret-that-is-long-enough-1"))).await;
    assert_eq!(status, StatusCode::OK);

    // Header shapes.
    for header in ["Basic abc", "Bearer", "Bearer    ", "token abc"] {
        let response = app.http.get(app.url("/api/v1/me")).header("authorization", header).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header}");
    }
    let (status, problem) = app.get("/api/v1/me", None).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));
}

#[tokio::test]
async fn bad_ids_in_paths_and_queries_are_4xx_not_500() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    for path in [
        "/api/v1/members/nope",
        "/api/v1/members/tnt_0190c8e5b7a87c3e9f000000000000ab",
        "/api/v1/api-keys/key_zz",
        "/api/v1/invitations/%00",
    ] {
        let (status, problem) = app.call("DELETE", path, Some(&owner.access), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {problem}");
    }
    let (status, problem) = app.get("/api/v1/audit-log?limit=lots", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["code"], "validation_failed");
    let (status, problem) = app.get("/api/v1/invitations/lookup", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, _) = app.get("/api/v1/invitations/lookup?token=kefu_iv_forged", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, problem) = app
        .call(
            "PATCH",
            &format!("/api/v1/members/{}", owner.user_id),
            Some(&owner.access),
            Some(json!({ "role": "emperor" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
}
