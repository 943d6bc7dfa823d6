//! Signup, verification, login, refresh rotation and reuse detection, logout, password reset.

use kefu_api::testing::{TestApp, unique};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn signup_creates_tenant_schema_owner_and_trial() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;

    let (status, me) = app.get("/api/v1/me", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["role"], "owner");
    assert_eq!(me["user"]["email_verified"], false);
    assert_eq!(me["tenant"]["id"], owner.tenant_id.as_str());

    let tenant_uuid = owner.tenant_id.trim_start_matches("tnt_");
    let (plan, schema, version): (String, String, i64) = sqlx::query_as(
        "select t.plan_id, t.schema_name, s.version from control.tenants t
             join kefu.tenant_schemas s on s.tenant_id = t.id where t.id = $1::uuid",
    )
    .bind(tenant_uuid)
    .fetch_one(app.db())
    .await
    .expect("tenant row");
    assert_eq!(plan, "pro");
    assert_eq!(schema, format!("t_{tenant_uuid}"));
    assert_eq!(version, kefu_api::tenancy::latest_tenant_version());
    let tables: i64 = sqlx::query_scalar(
        "select count(*) from information_schema.tables where table_schema = $1 and table_name in ('agents','teams','audit_log')",
    )
    .bind(&schema)
    .fetch_one(app.db())
    .await
    .expect("tables");
    assert_eq!(tables, 3);

    // The owner is listed with a tenant profile.
    let (status, members) = app.get("/api/v1/members", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(members.as_array().map(Vec::len), Some(1));
    assert_eq!(members[0]["role"], "owner");
}

#[tokio::test]
async fn chinese_company_name_gets_a_generated_slug_and_duplicate_email_is_refused() {
    let app = TestApp::spawn().await;
    let email = format!("{}@example.com", unique("zh-"));
    let body = json!({ "company_name": "上海客服有限公司", "email": email, "password": "a perfectly fine password" });
    let (status, first) = app.post("/api/v1/auth/signup", None, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert!(first["tenant"]["slug"].as_str().is_some_and(|s| s.starts_with("team-")), "{first}");
    assert_eq!(first["tenant"]["name"], "上海客服有限公司");

    let upper =
        json!({ "company_name": "Other", "email": email.to_uppercase(), "password": "a perfectly fine password" });
    let (status, dup) = app.post("/api/v1/auth/signup", None, upper).await;
    assert_eq!(status, StatusCode::CONFLICT, "{dup}");
    assert_eq!(dup["code"], "email_taken");
    // Nothing half-written: still exactly one tenant for that name prefix and one user.
    let users: i64 = sqlx::query_scalar("select count(*) from control.users where lower(email) = lower($1)")
        .bind(&email)
        .fetch_one(app.db())
        .await
        .expect("count");
    assert_eq!(users, 1);
}

#[tokio::test]
async fn taken_or_invalid_slug_is_a_field_error() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let body = json!({ "company_name": "X", "email": format!("{}@example.com", unique("s-")), "password": "a perfectly fine password", "slug": owner.slug });
    let (status, problem) = app.post("/api/v1/auth/signup", None, body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["code"], "slug_taken");
    let body = json!({ "company_name": "X", "email": format!("{}@example.com", unique("s-")), "password": "a perfectly fine password", "slug": "Bad Slug" });
    let (status, problem) = app.post("/api/v1/auth/signup", None, body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "slug");
}

#[tokio::test]
async fn email_verification_link_works_once() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let mails = app.mailbox(&owner.email).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0]["subject"].as_str().is_some_and(|s| s.contains("确认")));
    let token = app.mailed_token(&owner.email, "/verify-email?token=").await;

    let (status, body) = app.post("/api/v1/auth/verify-email", None, json!({ "token": token })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, me) = app.get("/api/v1/me", Some(&owner.access)).await;
    assert_eq!(me["user"]["email_verified"], true);

    let (status, body) = app.post("/api/v1/auth/verify-email", None, json!({ "token": token })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "invalid_one_time_token");
    let (status, body) = app.post("/api/v1/auth/verify-email", None, json!({ "token": "kefu_ve_nope" })).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_one_time_token")));

    // Resending after verification queues nothing new.
    let (status, _) = app.post("/api/v1/auth/resend-verification", Some(&owner.access), json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(app.mailbox(&owner.email).await.len(), 1);
}

