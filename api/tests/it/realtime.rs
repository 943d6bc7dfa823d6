//! The WebSocket protocol against real Postgres: acks after commit, gap-free sequences,
//! idempotent retries, resume, notes, bad input, token expiry and shutdown.

use kefu_api::testing::{TestApp, WsEnd};
use kefu_protocol::VisitorId;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

fn new_visitor() -> VisitorId {
    VisitorId::from_uuid(uuid::Uuid::now_v7())
}

async fn stored_messages(app: &TestApp, tenant_id: &str, conversation_id: &str) -> Vec<(i64, String, String, bool)> {
    let schema = format!("t_{}", tenant_id.trim_start_matches("tnt_"));
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select seq, client_id, body, private from {schema}.messages where conversation_id = $1::uuid order by seq"
    )))
    .bind(conversation_id.trim_start_matches("conv_"))
    .fetch_all(app.db())
    .await
    .expect("messages")
}

#[tokio::test]
async fn visitor_and_agent_chat_with_acks_after_commit_and_private_notes() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let mut agent = app.agent(&owner).await;
    agent.send(json!({ "type": "subscribe_inbox" })).await;
    let visitor_id = new_visitor();
    let (mut visitor, welcome) = app.visitor(&owner.tenant_id, visitor_id, None).await;
    assert_eq!(welcome["protocol"], 1);
    assert!(welcome.get("conversation_id").is_none(), "no conversation before the first message");

    visitor.send(json!({ "type": "send", "client_id": "v-1", "body": "你好，我想退款" })).await;
    let ack = visitor.next_of("ack").await;
    assert_eq!((ack["client_id"].as_str(), ack["seq"].as_i64()), (Some("v-1"), Some(1)));
    let conversation = ack["conversation_id"].as_str().expect("conversation").to_owned();
    // Acknowledged means committed: the row is visible to any other connection now.
    let stored = stored_messages(&app, &owner.tenant_id, &conversation).await;
    assert_eq!(stored, vec![(1, "v-1".into(), "你好，我想退款".into(), false)]);

    let update = agent.next_of("conversation_updated").await;
    assert_eq!(update["conversation_id"], conversation.as_str());
    assert_eq!(update["status"], "open");

    agent.send(json!({ "type": "join", "conversation_id": conversation })).await;
    let replayed = agent.next_of("message").await;
    assert_eq!((replayed["seq"].as_i64(), replayed["body"].as_str()), (Some(1), Some("你好，我想退款")));
    assert_eq!(replayed["sender"]["kind"], "visitor");

    agent.send(json!({ "type": "claim", "conversation_id": conversation })).await;
    let claimed = visitor.next_of("conversation_updated").await;
    assert_eq!(claimed["assignee"], owner.user_id.as_str());

    agent
        .send(json!({ "type": "note", "conversation_id": conversation, "client_id": "n-1", "body": "VIP customer" }))
        .await;
    let note_ack = agent.next_of("ack").await;
    assert_eq!(note_ack["seq"], 2);
    agent
        .send(
            json!({ "type": "send", "conversation_id": conversation, "client_id": "a-1", "body": "Sure, one moment" }),
        )
        .await;
    let reply = visitor.next_of("message").await;
    assert_eq!((reply["seq"].as_i64(), reply["body"].as_str()), (Some(3), Some("Sure, one moment")));
    assert_eq!(reply["sender"]["kind"], "agent");
    let agent_sees_note = agent.next_of("message").await;
    assert_eq!((agent_sees_note["private"].as_bool(), agent_sees_note["seq"].as_i64()), (Some(true), Some(2)));

    // The visitor never saw seq 2; a visitor resume skips it too.
    let (mut again, welcome) = app.visitor(&owner.tenant_id, visitor_id, Some(0)).await;
    assert_eq!(welcome["conversation_id"], conversation.as_str());
    let first = again.next_of("message").await;
    let second = again.next_of("message").await;
    assert_eq!((first["seq"].as_i64(), second["seq"].as_i64()), (Some(1), Some(3)));
    again.expect_silence(300).await;
}

#[tokio::test]
async fn a_retried_client_id_gets_the_original_ack_and_is_stored_once() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let visitor_id = new_visitor();
    let (mut visitor, _) = app.visitor(&owner.tenant_id, visitor_id, None).await;
    visitor.send(json!({ "type": "send", "client_id": "same", "body": "once" })).await;
    let first = visitor.next_of("ack").await;
    visitor.send(json!({ "type": "send", "client_id": "same", "body": "once" })).await;
    let second = visitor.next_of("ack").await;
    assert_eq!(first, second);
    // Even from a new connection (a retry after a reconnect).
    drop(visitor);
    let (mut reconnected, _) = app.visitor(&owner.tenant_id, visitor_id, Some(1)).await;
    reconnected.send(json!({ "type": "send", "client_id": "same", "body": "once" })).await;
    assert_eq!(reconnected.next_of("ack").await, first);
    let conversation = first["conversation_id"].as_str().expect("conversation");
    assert_eq!(stored_messages(&app, &owner.tenant_id, conversation).await.len(), 1);
}

#[tokio::test]
async fn concurrent_senders_get_gap_free_ordered_sequences() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let visitor_id = new_visitor();
    let (mut visitor, _) = app.visitor(&owner.tenant_id, visitor_id, None).await;
    visitor.send(json!({ "type": "send", "client_id": "open", "body": "hi" })).await;
    let conversation = visitor.next_of("ack").await["conversation_id"].as_str().expect("id").to_owned();

    let mut agents = Vec::new();
    for _ in 0..3 {
        let mut agent = app.agent(&owner).await;
        agent.send(json!({ "type": "join", "conversation_id": conversation })).await;
        agents.push(agent);
    }
    // Every client pipelines 15 sends; all run at once.
    let mut tasks = Vec::new();
    for (i, mut agent) in agents.into_iter().enumerate() {
        let conversation = conversation.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..15 {
                agent.send(json!({ "type": "send", "conversation_id": conversation, "client_id": format!("a{i}-{n}"), "body": format!("agent {i} #{n}") })).await;
            }
            let mut acks = Vec::new();
            while acks.len() < 15 {
                let frame = agent.next().await.expect("frame");
                if frame["type"] == "ack" {
                    acks.push(frame["seq"].as_i64().expect("seq"));
                }
            }
            acks
        }));
    }
    for n in 0..15 {
        visitor.send(json!({ "type": "send", "client_id": format!("v-{n}"), "body": format!("visitor #{n}") })).await;
    }
    let mut seqs = Vec::new();
    let mut delivered = Vec::new();
    while seqs.len() < 15 || delivered.len() < 60 {
        let frame = visitor.next().await.expect("frame");
        match frame["type"].as_str() {
            Some("ack") => seqs.push(frame["seq"].as_i64().expect("seq")),
            Some("message") => delivered.push(frame["seq"].as_i64().expect("seq")),
            _ => {}
        }
    }
    for task in tasks {
        seqs.extend(task.await.expect("agent task"));
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (2..=61).collect::<Vec<_>>(), "every ack has a distinct seq, no gaps");
    // The visitor received every message (its own and the agents') once, in order.
    let expected: Vec<i64> = (2..=61).collect();
    assert_eq!(delivered.iter().copied().filter(|s| *s >= 2).collect::<Vec<_>>(), expected);
    let stored: Vec<i64> =
        stored_messages(&app, &owner.tenant_id, &conversation).await.into_iter().map(|m| m.0).collect();
    assert_eq!(stored, (1..=61).collect::<Vec<_>>());
}

