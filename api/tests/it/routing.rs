//! Automatic assignment (issue 14): two api nodes on one Postgres and one Redis, agents of
//! different capacities, teams and presences; conversations opened on one node are assigned to
//! agents connected to the other, never beyond capacity, never twice, in queue order, and
//! nothing stays waiting while someone is free.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kefu_api::testing::{Session, TestApp, WsClient};
use kefu_protocol::VisitorId;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn set_capacity(app: &TestApp, owner: &Session, member: &Session, capacity: i32) {
    let path = format!("/api/v1/members/{}/profile", member.user_id);
    let (status, body) =
        app.call("PATCH", &path, Some(&owner.access), Some(json!({ "max_concurrent_chats": capacity }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn routing(app: &TestApp, owner: &Session, body: Value) -> Value {
    let (status, saved) = app.call("PUT", "/api/v1/routing", Some(&owner.access), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    saved
}

/// A visitor on `app` who opens a conversation; returns its id.
async fn open_conversation(app: &TestApp, tenant: &str) -> (WsClient, String) {
    let (mut visitor, _) = app.visitor(tenant, VisitorId::from_uuid(uuid::Uuid::now_v7()), None).await;
    visitor.send(json!({ "type": "send", "client_id": "first", "body": "你好，我想咨询一下" })).await;
    let ack = visitor.next_of("ack").await;
    (visitor, ack["conversation_id"].as_str().expect("conversation").to_owned())
}

/// Each open conversation's assignee (`None` while waiting), read from Postgres.
async fn assignees(app: &TestApp, tenant: &str) -> HashMap<String, Option<String>> {
    let schema = app.tenant_schema(tenant).await;
    let rows: Vec<(uuid::Uuid, Option<uuid::Uuid>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select id, assignee from {}.conversations where status = 'open'",
        schema.name()
    )))
    .fetch_all(app.db())
    .await
    .expect("assignees");
    rows.into_iter()
        .map(|(id, assignee)| {
            (format!("conv_{}", id.simple()), assignee.map(|a| kefu_protocol::UserId::from_uuid(a).to_string()))
        })
        .collect()
}

/// Waits until `done` holds for the tenant's assignees (at most 20 s), returning them.
async fn until(
    app: &TestApp,
    tenant: &str,
    what: &str,
    done: impl Fn(&HashMap<String, Option<String>>) -> bool,
) -> HashMap<String, Option<String>> {
    let started = Instant::now();
    loop {
        let now = assignees(app, tenant).await;
        if done(&now) {
            return now;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{what}: {now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn load(assigned: &HashMap<String, Option<String>>, agent: &Session) -> usize {
    assigned.values().filter(|a| a.as_deref() == Some(agent.user_id.as_str())).count()
}

fn waiting(assigned: &HashMap<String, Option<String>>) -> usize {
    assigned.values().filter(|a| a.is_none()).count()
}

#[tokio::test]
async fn conversations_are_assigned_across_nodes_within_capacity_in_queue_order() {
    let (a, b) = TestApp::spawn_pair().await;
    let owner = a.verified_owner().await;
    let tenant = owner.tenant_id.clone();
    let ann = a.invite_and_accept(&owner, "agent").await;
    let bob = a.invite_and_accept(&owner, "agent").await;
    set_capacity(&a, &owner, &ann, 1).await;
    set_capacity(&a, &owner, &bob, 2).await;

    // Off by default: nothing is assigned, however many agents are free.
    let (_, settings) = a.get("/api/v1/routing", Some(&ann.access)).await;
    assert_eq!(
        settings,
        json!({ "auto_assign": false, "strategy": "least_busy", "default_team_id": null, "tag_priorities": {} })
    );
    let mut ann_ws = b.agent(&ann).await;
    ann_ws.send(json!({ "type": "subscribe_inbox" })).await;
    let mut bob_ws = b.agent(&bob).await;
    let mut visitors = Vec::new();
    let (visitor, first) = open_conversation(&a, &tenant).await;
    visitors.push(visitor);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(assignees(&a, &tenant).await.get(&first), Some(&None), "auto-assign is off");

    // On: what waits is assigned at once; conversations opened on node A go to agents on B.
    routing(&a, &owner, json!({ "auto_assign": true, "strategy": "least_busy" })).await;
    for _ in 0..4 {
        let (visitor, _) = open_conversation(&a, &tenant).await;
        visitors.push(visitor);
    }
    let assigned = until(&a, &tenant, "three seats filled", |now| now.len() == 5 && waiting(now) == 2).await;
    assert_eq!((load(&assigned, &ann), load(&assigned, &bob)), (1, 2), "never beyond capacity");
    assert!(assigned[&first].is_some(), "the oldest conversation went first");
    // Ann's console hears of it live, from the other node.
    let update = loop {
        let update = ann_ws.next_of("conversation_updated").await;
        if update["assignee"].is_string() && update["assignee"] == ann.user_id.as_str() {
            break update;
        }
    };
    let ann_conversation = update["conversation_id"].as_str().expect("id").to_owned();

    // Capacity frees up: the longest-waiting conversation goes to Ann.
    let oldest_waiting = {
        let schema = a.tenant_schema(&tenant).await;
        let id: uuid::Uuid = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select id from {}.conversations where status = 'open' and assignee is null order by created_at limit 1",
            schema.name()
        )))
        .fetch_one(a.db())
        .await
        .expect("oldest");
        format!("conv_{}", id.simple())
    };
    ann_ws.send(json!({ "type": "close", "conversation_id": ann_conversation })).await;
    let assigned = until(&a, &tenant, "the freed seat is filled", |now| {
        now.get(&oldest_waiting).is_some_and(|a| a.as_deref() == Some(ann.user_id.as_str()))
    })
    .await;
    assert_eq!(waiting(&assigned), 1);

    // Away agents get nothing; coming back online takes the rest (Bob is full, so raise his
    // capacity while he is away).
    bob_ws.send(json!({ "type": "set_presence", "status": "away" })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    set_capacity(&a, &owner, &bob, 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(waiting(&assignees(&a, &tenant).await), 1, "away: nothing assigned");
    bob_ws.send(json!({ "type": "set_presence", "status": "online" })).await;
    let assigned = until(&a, &tenant, "back online", |now| waiting(now) == 0).await;
    assert_eq!(load(&assigned, &bob), 3);
    drop(visitors);
}

#[tokio::test]
async fn concurrent_passes_on_two_nodes_never_exceed_capacity_or_assign_twice() {
    let (a, b) = TestApp::spawn_pair().await;
    let owner = a.verified_owner().await;
    let tenant = owner.tenant_id.clone();
    let mut agents = Vec::new();
    for capacity in [1, 2, 3] {
        let agent = a.invite_and_accept(&owner, "agent").await;
        set_capacity(&a, &owner, &agent, capacity).await;
        agents.push(agent);
    }
    routing(&a, &owner, json!({ "auto_assign": true, "strategy": "round_robin" })).await;
    let mut sockets = Vec::new();
    for (i, agent) in agents.iter().enumerate() {
        let node = if i % 2 == 0 { &a } else { &b };
        sockets.push(node.agent(agent).await);
    }
    // Twelve visitors open conversations at once on both nodes while both nodes are woken over
    // and over: every pass races the others.
    let tenant_id: kefu_protocol::TenantId = tenant.parse().expect("tenant id");
    let opened = futures_util::future::join_all((0..12).map(|i| {
        let node = if i % 2 == 0 { &a } else { &b };
        let tenant = tenant.clone();
        async move { open_conversation(node, &tenant).await }
    }));
    let wakes = async {
        for _ in 0..50 {
            a.state.router.wake(tenant_id);
            b.state.router.wake(tenant_id);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let (visitors, ()) = tokio::join!(opened, wakes);
    let assigned = until(&a, &tenant, "six seats filled", |now| now.len() == 12 && waiting(now) == 6).await;
    for (agent, capacity) in agents.iter().zip([1, 2, 3]) {
        assert_eq!(load(&assigned, agent), capacity, "filled to capacity, never beyond");
    }
    // Settle and check again: later passes change nothing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(assignees(&a, &tenant).await, assigned, "no conversation moved or was assigned twice");
    drop((visitors, sockets));
}

#[tokio::test]
async fn routing_settings_are_admins_and_team_conversations_go_to_the_team() {
    let redis = std::env::var("REDIS_URL").expect("REDIS_URL (make test)");
    let app = TestApp::spawn_with(|c| c.redis.url = Some(redis.into())).await;
    let owner = app.verified_owner().await;
    let tenant = owner.tenant_id.clone();
    let agent = app.invite_and_accept(&owner, "agent").await;
    let seller = app.invite_and_accept(&owner, "agent").await;

    let (status, _) = app
        .call(
            "PUT",
            "/api/v1/routing",
            Some(&agent.access),
            Some(json!({ "auto_assign": true, "strategy": "least_busy" })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "agents cannot change routing");
    for bad in [
        json!({ "auto_assign": true, "strategy": "random" }),
        json!({ "auto_assign": true, "strategy": "least_busy", "default_team_id": "team_nope" }),
        json!({ "auto_assign": true, "strategy": "least_busy", "default_team_id": format!("team_{}", uuid::Uuid::now_v7().simple()) }),
        json!({ "auto_assign": true }),
    ] {
        let (status, problem) = app.call("PUT", "/api/v1/routing", Some(&owner.access), Some(bad.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {problem}");
    }

    let (_, team) = app.post("/api/v1/teams", Some(&owner.access), json!({ "name": "售前 Sales" })).await;
    let team_id = team["id"].as_str().expect("team").to_owned();
    let (status, _) = app
        .call(
            "PUT",
            &format!("/api/v1/teams/{team_id}/members"),
            Some(&owner.access),
            Some(json!({ "user_ids": [seller.user_id] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let saved =
        routing(&app, &owner, json!({ "auto_assign": true, "strategy": "least_busy", "default_team_id": team_id }))
            .await;
    assert_eq!(saved["default_team_id"], team_id.as_str());

    // Only the agent outside the team is online: the conversation waits for the team.
    let _agent_ws = app.agent(&agent).await;
    let (_visitor, conversation) = open_conversation(&app, &tenant).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(assignees(&app, &tenant).await.get(&conversation), Some(&None), "not for agents outside the team");
    let _seller_ws = app.agent(&seller).await;
    let assigned =
        until(&app, &tenant, "the team member takes it", |now| now.get(&conversation).is_some_and(|a| a.is_some()))
            .await;
    assert_eq!(assigned[&conversation].as_deref(), Some(seller.user_id.as_str()));
    let (_, log) = app.get("/api/v1/audit-log", Some(&owner.access)).await;
    assert!(log["entries"].as_array().into_iter().flatten().any(|e| e["action"] == "routing.changed"), "audited");
}

#[tokio::test]
async fn a_conversation_needing_skills_waits_for_an_agent_who_has_them() {
    let redis = std::env::var("REDIS_URL").expect("REDIS_URL (make test)");
    let app = TestApp::spawn_with(|c| c.redis.url = Some(redis.into())).await;
    let owner = app.verified_owner().await;
    let tenant = owner.tenant_id.clone();
    let (ann, bob) = (app.invite_and_accept(&owner, "agent").await, app.invite_and_accept(&owner, "agent").await);
    let profile = |member: &Session, body: Value| {
        let path = format!("/api/v1/members/{}/profile", member.user_id);
        let access = owner.access.clone();
        let app = &app;
        async move {
            let (status, body) = app.call("PATCH", &path, Some(&access), Some(body)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };
    profile(&ann, json!({ "skills": ["English", "Refunds"], "max_concurrent_chats": 5 })).await;
    profile(&bob, json!({ "skills": [], "max_concurrent_chats": 5 })).await;
    let (_ann_ws, _bob_ws) = (app.agent(&ann).await, app.agent(&bob).await);
    let (_v1, refund) = open_conversation(&app, &tenant).await;
    let (_v2, german) = open_conversation(&app, &tenant).await;
    let skills = |conversation: &str| format!("/api/v1/conversations/{conversation}/skills");

    // Supervisors set what a conversation needs: stored lowercase, validated, audited.
    let (status, _) =
        app.call("PUT", &skills(&refund), Some(&ann.access), Some(json!({ "skills": ["refunds"] }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let many: Vec<String> = (0..11).map(|n| format!("s{n}")).collect();
    let (status, body) = app.call("PUT", &skills(&refund), Some(&owner.access), Some(json!({ "skills": many }))).await;
    assert_eq!(
        (status, body["errors"][0]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("too_many")),
        "{body}"
    );
    let (status, body) = app
        .call("PUT", &skills(&refund), Some(&owner.access), Some(json!({ "skills": [" REFUNDS ", "english"] })))
        .await;
    assert_eq!((status, &body["skills"]), (StatusCode::OK, &json!(["refunds", "english"])), "{body}");
    let (status, _) =
        app.call("PUT", &skills(&german), Some(&owner.access), Some(json!({ "skills": ["German"] }))).await;
    assert_eq!(status, StatusCode::OK);

    // On: the refund goes to Ann, who has both skills; nobody speaks German yet.
    routing(&app, &owner, json!({ "auto_assign": true, "strategy": "round_robin" })).await;
    let assigned = until(&app, &tenant, "the refund assigned", |now| now[&refund].is_some()).await;
    assert_eq!(assigned[&refund].as_deref(), Some(ann.user_id.as_str()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(assignees(&app, &tenant).await[&german], None, "nobody with the skill: it waits");
    let (_, queue) = app.get("/api/v1/queue", Some(&bob.access)).await;
    assert_eq!(queue["entries"][0]["skills"], json!(["german"]), "{queue}");

    // Bob learns German (an admin's change wakes the engine): it is his.
    profile(&bob, json!({ "skills": ["german"] })).await;
    let assigned = until(&app, &tenant, "the German speaker takes it", |now| now[&german].is_some()).await;
    assert_eq!(assigned[&german].as_deref(), Some(bob.user_id.as_str()));
}
