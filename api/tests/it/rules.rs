//! Routing rules (issue 14): rules are validated with the field at fault (a bad pattern, an
//! unknown team or agent), versioned and admin-only; each condition kind (message keyword and
//! pattern, page URL, language, visitor attribute) and each action (tag, team, priority, assign)
//! works on a real conversation; a rule fires once per conversation and leaves a private note.

use kefu_api::testing::{Session, TestApp, WsClient};
use kefu_protocol::VisitorId;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn save(app: &TestApp, session: &Session, rules: Value) -> (StatusCode, Value) {
    let (_, current) = app.get("/api/v1/rules", Some(&session.access)).await;
    let body = json!({ "rules": rules, "version": current["version"] });
    app.call("PUT", "/api/v1/rules", Some(&session.access), Some(body)).await
}

fn rule(id: &str, trigger: &str, conditions: Value, actions: Value) -> Value {
    json!({ "id": id, "name": format!("Rule {id}"), "enabled": true, "trigger": trigger,
            "conditions": conditions, "actions": actions })
}

async fn visitor(app: &TestApp, owner: &Session, language: &str) -> WsClient {
    let token = app.visitor_token(&owner.tenant_id, VisitorId::from_uuid(uuid::Uuid::now_v7()), 600);
    app.visitor_speaking(&token, language).await
}

async fn say(client: &mut WsClient, id: &str, body: &str) -> String {
    client.send(json!({ "type": "send", "client_id": id, "body": body })).await;
    client.take_of("ack").await["conversation_id"].as_str().expect("conversation").to_owned()
}