#[tokio::test]
async fn login_succeeds_and_wrong_password_or_unknown_email_look_the_same() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let (status, body) = app
        .post("/api/v1/auth/login", None, json!({ "email": owner.email.to_uppercase(), "password": owner.password }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tenant"]["id"], owner.tenant_id.as_str());
    assert_eq!(body["token_type"], "Bearer");

    let (status, wrong) =
        app.post("/api/v1/auth/login", None, json!({ "email": owner.email, "password": "not the password" })).await;
    let (status2, unknown) = app
        .post("/api/v1/auth/login", None, json!({ "email": "nobody-here@example.com", "password": "not the password" }))
        .await;
    assert_eq!((status, status2), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED));
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["code"], "invalid_credentials");
}

#[tokio::test]
async fn member_of_two_tenants_must_choose() {
    let app = TestApp::spawn().await;
    let first = app.verified_owner().await;
    let second = app.verified_owner().await;
    // Invite the first owner into the second tenant; they accept with their existing password.
    let (status, body) =
        app.post("/api/v1/invitations", Some(&second.access), json!({ "email": first.email, "role": "agent" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = app.mailed_token(&first.email, "/accept-invite?token=").await;
    let (status, body) = app
        .post("/api/v1/invitations/accept", None, json!({ "token": token, "password": "wrong password here" }))
        .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_credentials")));
    let (status, body) =
        app.post("/api/v1/invitations/accept", None, json!({ "token": token, "password": first.password })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tenant"]["id"], second.tenant_id.as_str());
    assert_eq!(body["role"], "agent");

    let (status, body) =
        app.post("/api/v1/auth/login", None, json!({ "email": first.email, "password": first.password })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "tenant_selection_required");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains(&second.slug)));

    let (status, body) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({ "email": first.email, "password": first.password, "tenant": second.slug }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "agent");
    let (status, _) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({ "email": first.email, "password": first.password, "tenant": "no-such-team" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_session() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let (status, second) = app.post("/api/v1/auth/refresh", None, json!({ "refresh_token": owner.refresh })).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let second_refresh = second["refresh_token"].as_str().expect("rt").to_owned();
    assert_ne!(second_refresh, owner.refresh);
    let (status, _) = app.get("/api/v1/me", second["access_token"].as_str()).await;
    assert_eq!(status, StatusCode::OK);

    // The first token again at once: two tabs refreshing together. An access token, no new
    // refresh token (the other answer carried it), the session kept.
    let (status, body) = app.post("/api/v1/auth/refresh", None, json!({ "refresh_token": owner.refresh })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["refresh_token"].is_null() && body["access_token"].is_string(), "{body}");
    let (status, _) = app.get("/api/v1/me", second["access_token"].as_str()).await;
    assert_eq!(status, StatusCode::OK);
    // Later (past the 10-second grace): reuse detected, the session revoked.
    sqlx::query("update control.refresh_tokens set replaced_at = now() - interval '1 minute' where token_hash = $1")
        .bind(kefu_api::domain::secret::digest(&owner.refresh))
        .execute(app.db())
        .await
        .expect("age the used token");
    let (status, body) = app.post("/api/v1/auth/refresh", None, json!({ "refresh_token": owner.refresh })).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("refresh_token_reused")));
    // The newest token of that family is dead too, and so is its access token, at once.
    let (status, body) = app.post("/api/v1/auth/refresh", None, json!({ "refresh_token": second_refresh })).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_refresh_token")));
    let (status, _) = app.get("/api/v1/me", second["access_token"].as_str()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Another login session of the same user is unaffected.
    let (_, other) =
        app.post("/api/v1/auth/login", None, json!({ "email": owner.email, "password": owner.password })).await;
    let (status, _) = app.post("/api/v1/auth/refresh", None, json!({ "refresh_token": other["refresh_token"] })).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_yield_one_next_refresh_token() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let body = json!({ "refresh_token": owner.refresh });
    let (a, b) = tokio::join!(
        app.post("/api/v1/auth/refresh", None, body.clone()),
        app.post("/api/v1/auth/refresh", None, body)
    );
    // Both get an access token; only one gets the next refresh token (two tabs of one browser).
    assert_eq!((a.0, b.0), (StatusCode::OK, StatusCode::OK), "{} / {}", a.1, b.1);
    let next = [&a.1, &b.1].into_iter().filter(|answer| answer["refresh_token"].is_string()).count();
    assert_eq!(next, 1, "{} / {}", a.1, b.1);
}

#[tokio::test]
async fn logout_ends_the_session_its_access_tokens_and_sockets_at_once_and_is_idempotent() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    // Another login of the same member lives on.
    let (_, other) =
        app.post("/api/v1/auth/login", None, json!({ "email": owner.email, "password": owner.password })).await;
    let other_access = other["access_token"].as_str().unwrap_or_default().to_owned();
    let mut socket = app.agent(&owner).await;
    let mut other_socket =
        kefu_api::testing::WsClient::connect(&app.ws_url(&format!("/ws/agent?token={other_access}")))
            .await
            .expect("ws");
    other_socket.send(json!({ "type": "hello", "protocol": 1 })).await;
    other_socket.next_of("welcome").await;

    let (status, _) = app.post("/api/v1/auth/logout", None, json!({ "refresh_token": owner.refresh })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.get("/api/v1/me", Some(&owner.access)).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
    socket.next_of("session_ended").await;
    let end = loop {
        match socket.next().await {
            Ok(_) => continue,
            Err(end) => break end,
        }
    };
    assert_eq!(end, kefu_api::testing::WsEnd::Closed(4005));
    let (status, _) = app.get("/api/v1/me", Some(&other_access)).await;
    assert_eq!(status, StatusCode::OK, "another session of the member is untouched");
    other_socket.send(json!({ "type": "ping" })).await;
    other_socket.next_of("pong").await;

    let (status, _) = app.post("/api/v1/auth/logout", None, json!({ "refresh_token": owner.refresh })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.post("/api/v1/auth/refresh", None, json!({ "refresh_token": owner.refresh })).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_refresh_token")));
}

#[tokio::test]
async fn password_reset_changes_password_and_signs_out_everywhere() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    // Unknown addresses get the same answer and no mail.
    let (status, _) = app.post("/api/v1/auth/password-reset", None, json!({ "email": "ghost-user@example.com" })).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(app.mailbox("ghost-user@example.com").await.is_empty());

    let (status, _) = app.post("/api/v1/auth/password-reset", None, json!({ "email": owner.email })).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let token = app.mailed_token(&owner.email, "/reset-password?token=").await;

    // A weak password is refused and the token stays usable.
    let (status, body) =
        app.post("/api/v1/auth/password-reset/confirm", None, json!({ "token": token, "password": "short" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["code"], "weak_password");

    let new_password = "a brand new passphrase";
    let (status, body) = app
        .post("/api/v1/auth/password-reset/confirm", None, json!({ "token": token, "password": new_password }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = app
        .post("/api/v1/auth/password-reset/confirm", None, json!({ "token": token, "password": new_password }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, _) = app.post("/api/v1/auth/refresh", None, json!({ "refresh_token": owner.refresh })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "old sessions are revoked");
    let (status, _) = app.get("/api/v1/me", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "their access tokens end at once");
    let (status, _) =
        app.post("/api/v1/auth/login", None, json!({ "email": owner.email, "password": owner.password })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) =
        app.post("/api/v1/auth/login", None, json!({ "email": owner.email, "password": new_password })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"]["email_verified"], true, "a reset proves the mailbox");
}

#[tokio::test]
async fn auth_endpoints_are_rate_limited_per_ip() {
    let app = TestApp::spawn_with(|c| c.auth.auth_rate_per_minute = 3).await;
    let body = json!({ "email": "limited@example.com", "password": "whatever whatever" });
    for _ in 0..3 {
        let (status, _) = app.post("/api/v1/auth/login", None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let response = app.http.post(app.url("/api/v1/auth/login")).json(&body).send().await.expect("send");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&retry));
    let problem: serde_json::Value = response.json().await.expect("json");
    assert_eq!(problem["code"], "rate_limited");
}

#[tokio::test]
async fn concurrent_signups_of_one_company_name_get_distinct_slugs() {
    let app = TestApp::spawn().await;
    let company = unique("Twin Co ");
    let body = |i: usize| json!({ "company_name": company, "email": format!("{}-{i}@example.com", unique("twin-")), "password": "a perfectly fine password" });
    let results = futures_util::future::join_all((0..4).map(|i| app.post("/api/v1/auth/signup", None, body(i)))).await;
    let mut slugs: Vec<String> = results
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, StatusCode::CREATED, "{body}");
            body["tenant"]["slug"].as_str().expect("slug").to_owned()
        })
        .collect();
    slugs.sort();
    slugs.dedup();
    assert_eq!(slugs.len(), 4, "{slugs:?}");

    let (status, problem) = app
        .post("/api/v1/auth/signup", None, json!({ "company_name": "A", "email": format!("{}@example.com", unique("r-")), "password": "a perfectly fine password", "slug": "admin" }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
}

/// The console's session: the refresh token only in an `HttpOnly; Secure; SameSite=Strict`
/// cookie on the auth path, rotated with each refresh, cleared at logout.
#[tokio::test]
async fn the_consoles_refresh_token_is_an_http_only_cookie_on_the_auth_path() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let login = json!({ "email": owner.email, "password": owner.password, "token_delivery": "cookie" });
    let response = app.http.post(app.url("/api/v1/auth/login")).json(&login).send().await.expect("login");
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = set_cookie(&response);
    for part in ["kefu_rt=kefu_rt_", "HttpOnly", "SameSite=Strict", "Path=/api/v1/auth", "Secure", "Max-Age="] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    let body: serde_json::Value = response.json().await.expect("json");
    assert!(body["refresh_token"].is_null(), "not in the body: {body}");
    let token = cookie.split(';').next().unwrap_or_default().to_owned();

    // A refresh with the cookie and no body: a new cookie, the token still not in the body.
    let refreshed =
        app.http.post(app.url("/api/v1/auth/refresh")).header("cookie", &token).send().await.expect("refresh");
    assert_eq!(refreshed.status(), StatusCode::OK);
    let next = set_cookie(&refreshed);
    assert!(next.starts_with("kefu_rt=kefu_rt_") && !next.starts_with(&token), "{next}");
    let body: serde_json::Value = refreshed.json().await.expect("json");
    assert!(body["refresh_token"].is_null() && body["access_token"].is_string(), "{body}");
    let access = body["access_token"].as_str().unwrap_or_default().to_owned();
    // No cookie, no body: refused.
    let (status, problem) = app.call("POST", "/api/v1/auth/refresh", None, None).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_refresh_token")));

    // Logout with the cookie clears it and ends the access token at once.
    let next = next.split(';').next().unwrap_or_default().to_owned();
    let out = app.http.post(app.url("/api/v1/auth/logout")).header("cookie", &next).send().await.expect("logout");
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert!(set_cookie(&out).contains("Max-Age=0"));
    let (status, _) = app.get("/api/v1/me", Some(&access)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// A session ends at its absolute lifetime however often it was refreshed: its refresh token
/// and its access tokens are refused.
#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let (status, _) = app.get("/api/v1/me", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK);
    sqlx::query(
        "update control.sessions set expires_at = now() - interval '1 second'
          where id = (select family_id from control.refresh_tokens where token_hash = $1)",
    )
    .bind(kefu_api::domain::secret::digest(&owner.refresh))
    .execute(app.db())
    .await
    .expect("end the session");
    let (status, body) = app.post("/api/v1/auth/refresh", None, json!({ "refresh_token": owner.refresh })).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_refresh_token")));
    let (status, _) = app.get("/api/v1/me", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

fn set_cookie(response: &reqwest::Response) -> String {
    response.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}
