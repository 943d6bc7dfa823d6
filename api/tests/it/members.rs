//! Invitations, member management, API keys and role enforcement.

use kefu_api::testing::{TestApp, unique};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn invite_accept_list_change_role_and_remove() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let agent = app.invite_and_accept(&owner, "agent").await;
    assert_eq!(agent.tenant_id, owner.tenant_id);

    let (status, members) = app.get("/api/v1/members", Some(&agent.access)).await;
    assert_eq!(status, StatusCode::OK);
    let members = members.as_array().cloned().unwrap_or_default();
    assert_eq!(members.len(), 2);
    assert_eq!(members[0]["role"], "owner");
    assert_eq!(members[1]["display_name"], "Agent Li");
    assert_eq!(members[1]["email_verified"], serde_json::Value::Null, "no private fields leak into the list");

    // The invitation is used up.
    let (status, pending) = app.get("/api/v1/invitations", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pending.as_array().map(Vec::len), Some(0));

    // Promote, then remove: the removed member's token and refresh token stop working at once.
    let path = format!("/api/v1/members/{}", agent.user_id);
    let (status, body) = app.call("PATCH", &path, Some(&owner.access), Some(json!({ "role": "supervisor" }))).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, me) = app.get("/api/v1/me", Some(&agent.access)).await;
    assert_eq!(me["role"], "supervisor", "role changes apply to existing tokens");
    let (status, _) = app.call("DELETE", &path, Some(&owner.access), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.get("/api/v1/me", Some(&agent.access)).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
    let (status, _) = app.post("/api/v1/auth/refresh", None, json!({ "refresh_token": agent.refresh })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.call("DELETE", &path, Some(&owner.access), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The audit log recorded it all, in the tenant's own schema.
    let (status, log) = app.get("/api/v1/audit-log", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> =
        log["entries"].as_array().into_iter().flatten().filter_map(|e| e["action"].as_str()).collect();
    for expected in ["member.removed", "member.role_changed", "member.joined", "member.invited", "tenant.created"] {
        assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
    }
}

#[tokio::test]
async fn roles_are_enforced_on_every_admin_endpoint() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let agent = app.invite_and_accept(&owner, "agent").await;
    let supervisor = app.invite_and_accept(&owner, "supervisor").await;
    let admin = app.invite_and_accept(&owner, "admin").await;

    let owner_path = format!("/api/v1/members/{}", owner.user_id);
    let agent_path = format!("/api/v1/members/{}", agent.user_id);
    let admin_only: Vec<(&str, String, Option<serde_json::Value>)> = vec![
        ("POST", "/api/v1/invitations".into(), Some(json!({ "email": "x-new@example.com" }))),
        ("GET", "/api/v1/invitations".into(), None),
        ("POST", "/api/v1/api-keys".into(), Some(json!({ "name": "ci" }))),
        ("GET", "/api/v1/api-keys".into(), None),
        ("GET", "/api/v1/audit-log".into(), None),
        ("PATCH", agent_path.clone(), Some(json!({ "role": "agent" }))),
        ("DELETE", agent_path.clone(), None),
    ];
    for who in [&agent, &supervisor] {
        for (method, path, body) in &admin_only {
            let (status, problem) = app.call(method, path, Some(&who.access), body.clone()).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {problem}");
            assert_eq!(problem["code"], "forbidden");
        }
    }
    // Unauthenticated: 401 everywhere.
    for (method, path, body) in &admin_only {
        let (status, problem) = app.call(method, path, None, body.clone()).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthenticated")),
            "{method} {path}"
        );
    }
    // The owner is protected even from admins; nobody becomes owner by a role change.
    let (status, problem) = app.call("DELETE", &owner_path, Some(&admin.access), None).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("owner_protected")));
    let (status, problem) = app.call("PATCH", &owner_path, Some(&admin.access), Some(json!({ "role": "agent" }))).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("owner_protected")));
    let (status, problem) = app.call("PATCH", &agent_path, Some(&admin.access), Some(json!({ "role": "owner" }))).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("owner_protected")));
    let (status, problem) = app
        .post("/api/v1/invitations", Some(&admin.access), json!({ "email": "o@example.com", "role": "owner" }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    // An admin can manage agents.
    let (status, _) = app.call("PATCH", &agent_path, Some(&admin.access), Some(json!({ "role": "supervisor" }))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn invitation_rules_unverified_duplicate_member_seats_revoke() {
    let app = TestApp::spawn().await;
    let unverified = app.signup().await;
    let (status, body) =
        app.post("/api/v1/invitations", Some(&unverified.access), json!({ "email": "a1@example.com" })).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("email_not_verified")));

    let owner = app.verified_owner().await;
    let email = format!("{}@example.com", unique("inv-"));
    let (status, invitation) = app.post("/api/v1/invitations", Some(&owner.access), json!({ "email": email })).await;
    assert_eq!(status, StatusCode::CREATED, "{invitation}");
    assert_eq!(invitation["role"], "agent");
    let (status, body) =
        app.post("/api/v1/invitations", Some(&owner.access), json!({ "email": email.to_uppercase() })).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("invitation_exists")));
    let (status, body) = app.post("/api/v1/invitations", Some(&owner.access), json!({ "email": owner.email })).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("already_member")));

    // Revoking kills the link.
    let token = app.mailed_token(&email, "/accept-invite?token=").await;
    let (status, lookup) = app.get(&format!("/api/v1/invitations/lookup?token={token}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(lookup["account_exists"], false);
    let id = invitation["id"].as_str().expect("id");
    let (status, _) = app.call("DELETE", &format!("/api/v1/invitations/{id}"), Some(&owner.access), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) =
        app.post("/api/v1/invitations/accept", None, json!({ "token": token, "password": "good password here" })).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_one_time_token")));

    // A plan of 5 seats: owner + 4 invitations fill it.
    app.own_plan(&owner, "seats = 5").await;
    for _ in 0..4 {
        let (status, body) = app
            .post(
                "/api/v1/invitations",
                Some(&owner.access),
                json!({ "email": format!("{}@example.com", unique("seat-")) }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = app
        .post(
            "/api/v1/invitations",
            Some(&owner.access),
            json!({ "email": format!("{}@example.com", unique("seat-")) }),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("seat_limit_reached")));
}

#[tokio::test]
async fn api_keys_are_shown_once_hashed_at_rest_scoped_and_revocable() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (status, created) =
        app.post("/api/v1/api-keys", Some(&owner.access), json!({ "name": "CRM sync", "role": "admin" })).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("kefu_sk_"));
    assert!(secret.starts_with(created["prefix"].as_str().expect("prefix")));

    let stored: Vec<u8> = sqlx::query_scalar("select key_hash from control.api_keys where id = $1::uuid")
        .bind(created["id"].as_str().expect("id").trim_start_matches("key_"))
        .fetch_one(app.db())
        .await
        .expect("row");
    assert_ne!(stored, secret.as_bytes(), "the secret is not stored");
    assert_eq!(stored.len(), 32);

    let (status, list) = app.get("/api/v1/api-keys", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert!(list[0].get("secret").is_none());

    // The key authenticates as an admin of this tenant.
    let (status, me) = app.get("/api/v1/me", Some(&secret)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["tenant"]["id"], owner.tenant_id.as_str());
    let (status, _) = app.get("/api/v1/members", Some(&secret)).await;
    assert_eq!(status, StatusCode::OK);

    // An agent-scoped key cannot do admin things.
    let (_, agent_key) = app.post("/api/v1/api-keys", Some(&owner.access), json!({ "name": "bot" })).await;
    let agent_secret = agent_key["secret"].as_str().expect("secret");
    let (status, _) = app.get("/api/v1/api-keys", Some(agent_secret)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Revoked keys fail at once.
    let id = created["id"].as_str().expect("id");
    let (status, _) = app.call("DELETE", &format!("/api/v1/api-keys/{id}"), Some(&owner.access), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.get("/api/v1/me", Some(&secret)).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
    let (status, _) = app.call("DELETE", &format!("/api/v1/api-keys/{id}"), Some(&owner.access), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // An admin cannot mint an owner key.
    let (status, _) = app.post("/api/v1/api-keys", Some(&owner.access), json!({ "name": "x", "role": "owner" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}
