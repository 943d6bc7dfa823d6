//! Issue 17: a tenant's developer drives a conversation entirely over REST with a scoped key
//! (the socket's guarantees: ack after commit, idempotent retries, the same live fan-out), and
//! keys are scoped, owned, expiring and created only by verified members.

use kefu_api::testing::{Session, TestApp, WsClient};
use kefu_protocol::VisitorId;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn new_visitor() -> VisitorId {
    VisitorId::from_uuid(uuid::Uuid::now_v7())
}

/// Creates a key as `who` and returns (its view, its secret).
async fn key(app: &TestApp, who: &Session, request: Value) -> (Value, String) {
    let (status, created) = app.post("/api/v1/api-keys", Some(&who.access), request).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap_or_default().to_owned();
    (created, secret)
}

/// `POST …/messages` with an optional `Idempotency-Key`: status, `Idempotent-Replayed`, body.
async fn send(app: &TestApp, token: &str, conversation: &str, body: Value, key: Option<&str>) -> (u16, bool, Value) {
    let mut request = app
        .http
        .post(app.url(&format!("/api/v1/conversations/{conversation}/messages")))
        .bearer_auth(token)
        .json(&body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    let replayed = response.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
    (status, replayed, response.json().await.unwrap_or(Value::Null))
}

/// The visitor's next `message` frame.
async fn next_message(visitor: &mut WsClient) -> Value {
    visitor.next_of("message").await
}

#[tokio::test]
async fn a_scoped_member_key_drives_a_conversation_over_rest_with_the_sockets_guarantees() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let scopes = json!(["conversations:read", "conversations:write", "messages:write"]);
    let (view, secret) = key(&app, &owner, json!({ "name": "CRM", "role": "agent", "scopes": scopes })).await;
    assert_eq!((view["owner"].as_str(), view["scopes"].clone()), (Some("member"), scopes));

    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    visitor.send(json!({ "type": "send", "client_id": "v-1", "body": "你好，我的订单没到" })).await;
    let conversation = visitor.next_of("ack").await["conversation_id"].as_str().unwrap_or_default().to_owned();
    // A colleague's console follows the conversation live.
    let mut console = app.agent(&owner).await;
    console.send(json!({ "type": "join", "conversation_id": conversation })).await;
    assert_eq!(console.next_of("message").await["seq"], 1);

    // Claim, as the key's member.
    let (status, claimed) =
        app.post(&format!("/api/v1/conversations/{conversation}/claim"), Some(&secret), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    assert_eq!(claimed["assignee"], owner.user_id.as_str());
    assert_eq!(console.next_of("conversation_updated").await["assignee"], owner.user_id.as_str());

    // A reply, acknowledged after commit with its sequence number; the retry is stored once.
    let reply = json!({ "body": "您好，我来查一下" });
    let (status, replayed, sent) = send(&app, &secret, &conversation, reply.clone(), Some("crm-4711")).await;
    assert_eq!(
        (status, replayed, sent["seq"].as_i64(), sent["replayed"].as_bool()),
        (201, false, Some(2), Some(false))
    );
    let (status, replayed, again) = send(&app, &secret, &conversation, reply, Some("crm-4711")).await;
    assert_eq!((status, replayed, again["replayed"].as_bool()), (200, true, Some(true)), "{again}");
    assert_eq!(again["message_id"], sent["message_id"]);
    let delivered = next_message(&mut visitor).await;
    assert_eq!((delivered["seq"].as_i64(), delivered["body"].as_str()), (Some(2), Some("您好，我来查一下")));
    assert_eq!(delivered["sender"]["id"], owner.user_id.as_str(), "the key writes as its member");
    assert_eq!(console.next_of("message").await["seq"], 2);

    // A note reaches the team, not the visitor: the visitor's next message is the next reply.
    let (status, _, note) = send(&app, &secret, &conversation, json!({ "body": "VIP", "private": true }), None).await;
    assert_eq!((status, note["seq"].as_i64()), (201, Some(3)));
    assert_eq!(console.next_of("message").await["private"], true);
    let (status, _, _) = send(&app, &secret, &conversation, json!({ "body": "已发货" }), None).await;
    assert_eq!(status, 201);
    assert_eq!(next_message(&mut visitor).await["seq"], 4);

    // Read receipts and closing, announced like the socket's.
    let (status, read) =
        app.post(&format!("/api/v1/conversations/{conversation}/read"), Some(&secret), json!({ "seq": 99 })).await;
    assert_eq!((status, read["seq"].as_i64()), (StatusCode::OK, Some(4)), "never past the last message");
    let (status, closed) =
        app.post(&format!("/api/v1/conversations/{conversation}/close"), Some(&secret), json!({})).await;
    assert_eq!((status, closed["status"].as_str()), (StatusCode::OK, Some("closed")), "{closed}");
    assert_eq!(console.next_of("conversation_updated").await["status"], "closed");
    let (status, _, refused) = send(&app, &secret, &conversation, json!({ "body": "还在吗" }), None).await;
    assert_eq!((status, refused["code"].as_str()), (409, Some("conversation_closed")));
    // Reopen and tag over REST too.
    let (status, reopened) =
        app.post(&format!("/api/v1/conversations/{conversation}/reopen"), Some(&secret), json!({})).await;
    assert_eq!((status, reopened["status"].as_str()), (StatusCode::OK, Some("open")), "{reopened}");
    let tags = json!({ "tags": ["物流"] });
    let (status, _) =
        app.call("PUT", &format!("/api/v1/conversations/{conversation}/tags"), Some(&secret), Some(tags)).await;
    assert_eq!(status, StatusCode::OK);

    // Bad input: a clear problem, nothing stored.
    for (body, key, field) in [
        (json!({ "body": "" }), None, "body"),
        (json!({ "body": "x".repeat(4001) }), None, "body"),
        (json!({ "body": "hi" }), Some("has space"), "Idempotency-Key"),
        (
            json!({ "body": "hi", "private": true, "attachment_id": "att_0190c8e5b7a87c3e9f000000000000ab" }),
            None,
            "attachment_id",
        ),
    ] {
        let (status, _, problem) = send(&app, &secret, &conversation, body, key).await;
        assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some(field)), "{problem}");
    }
    let (status, _, problem) =
        send(&app, &secret, "conv_0190c8e5b7a87c3e9f000000000000ab", json!({ "body": "hi" }), None).await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("resource_not_found")));
}

