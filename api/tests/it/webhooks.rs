//! Outgoing webhooks (issue 17): every delivery's signature is verified by an independent
//! receiver (`webhook_receiver.py`, the `standardwebhooks` reference library from PyPI); retries
//! until a failing receiver recovers; order per conversation; auto-disable with a mail after the
//! retry schedule (seconds in tests); SSRF refusals; replay from the log; secret rotation; no
//! tenant sees another's endpoints or deliveries.

use std::process::Stdio;
use std::time::{Duration, Instant};

use kefu_api::testing::{TestApp, WsClient};
use kefu_protocol::VisitorId;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::ChildStdout;

/// The Python receiver: every request it got, as it printed them.
struct Receiver {
    _child: tokio::process::Child,
    port: u16,
    secrets: std::path::PathBuf,
    lines: Lines<BufReader<ChildStdout>>,
    seen: Vec<Value>,
}

impl Receiver {
    async fn start() -> Self {
        let python = std::env::var("KEFU_TEST_PYTHON")
            .expect("KEFU_TEST_PYTHON is not set: run tests through `make test` (infra/local/test-tools.sh)");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/webhook_receiver.py");
        let secrets = std::env::temp_dir().join(format!("kefu-webhook-secrets-{}", uuid::Uuid::now_v7()));
        std::fs::write(&secrets, "").expect("secrets file");
        let mut child = tokio::process::Command::new(python)
            .args(["-u", script, &port.to_string(), &secrets.to_string_lossy()])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the receiver");
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "the receiver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Self { _child: child, port, secrets, lines, seen: Vec::new() }
    }

    /// The secrets the receiver verifies with from now on.
    fn verify_with(&self, secrets: &[&str]) {
        std::fs::write(&self.secrets, secrets.join(",")).expect("secrets file");
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Reads requests until `done` holds for all seen so far (at most 30 s).
    async fn until(&mut self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(&self.seen) {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(remaining, self.lines.next_line()).await {
                Ok(Ok(Some(line))) => self.seen.push(serde_json::from_str(&line).expect("a JSON line")),
                _ => panic!("the receiver did not get {what}; got: {:#?}", self.seen),
            }
        }
        self.seen.clone()
    }

    /// Requests that arrive within `millis` from now (nothing is expected).
    async fn quiet_for(&mut self, millis: u64) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_millis(millis);
        let mut more = Vec::new();
        while let Ok(Ok(Some(line))) =
            tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), self.lines.next_line()).await
        {
            let value: Value = serde_json::from_str(&line).expect("a JSON line");
            self.seen.push(value.clone());
            more.push(value);
        }
        more
    }
}

fn new_visitor() -> VisitorId {
    VisitorId::from_uuid(uuid::Uuid::now_v7())
}

async fn say(visitor: &mut WsClient, client_id: &str, body: &str) -> String {
    visitor.send(json!({ "type": "send", "client_id": client_id, "body": body })).await;
    visitor.take_of("ack").await["conversation_id"].as_str().expect("conversation").to_owned()
}

/// Creates an endpoint; returns its id and secret.
async fn endpoint(app: &TestApp, token: &str, url: &str, types: &[&str]) -> (String, String) {
    let (status, body) =
        app.post("/api/v1/webhooks/endpoints", Some(token), json!({ "url": url, "event_types": types })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body.get("endpoint").and_then(|e| e.get("secret")).is_none(), "no secret in the endpoint view");
    (body["endpoint"]["id"].as_str().expect("id").to_owned(), body["secret"].as_str().expect("secret").to_owned())
}

fn data(request: &Value) -> Value {
    serde_json::from_str::<Value>(request["body"].as_str().expect("body")).expect("JSON body")["data"].clone()
}

fn of_type<'a>(seen: &'a [Value], kind: &str) -> Vec<&'a Value> {
    seen.iter().filter(|r| r["type"] == kind).collect()
}

