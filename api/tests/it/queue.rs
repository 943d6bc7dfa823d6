//! The live priority queue (issue 14): VIP levels and tag priorities order it, a supervisor
//! reorders it by hand, and each waiting visitor is pushed their place as it moves, whichever of
//! two nodes the change happened on. `GET /api/v1/queue` shows the same order with estimates.

use kefu_api::testing::{Session, TestApp, WsClient};
use kefu_protocol::VisitorId;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A visitor on `app` who opens a conversation; returns the socket and the conversation id.
async fn waiting_visitor(app: &TestApp, token: &str, body: &str) -> (WsClient, String) {
    let (mut visitor, _) = app.visitor_with_token(token, None).await;
    visitor.send(json!({ "type": "send", "client_id": "first", "body": body })).await;
    let ack = visitor.next_of("ack").await;
    (visitor, ack["conversation_id"].as_str().expect("conversation").to_owned())
}

async fn anonymous(app: &TestApp, tenant: &str, body: &str) -> (WsClient, String) {
    let token = app.visitor_token(tenant, VisitorId::from_uuid(uuid::Uuid::now_v7()), 600);
    waiting_visitor(app, &token, body).await
}

async fn at_position(visitor: &mut WsClient, what: &str, position: u64) -> Value {
    visitor.status_where(what, |s| s["queue"]["position"] == position).await
}

async fn queue(app: &TestApp, session: &Session) -> Value {
    let (status, queue) = app.get("/api/v1/queue", Some(&session.access)).await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    queue
}

