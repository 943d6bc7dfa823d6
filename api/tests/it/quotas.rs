//! Conversations per month (issue 16, docs/billing.md): counted on every node in Redis, re-read
//! from Postgres when Redis lost the count; once the plan's number is reached, a new conversation
//! is stored as an offline message (no bot, no queue) and visitors are told so in their `status`
//! frame (the widget shows the offline form), never refused; a bigger plan makes room at once;
//! the month is the workspace's own (its business hours' time zone).

use std::time::Duration;

use kefu_api::db::{TenantTx, quotas};
use kefu_api::testing::{Session, TestApp, WsClient};
use kefu_protocol::VisitorId;
use serde_json::{Value, json};

fn new_visitor() -> VisitorId {
    VisitorId::from_uuid(uuid::Uuid::now_v7())
}

/// A visitor on `app` who opens a conversation; returns the socket, the status frame it was
/// greeted with, and the conversation.
async fn open(app: &TestApp, owner: &Session, body: &str) -> (WsClient, Value, String) {
    let (mut visitor, welcome) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    visitor.send(json!({ "type": "send", "client_id": "c1", "body": body })).await;
    let ack = visitor.take_of("ack").await;
    let conversation = ack["conversation_id"].as_str().expect("acknowledged").to_owned();
    (visitor, welcome["status"].clone(), conversation)
}

/// Whether the workspace's month is used up, as the trigger sees it.
async fn full(app: &TestApp, owner: &Session) -> bool {
    let schema = app.tenant_schema(&owner.tenant_id).await;
    let mut tx = TenantTx::begin(app.databases(), &schema).await.expect("tx");
    let until = quotas::conversations_full_until(&mut tx).await.expect("state");
    tx.commit().await.expect("commit");
    until.is_some()
}

async fn wait_full(app: &TestApp, owner: &Session, wanted: bool) {
    for _ in 0..100 {
        if full(app, owner).await == wanted {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the quota never became {}", if wanted { "full" } else { "free" });
}

/// `(over_quota, bot_active)` of a conversation.
async fn kind_of(app: &TestApp, owner: &Session, conversation: &str) -> (bool, bool) {
    let schema = app.tenant_schema(&owner.tenant_id).await;
    let id: kefu_protocol::ConversationId = conversation.parse().expect("conversation id");
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select over_quota, bot_active from {}.conversations where id = $1",
        schema.name()
    )))
    .bind(id)
    .fetch_one(app.db())
    .await
    .expect("conversation")
}

#[tokio::test]
async fn the_months_conversations_are_counted_across_nodes_and_the_rest_arrive_as_offline_messages() {
    let (a, b) = TestApp::spawn_pair().await;
    let owner = a.verified_owner().await;
    let other = a.verified_owner().await;
    a.own_plan(&owner, "conversations_per_month = 3").await;
    a.own_plan(&other, "conversations_per_month = 3").await;
    // The bot is on: an offline message does not start with it.
    a.enable_bot(&owner).await;

    // Three conversations, on both nodes: the third fills the month.
    let (_v1, status1, c1) = open(&a, &owner, "第一个问题").await;
    assert_eq!(status1["quota_reached"], json!(null), "room: {status1}");
    let (_v2, _, _) = open(&b, &owner, "second question").await;
    let (_v3, _, _) = open(&a, &owner, "third question").await;
    wait_full(&b, &owner, true).await;
    assert!(!kind_of(&a, &owner, &c1).await.0, "within the quota");

    // A fourth visitor, on the other node, is told before writing, and is never refused: the
    // message is stored as an offline message, for people, outside the queue.
    let (mut v4, status4, c4) = open(&b, &owner, "我想留言").await;
    assert_eq!(status4["quota_reached"], true, "{status4}");
    assert_eq!(kind_of(&a, &owner, &c4).await, (true, false), "an offline message, without the bot");
    v4.send(json!({ "type": "status" })).await;
    assert!(v4.take_of("status").await.get("queue").is_none(), "offline messages do not wait in the queue");
    let (status, listed) = a.get("/api/v1/conversations", Some(&owner.access)).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(listed.to_string().contains(&c4), "agents see it in the inbox: {listed}");
    // Another workspace's month is its own.
    let (_, theirs, _) = open(&a, &other, "hello").await;
    assert_eq!(theirs["quota_reached"], json!(null), "{theirs}");

    // Redis forgets (a restart): the count comes back from Postgres, the month stays used up.
    let mut redis = redis::Client::open(std::env::var("REDIS_URL").expect("REDIS_URL"))
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let tenant: kefu_protocol::TenantId = owner.tenant_id.parse().expect("tenant");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("kefu:quota:{{{}}}:*", tenant.simple()))
        .query_async(&mut redis)
        .await
        .expect("keys");
    assert_eq!(keys.len(), 1, "one month key: {keys:?}");
    let counted: i64 = redis::cmd("GET").arg(&keys[0]).query_async(&mut redis).await.expect("get");
    assert_eq!(counted, 4);
    let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut redis).await.expect("del");
    let (_v5, _, c5) = open(&a, &owner, "after the restart").await;
    assert!(kind_of(&a, &owner, &c5).await.0, "still used up");
    for _ in 0..100 {
        let counted: Option<i64> = redis::cmd("GET").arg(&keys[0]).query_async(&mut redis).await.expect("get");
        if counted == Some(5) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let counted: Option<i64> = redis::cmd("GET").arg(&keys[0]).query_async(&mut redis).await.expect("get");
    assert_eq!(counted, Some(5), "re-read from Postgres, then counted");
    assert!(full(&a, &owner).await);

    // A bigger plan makes room at once, on every node.
    a.own_plan(&owner, "conversations_per_month = 100").await;
    assert!(!full(&b, &owner).await, "the plan change re-decides the month");
    let (_v6, status6, c6) = open(&b, &owner, "after the upgrade").await;
    assert_eq!(status6["quota_reached"], json!(null), "{status6}");
    assert!(!kind_of(&a, &owner, &c6).await.0);
}