/// Polls the delivery log until `done` holds for its items.
async fn log_until(app: &TestApp, token: &str, query: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..150 {
        let (status, page) = app.get(&format!("/api/v1/webhooks/deliveries?{query}"), Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if done(&items) {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the delivery log did not reach the expected state for {query}");
}

#[tokio::test]
async fn every_event_kind_is_delivered_signed_and_verified_by_the_reference_library() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let mut receiver = Receiver::start().await;
    let (id, secret) = endpoint(&app, &owner.access, &receiver.url("/ok"), &[]).await;
    receiver.verify_with(&[&secret]);

    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    let conversation = say(&mut visitor, "c1", "你好，我想退款").await;
    let (status, body) =
        app.post(&format!("/api/v1/conversations/{conversation}/claim"), Some(&owner.access), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            Some(&owner.access),
            json!({ "body": "好的，请稍等" }),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let (status, body) =
        app.post(&format!("/api/v1/conversations/{conversation}/close"), Some(&owner.access), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    visitor.send(json!({ "type": "rate", "conversation_id": conversation, "rating": 5, "comment": "great" })).await;

    let seen = receiver
        .until("every kind of event", |seen| {
            [
                "conversation.created",
                "conversation.assigned",
                "conversation.closed",
                "conversation.rated",
                "visitor.created",
            ]
            .iter()
            .all(|kind| seen.iter().any(|r| r["type"] == *kind))
                && of_type(seen, "message.created").len() >= 2
        })
        .await;
    for request in &seen {
        assert_eq!(request["verified"], json!([true]), "signature: {request}");
        assert!(request["id"].as_str().is_some_and(|id| id.starts_with("evt_")), "{request}");
    }
    let created = data(of_type(&seen, "conversation.created")[0]);
    assert_eq!(created["conversation_id"], conversation.as_str());
    assert!(created["visitor_id"].as_str().is_some_and(|v| v.starts_with("vis_")));
    let assigned = data(of_type(&seen, "conversation.assigned")[0]);
    assert_eq!(assigned["assignee"], owner.user_id.as_str());
    let messages: Vec<Value> = of_type(&seen, "message.created").into_iter().map(data).collect();
    assert!(messages.iter().any(|m| m["body"] == "你好，我想退款" && m["sender"]["kind"] == "visitor"), "{messages:?}");
    assert!(messages.iter().any(|m| m["body"] == "好的，请稍等"), "{messages:?}");
    let rated = data(of_type(&seen, "conversation.rated")[0]);
    assert_eq!(rated["rating"], 5);
    assert_eq!(rated["status"], "closed");

    // The log shows them as succeeded, with the receiver's answer.
    let log =
        log_until(&app, &owner.access, &format!("endpoint_id={id}&status=succeeded"), |items| items.len() >= 6).await;
    assert!(log.iter().all(|d| d["response_status"] == 200 && d["attempts"] == 1), "{log:?}");
}

#[tokio::test]
async fn a_failing_receiver_gets_retries_until_it_recovers_and_each_conversation_stays_in_order() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let mut receiver = Receiver::start().await;
    // The first delivery of `conversation.created` fails twice; the conversation's later events
    // must wait for it, and arrive after it, in order.
    let (id, _) = endpoint(
        &app,
        &owner.access,
        &receiver.url("/fail-on/conversation.created/2"),
        &["conversation.created", "message.created", "conversation.closed"],
    )
    .await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    let conversation = say(&mut visitor, "c1", "one").await;
    for (n, body) in ["two", "three", "four"].iter().enumerate() {
        say(&mut visitor, &format!("c{}", n + 2), body).await;
    }
    let (status, body) =
        app.post(&format!("/api/v1/conversations/{conversation}/close"), Some(&owner.access), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let seen = receiver
        .until("the recovered deliveries", |seen| {
            of_type(seen, "message.created").len() >= 4 && !of_type(seen, "conversation.closed").is_empty()
        })
        .await;
    // Three attempts of the opening event (two 500s, then 200), nothing of the conversation
    // before its success, then the rest in commit order.
    let created: Vec<&Value> = of_type(&seen, "conversation.created");
    assert_eq!(created.len(), 3, "{seen:#?}");
    assert!(created.iter().all(|r| r["id"] == created[0]["id"]), "retries keep the webhook-id");
    assert_eq!(created.iter().map(|r| r["status"].as_i64()).collect::<Vec<_>>(), [Some(500), Some(500), Some(200)]);
    let first_success =
        seen.iter().position(|r| r["type"] == "conversation.created" && r["status"] == 200).expect("ok");
    assert!(
        seen[..first_success].iter().all(|r| r["type"] == "conversation.created"),
        "later events of the conversation waited: {seen:#?}"
    );
    let order: Vec<String> = seen[first_success + 1..]
        .iter()
        .map(|r| {
            let d = data(r);
            match r["type"].as_str() {
                Some("message.created") => d["body"].as_str().unwrap_or_default().to_owned(),
                other => other.unwrap_or_default().to_owned(),
            }
        })
        .collect();
    assert_eq!(order, ["one", "two", "three", "four", "conversation.closed"]);
    let log =
        log_until(&app, &owner.access, &format!("endpoint_id={id}&status=succeeded"), |items| items.len() >= 6).await;
    let opening = log.iter().find(|d| d["event_type"] == "conversation.created").expect("in the log");
    assert_eq!(opening["attempts"], 3, "{opening}");
}

#[tokio::test]
async fn an_endpoint_failing_for_the_whole_schedule_is_disabled_and_the_admins_are_mailed() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let mut receiver = Receiver::start().await;
    let (id, _) = endpoint(&app, &owner.access, &receiver.url("/fail-always"), &["conversation.created"]).await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    say(&mut visitor, "c1", "hello").await;

    // 1 + the test schedule's 2 retries.
    receiver.until("three attempts", |seen| seen.len() >= 3).await;
    let log =
        log_until(&app, &owner.access, &format!("endpoint_id={id}&status=failed"), |items| !items.is_empty()).await;
    assert_eq!(log[0]["attempts"], 3, "{log:?}");
    assert_eq!(log[0]["response_status"], 500);
    let mut endpoint = Value::Null;
    for _ in 0..50 {
        endpoint = app.get(&format!("/api/v1/webhooks/endpoints/{id}"), Some(&owner.access)).await.1;
        if endpoint["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(endpoint["enabled"], false, "{endpoint}");
    assert_eq!(endpoint["disabled_reason"], "failing");
    let mail = app.mailbox(&owner.email).await;
    assert!(
        mail.iter().any(|m| m["subject"].as_str().is_some_and(|s| s.contains("Webhook endpoint disabled"))
            && m["body_text"].as_str().is_some_and(|b| b.contains(&receiver.url("/fail-always")))),
        "{mail:?}"
    );
    // Nothing more goes to a disabled endpoint.
    say(&mut visitor, "c2", "again").await;
    assert!(receiver.quiet_for(1500).await.is_empty());
    let (_, audit) = app.get("/api/v1/audit-log?action=webhooks.", Some(&owner.access)).await;
    assert!(audit.to_string().contains("webhooks.endpoint_disabled"), "{audit}");
}

#[tokio::test]
async fn a_delivery_is_replayed_from_the_log_with_its_webhook_id() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let mut receiver = Receiver::start().await;
    let (id, _) = endpoint(&app, &owner.access, &receiver.url("/ok"), &["conversation.created"]).await;
    let (status, test) =
        app.post(&format!("/api/v1/webhooks/endpoints/{id}/test"), Some(&owner.access), json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{test}");
    let seen = receiver.until("the test event", |seen| !seen.is_empty()).await;
    assert_eq!(seen[0]["type"], "webhook.test");
    let log =
        log_until(&app, &owner.access, &format!("endpoint_id={id}&status=succeeded"), |items| !items.is_empty()).await;
    let delivery = log[0]["id"].as_str().expect("id").to_owned();
    let (status, replay) =
        app.post(&format!("/api/v1/webhooks/deliveries/{delivery}/replay"), Some(&owner.access), json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{replay}");
    assert_eq!(replay["replay_of"], delivery.as_str());
    let seen = receiver.until("the replay", |seen| seen.len() >= 2).await;
    assert_eq!(seen[1]["id"], seen[0]["id"], "a replay is the same event");
    assert_eq!(seen[1]["body"], seen[0]["body"]);
    let (status, one) = app
        .get(&format!("/api/v1/webhooks/deliveries/{}", replay["id"].as_str().expect("id")), Some(&owner.access))
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_previous_one_during_the_overlap() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let mut receiver = Receiver::start().await;
    let (id, old) = endpoint(&app, &owner.access, &receiver.url("/ok"), &["conversation.created"]).await;
    let (status, rotated) =
        app.post(&format!("/api/v1/webhooks/endpoints/{id}/rotate-secret"), Some(&owner.access), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new = rotated["secret"].as_str().expect("secret").to_owned();
    assert_ne!(new, old);
    assert!(rotated["previous_secret_until"].is_string(), "{rotated}");
    let (_, secret) = app.get(&format!("/api/v1/webhooks/endpoints/{id}/secret"), Some(&owner.access)).await;
    assert_eq!(secret["secret"], new.as_str());
    receiver.verify_with(&[&old, &new]);
    app.post(&format!("/api/v1/webhooks/endpoints/{id}/test"), Some(&owner.access), json!({})).await;
    let seen = receiver.until("the test event", |seen| !seen.is_empty()).await;
    // Two signatures; the library accepts the request with either secret.
    assert_eq!(seen[0]["signature"].as_str().expect("signature").split(' ').count(), 2, "{}", seen[0]);
    assert_eq!(seen[0]["verified"], json!([true, true]));
}

#[tokio::test]
async fn internal_targets_are_refused_when_the_operator_does_not_allow_them() {
    // This node only serves requests: its dispatcher is off, so it never takes other tests'
    // deliveries to their receivers on 127.0.0.1.
    let app = TestApp::spawn_with(|c| {
        c.webhooks.allow_private_targets = false;
        c.webhooks.dispatch = false;
    })
    .await;
    let owner = app.signup().await;
    for url in [
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.1.2.3/",
        "https://[::1]/",
        "https://localhost:8443/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:a9fe:a9fe]/",
        "https://100.64.0.1/",
        "http://hooks.example.com/",
    ] {
        let (status, body) = app.post("/api/v1/webhooks/endpoints", Some(&owner.access), json!({ "url": url })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(body["errors"][0]["code"], "invalid_url", "{url}: {body}");
    }

    // At delivery time, a name that resolves to loopback is refused by the client's resolver and
    // an address literal by the guard: the listening receiver gets nothing.
    let mut receiver = Receiver::start().await;
    let sender = kefu_api::webhooks::Sender::new(
        kefu_api::webhooks::guard::Guard { allow_private: false },
        Duration::from_secs(5),
    )
    .expect("client");
    for url in [
        format!("https://localhost:{}/ok", receiver.port),
        format!("http://localhost:{}/ok", receiver.port),
        format!("http://127.0.0.1:{}/ok", receiver.port),
        format!("http://[::ffff:127.0.0.1]:{}/ok", receiver.port),
    ] {
        let attempt = sender.send(&url, "evt_x", "{}", &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]).await;
        assert!(attempt.status.is_none(), "{url}: {attempt:?}");
        assert!(attempt.error.as_deref().is_some_and(|e| e.contains("refused")), "{url}: {attempt:?}");
    }
    // A plain https name that resolves to 127.0.0.1 only is refused by the resolver itself.
    let guard = kefu_api::webhooks::guard::Guard { allow_private: false };
    assert!(guard.resolve("localhost").await.is_err());
    assert!(receiver.quiet_for(300).await.is_empty());
}

#[tokio::test]
async fn one_tenant_never_sees_another_tenants_endpoints_or_deliveries() {
    let app = TestApp::spawn().await;
    let alice = app.verified_owner().await;
    let bob = app.signup().await;
    let mut receiver = Receiver::start().await;
    let (id, _) = endpoint(&app, &alice.access, &receiver.url("/ok"), &[]).await;
    app.post(&format!("/api/v1/webhooks/endpoints/{id}/test"), Some(&alice.access), json!({})).await;
    receiver.until("alice's test", |seen| !seen.is_empty()).await;
    let log = log_until(&app, &alice.access, "status=succeeded", |items| !items.is_empty()).await;
    let delivery = log[0]["id"].as_str().expect("id").to_owned();

    for (method, path) in [
        ("GET", format!("/api/v1/webhooks/endpoints/{id}")),
        ("PATCH", format!("/api/v1/webhooks/endpoints/{id}")),
        ("DELETE", format!("/api/v1/webhooks/endpoints/{id}")),
        ("GET", format!("/api/v1/webhooks/endpoints/{id}/secret")),
        ("POST", format!("/api/v1/webhooks/endpoints/{id}/rotate-secret")),
        ("POST", format!("/api/v1/webhooks/endpoints/{id}/test")),
        ("GET", format!("/api/v1/webhooks/deliveries/{delivery}")),
        ("POST", format!("/api/v1/webhooks/deliveries/{delivery}/replay")),
    ] {
        let body = (method != "GET" && method != "DELETE").then(|| json!({}));
        let (status, body) = app.call(method, &path, Some(&bob.access), body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    let (_, list) = app.get("/api/v1/webhooks/endpoints", Some(&bob.access)).await;
    assert_eq!(list["items"], json!([]));
    let (_, log) = app.get(&format!("/api/v1/webhooks/deliveries?endpoint_id={id}"), Some(&bob.access)).await;
    assert_eq!(log["items"], json!([]));
    // Alice's endpoint is untouched.
    let (status, _) = app.get(&format!("/api/v1/webhooks/endpoints/{id}"), Some(&alice.access)).await;
    assert_eq!(status, StatusCode::OK);

    // Agents are not admins.
    let agent = app.invite_and_accept(&alice, "agent").await;
    let (status, _) = app.get("/api/v1/webhooks/endpoints", Some(&agent.access)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn erasing_a_visitor_removes_the_webhook_deliveries_about_them() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let mut receiver = Receiver::start().await;
    endpoint(&app, &owner.access, &receiver.url("/ok"), &["conversation.created", "message.created"]).await;
    let visitor = new_visitor();
    let (mut ws, _) = app.visitor(&owner.tenant_id, visitor, None).await;
    say(&mut ws, "c1", "my address is erase-me@example.com").await;
    receiver
        .until("the events", |seen| {
            !of_type(seen, "message.created").is_empty() && !of_type(seen, "conversation.created").is_empty()
        })
        .await;
    let log = log_until(&app, &owner.access, "status=succeeded", |items| items.len() >= 2).await;
    assert!(log.iter().any(|d| d["payload"].to_string().contains("erase-me@example.com")));
    drop(ws);
    let (status, body) = app.call("DELETE", &format!("/api/v1/visitors/{visitor}"), Some(&owner.access), None).await;
    assert!(status.is_success(), "{body}");
    let (_, log) = app.get("/api/v1/webhooks/deliveries", Some(&owner.access)).await;
    assert_eq!(log["items"], json!([]), "{log}");
}

#[tokio::test]
async fn a_committed_change_nobody_announced_goes_out_with_the_sweep_and_a_rolled_back_one_never() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let mut receiver = Receiver::start().await;
    endpoint(&app, &owner.access, &receiver.url("/ok"), &["conversation.closed"]).await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    let conversation: kefu_protocol::ConversationId = say(&mut visitor, "c1", "hello").await.parse().expect("id");
    let schema = app.tenant_schema(&owner.tenant_id).await;
    let close =
        format!("update {}.conversations set status = 'closed', closed_at = now() where id = $1", schema.name());

    // A close that rolls back is never sent.
    let mut tx = app.db().begin().await.expect("begin");
    sqlx::query(sqlx::AssertSqlSafe(close.clone())).bind(conversation).execute(&mut *tx).await.expect("close");
    tx.rollback().await.expect("rollback");
    // A close committed with no announcement (as if its node died right after the commit): the
    // outbox row committed with it, and the sweep (every 5 s in tests) sends it.
    let mut tx = app.db().begin().await.expect("begin");
    sqlx::query(sqlx::AssertSqlSafe(close)).bind(conversation).execute(&mut *tx).await.expect("close");
    tx.commit().await.expect("commit");

    let seen = receiver.until("the close", |seen| !of_type(seen, "conversation.closed").is_empty()).await;
    assert_eq!(data(&seen[0])["status"], "closed");
    assert!(receiver.quiet_for(1500).await.is_empty(), "one close, once");
}

#[tokio::test]
async fn two_nodes_deliver_each_event_once_and_each_conversation_in_order() {
    let (a, b) = TestApp::spawn_pair().await;
    let owner = a.signup().await;
    let mut receiver = Receiver::start().await;
    endpoint(&a, &owner.access, &receiver.url("/ok"), &["message.created"]).await;
    // Two visitors, one on each node, each saying ten things; both nodes dispatch.
    let (mut one, _) = a.visitor(&owner.tenant_id, new_visitor(), None).await;
    let (mut two, _) = b.visitor(&owner.tenant_id, new_visitor(), None).await;
    let mut conversations = Vec::new();
    for n in 0..10 {
        let first = say(&mut one, &format!("a{n}"), &format!("one {n}")).await;
        let second = say(&mut two, &format!("b{n}"), &format!("two {n}")).await;
        if n == 0 {
            conversations = vec![first, second];
        }
    }
    let seen = receiver.until("twenty messages", |seen| seen.len() >= 20).await;
    assert!(receiver.quiet_for(1500).await.is_empty(), "nothing twice");
    let ids: std::collections::BTreeSet<&str> = seen.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids.len(), 20, "each event once");
    for (conversation, who) in conversations.iter().zip(["one", "two"]) {
        let bodies: Vec<String> = seen
            .iter()
            .map(data)
            .filter(|d| d["conversation_id"] == conversation.as_str())
            .map(|d| d["body"].as_str().unwrap_or_default().to_owned())
            .collect();
        let expected: Vec<String> = (0..10).map(|n| format!("{who} {n}")).collect();
        assert_eq!(bodies, expected, "in order");
    }
}