fn order(queue: &Value) -> Vec<String> {
    queue["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["conversation_id"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn priority_path(conversation: &str) -> String {
    format!("/api/v1/conversations/{conversation}/priority")
}

#[tokio::test]
async fn the_queue_is_served_by_priority_and_each_visitor_is_pushed_their_place() {
    let (a, b) = TestApp::spawn_pair().await;
    let owner = a.verified_owner().await;
    let tenant = owner.tenant_id.clone();
    let agent = a.invite_and_accept(&owner, "agent").await;

    // Three visitors on node B wait in the order they wrote.
    let (mut first, c1) = anonymous(&b, &tenant, "第一个").await;
    at_position(&mut first, "first in line", 1).await;
    let (mut second, c2) = anonymous(&b, &tenant, "second").await;
    at_position(&mut second, "second in line", 2).await;
    let (mut third, c3) = anonymous(&b, &tenant, "third").await;
    at_position(&mut third, "third in line", 3).await;

    // A VIP customer (level 3, signed by the tenant's backend) goes ahead of them: everyone
    // behind is told they moved back, without asking.
    let vip_token =
        b.identified_visitor_token(&tenant, VisitorId::from_uuid(uuid::Uuid::now_v7()), 600, Some("cust-9"), Some(3));
    let (mut vip, c4) = waiting_visitor(&b, &vip_token, "VIP here").await;
    at_position(&mut vip, "the VIP is next", 1).await;
    at_position(&mut first, "first moved back", 2).await;
    at_position(&mut third, "third moved back", 4).await;
    let seen = queue(&a, &agent).await;
    assert_eq!(order(&seen), vec![c4.clone(), c1.clone(), c2.clone(), c3.clone()], "{seen}");
    assert_eq!(seen["entries"][0]["priority"], 30, "VIP level 3 waits at 30");
    assert_eq!(seen["entries"][0]["set_priority"], 0);
    assert_eq!(seen["waiting"], 4);

    // Only supervisors reorder; the priority is 0–100; a closed conversation has none.
    let (status, body) = a.call("PUT", &priority_path(&c3), Some(&agent.access), Some(json!({ "priority": 90 }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) =
        a.call("PUT", &priority_path(&c3), Some(&owner.access), Some(json!({ "priority": 101 }))).await;
    assert_eq!(
        (status, body["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("priority")),
        "{body}"
    );
    let (status, _) = a
        .call(
            "PUT",
            &priority_path("conv_00000000000000000000000000000000"),
            Some(&owner.access),
            Some(json!({ "priority": 1 })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A supervisor on node A moves the third to the front: node B's visitors hear of it.
    let (status, body) = a.call("PUT", &priority_path(&c3), Some(&owner.access), Some(json!({ "priority": 90 }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    at_position(&mut third, "third moved to the front", 1).await;
    at_position(&mut vip, "the VIP is second now", 2).await;

    // A tag with a priority (routing settings) lifts the second above the VIP.
    let (status, body) = a
        .call(
            "PUT",
            "/api/v1/routing",
            Some(&owner.access),
            Some(json!({ "auto_assign": false, "strategy": "least_busy", "tag_priorities": { "Urgent": 40 } })),
        )
        .await;
    assert_eq!((status, &body["tag_priorities"]), (StatusCode::OK, &json!({ "urgent": 40 })), "{body}");
    let (status, body) = a
        .call(
            "PUT",
            &format!("/api/v1/conversations/{c2}/tags"),
            Some(&agent.access),
            Some(json!({ "tags": ["urgent"] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    at_position(&mut second, "the urgent one moved up", 2).await;
    at_position(&mut vip, "behind the urgent one", 3).await;
    assert_eq!(order(&queue(&a, &agent).await), vec![c3.clone(), c2.clone(), c4.clone(), c1.clone()]);

    // An agent on node A takes the front conversation: everyone moves up; the taken visitor has
    // no place any more.
    let mut agent_ws = a.agent(&agent).await;
    agent_ws.send(json!({ "type": "claim", "conversation_id": c3 })).await;
    third.status_where("no longer queued", |s| s.get("queue").is_none()).await;
    at_position(&mut second, "next after the claim", 1).await;
    at_position(&mut first, "last, moved up", 3).await;

    // A closed conversation cannot be prioritised.
    agent_ws.send(json!({ "type": "close", "conversation_id": c3 })).await;
    while third.next_of("conversation_updated").await["status"] != "closed" {}
    let (status, body) = a.call("PUT", &priority_path(&c3), Some(&owner.access), Some(json!({ "priority": 5 }))).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("conversation_closed")), "{body}");
}

#[tokio::test]
async fn the_wait_estimate_follows_handle_times_and_free_capacity() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let tenant = owner.tenant_id.clone();
    let path = format!("/api/v1/members/{}/profile", owner.user_id);
    let (status, body) =
        app.call("PATCH", &path, Some(&owner.access), Some(json!({ "max_concurrent_chats": 2 }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // History: conversations handled in 10 minutes each, taken 30 s after they opened.
    let schema = app.tenant_schema(&tenant).await;
    let visitor = uuid::Uuid::now_v7();
    for statement in [
        format!("insert into {}.visitors (id) values ($1)", schema.name()),
        format!(
            "insert into {s}.conversations (id, visitor_id, status, created_at, assigned_at, closed_at)
             select gen_random_uuid(), $1, 'closed', now() - interval '1 hour' - make_interval(secs => 30),
                    now() - interval '1 hour', now() - interval '50 minutes' from generate_series(1, 6)",
            s = schema.name()
        ),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement)).bind(visitor).execute(app.db()).await.expect("history");
    }

    // Nobody online: positions, no estimate.
    let (_v1, c1) = anonymous(&app, &tenant, "one").await;
    let (_v2, c2) = anonymous(&app, &tenant, "two").await;
    let (_v3, _c3) = anonymous(&app, &tenant, "three").await;
    let seen = queue(&app, &owner).await;
    assert!(seen["entries"][0]["estimated_wait_secs"].is_null(), "{seen}");
    assert_eq!(seen["availability"], "offline");

    // Online with two slots, one in use: the next one is taken at the usual pickup time (30 s);
    // the one after waits for a conversation to finish: 600 s over 2 slots.
    let mut ws = app.agent(&owner).await;
    ws.send(json!({ "type": "subscribe_inbox" })).await;
    ws.send(json!({ "type": "claim", "conversation_id": c1 })).await;
    while ws.next_of("conversation_updated").await["assignee"].is_null() {}
    let seen = queue(&app, &owner).await;
    assert_eq!(order(&seen)[0], c2);
    assert_eq!(seen["availability"], "online");
    let estimates: Vec<Value> =
        seen["entries"].as_array().expect("entries").iter().map(|e| e["estimated_wait_secs"].clone()).collect();
    assert_eq!(estimates, vec![json!(30), json!(300)], "{seen}");
}