#[tokio::test]
async fn resume_replays_exactly_what_was_missed_in_order() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let visitor_id = new_visitor();
    let (mut visitor, _) = app.visitor(&owner.tenant_id, visitor_id, None).await;
    for n in 1..=3 {
        visitor.send(json!({ "type": "send", "client_id": format!("v{n}"), "body": format!("m{n}") })).await;
        visitor.next_of("ack").await;
    }
    let conversation = {
        let (_, welcome) = app.visitor(&owner.tenant_id, visitor_id, Some(3)).await;
        welcome["conversation_id"].as_str().expect("id").to_owned()
    };
    drop(visitor);
    let mut agent = app.agent(&owner).await;
    agent.send(json!({ "type": "join", "conversation_id": conversation, "last_seq": 3 })).await;
    for n in 1..=4 {
        agent.send(json!({ "type": "send", "conversation_id": conversation, "client_id": format!("a{n}"), "body": format!("r{n}") })).await;
        agent.next_of("ack").await;
    }
    let (mut resumed, _) = app.visitor(&owner.tenant_id, visitor_id, Some(5)).await;
    let got: Vec<(i64, String)> = {
        let mut got = Vec::new();
        for _ in 0..2 {
            let m = resumed.next_of("message").await;
            got.push((m["seq"].as_i64().expect("seq"), m["body"].as_str().expect("body").to_owned()));
        }
        got
    };
    assert_eq!(got, vec![(6, "r3".to_owned()), (7, "r4".to_owned())]);
    resumed.expect_silence(300).await;
}