#[tokio::test]
async fn a_key_touches_only_what_its_scopes_name() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (_, reader) =
        key(&app, &owner, json!({ "name": "BI", "role": "admin", "scopes": ["conversations:read"] })).await;
    let (status, _) = app.get("/api/v1/conversations", Some(&reader)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, me) = app.get("/api/v1/me", Some(&reader)).await;
    assert_eq!(status, StatusCode::OK, "any key may ask who it is: {me}");
    let denied: Vec<(&str, &str, Option<Value>)> = vec![
        ("POST", "/api/v1/conversations/conv_0190c8e5b7a87c3e9f000000000000ab/messages", Some(json!({ "body": "hi" }))),
        ("POST", "/api/v1/conversations/conv_0190c8e5b7a87c3e9f000000000000ab/close", Some(json!({}))),
        ("GET", "/api/v1/analytics", None),
        ("GET", "/api/v1/compliance/feed", None),
        ("GET", "/api/v1/widget", None),
        ("GET", "/api/v1/api-keys", None),
    ];
    for (method, path, body) in &denied {
        let (status, problem) = app.call(method, path, Some(&reader), body.clone()).await;
        assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{method} {path}");
        assert!(problem["detail"].as_str().unwrap_or_default().contains("scope"), "{problem}");
    }
    let (_, analyst) =
        key(&app, &owner, json!({ "name": "BI 2", "role": "supervisor", "scopes": ["analytics:read"] })).await;
    let (status, _) = app.get("/api/v1/analytics", Some(&analyst)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get("/api/v1/conversations", Some(&analyst)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Unknown or no scopes are refused when the key is made.
    for scopes in [json!([]), json!(["conversations:delete"])] {
        let (status, problem) =
            app.post("/api/v1/api-keys", Some(&owner.access), json!({ "name": "x", "scopes": scopes })).await;
        assert_eq!(status.as_u16(), 422, "{problem}");
    }
}

#[tokio::test]
async fn keys_end_with_their_member_expire_and_are_made_only_by_verified_members() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let admin = app.invite_and_accept(&owner, "admin").await;
    let (_, mine) = key(&app, &admin, json!({ "name": "mine", "role": "admin" })).await;
    let (shared_view, shared) =
        key(&app, &admin, json!({ "name": "shared", "role": "admin", "owner": "tenant" })).await;
    assert_eq!(shared_view["owner"], "tenant");

    // A member's key never acts above its member: demoted to agent, the admin key is an agent's.
    let member = format!("/api/v1/members/{}", admin.user_id);
    let (status, _) = app.call("PATCH", &member, Some(&owner.access), Some(json!({ "role": "agent" }))).await;
    assert!(status.is_success(), "{status}");
    let (status, me) = app.get("/api/v1/me", Some(&mine)).await;
    assert_eq!((status, me["role"].as_str()), (StatusCode::OK, Some("agent")), "{me}");
    let (status, _) = app.get("/api/v1/widget", Some(&mine)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, me) = app.get("/api/v1/me", Some(&shared)).await;
    assert_eq!(me["role"], "admin", "{status}: a workspace key keeps its own role");

    // Removed: their key ends at once and is listed no more; the workspace's key stays.
    let (status, _) = app.call("DELETE", &member, Some(&owner.access), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, problem) = app.get("/api/v1/me", Some(&mine)).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
    let (status, _) = app.get("/api/v1/me", Some(&shared)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, listed) = app.get("/api/v1/api-keys", Some(&owner.access)).await;
    let names: Vec<&str> = listed.as_array().into_iter().flatten().filter_map(|k| k["name"].as_str()).collect();
    assert_eq!(names, vec!["shared"]);
    // A workspace key acts as nobody: it cannot write as a person.
    let (status, _, problem) =
        send(&app, &shared, "conv_0190c8e5b7a87c3e9f000000000000ab", json!({ "body": "hi" }), None).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("forbidden")), "{problem}");

    // Expiry: in the future when made, refused once passed.
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    let (status, _) =
        app.post("/api/v1/api-keys", Some(&owner.access), json!({ "name": "old", "expires_at": past })).await;
    assert_eq!(status.as_u16(), 422);
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let (view, brief) = key(&app, &owner, json!({ "name": "brief", "expires_at": soon })).await;
    assert!(view["expires_at"].is_string());
    let (status, _) = app.get("/api/v1/me", Some(&brief)).await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (status, _) = app.get("/api/v1/me", Some(&brief)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Only a verified member makes keys: not an unverified signup, not another key.
    let unverified = app.signup().await;
    let (status, problem) = app.post("/api/v1/api-keys", Some(&unverified.access), json!({ "name": "x" })).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("email_not_verified")));
    let (status, _) = app.post("/api/v1/api-keys", Some(&shared), json!({ "name": "x" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
