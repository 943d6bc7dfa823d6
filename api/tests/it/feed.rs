//! The compliance feed (issue 15): messages, notes, system events and audit entries in commit
//! order from a cursor; a transaction that commits late is never skipped (the feed waits for it);
//! admins and admin keys only; bad cursors refused; never another tenant's rows.

use std::collections::BTreeSet;

use kefu_api::testing::{TestApp, WsClient};
use kefu_protocol::VisitorId;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn new_visitor() -> VisitorId {
    VisitorId::from_uuid(uuid::Uuid::now_v7())
}

async fn say(visitor: &mut WsClient, client_id: &str, body: &str) -> String {
    visitor.send(json!({ "type": "send", "client_id": client_id, "body": body })).await;
    visitor.take_of("ack").await["conversation_id"].as_str().expect("conversation").to_owned()
}

/// Reads the feed from `after` until `more` is false; returns the items and the last `next`.
async fn read_all(app: &TestApp, token: &str, after: &str) -> (Vec<Value>, String) {
    let mut items = Vec::new();
    let mut cursor = after.to_owned();
    loop {
        let (status, page) =
            app.get(&format!("/api/v1/compliance/feed?limit=7&after={}", urlencode(&cursor)), Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        items.extend(page["items"].as_array().expect("items").iter().cloned());
        cursor = page["next"].as_str().expect("next").to_owned();
        if page["more"] != true {
            return (items, cursor);
        }
    }
}

/// Reads the feed from `after` until `done` holds for what was read (other tests' transactions on
/// the same cluster can hold the feed back for a moment), at most ten seconds.
async fn read_until(app: &TestApp, token: &str, after: &str, done: impl Fn(&[Value]) -> bool) -> (Vec<Value>, String) {
    let mut items = Vec::new();
    let mut cursor = after.to_owned();
    for _ in 0..100 {
        let (more, next) = read_all(app, token, &cursor).await;
        items.extend(more);
        cursor = next;
        if done(&items) {
            return (items, cursor);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the feed did not bring what was expected: {items:?}");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn bodies(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .filter(|i| i["type"] == "message")
        .filter_map(|i| i["message"]["body"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn messages_and_audit_entries_in_commit_order_from_a_cursor() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    let conversation = say(&mut visitor, "v1", "我想查询账单").await;
    let mut agent = app.agent(&owner).await;
    agent.send(json!({ "type": "claim", "conversation_id": conversation })).await;
    for (kind, id, body) in [("send", "a1", "好的，请稍等"), ("note", "n1", "check the invoice")] {
        agent.send(json!({ "type": kind, "conversation_id": conversation, "client_id": id, "body": body })).await;
        agent.take_of("ack").await;
    }

    let (items, cursor) =
        read_until(&app, &owner.access, "", |items| bodies(items).iter().any(|b| b == "check the invoice")).await;
    let said = bodies(&items);
    let position = |body: &str| said.iter().position(|b| b == body).unwrap_or_else(|| panic!("{body} in {said:?}"));
    assert!(position("我想查询账单") < position("好的，请稍等"));
    assert!(position("好的，请稍等") < position("check the invoice"));
    let note = items.iter().find(|i| i["message"]["body"] == "check the invoice").expect("note");
    assert_eq!(note["message"]["private"], true);
    assert!(items.iter().any(|i| i["type"] == "audit"), "audit entries too: {items:?}");
    // Positions only go forward, and each one is unique.
    let positions: Vec<&str> = items.iter().map(|i| i["position"].as_str().expect("position")).collect();
    assert_eq!(positions.iter().collect::<BTreeSet<_>>().len(), positions.len());
    assert_eq!(positions.last().copied(), Some(cursor.as_str()));

    // From the cursor: only what committed since (the feed read's own audit entry, then the new message).
    agent
        .send(json!({ "type": "send", "conversation_id": conversation, "client_id": "a2", "body": "账单已发送" }))
        .await;
    agent.take_of("ack").await;
    let (since, _) = read_until(&app, &owner.access, &cursor, |items| !bodies(items).is_empty()).await;
    assert_eq!(bodies(&since), ["账单已发送"], "{since:?}");
    assert!(
        since.iter().filter(|i| i["type"] == "audit").all(|i| i["entry"]["action"] == "compliance.feed_read"),
        "{since:?}"
    );
}

#[tokio::test]
async fn a_transaction_that_commits_late_is_never_skipped() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (_, cursor) = read_all(&app, &owner.access, "").await;
    // A slow transaction writes an audit entry and stays open…
    let schema = app.tenant_schema(&owner.tenant_id).await;
    let mut slow = app.db().begin().await.expect("begin");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into {}.audit_log (action, target) values ('slow.change', 'late')",
        schema.name()
    )))
    .execute(&mut *slow)
    .await
    .expect("a slow write");
    // …while a message commits after it began.
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    say(&mut visitor, "v1", "after the slow one").await;
    let (early, held) = read_all(&app, &owner.access, &cursor).await;
    assert!(bodies(&early).is_empty(), "nothing past a transaction still running: {early:?}");
    // Once it commits, both come, the slow one first: the cursor did not move past it.
    slow.commit().await.expect("commit");
    let (late, _) = read_until(&app, &owner.access, &held, |items| !bodies(items).is_empty()).await;
    let slow_at = late.iter().position(|i| i["entry"]["action"] == "slow.change").expect("the slow entry");
    let message_at = late.iter().position(|i| i["message"]["body"] == "after the slow one").expect("the message");
    assert!(slow_at < message_at, "{late:?}");
}

#[tokio::test]
async fn admins_and_admin_keys_only_bad_cursors_refused_and_never_another_tenants() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let supervisor = app.invite_and_accept(&owner, "supervisor").await;
    let stranger = app.verified_owner().await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    say(&mut visitor, "v1", "机密信息 4411").await;

    assert_eq!(app.get("/api/v1/compliance/feed", Some(&supervisor.access)).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/v1/compliance/feed", None).await.0, StatusCode::UNAUTHORIZED);
    let (status, key) =
        app.post("/api/v1/api-keys", Some(&owner.access), json!({ "name": "archive", "role": "admin" })).await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let secret = key["secret"].as_str().expect("secret").to_owned();
    let (items, _) = read_until(&app, &secret, "", |items| !bodies(items).is_empty()).await;
    assert_eq!(bodies(&items), ["机密信息 4411"]);

    for (query, field) in [
        ("after=nonsense", "after"),
        ("after=1.2.m.xyz", "after"),
        ("after=1.2.q.3", "after"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
    ] {
        let (status, problem) = app.get(&format!("/api/v1/compliance/feed?{query}"), Some(&owner.access)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }

    // The other tenant's feed has none of it, even from this tenant's cursor.
    let (mine, cursor) = read_all(&app, &owner.access, "").await;
    assert!(!mine.is_empty());
    let (theirs, _) = read_all(&app, &stranger.access, "").await;
    assert!(bodies(&theirs).is_empty(), "{theirs:?}");
    let (theirs, _) = read_all(&app, &stranger.access, &cursor).await;
    assert!(bodies(&theirs).is_empty(), "{theirs:?}");
    // Reading it is audited, once an hour per reader.
    let (_, log) = app.get("/api/v1/audit-log?action=compliance.feed_read", Some(&owner.access)).await;
    assert_eq!(log["entries"].as_array().map(Vec::len), Some(2), "the owner and the key: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_client_archives_the_feed_exactly_once() {
    let python = std::env::var("KEFU_TEST_PYTHON")
        .expect("KEFU_TEST_PYTHON is not set: run tests through `make test` (infra/local/test-tools.sh)");
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (_, key) =
        app.post("/api/v1/api-keys", Some(&owner.access), json!({ "name": "archive", "role": "admin" })).await;
    let secret = key["secret"].as_str().expect("secret").to_owned();
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    say(&mut visitor, "v1", "第一条").await;
    read_until(&app, &owner.access, "", |items| !bodies(items).is_empty()).await;
    let dir = std::env::temp_dir().join(format!("kefu-feed-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let archive = dir.join("archive.jsonl");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/compliance_feed.py");
    let run = || {
        let status = std::process::Command::new(&python)
            .arg(&script)
            .args(["--api", &app.url(""), "--archive", &archive.display().to_string(), "--once", "--limit", "3"])
            .env("KEFU_API_KEY", &secret)
            .status()
            .expect("run the example client");
        assert!(status.success(), "the example client failed: {status}");
    };
    let lines = || -> Vec<Value> {
        std::fs::read_to_string(&archive)
            .expect("archive")
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    };
    tokio::task::block_in_place(run);
    assert_eq!(bodies(&lines()), ["第一条"]);
    // A second message, and a page appended but never recorded in the state (a crash): the next
    // run cuts it off and archives everything once.
    say(&mut visitor, "v2", "第二条").await;
    read_until(&app, &owner.access, "", |items| bodies(items).len() == 2).await;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&archive)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"type\":\"torn\"}\n"))
        .expect("a torn page");
    tokio::task::block_in_place(run);
    let all = lines();
    assert_eq!(bodies(&all), ["第一条", "第二条"]);
    assert!(all.iter().all(|i| i["type"] != "torn"));
    let positions: BTreeSet<&str> = all.iter().filter_map(|i| i["position"].as_str()).collect();
    assert_eq!(positions.len(), all.len(), "no item twice");
    std::fs::remove_dir_all(&dir).ok();
}