#[tokio::test]
async fn bad_frames_get_typed_errors_and_store_nothing() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    let cases: Vec<(Message, &str)> = vec![
        (Message::text("not json"), "invalid_json"),
        (Message::text(r#"{"type":"explode"}"#), "unknown_type"),
        (
            Message::text(
                r#"{"type":"note","conversation_id":"conv_00000000000000000000000000000000","client_id":"x","body":"y"}"#,
            ),
            "unknown_type",
        ),
        (Message::text(r#"{"type":"send","client_id":"bad id!","body":"x"}"#), "invalid_client_id"),
        (Message::text(r#"{"type":"send","client_id":"ok","body":"   "}"#), "invalid_body"),
        (
            Message::text(json!({ "type": "send", "client_id": "ok", "body": "字".repeat(4001) }).to_string()),
            "invalid_body",
        ),
        (Message::text(r#"{"type":"send","client_id":"nul","body":"a\u0000b"}"#), "invalid_body"),
        (Message::text(r#"{"type":"read","seq":"x"}"#), "invalid_frame"),
        (Message::text(r#"{"type":"hello","protocol":1}"#), "invalid_frame"),
    ];
    for (message, code) in cases {
        visitor.send_raw(message).await;
        let error = visitor.next_of("error").await;
        assert_eq!(error["code"], code, "{error}");
        assert_eq!(error["retryable"], false);
    }
    let schema = format!("t_{}", owner.tenant_id.trim_start_matches("tnt_"));
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {schema}.messages")))
        .fetch_one(app.db())
        .await
        .expect("count");
    assert_eq!(count, 0, "nothing stored for refused frames");

    // Oversized frames and binary frames end the session with documented close codes.
    visitor.send_raw(Message::text("x".repeat(20_000))).await;
    assert_eq!(visitor.next().await, Err(WsEnd::Closed(1009)));
    let (mut binary, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    binary.send_raw(Message::binary(vec![1, 2, 3])).await;
    assert_eq!(binary.next().await, Err(WsEnd::Closed(1003)));
}

#[tokio::test]
async fn handshake_rules_hello_first_and_version() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let token = app.visitor_token(&owner.tenant_id, new_visitor(), 600);
    let url = app.ws_url(&format!("/ws/visitor?token={token}"));
    let mut client = kefu_api::testing::WsClient::connect_with_headers(&url, &[kefu_api::testing::EDGE_PROOF])
        .await
        .expect("upgrade");
    client.send(json!({ "type": "send", "client_id": "a", "body": "too early" })).await;
    assert_eq!(client.next().await, Err(WsEnd::Closed(4004)));
    let mut client = kefu_api::testing::WsClient::connect_with_headers(&url, &[kefu_api::testing::EDGE_PROOF])
        .await
        .expect("upgrade");
    client.send(json!({ "type": "hello", "protocol": 99 })).await;
    assert_eq!(client.next().await, Err(WsEnd::Closed(4003)));
}

#[tokio::test]
async fn tokens_are_checked_at_upgrade_and_expiry_closes_the_session() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let other = app.signup().await;
    let visitor_url = |token: &str| app.ws_url(&format!("/ws/visitor?token={token}"));
    // An agent token is not a visitor token; a visitor token is not an agent token.
    assert_eq!(
        kefu_api::testing::WsClient::connect_with_headers(
            &visitor_url(&owner.access),
            &[kefu_api::testing::EDGE_PROOF]
        )
        .await
        .err(),
        Some(401)
    );
    let visitor_token = app.visitor_token(&owner.tenant_id, new_visitor(), 600);
    assert_eq!(
        kefu_api::testing::WsClient::connect(&app.ws_url(&format!("/ws/agent?token={visitor_token}"))).await.err(),
        Some(401)
    );
    assert_eq!(
        kefu_api::testing::WsClient::connect_with_headers(&visitor_url("garbage"), &[kefu_api::testing::EDGE_PROOF])
            .await
            .err(),
        Some(401)
    );
    assert_eq!(
        kefu_api::testing::WsClient::connect_with_headers(&app.ws_url("/ws/visitor"), &[kefu_api::testing::EDGE_PROOF])
            .await
            .err(),
        Some(401)
    );
    let expired = app.visitor_token(&owner.tenant_id, new_visitor(), -120);
    assert_eq!(
        kefu_api::testing::WsClient::connect_with_headers(&visitor_url(&expired), &[kefu_api::testing::EDGE_PROOF])
            .await
            .err(),
        Some(401)
    );

    // An agent of another tenant cannot join this tenant's conversation.
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    visitor.send(json!({ "type": "send", "client_id": "x", "body": "hello" })).await;
    let conversation = visitor.next_of("ack").await["conversation_id"].as_str().expect("id").to_owned();
    visitor.next_of("status").await;
    let mut intruder = app.agent(&other).await;
    intruder.send(json!({ "type": "join", "conversation_id": conversation })).await;
    assert_eq!(intruder.next_of("error").await["code"], "conversation_not_found");
    intruder.send(json!({ "type": "send", "conversation_id": conversation, "client_id": "i", "body": "pwned" })).await;
    assert_eq!(intruder.next_of("error").await["code"], "conversation_not_found");
    visitor.expect_silence(300).await;

    // A token that expires mid-session closes it with 4001.
    let short = app.visitor_token(&owner.tenant_id, new_visitor(), 1);
    let mut client =
        kefu_api::testing::WsClient::connect_with_headers(&visitor_url(&short), &[kefu_api::testing::EDGE_PROOF])
            .await
            .expect("upgrade");
    client.send(json!({ "type": "hello", "protocol": 1 })).await;
    client.next_of("welcome").await;
    let end = loop {
        match client.next().await {
            Ok(_) => continue,
            Err(end) => break end,
        }
    };
    assert_eq!(end, WsEnd::Closed(4001));
}

#[tokio::test]
async fn closed_conversations_refuse_messages_and_a_new_one_opens() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let visitor_id = new_visitor();
    let (mut visitor, _) = app.visitor(&owner.tenant_id, visitor_id, None).await;
    visitor.send(json!({ "type": "send", "client_id": "1", "body": "hi" })).await;
    let first: Value = visitor.next_of("ack").await;
    let conversation = first["conversation_id"].as_str().expect("id").to_owned();
    let mut agent = app.agent(&owner).await;
    agent.send(json!({ "type": "close", "conversation_id": conversation })).await;
    assert_eq!(visitor.next_of("conversation_updated").await["status"], "closed");
    agent
        .send(json!({ "type": "send", "conversation_id": conversation, "client_id": "late", "body": "too late" }))
        .await;
    assert_eq!(agent.next_of("error").await["code"], "conversation_closed");
    // The visitor's next message starts a new conversation.
    visitor.send(json!({ "type": "send", "client_id": "2", "body": "one more thing" })).await;
    let second = visitor.next_of("ack").await;
    assert_ne!(second["conversation_id"], first["conversation_id"]);
    assert_eq!(second["seq"], 1);
}

#[tokio::test]
async fn shutdown_tells_clients_to_reconnect_elsewhere() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    app.state.shutdown.cancel();
    assert_eq!(visitor.next().await, Err(WsEnd::Closed(1001)));
}

#[tokio::test]
async fn typing_and_read_receipts_flow_both_ways() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    visitor.send(json!({ "type": "send", "client_id": "1", "body": "hi" })).await;
    let conversation = visitor.next_of("ack").await["conversation_id"].as_str().expect("id").to_owned();
    let mut agent = app.agent(&owner).await;
    agent.send(json!({ "type": "join", "conversation_id": conversation })).await;
    agent.next_of("message").await;

    visitor.send(json!({ "type": "typing", "typing": true })).await;
    let typing = agent.next_of("typing").await;
    assert_eq!((typing["typing"].as_bool(), typing["sender"]["kind"].as_str()), (Some(true), Some("visitor")));
    agent.send(json!({ "type": "typing", "conversation_id": conversation, "typing": true })).await;
    let typing = visitor.next_of("typing").await;
    assert_eq!(typing["sender"]["kind"], "agent");

    agent.send(json!({ "type": "read", "conversation_id": conversation, "seq": 99 })).await;
    let read = visitor.next_of("read").await;
    assert_eq!(read["seq"], 1, "read receipts never go past the last message");
    visitor.send(json!({ "type": "read", "seq": 1 })).await;
    assert_eq!(agent.next_of("read").await["reader"]["kind"], "visitor");
}

#[tokio::test]
async fn flooding_is_rate_limited_with_typed_errors() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    for _ in 0..80 {
        visitor.send(json!({ "type": "ping" })).await;
    }
    let (mut pongs, mut limited) = (0, 0);
    while pongs + limited < 80 {
        let frame = visitor.next().await.expect("frame");
        match frame["type"].as_str() {
            Some("pong") => pongs += 1,
            Some("error") if frame["code"] == "rate_limited" => limited += 1,
            _ => {}
        }
    }
    assert!(limited > 0 && pongs >= 40, "{pongs} pongs, {limited} limited");
}

async fn presence_of(app: &TestApp, token: &str) -> Value {
    let (status, body) = app.get("/api/v1/presence/agents", Some(token)).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn agent_presence_flow(app: TestApp) {
    let owner = app.verified_owner().await;
    let colleague = app.invite_and_accept(&owner, "agent").await;
    let mut watcher = app.agent(&owner).await;
    watcher.send(json!({ "type": "subscribe_inbox" })).await;
    // Presence is written off the session's path: the watcher shows up moments after its welcome.
    let mut waited = 0;
    while presence_of(&app, &owner.access).await.as_array().map(Vec::len) != Some(1) {
        waited += 1;
        assert!(waited < 100, "the watcher itself is listed");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let mut tab1 = app.agent(&colleague).await;
    // The watcher's own arrival may be announced after it subscribed: skip it.
    let online = loop {
        let frame = watcher.next_of("presence").await;
        if frame["agent_id"] == colleague.user_id.as_str() {
            break frame;
        }
    };
    assert_eq!(online["status"].as_str(), Some("online"));
    let mut tab2 = app.agent(&colleague).await;
    tab2.send(json!({ "type": "set_presence", "status": "away" })).await;
    // The best status over both tabs stays online.
    loop {
        let frame = watcher.next_of("presence").await;
        if frame["agent_id"] == colleague.user_id.as_str() && frame["status"] == "online" {
            break;
        }
    }
    tab1.send(json!({ "type": "set_presence", "status": "busy" })).await;
    loop {
        let frame = watcher.next_of("presence").await;
        if frame["status"] == "busy" {
            break;
        }
    }
    let listed = presence_of(&app, &owner.access).await;
    let status = listed
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["user_id"] == colleague.user_id.as_str())
        .map(|a| a["status"].clone());
    assert_eq!(status, Some(json!("busy")));

    // Both tabs close: the colleague goes offline and is no longer listed.
    drop(tab1);
    drop(tab2);
    loop {
        let frame = watcher.next_of("presence").await;
        if frame["agent_id"] == colleague.user_id.as_str() && frame["status"] == "offline" {
            break;
        }
    }
    let listed = presence_of(&app, &owner.access).await;
    assert!(listed.as_array().into_iter().flatten().all(|a| a["user_id"] != colleague.user_id.as_str()), "{listed}");
}

#[tokio::test]
async fn agent_presence_in_process() {
    agent_presence_flow(TestApp::spawn().await).await;
}

#[tokio::test]
async fn agent_presence_in_redis() {
    let redis = std::env::var("REDIS_URL").expect("REDIS_URL (make test)");
    agent_presence_flow(TestApp::spawn_with(|c| c.redis.url = Some(redis.into())).await).await;
}

#[tokio::test]
async fn a_dead_nodes_presence_expires() {
    let redis_url = std::env::var("REDIS_URL").expect("REDIS_URL (make test)");
    let app = TestApp::spawn_with(|c| c.redis.url = Some(redis_url.clone().into())).await;
    let owner = app.signup().await;
    let ghost = kefu_protocol::UserId::from_uuid(uuid::Uuid::now_v7());
    // A connection recorded by a node that died 5 s after its last refresh deadline.
    let client = redis::Client::open(redis_url).expect("client");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis");
    let key = format!("kefu:v1:{}:presence:agents", owner.tenant_id.trim_start_matches("tnt_"));
    let member = format!("{}:{}:online", ghost.simple(), uuid::Uuid::now_v7().simple());
    let stale = chrono::Utc::now().timestamp() - 5;
    redis::cmd("ZADD").arg(&key).arg(stale).arg(&member).query_async::<()>(&mut conn).await.expect("zadd");
    let listed = presence_of(&app, &owner.access).await;
    assert!(listed.as_array().into_iter().flatten().all(|a| a["user_id"] != ghost.to_string().as_str()), "{listed}");
    let _ = redis::cmd("DEL").arg(&key).query_async::<()>(&mut conn).await;
}

#[tokio::test]
async fn visitor_tracking_device_language_pages_and_campaign_reach_agents() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let visitor_id = new_visitor();
    let token = app.visitor_token(&owner.tenant_id, visitor_id, 600);
    let mut visitor = kefu_api::testing::WsClient::connect_with_headers(
        &app.ws_url(&format!("/ws/visitor?token={token}")),
        &[
            ("user-agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"),
            ("accept-language", "zh-CN,zh;q=0.9,en;q=0.8"),
            kefu_api::testing::EDGE_PROOF,
        ],
    )
    .await
    .expect("upgrade");
    visitor.send(json!({ "type": "hello", "protocol": 1 })).await;
    visitor.next_of("welcome").await;
    let mut agent = app.agent(&owner).await;
    agent.send(json!({ "type": "subscribe_inbox" })).await;

    visitor
        .send(json!({ "type": "page_view", "url": "https://shop.example/landing?utm_source=wechat&utm_campaign=%E5%8F%8C11", "title": "双11", "referrer": "https://weixin.qq.com/" }))
        .await;
    let seen = agent.next_of("page_view").await;
    assert_eq!(seen["visitor_id"], visitor_id.to_string().as_str());
    assert_eq!(seen["title"], "双11");
    visitor.send(json!({ "type": "page_view", "url": "https://shop.example/cart", "title": "Cart" })).await;
    assert_eq!(agent.next_of("page_view").await["url"], "https://shop.example/cart");
    visitor.send(json!({ "type": "page_view", "url": "ftp://nope" })).await;
    assert_eq!(visitor.next_of("error").await["code"], "invalid_frame");

    let (status, profile) = app.get(&format!("/api/v1/visitors/{visitor_id}"), Some(&owner.access)).await;
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["device"], "smartphone");
    assert_eq!(profile["language"], "zh-CN");
    assert_eq!(profile["first_referrer"], "https://weixin.qq.com/");
    assert_eq!(profile["first_utm"], json!({ "source": "wechat", "campaign": "双11" }));
    assert_eq!(profile["attributes"]["current_page"]["url"], "https://shop.example/cart");
    let urls: Vec<&str> =
        profile["recent_pages"].as_array().into_iter().flatten().filter_map(|p| p["url"].as_str()).collect();
    assert_eq!(
        urls,
        vec!["https://shop.example/cart", "https://shop.example/landing?utm_source=wechat&utm_campaign=%E5%8F%8C11"]
    );

    // Another tenant cannot read this visitor.
    let other = app.signup().await;
    let (status, _) = app.get(&format!("/api/v1/visitors/{visitor_id}"), Some(&other.access)).await;
    assert_eq!(status, 404);
}

/// Page views are written in batches (ops::page_views): a burst from two visitors keeps each
/// visitor's order, makes the last one the current page, and keeps the first referrer and
/// campaign of the burst; each view reaches agents once, after it was written.
#[tokio::test]
async fn a_burst_of_page_views_is_written_in_order_with_the_first_referrer_and_campaign() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let mut agent = app.agent(&owner).await;
    agent.send(json!({ "type": "subscribe_inbox" })).await;
    let (first, second) = (new_visitor(), new_visitor());
    let (mut a, _) = app.visitor(&owner.tenant_id, first, None).await;
    let (mut b, _) = app.visitor(&owner.tenant_id, second, None).await;
    for i in 0..5 {
        let referrer = if i == 1 { json!("https://search.example/?q=kefu") } else { json!(null) };
        let url = if i >= 2 {
            format!("https://shop.example/{i}?utm_source=mail{i}")
        } else {
            format!("https://shop.example/{i}")
        };
        a.send(json!({ "type": "page_view", "url": url, "title": format!("A{i}"), "referrer": referrer })).await;
        b.send(json!({ "type": "page_view", "url": format!("https://shop.example/b{i}") })).await;
    }
    let mut seen = Vec::new();
    for _ in 0..10 {
        let view = agent.next_of("page_view").await;
        seen.push((view["visitor_id"].as_str().unwrap_or_default().to_owned(), view["url"].clone()));
    }
    let of = |visitor: VisitorId| -> Vec<serde_json::Value> {
        seen.iter().filter(|(v, _)| *v == visitor.to_string()).map(|(_, url)| url.clone()).collect()
    };
    assert_eq!(of(first).len(), 5, "{seen:?}");
    assert_eq!(of(second).len(), 5, "{seen:?}");

    let (status, profile) = app.get(&format!("/api/v1/visitors/{first}"), Some(&owner.access)).await;
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["first_referrer"], "https://search.example/?q=kefu");
    assert_eq!(profile["first_utm"], json!({ "source": "mail2" }));
    assert_eq!(profile["attributes"]["current_page"]["url"], "https://shop.example/4?utm_source=mail4");
    assert_eq!(profile["attributes"]["current_page"]["title"], "A4");
    let urls: Vec<&str> =
        profile["recent_pages"].as_array().into_iter().flatten().filter_map(|p| p["url"].as_str()).collect();
    assert_eq!(
        urls,
        vec![
            "https://shop.example/4?utm_source=mail4",
            "https://shop.example/3?utm_source=mail3",
            "https://shop.example/2?utm_source=mail2",
            "https://shop.example/1",
            "https://shop.example/0",
        ]
    );
    let (_, other) = app.get(&format!("/api/v1/visitors/{second}"), Some(&owner.access)).await;
    assert_eq!(other["attributes"]["current_page"]["url"], "https://shop.example/b4", "{other}");
    assert_eq!(other["first_referrer"], json!(null), "{other}");
}

/// The security review: the agent socket did not check `Origin`. A page on another site (or a
/// sandboxed one, `null`) is refused; the console's own address and the listed origins pass; a
/// client sending no `Origin` is not a browser page and is judged by its token.
#[tokio::test]
async fn agent_sockets_opened_from_another_sites_page_are_refused() {
    use kefu_api::testing::WsClient;
    let app = TestApp::spawn_with(|c| c.http.cors_origins = vec!["http://console.kefu.test:5173".into()]).await;
    let owner = app.signup().await;
    let url = app.ws_url(&format!("/ws/agent?token={}", owner.access));
    for origin in ["https://evil.example", "null", "http://console.kefu.test:5174"] {
        assert_eq!(WsClient::connect_with_headers(&url, &[("origin", origin)]).await.err(), Some(403), "{origin}");
    }
    let own = app.url("");
    for origin in [own.as_str(), "http://console.kefu.test:5173"] {
        assert!(WsClient::connect_with_headers(&url, &[("origin", origin)]).await.is_ok(), "{origin}");
    }
    assert!(WsClient::connect(&url).await.is_ok(), "no Origin: not a browser page");
}

/// Who may act in a colleague's conversation (docs/decisions.md): closing, retagging and replying
/// in one that someone has is for its assignee and supervisors and up (replies: its participants
/// too); anyone may while nobody has it; private notes are open to every member.
#[tokio::test]
async fn only_the_assignee_or_a_supervisor_closes_retags_or_replies_in_a_colleagues_conversation() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (alice, bob) = (app.invite_and_accept(&owner, "agent").await, app.invite_and_accept(&owner, "agent").await);
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    visitor.send(json!({ "type": "send", "client_id": "c-1", "body": "我的订单" })).await;
    let conversation = visitor.next_of("ack").await["conversation_id"].as_str().unwrap_or_default().to_owned();
    let tags = format!("/api/v1/conversations/{conversation}/tags");
    // Nobody has it: anyone may tag it.
    let (status, body) = app.call("PUT", &tags, Some(&bob.access), Some(json!({ "tags": ["订单"] }))).await;
    assert_eq!(status, 200, "{body}");
    // …and reply in it.
    let mut bob_ws = app.agent(&bob).await;
    let reply = |client_id: &str, private: bool| {
        let kind = if private { "note" } else { "send" };
        json!({ "type": kind, "conversation_id": conversation, "client_id": client_id, "body": "您好" })
    };
    bob_ws.send(reply("b-1", false)).await;
    assert_eq!(bob_ws.next_of("ack").await["seq"], 2);

    let mut alice_ws = app.agent(&alice).await;
    alice_ws.send(json!({ "type": "claim", "conversation_id": conversation })).await;
    for _ in 0..100 {
        let (_, row) = app.get(&format!("/api/v1/conversations/{conversation}"), Some(&owner.access)).await;
        if row["assignee"] == alice.user_id.as_str() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Alice has it: Bob may neither retag nor close it.
    let (status, problem) = app.call("PUT", &tags, Some(&bob.access), Some(json!({ "tags": ["退款"] }))).await;
    assert_eq!((status.as_u16(), problem["code"].as_str()), (403, Some("forbidden")), "{problem}");
    bob_ws.send(json!({ "type": "close", "conversation_id": conversation })).await;
    assert_eq!(bob_ws.next_of("error").await["code"], "forbidden");
    // Nor reply in it (the refusal names the message), though a private note is fine.
    bob_ws.send(reply("b-2", false)).await;
    let refused = bob_ws.next_of("error").await;
    assert_eq!(
        (refused["code"].as_str(), refused["client_id"].as_str()),
        (Some("forbidden"), Some("b-2")),
        "{refused}"
    );
    bob_ws.send(reply("b-3", true)).await;
    assert_eq!(bob_ws.next_of("ack").await["seq"], 3);
    // Alice replies; so does the owner (a supervisor and up), over the socket.
    alice_ws.send(reply("a-1", false)).await;
    assert_eq!(alice_ws.next_of("ack").await["seq"], 4);
    // Alice and a supervisor may.
    let (status, _) = app.call("PUT", &tags, Some(&alice.access), Some(json!({ "tags": ["退款"] }))).await;
    assert_eq!(status, 200);
    let (status, _) = app.call("PUT", &tags, Some(&owner.access), Some(json!({ "tags": ["退款", "加急"] }))).await;
    assert_eq!(status, 200);
    let mut owner_ws = app.agent(&owner).await;
    owner_ws.send(reply("o-1", false)).await;
    assert_eq!(owner_ws.next_of("ack").await["seq"], 5);
    owner_ws.send(json!({ "type": "close", "conversation_id": conversation })).await;
    for _ in 0..100 {
        let (_, row) = app.get(&format!("/api/v1/conversations/{conversation}"), Some(&owner.access)).await;
        if row["status"] == "closed" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the supervisor's close did not take");
}

/// A client that stops reading while messages pour in is closed with 4000 (its queue is dropped,
/// the close frame waits behind what the socket already holds), and a resume from the last
/// sequence number it saw delivers every later message exactly once, in order, well beyond one
/// replay page.
#[tokio::test]
async fn a_slow_consumer_is_closed_with_4000_and_resumes_without_loss() {
    const FLOODERS: usize = 10;
    const EACH: usize = 100;
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    visitor.send(json!({ "type": "send", "client_id": "v-0", "body": "hello" })).await;
    let conversation = visitor.next_of("ack").await["conversation_id"].as_str().expect("conversation").to_owned();

    let agent_url = app.ws_url(&format!("/ws/agent?token={}", owner.access));
    let mut slow = kefu_api::testing::WsClient::connect_with_receive_buffer(&agent_url, 4096).await;
    slow.send(json!({ "type": "hello", "protocol": 1 })).await;
    slow.next_of("welcome").await;
    slow.send(json!({ "type": "join", "conversation_id": conversation })).await;
    assert_eq!(slow.next_of("message").await["seq"], 1);

    // The slow agent stops reading; other connections send long messages (4000 CJK characters,
    // 12 KB each) at the allowed rate.
    let body = "慢".repeat(4000);
    let mut flooders = Vec::new();
    for flooder in 0..FLOODERS {
        let mut client = app.agent(&owner).await;
        let (conversation, body) = (conversation.clone(), body.clone());
        flooders.push(tokio::spawn(async move {
            for i in 0..EACH {
                let client_id = format!("f{flooder}-{i}");
                client.send(json!({ "type": "send", "conversation_id": conversation, "client_id": client_id, "body": body })).await;
                if i >= 30 {
                    tokio::time::sleep(std::time::Duration::from_millis(55)).await;
                }
            }
            let mut acked = 0;
            while acked < EACH {
                let frame = client.next().await.expect("flooder session");
                match frame["type"].as_str() {
                    Some("ack") => acked += 1,
                    Some("error") => panic!("flooder refused: {frame}"),
                    _ => {}
                }
            }
        }));
    }
    for flooder in flooders {
        flooder.await.expect("flooder");
    }
    let last = 1 + i64::try_from(FLOODERS * EACH).expect("count");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    // Reading again: what the socket held, then the close frame.
    let mut seen = 1;
    let end = loop {
        match slow.next().await {
            Ok(frame) if frame["type"] == "message" => {
                let seq = frame["seq"].as_i64().expect("seq");
                assert_eq!(seq, seen + 1, "in order, no gaps, before the close");
                seen = seq;
            }
            Ok(_) => {}
            Err(end) => break end,
        }
    };
    assert_eq!(end, kefu_api::testing::WsEnd::Closed(4000), "slow consumer close code");
    assert!(seen < last, "the slow consumer was cut off before the end ({seen} of {last})");

    // Resume from the last sequence number seen: everything else, exactly once, in order.
    let mut resumed = app.agent(&owner).await;
    resumed.send(json!({ "type": "join", "conversation_id": conversation, "last_seq": seen })).await;
    while seen < last {
        let frame = resumed.next_of("message").await;
        let seq = frame["seq"].as_i64().expect("seq");
        assert_eq!(seq, seen + 1, "resume is gap-free and in order");
        seen = seq;
    }
    let joined = resumed.next().await.expect("joined");
    assert_eq!(
        (joined["type"].as_str(), joined["last_seq"].as_i64()),
        (Some("joined"), Some(last)),
        "after the replay"
    );
    resumed.expect_silence(300).await;
}

/// An agent's messages carry the name they go by in the tenant, and an agent removed from the
/// tenant loses the socket that is already open (4005), not only new requests.
#[tokio::test]
async fn agent_messages_use_the_tenant_profile_name_and_removal_closes_the_socket() {
    let app = TestApp::spawn_with(|c| c.auth.session_recheck_secs = 1).await;
    let owner = app.verified_owner().await;
    let member = app.invite_and_accept(&owner, "agent").await;
    let profile = format!("/api/v1/members/{}/profile", member.user_id);
    let (status, body) =
        app.call("PATCH", &profile, Some(&owner.access), Some(json!({ "display_name": "小王 (客服)" }))).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");

    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    visitor.send(json!({ "type": "send", "client_id": "v-1", "body": "在吗？" })).await;
    let conversation = visitor.next_of("ack").await["conversation_id"].as_str().expect("conversation").to_owned();
    let mut agent = app.agent(&member).await;
    agent.send(json!({ "type": "send", "conversation_id": conversation, "client_id": "a-1", "body": "在的" })).await;
    let reply = visitor.next_of("message").await;
    assert_eq!(reply["sender"]["name"], "小王 (客服)");

    let (status, _) =
        app.call("DELETE", &format!("/api/v1/members/{}", member.user_id), Some(&owner.access), None).await;
    assert_eq!(status, reqwest::StatusCode::NO_CONTENT);
    let end = loop {
        match agent.next().await {
            Ok(_) => continue,
            Err(end) => break end,
        }
    };
    assert_eq!(end, kefu_api::testing::WsEnd::Closed(4005));
}

async fn visitor_presence_follows_tabs_and_pages(app: TestApp) {
    let owner = app.verified_owner().await;
    let mut agent = app.agent(&owner).await;
    agent.send(json!({ "type": "subscribe_inbox" })).await;
    let visitor_id = new_visitor();
    let profile = format!("/api/v1/visitors/{visitor_id}");

    let (mut tab1, _) = app.visitor(&owner.tenant_id, visitor_id, None).await;
    let online = agent.next_of("visitor_presence").await;
    assert_eq!(
        (online["visitor_id"].as_str(), online["online"].as_bool()),
        (Some(visitor_id.to_string().as_str()), Some(true))
    );
    tab1.send(json!({ "type": "page_view", "url": "https://shop.example/cart", "title": "购物车" })).await;
    agent.next_of("page_view").await;
    let (status, listed) = app.get("/api/v1/presence/visitors", Some(&owner.access)).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{listed}");
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["visitors"][0]["visitor_id"], visitor_id.to_string());
    assert_eq!(listed["visitors"][0]["current_page"]["url"], "https://shop.example/cart");
    assert_eq!(listed["visitors"][0]["current_page"]["title"], "购物车");
    assert_eq!(app.get(&profile, Some(&owner.access)).await.1["online"], true);

    // A second tab: still one visitor; closing one tab keeps them online.
    let (tab2, _) = app.visitor(&owner.tenant_id, visitor_id, None).await;
    drop(tab1);
    agent.expect_silence(300).await;
    assert_eq!(app.get("/api/v1/presence/visitors", Some(&owner.access)).await.1["total"], 1);
    drop(tab2);
    let offline = agent.next_of("visitor_presence").await;
    assert_eq!(offline["online"], false);
    let (_, listed) = app.get("/api/v1/presence/visitors", Some(&owner.access)).await;
    assert_eq!((listed["total"].as_u64(), listed["visitors"].as_array().map(Vec::len)), (Some(0), Some(0)));
    assert_eq!(app.get(&profile, Some(&owner.access)).await.1["online"], false);

    // Another tenant's agents see none of it.
    let other = app.verified_owner().await;
    let (mut stranger, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    stranger.send(json!({ "type": "ping" })).await;
    stranger.next_of("pong").await;
    assert_eq!(app.get("/api/v1/presence/visitors", Some(&other.access)).await.1["total"], 0);
}

#[tokio::test]
async fn visitor_presence_in_process() {
    visitor_presence_follows_tabs_and_pages(TestApp::spawn().await).await;
}

#[tokio::test]
async fn visitor_presence_in_redis() {
    let redis = std::env::var("REDIS_URL").expect("REDIS_URL (make test sets it)");
    visitor_presence_follows_tabs_and_pages(TestApp::spawn_with(|c| c.redis.url = Some(redis.into())).await).await;
}

/// The transcript pages over REST in both directions with notes included, bad paging is a
/// typed 400, and another tenant's conversation does not exist.
#[tokio::test]
async fn transcript_pages_over_rest_and_stays_in_its_tenant() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    for i in 1..=7 {
        visitor.send(json!({ "type": "send", "client_id": format!("v-{i}"), "body": format!("第{i}条") })).await;
        visitor.next_of("ack").await;
    }
    let ack = {
        visitor.send(json!({ "type": "send", "client_id": "v-8", "body": "last" })).await;
        visitor.next_of("ack").await
    };
    let conversation = ack["conversation_id"].as_str().expect("conversation").to_owned();
    let mut agent = app.agent(&owner).await;
    agent.send(json!({ "type": "note", "conversation_id": conversation, "client_id": "n-1", "body": "note" })).await;
    agent.next_of("ack").await;

    let base = format!("/api/v1/conversations/{conversation}");
    let seqs = |page: &Value| -> Vec<i64> {
        page["messages"].as_array().expect("messages").iter().filter_map(|m| m["seq"].as_i64()).collect()
    };
    let (status, latest) = app.get(&format!("{base}/messages?limit=4"), Some(&owner.access)).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{latest}");
    assert_eq!((seqs(&latest), latest["has_more"].as_bool()), (vec![6, 7, 8, 9], Some(true)));
    assert_eq!(latest["messages"][3]["private"], true, "notes are part of the agents' transcript");
    let (_, older) = app.get(&format!("{base}/messages?limit=4&before_seq=6"), Some(&owner.access)).await;
    assert_eq!((seqs(&older), older["has_more"].as_bool()), (vec![2, 3, 4, 5], Some(true)));
    let (_, oldest) = app.get(&format!("{base}/messages?limit=4&before_seq=2"), Some(&owner.access)).await;
    assert_eq!((seqs(&oldest), oldest["has_more"].as_bool()), (vec![1], Some(false)));
    let (_, newer) = app.get(&format!("{base}/messages?after_seq=6"), Some(&owner.access)).await;
    assert_eq!((seqs(&newer), newer["has_more"].as_bool()), (vec![7, 8, 9], Some(false)));
    let (status, summary) = app.get(&base, Some(&owner.access)).await;
    assert_eq!((status, summary["last_seq"].as_i64()), (reqwest::StatusCode::OK, Some(9)));

    for bad in ["limit=0", "limit=201", "before_seq=3&after_seq=1", "limit=abc"] {
        let (status, problem) = app.get(&format!("{base}/messages?{bad}"), Some(&owner.access)).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (reqwest::StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed")),
            "{bad}: {problem}"
        );
    }
    let other = app.verified_owner().await;
    for path in [base.clone(), format!("{base}/messages")] {
        let (status, problem) = app.get(&path, Some(&other.access)).await;
        assert_eq!((status, problem["code"].as_str()), (reqwest::StatusCode::NOT_FOUND, Some("resource_not_found")));
    }
    let (status, _) = app.get("/api/v1/conversations/conv_nonsense/messages", Some(&owner.access)).await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn visitors_get_availability_queue_places_profiles_context_and_ratings() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (first_id, second_id) = (new_visitor(), new_visitor());

    // Nobody is connected: offline, and nothing waits yet.
    let (mut first, welcome) = app.visitor(&owner.tenant_id, first_id, None).await;
    let status = &welcome["status"];
    assert_eq!(status["agents"], "offline");
    assert!(status.get("queue").is_none(), "{status}");

    // Two visitors write: the second waits behind the first.
    first.send(json!({ "type": "send", "client_id": "f1", "body": "first in line" })).await;
    let conversation = first.next_of("ack").await["conversation_id"].as_str().expect("id").to_owned();
    let queued = first.next_of("status").await;
    assert_eq!(queued["queue"]["position"], 1);
    assert!(queued["queue"].get("estimated_wait_secs").is_none(), "no history, no estimate: {queued}");
    let (mut second, _) = app.visitor(&owner.tenant_id, second_id, None).await;
    second.send(json!({ "type": "send", "client_id": "s1", "body": "second" })).await;
    assert_eq!(second.next_of("status").await["queue"]["position"], 2);

    // An agent connects and takes the first conversation: the second moves up, with an estimate.
    let mut agent = app.agent(&owner).await;
    agent.send(json!({ "type": "subscribe_inbox" })).await;
    agent.send(json!({ "type": "claim", "conversation_id": conversation })).await;
    first.next_of("conversation_updated").await;
    // Pushed: nobody asks.
    let moved = second.status_where("the second moved up", |s| s["queue"]["position"] == 1).await;
    assert_eq!(moved["agents"], "online");
    assert!(moved["queue"]["estimated_wait_secs"].is_u64(), "a free agent: the median pickup time: {moved}");
    agent.send(json!({ "type": "set_presence", "status": "busy" })).await;
    agent.next_of("presence").await;
    second.status_where("busy", |s| s["agents"] == "busy").await;
    first.send(json!({ "type": "status" })).await;
    let answered = first.status_where("busy", |s| s["agents"] == "busy").await;
    assert!(answered.get("queue").is_none(), "an assigned conversation is not queued");

    // Profile and context reach agents.
    first
        .send(json!({ "type": "profile", "name": "王小明", "email": "xm@example.cn", "phone": "+86 138 0000 0000",
                       "fields": { "order_no": "A-1001" } }))
        .await;
    assert_eq!(first.next_of("saved").await["what"], "profile");
    first.send(json!({ "type": "context", "data": { "error": "payment failed", "cart": [1, 2] } })).await;
    assert_eq!(first.next_of("saved").await["what"], "context");
    assert_eq!(agent.next_of("visitor_updated").await["visitor_id"], first_id.to_string());
    let (status, profile) = app.get(&format!("/api/v1/visitors/{first_id}"), Some(&owner.access)).await;
    assert_eq!(status, 200, "{profile}");
    assert_eq!((profile["name"].as_str(), profile["email"].as_str()), (Some("王小明"), Some("xm@example.cn")));
    assert_eq!(profile["attributes"]["phone"], "+86 138 0000 0000");
    assert_eq!(profile["attributes"]["fields"]["order_no"], "A-1001");
    let (_, profile) = app.get(&format!("/api/v1/visitors/{first_id}"), Some(&owner.access)).await;
    assert_eq!(profile["attributes"]["context"]["error"], "payment failed", "saved means stored");
    first.send(json!({ "type": "profile", "email": "nope" })).await;
    assert_eq!(first.next_of("error").await["code"], "invalid_frame");

    // Ratings: not while open, not someone else's, then once closed.
    let rate =
        |rating: u8| json!({ "type": "rate", "conversation_id": conversation, "rating": rating, "comment": "很好" });
    first.send(rate(5)).await;
    assert_eq!(first.next_of("error").await["code"], "forbidden");
    agent.send(json!({ "type": "close", "conversation_id": conversation })).await;
    assert_eq!(first.next_of("conversation_updated").await["status"], "closed");
    second.send(rate(1)).await;
    assert_eq!(second.next_of("error").await["code"], "conversation_not_found");
    first.send(rate(4)).await;
    let rated = first.next_of("rated").await;
    assert_eq!((rated["conversation_id"].as_str(), rated["rating"].as_u64()), (Some(conversation.as_str()), Some(4)));
    let (_, summary) = app.get(&format!("/api/v1/conversations/{conversation}"), Some(&owner.access)).await;
    assert_eq!(summary["rating"], 4);
    // The team reads the rating and its comment in the transcript, as a note.
    let (_, page) = app.get(&format!("/api/v1/conversations/{conversation}/messages"), Some(&owner.access)).await;
    let last = page["messages"].as_array().and_then(|m| m.last()).cloned().unwrap_or_default();
    assert_eq!(last["event"], json!({ "kind": "rated", "rating": 4, "comment": "很好" }), "{page}");
    assert_eq!((last["private"].as_bool(), last["sender"]["kind"].as_str()), (Some(true), Some("system")));
}

#[tokio::test]
async fn the_inbox_lists_by_status_and_assignee_with_unread_counts_and_pages() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let mut conversations = Vec::new();
    for (n, text) in ["第一位", "second", "third"].iter().enumerate() {
        let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
        visitor.send(json!({ "type": "send", "client_id": format!("c{n}"), "body": text })).await;
        conversations.push(visitor.next_of("ack").await["conversation_id"].as_str().expect("id").to_owned());
        if n == 0 {
            visitor.send(json!({ "type": "send", "client_id": "c0b", "body": "还在吗" })).await;
            visitor.next_of("ack").await;
        }
    }
    let mut agent = app.agent(&owner).await;
    agent.send(json!({ "type": "claim", "conversation_id": conversations[1] })).await;
    agent.send(json!({ "type": "close", "conversation_id": conversations[2] })).await;
    agent.send(json!({ "type": "ping" })).await;
    agent.next_of("pong").await;

    let ids = |page: &Value| -> Vec<String> {
        page["conversations"]
            .as_array()
            .expect("list")
            .iter()
            .map(|c| c["conversation_id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let (status, open) = app.get("/api/v1/conversations", Some(&owner.access)).await;
    assert_eq!(status, 200, "{open}");
    assert_eq!(ids(&open), vec![conversations[1].clone(), conversations[0].clone()], "open, newest activity first");
    let first = &open["conversations"][1];
    assert_eq!((first["unread"].as_i64(), first["last_message"]["body"].as_str()), (Some(2), Some("还在吗")));
    let (_, queue) = app.get("/api/v1/conversations?assignee=none", Some(&owner.access)).await;
    assert_eq!(ids(&queue), vec![conversations[0].clone()]);
    let (_, mine) = app.get("/api/v1/conversations?assignee=me", Some(&owner.access)).await;
    assert_eq!(ids(&mine), vec![conversations[1].clone()]);
    let (_, closed) = app.get("/api/v1/conversations?status=closed", Some(&owner.access)).await;
    assert_eq!(ids(&closed), vec![conversations[2].clone()]);

    // Pages: one at a time, following next_before, every conversation once.
    let mut seen = Vec::new();
    let mut path = "/api/v1/conversations?status=all&limit=1".to_owned();
    loop {
        let (_, page) = app.get(&path, Some(&owner.access)).await;
        seen.extend(ids(&page));
        match page["next_before"].as_str() {
            Some(cursor) => path = format!("/api/v1/conversations?status=all&limit=1&before={cursor}"),
            None => break,
        }
    }
    seen.retain(|id| !id.is_empty());
    seen.sort();
    let mut all = conversations.clone();
    all.sort();
    assert_eq!(seen, all);

    for bad in ["status=pending", "assignee=someone", "limit=0", "limit=101", "before=nonsense"] {
        let (status, problem) = app.get(&format!("/api/v1/conversations?{bad}"), Some(&owner.access)).await;
        assert_eq!(status, 422, "{bad}: {problem}");
    }
    // Another tenant's inbox is its own.
    let other = app.verified_owner().await;
    let (_, theirs) = app.get("/api/v1/conversations?status=all", Some(&other.access)).await;
    assert_eq!(theirs["conversations"], json!([]));
}

/// Agents that join a long conversation and disconnect while its replay is running end their
/// forwarders between two replay pages, never inside one: no transaction is left open on a
/// pooled connection (which would block the conversation's senders on its row lock), and a
/// send right after is acknowledged at once.
#[tokio::test]
async fn disconnecting_during_a_replay_leaves_no_transaction_open() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    visitor.send(json!({ "type": "send", "client_id": "v-0", "body": "hello" })).await;
    let conversation = visitor.next_of("ack").await["conversation_id"].as_str().expect("conversation").to_owned();
    // Three replay pages of history, written the way the api writes them.
    let schema = format!("t_{}", owner.tenant_id.trim_start_matches("tnt_"));
    let conversation_uuid = conversation.trim_start_matches("conv_").parse::<uuid::Uuid>().expect("uuid");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {schema}.send_message($1, null, null, gen_random_uuid(), 'system', '00000000-0000-0000-0000-000000000000', \
         null, 'h-' || n, false, 'history ' || n, null) from generate_series(1, 1400) n"
    )))
    .bind(conversation_uuid)
    .execute(app.db())
    .await
    .expect("history");

    let url = app.ws_url(&format!("/ws/agent?token={}", owner.access));
    for _ in 0..15 {
        let mut agent = kefu_api::testing::WsClient::connect_with_receive_buffer(&url, 4096).await;
        agent.send(json!({ "type": "hello", "protocol": 1 })).await;
        agent.next_of("welcome").await;
        agent.send(json!({ "type": "join", "conversation_id": conversation })).await;
        agent.next_of("message").await;
        drop(agent); // gone mid-replay
    }
    // A replay transaction between its statements is idle in transaction for microseconds; an
    // abandoned one stays so until Postgres ends it (10 s). Other tests share the database, so
    // only replay transactions count, and the check waits for a moment with none.
    let mut open = i64::MAX;
    for _ in 0..30 {
        open = sqlx::query_scalar(
            "select count(*) from pg_stat_activity where datname = current_database() \
             and state like 'idle in transaction%' and query like '%seq > $2 and ($3 or not private)%'",
        )
        .fetch_one(app.db())
        .await
        .expect("pg_stat_activity");
        if open == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(open, 0, "no replay transaction is left open by a stopped forwarder");

    visitor.send(json!({ "type": "send", "client_id": "v-1", "body": "still there?" })).await;
    assert_eq!(visitor.next_of("ack").await["seq"], 1402);
}