#[tokio::test]
async fn the_month_is_the_workspaces_own_and_a_used_up_month_ends_with_it() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let schema = app.tenant_schema(&owner.tenant_id).await;
    let mut tx = TenantTx::begin(app.databases(), &schema).await.expect("tx");
    // New Year's Eve, 00:30 in Shanghai, is still December in UTC.
    let at = chrono::DateTime::parse_from_rfc3339("2026-12-31T16:30:00Z").expect("instant").to_utc();
    let shanghai = quotas::month_at(&mut tx, "Asia/Shanghai", at).await.expect("month");
    assert_eq!(shanghai.label, "2027-01");
    assert_eq!(shanghai.starts_at.to_rfc3339(), "2026-12-31T16:00:00+00:00");
    assert_eq!(shanghai.ends_at.to_rfc3339(), "2027-01-31T16:00:00+00:00");
    let utc = quotas::month_at(&mut tx, "UTC", at).await.expect("month");
    assert_eq!((utc.label.as_str(), utc.ends_at.to_rfc3339()), ("2026-12", "2027-01-01T00:00:00+00:00".to_owned()));
    // A month used up until an instant now past: new conversations are ordinary again.
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    assert!(quotas::set_conversations_full(&mut tx, Some(past)).await.expect("set"));
    assert!(quotas::conversations_full_until(&mut tx).await.expect("read").is_none());
    tx.commit().await.expect("commit");
    let (_v, status, c) = open(&app, &owner, "新的一个月").await;
    assert_eq!(status["quota_reached"], json!(null), "{status}");
    assert!(!kind_of(&app, &owner, &c).await.0);
}

#[tokio::test]
async fn the_operator_raising_a_plans_number_unpauses_its_workspaces_at_once() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let plan = app.own_plan(&owner, "conversations_per_month = 1").await;
    let (_v1, _, _) = open(&app, &owner, "the only one this month").await;
    wait_full(&app, &owner, true).await;

    // `kefu plans set <plan> conversations_per_month=…` then re-decides every workspace on it.
    let mut conn = app.db().acquire().await.expect("connection");
    let change = kefu_api::db::plans::Change::Number("conversations_per_month", 50);
    assert!(kefu_api::db::plans::change(&mut conn, &plan, &change).await.expect("change"));
    drop(conn);
    let visited = kefu_api::billing::lifecycle::plan_edited(app.databases(), &plan).await.expect("re-decided");
    assert_eq!(visited, 1);
    assert!(!full(&app, &owner).await, "not at the workspace's next conversation: now");
    let (_v2, status, conversation) = open(&app, &owner, "after the operator's edit").await;
    assert_eq!(status["quota_reached"], json!(null), "{status}");
    assert!(!kind_of(&app, &owner, &conversation).await.0);
}
