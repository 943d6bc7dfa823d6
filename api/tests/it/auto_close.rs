//! Closing idle conversations (issue 14): with auto-close on, a conversation whose visitor stopped
//! answering the agent is closed after the tenant's minutes with the closing message in the
//! visitor's language (an ordinary close, which the widget follows with its rating card); one
//! waiting for the team stays open; turning it off takes the tenant off the sweep. Idleness is
//! made by moving the conversations' last activity back in Postgres, not by waiting minutes.

use std::time::Duration;

use kefu_api::testing::{Session, TestApp, WsClient};
use kefu_protocol::VisitorId;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn set_auto_close(app: &TestApp, owner: &Session, auto_close: Value) {
    let (_, current) = app.get("/api/v1/service-hours", Some(&owner.access)).await;
    let body = json!({ "service_hours": { "auto_close": auto_close }, "version": current["version"] });
    let (status, saved) = app.call("PUT", "/api/v1/service-hours", Some(&owner.access), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
}

async fn visitor(app: &TestApp, owner: &Session, language: &str) -> WsClient {
    let token = app.visitor_token(&owner.tenant_id, VisitorId::from_uuid(uuid::Uuid::now_v7()), 600);
    app.visitor_speaking(&token, language).await
}

async fn open_conversation(client: &mut WsClient, body: &str) -> String {
    client.send(json!({ "type": "send", "client_id": "v1", "body": body })).await;
    client.take_of("ack").await["conversation_id"].as_str().expect("conversation").to_owned()
}

async fn status_of(app: &TestApp, owner: &Session, conversation: &str) -> Value {
    let (status, body) = app.get(&format!("/api/v1/conversations/{conversation}"), Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["status"].clone()
}

#[tokio::test]
async fn idle_conversations_close_with_a_message_and_waiting_ones_do_not() {
    let app = TestApp::spawn_with(|c| c.realtime.auto_close_round_secs = 1).await;
    let owner = app.verified_owner().await;
    let mut agent = app.agent(&owner).await;

    // Answered by the agent, then silence from the visitor: closes.
    let mut quiet = visitor(&app, &owner, "zh-CN").await;
    let answered = open_conversation(&mut quiet, "请问可以开发票吗？").await;
    agent.send(json!({ "type": "claim", "conversation_id": answered })).await;
    agent.send(json!({ "type": "join", "conversation_id": answered })).await;
    agent.take_of("joined").await;
    agent.send(json!({ "type": "send", "conversation_id": answered, "client_id": "a1", "body": "可以的。" })).await;
    agent.take_of("ack").await;
    // Claimed, but the visitor's message is the last: the team owes an answer, it stays open.
    let mut owed = visitor(&app, &owner, "en").await;
    let unanswered = open_conversation(&mut owed, "Hello?").await;
    agent.send(json!({ "type": "claim", "conversation_id": unanswered })).await;
    // In the queue: stays open.
    let mut queued = visitor(&app, &owner, "en").await;
    let waiting = open_conversation(&mut queued, "Anyone?").await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    set_auto_close(
        &app,
        &owner,
        json!({ "enabled": true, "after_minutes": 30, "texts": {
        "en": "Closing this chat, write again any time.", "zh-CN": "本次对话已结束，欢迎随时再来。" } }),
    )
    .await;
    // Nothing is idle yet: a few sweeps later all three are open.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for id in [&answered, &unanswered, &waiting] {
        assert_eq!(status_of(&app, &owner, id).await, "open");
    }

    // Thirty-one minutes pass for all three.
    let schema = app.tenant_schema(&owner.tenant_id).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "update {}.conversations set updated_at = now() - interval '31 minutes'",
        schema.name()
    )))
    .execute(app.db())
    .await
    .expect("backdate");
    // The next sweep of the tenant comes within its minute.
    sqlx::query("update control.auto_close_sweeps set next_sweep_at = now()").execute(app.db()).await.expect("due");

    // Whichever test node sweeps the tenant closes it (they share the database, not a bus, so the
    // close is checked where it is stored; a close reaching the widget is tested with closes).
    let started = std::time::Instant::now();
    while status_of(&app, &owner, &answered).await != "closed" {
        assert!(started.elapsed() < Duration::from_secs(30), "not closed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, page) = app.get(&format!("/api/v1/conversations/{answered}/messages"), Some(&owner.access)).await;
    let last = page["messages"].as_array().and_then(|m| m.iter().rev().find(|m| m["private"] == false)).cloned();
    let last = last.expect("messages");
    assert_eq!(
        (last["sender"]["kind"].as_str(), last["body"].as_str()),
        (Some("auto"), Some("本次对话已结束，欢迎随时再来。"))
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(status_of(&app, &owner, &unanswered).await, "open", "the team owes an answer");
    assert_eq!(status_of(&app, &owner, &waiting).await, "open", "waiting in the queue");

    // Off: the tenant leaves the sweep.
    set_auto_close(&app, &owner, json!({ "enabled": false, "after_minutes": 30, "texts": {} })).await;
    let tenant: kefu_protocol::TenantId = owner.tenant_id.parse().expect("tenant id");
    let listed: i64 = sqlx::query_scalar("select count(*) from control.auto_close_sweeps where tenant_id = $1")
        .bind(tenant)
        .fetch_one(app.db())
        .await
        .expect("count");
    assert_eq!(listed, 0);
}