/// The rule ids fired on the conversation, from its notes, once `count` are there.
async fn fired(app: &TestApp, owner: &Session, conversation: &str, count: usize) -> Vec<Value> {
    let started = std::time::Instant::now();
    loop {
        let (_, page) = app.get(&format!("/api/v1/conversations/{conversation}/messages"), Some(&owner.access)).await;
        let notes: Vec<Value> = page["messages"]
            .as_array()
            .map(|m| m.iter().filter(|m| m["event"]["kind"] == "rule_fired").cloned().collect())
            .unwrap_or_default();
        if notes.len() >= count {
            return notes;
        }
        assert!(started.elapsed().as_secs() < 15, "{count} rule notes expected: {page}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn conversation(app: &TestApp, owner: &Session, id: &str) -> Value {
    app.get(&format!("/api/v1/conversations/{id}"), Some(&owner.access)).await.1
}

#[tokio::test]
async fn rules_are_checked_field_by_field_and_only_admins_change_them() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (status, problem) = save(
        &app,
        &owner,
        json!([
            rule(
                "bad-pattern",
                "visitor_message",
                json!([{ "field": "message", "op": "matches", "value": "(unclosed" }]),
                json!([{ "type": "tag", "tag": "x" }])
            ),
            rule(
                "ghosts",
                "conversation_opened",
                json!([{ "field": "language", "value": "en" }]),
                json!([{ "type": "team", "team_id": "team_0190a5a0c5f97c3a8b8f1c2d3e4f5a6b" },
                       { "type": "assign", "user_id": "usr_0190a5a0c5f97c3a8b8f1c2d3e4f5a6b" },
                       { "type": "priority", "priority": 101 }])
            ),
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let errors: Vec<(String, String)> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| (e["field"].as_str().unwrap_or("").to_owned(), e["code"].as_str().unwrap_or("").to_owned()))
        .collect();
    let expected = [
        ("rules.1.actions.2.priority", "out_of_range"),
        ("rules.0.conditions.0.value", "invalid_pattern"),
        ("rules.1.actions.0.team_id", "unknown"),
        ("rules.1.actions.1.user_id", "unknown"),
    ];
    assert_eq!(errors, expected.map(|(f, c)| (f.to_owned(), c.to_owned())), "{problem}");

    let good = json!([rule(
        "kw",
        "visitor_message",
        json!([{ "field": "message", "op": "contains", "value": "退款" }]),
        json!([{ "type": "tag", "tag": "refund" }])
    )]);
    let (status, saved) = save(&app, &owner, good.clone()).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let stale = json!({ "rules": [], "version": saved["version"].as_i64().unwrap_or(0) - 1 });
    let (status, _) = app.call("PUT", "/api/v1/rules", Some(&owner.access), Some(stale)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let agent = app.invite_and_accept(&owner, "agent").await;
    let (status, read) = app.get("/api/v1/rules", Some(&agent.access)).await;
    assert_eq!((status, read["rules"].clone()), (StatusCode::OK, good));
    let (status, _) = save(&app, &agent, json!([])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn every_condition_and_action_works_once_per_conversation() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (status, team) = app.post("/api/v1/teams", Some(&owner.access), json!({ "name": "VIP 大客户" })).await;
    assert_eq!(status, StatusCode::CREATED, "{team}");
    let team_id = team["id"].as_str().expect("team").to_owned();
    let (status, saved) = save(
        &app,
        &owner,
        json!([
            rule(
                "pricing-page",
                "conversation_opened",
                json!([{ "field": "page_url", "op": "contains", "value": "/pricing" }]),
                json!([{ "type": "team", "team_id": team_id }])
            ),
            rule(
                "chinese",
                "conversation_opened",
                json!([{ "field": "language", "value": "zh" }]),
                json!([{ "type": "tag", "tag": "中文" }])
            ),
            rule(
                "refunds",
                "visitor_message",
                json!([{ "field": "message", "op": "matches", "value": "(?i)退款|\\brefunds?\\b" }]),
                json!([{ "type": "tag", "tag": "Refund" }, { "type": "priority", "priority": 60 }])
            ),
            rule(
                "enterprise",
                "visitor_message",
                json!([{ "field": "attribute", "key": "plan", "op": "equals", "value": "enterprise" }]),
                json!([{ "type": "assign", "user_id": owner.user_id }])
            ),
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");

    // A Chinese visitor on the pricing page: the opening rules put the conversation in the VIP
    // team's queue and tag it; no keyword yet.
    let mut zh = visitor(&app, &owner, "zh-CN").await;
    zh.send(json!({ "type": "page_view", "url": "https://shop.example/pricing?plan=pro", "title": "价格" })).await;
    let first = say(&mut zh, "z1", "你好，想咨询一下").await;
    let notes = fired(&app, &owner, &first, 2).await;
    let ids: Vec<&str> = notes.iter().filter_map(|n| n["event"]["rule_id"].as_str()).collect();
    assert_eq!(ids, ["pricing-page", "chinese"]);
    assert!(notes.iter().all(|n| n["private"] == true), "notes are for agents");
    let now = conversation(&app, &owner, &first).await;
    assert_eq!((now["team_id"].as_str(), now["tags"].clone()), (Some(team_id.as_str()), json!(["中文"])), "{now}");

    // The keyword, by pattern: tagged and raised in the queue; a second time, nothing more.
    say(&mut zh, "z2", "我要退款").await;
    let notes = fired(&app, &owner, &first, 3).await;
    assert_eq!(notes[2]["event"]["rule_id"], "refunds");
    assert_eq!(
        notes[2]["event"]["applied"],
        json!([{ "type": "tag", "tag": "Refund" }, { "type": "priority", "priority": 60 }])
    );
    let (_, queue) = app.get("/api/v1/queue", Some(&owner.access)).await;
    let entry =
        queue["entries"].as_array().and_then(|e| e.iter().find(|e| e["conversation_id"] == first.as_str())).cloned();
    assert!(entry.as_ref().is_some_and(|e| e["priority"].as_i64() >= Some(60)), "{queue}");
    say(&mut zh, "z3", "退款退款").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(fired(&app, &owner, &first, 3).await.len(), 3, "a rule fires once per conversation");
    assert_eq!(conversation(&app, &owner, &first).await["tags"], json!(["中文", "refund"]));

    // An enterprise customer (a form's custom field): assigned to the owner on their message.
    let mut en = visitor(&app, &owner, "en-US").await;
    en.send(json!({ "type": "profile", "fields": { "plan": "Enterprise" } })).await;
    en.take_of("saved").await;
    let second = say(&mut en, "e1", "Hi there").await;
    let notes = fired(&app, &owner, &second, 1).await;
    assert_eq!(notes[0]["event"]["rule_id"], "enterprise");
    assert_eq!(conversation(&app, &owner, &second).await["assignee"], owner.user_id.as_str());
}

#[tokio::test]
async fn with_automatic_assignment_an_opening_rule_decides_the_team_before_the_engine_assigns() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let ann = app.invite_and_accept(&owner, "agent").await;
    let (_, team) = app.post("/api/v1/teams", Some(&owner.access), json!({ "name": "Pricing" })).await;
    let team_id = team["id"].as_str().expect("team").to_owned();
    let path = format!("/api/v1/teams/{team_id}/members");
    let (status, body) = app.call("PUT", &path, Some(&owner.access), Some(json!({ "user_ids": [ann.user_id] }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = save(
        &app,
        &owner,
        json!([rule(
            "pricing-page",
            "conversation_opened",
            json!([{ "field": "page_url", "op": "contains", "value": "/pricing" }]),
            json!([{ "type": "team", "team_id": team_id }])
        )]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body = json!({ "auto_assign": true, "strategy": "least_busy" });
    let (status, saved) = app.call("PUT", "/api/v1/routing", Some(&owner.access), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    // Both online; the owner, outside the team, is as free as Ann.
    let mut owner_ws = app.agent(&owner).await;
    owner_ws.send(json!({ "type": "subscribe_inbox" })).await;
    let _ann_ws = app.agent(&ann).await;
    // The node learns the tenant's rules with its first conversation: warm it up.
    let mut warm = visitor(&app, &owner, "en").await;
    say(&mut warm, "w", "hello").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    for i in 0..5 {
        let mut client = visitor(&app, &owner, "en").await;
        client.send(json!({ "type": "page_view", "url": "https://shop.example/pricing" })).await;
        // Page views are written in batches and announced once written: the rule reads the page
        // from Postgres, so the message waits until the view is there (a real visitor's page
        // view comes long before their first message).
        owner_ws.next_of("page_view").await;
        let id = say(&mut client, &format!("p{i}"), "How much is the pro plan?").await;
        let started = std::time::Instant::now();
        let assignee = loop {
            let now = conversation(&app, &owner, &id).await;
            if let Some(assignee) = now["assignee"].as_str() {
                break (assignee.to_owned(), now["team_id"].clone());
            }
            assert!(started.elapsed().as_secs() < 15, "not assigned: {now}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        assert_eq!(assignee, (ann.user_id.clone(), json!(team_id)), "conversation {i} went to the team's agent");
    }
}
