//! The message path itself: group commit (refusals and failures stay with their own message),
//! many tenants sending through one node at once, resuming hundreds of conversations with
//! `join_many`, a session driven over channels, and the path's metrics.

use std::time::Duration;

use kefu_api::auth::TenantCtx;
use kefu_api::db::message_batch::{Destination, MessageBatch, NewMessage, Stored};
use kefu_api::db::{self, TenantSchema, TenantTx};
use kefu_api::ops::group_commit::{GroupCommit, MessageStore};
use kefu_api::testing::{Session, TestApp, WsClient};
use kefu_protocol::{ConversationId, UserId, VisitorId};
use serde_json::{Value, json};

fn new_visitor() -> VisitorId {
    VisitorId::from_uuid(uuid::Uuid::now_v7())
}

async fn visitors(app: &TestApp, schema: &TenantSchema, count: usize) -> Vec<VisitorId> {
    let ids: Vec<VisitorId> = (0..count).map(|_| new_visitor()).collect();
    let mut tx = TenantTx::begin(app.databases(), schema).await.expect("tenant tx");
    for id in &ids {
        db::visitors::touch(&mut tx, *id, &db::visitors::Seen::default()).await.expect("visitor");
    }
    tx.commit().await.expect("commit");
    ids
}

fn from_visitor(visitor: VisitorId, client_id: &str, body: &str) -> NewMessage {
    NewMessage {
        destination: Destination::Visitor { visitor },
        client_id: client_id.into(),
        body: body.into(),
        attachment: None,
    }
}

fn from_agent(agent: UserId, conversation: ConversationId, client_id: &str) -> NewMessage {
    NewMessage {
        destination: Destination::Agent { agent, name: "小李".into(), conversation, private: false, directs: false },
        client_id: client_id.into(),
        body: "agent reply".into(),
        attachment: None,
    }
}

/// (seq, client id, body) of a conversation, in order.
async fn transcript(app: &TestApp, schema: &TenantSchema, conversation: ConversationId) -> Vec<(i64, String, String)> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select seq, client_id, body from {schema}.messages where conversation_id = $1 order by seq"
    )))
    .bind(conversation)
    .fetch_all(app.db())
    .await
    .expect("transcript")
}

fn conversation_of(stored: &Stored) -> ConversationId {
    match stored {
        Stored::New { conversation, .. } => conversation.id,
        other => panic!("expected a stored message, got {other:?}"),
    }
}

/// One statement stores a batch in which most messages are refused, each for its own reason:
/// the others are stored with gap-free numbers and the refused ones leave nothing behind.
#[tokio::test]
async fn refusals_in_a_batch_stay_with_their_own_message() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let other = app.verified_owner().await;
    let schema = app.tenant_schema(&owner.tenant_id).await;
    let other_schema = app.tenant_schema(&other.tenant_id).await;
    let agent: UserId = owner.user_id.parse().expect("user id");
    let [a, b, c]: [VisitorId; 3] = visitors(&app, &schema, 3).await.try_into().expect("three visitors");
    let [d]: [VisitorId; 1] = visitors(&app, &other_schema, 1).await.try_into().expect("one visitor");

    // A first batch opens conversations for a and c; c's is then closed.
    let mut first = MessageBatch::new(kefu_api::db::DatabaseId::main(), 2);
    first.push(&schema, from_visitor(a, "a-1", "hello"));
    first.push(&schema, from_visitor(c, "c-1", "hi"));
    let opened = first.store(app.databases()).await.expect("first batch");
    let (conversation_a, conversation_c) = (conversation_of(&opened[0]), conversation_of(&opened[1]));
    let mut tx = TenantTx::begin(app.databases(), &schema).await.expect("tx");
    db::conversations::close(&mut tx, conversation_c).await.expect("close").expect("was open");
    tx.commit().await.expect("commit");
    // Visitor c uploaded a file; visitor a may not send it.
    let upload = reqwest::Client::new()
        .post(app.url("/api/v1/visitor/attachments?name=note.txt"))
        .bearer_auth(app.visitor_token(&owner.tenant_id, c, 600))
        .header("content-type", "application/octet-stream")
        .body("a plain note".as_bytes().to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(upload.status(), 201);
    let attachment: Value = upload.json().await.expect("json");
    let attachment = attachment["id"].as_str().expect("id").parse().expect("attachment id");

    let mut batch = MessageBatch::new(kefu_api::db::DatabaseId::main(), 9);
    batch.push(&schema, from_visitor(a, "a-2", "second")); // 0 stored
    batch.push(&schema, from_agent(agent, conversation_c, "x-1")); // 1 closed
    batch.push(&schema, from_agent(agent, ConversationId::from_uuid(uuid::Uuid::now_v7()), "x-2")); // 2 not found
    batch.push(&other_schema, from_agent(agent, conversation_a, "x-3")); // 3 another tenant's conversation
    batch.push(&schema, NewMessage { attachment: Some(attachment), ..from_visitor(a, "a-3", "take this") }); // 4
    batch.push(&schema, from_visitor(a, "a-1", "hello again")); // 5 a retry of a-1
    batch.push(&schema, from_agent(agent, conversation_a, "x-4")); // 6 stored
    batch.push(&schema, from_visitor(a, "a-2", "second, again")); // 7 a retry within the batch
    batch.push(&other_schema, from_visitor(d, "d-1", "other tenant")); // 8 stored, opens d's
    batch.push(&schema, from_visitor(b, "b-1", "b opens")); // 9 stored, opens b's
    let outcomes = batch.store(app.databases()).await.expect("batch");
    assert_eq!(outcomes.len(), 10);
    let Stored::New { message, conversation, opened } = &outcomes[0] else { panic!("{:?}", outcomes[0]) };
    assert_eq!((message.seq, conversation.id, *opened), (2, conversation_a, false));
    assert!(matches!(outcomes[1], Stored::Closed), "{:?}", outcomes[1]);
    assert!(matches!(outcomes[2], Stored::NotFound), "{:?}", outcomes[2]);
    assert!(
        matches!(outcomes[3], Stored::NotFound),
        "a conversation of another tenant is not found: {:?}",
        outcomes[3]
    );
    assert!(matches!(outcomes[4], Stored::BadAttachment), "{:?}", outcomes[4]);
    let Stored::Duplicate { seq, conversation_id, .. } = &outcomes[5] else { panic!("{:?}", outcomes[5]) };
    assert_eq!((*seq, *conversation_id), (1, conversation_a), "a retry is answered with the original");
    let Stored::New { message, .. } = &outcomes[6] else { panic!("{:?}", outcomes[6]) };
    assert_eq!(message.seq, 3, "refusals take no sequence number");
    let Stored::Duplicate { seq, .. } = &outcomes[7] else { panic!("{:?}", outcomes[7]) };
    assert_eq!(*seq, 2, "a retry within the batch is the message stored earlier in it");
    let Stored::New { opened, message, .. } = &outcomes[8] else { panic!("{:?}", outcomes[8]) };
    assert!(*opened && message.seq == 1);
    let Stored::New { opened, conversation, .. } = &outcomes[9] else { panic!("{:?}", outcomes[9]) };
    assert!(*opened && conversation.last_seq == 1);

    assert_eq!(
        transcript(&app, &schema, conversation_a).await,
        vec![
            (1, "a-1".into(), "hello".into()),
            (2, "a-2".into(), "second".into()),
            (3, "x-4".into(), "agent reply".into())
        ]
    );
    assert_eq!(transcript(&app, &schema, conversation_c).await.len(), 1, "nothing went into the closed one");
    let unsent: Option<Option<uuid::Uuid>> =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select message_id from {schema}.attachments where id = $1")))
            .bind(attachment)
            .fetch_optional(app.db())
            .await
            .expect("attachment");
    assert_eq!(unsent, Some(None), "the refused attachment is still unsent");
}

/// A message that makes Postgres fail (here a trigger raising for one body) rolls its whole
/// batch back; group commit then stores each message of the batch on its own, so only that
/// message gets an error and every other one is stored and answered.
#[tokio::test]
async fn a_failing_message_fails_alone_and_its_batch_is_stored_without_it() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let schema = app.tenant_schema(&owner.tenant_id).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "create function {schema}.refuse_boom() returns trigger language plpgsql as $$
         begin
             if new.body = 'boom' then raise exception 'boom refused'; end if;
             return new;
         end $$;
         create trigger refuse_boom before insert on {schema}.messages
             for each row execute function {schema}.refuse_boom();"
    )))
    .execute(app.db())
    .await
    .expect("trigger");
    let people = visitors(&app, &schema, 13).await;
    // One batch at a time, so the sends below queue up behind a blocked one and go together.
    let store = MessageStore::start(app.databases().clone(), GroupCommit { max_batch: 256, in_flight: 1 });
    let blocker = people[0];
    let opened = store.store(&schema, from_visitor(blocker, "b-0", "first")).await.expect("store");
    let blocked_conversation = conversation_of(&opened);
    let mut lock = TenantTx::begin(app.databases(), &schema).await.expect("tx");
    db::conversations::lock(&mut lock, blocked_conversation).await.expect("lock").expect("exists");
    let blocked = {
        let (store, schema) = (store.clone(), schema.clone());
        tokio::spawn(async move { store.store(&schema, from_visitor(blocker, "b-1", "waits")).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut sends = Vec::new();
    for (i, visitor) in people[1..].iter().copied().enumerate() {
        let body = if i == 5 { "boom" } else { "fine" };
        let (store, schema) = (store.clone(), schema.clone());
        sends.push(tokio::spawn(async move {
            (visitor, store.store(&schema, from_visitor(visitor, &format!("m-{i}"), body)).await)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    lock.commit().await.expect("release");
    assert!(matches!(blocked.await.expect("task"), Ok(Stored::New { .. })));
    let mut failed = 0;
    for send in sends {
        let (visitor, outcome) = send.await.expect("task");
        match outcome {
            Ok(Stored::New { message, conversation, .. }) => {
                assert_eq!(message.seq, 1);
                assert_eq!(
                    transcript(&app, &schema, conversation.id).await,
                    vec![(1, message.client_id, "fine".into())]
                );
            }
            Err(error) => {
                failed += 1;
                assert!(error.to_string().contains("boom refused"), "{error}");
                let mut tx = TenantTx::begin(app.databases(), &schema).await.expect("tx");
                let open = db::conversations::open_of_visitor(&mut tx, visitor).await.expect("read");
                tx.commit().await.expect("commit");
                assert!(open.is_none(), "nothing of the failed message was stored, not even its conversation");
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(failed, 1, "only the failing message fails");
    assert_eq!(transcript(&app, &schema, blocked_conversation).await.len(), 2);
    // The failure was met twice: by the whole batch, then by the message on its own.
    let metrics = app.state.metrics.render();
    let failures: f64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("kefu_store_batches_failed_total "))
        .and_then(|value| value.trim().parse().ok())
        .expect("failure counter");
    assert!(failures >= 2.0, "the sends went in one batch that failed, then one by one ({failures})");
}

/// Twenty tenants, ten visitors each, every visitor sending twenty messages at once through one
/// node: every message acknowledged, every conversation gap-free in send order, each agent of
/// a tenant receiving exactly its tenant's messages.
#[tokio::test]
async fn many_tenants_and_conversations_send_at_once_through_one_node() {
    const TENANTS: usize = 20;
    const VISITORS: usize = 10;
    const MESSAGES: usize = 20;
    let app = TestApp::spawn().await;
    let mut owners = Vec::new();
    for _ in 0..TENANTS {
        owners.push(app.verified_owner().await);
    }
    // One agent per tenant follows its whole inbox.
    let mut agents = Vec::new();
    for owner in &owners {
        let mut agent = app.agent(owner).await;
        agent.send(json!({ "type": "subscribe_inbox" })).await;
        agent.send(json!({ "type": "ping" })).await;
        agent.next_of("pong").await;
        agents.push(agent);
    }
    let mut senders = Vec::new();
    for (t, owner) in owners.iter().enumerate() {
        for v in 0..VISITORS {
            let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
            senders.push(tokio::spawn(async move {
                let mut conversation = None;
                for n in 0..MESSAGES {
                    let client_id = format!("t{t}-v{v}-{n}");
                    visitor
                        .send(json!({ "type": "send", "client_id": client_id, "body": format!("{t}/{v}/{n}") }))
                        .await;
                    let ack = visitor.next_of("ack").await;
                    assert_eq!(ack["client_id"], client_id.as_str());
                    assert_eq!(ack["seq"], n + 1, "acknowledged in order, gap-free");
                    conversation = ack["conversation_id"].as_str().map(str::to_owned);
                }
                (t, conversation.expect("conversation"))
            }));
        }
    }
    let mut conversations = Vec::new();
    for sender in senders {
        conversations.push(sender.await.expect("sender"));
    }
    for (t, conversation) in &conversations {
        let schema = app.tenant_schema(&owners[*t].tenant_id).await;
        let id: ConversationId = conversation.parse().expect("conversation id");
        let stored = transcript(&app, &schema, id).await;
        assert_eq!(stored.len(), MESSAGES);
        for (n, (seq, _, body)) in stored.iter().enumerate() {
            assert_eq!(*seq, n as i64 + 1);
            assert!(body.starts_with(&format!("{t}/")) && body.ends_with(&format!("/{n}")), "{body}");
        }
    }
    // Each tenant's agent saw its tenant's conversations updated, and no other tenant's.
    for (t, agent) in agents.iter_mut().enumerate() {
        let mine: std::collections::HashSet<&str> =
            conversations.iter().filter(|(owner, _)| *owner == t).map(|(_, c)| c.as_str()).collect();
        let mut last_seen = std::collections::HashMap::new();
        while last_seen.len() < VISITORS || last_seen.values().any(|seq| *seq < MESSAGES as i64) {
            let frame = agent.next_of("conversation_updated").await;
            let conversation = frame["conversation_id"].as_str().expect("id").to_owned();
            assert!(mine.contains(conversation.as_str()), "tenant {t} saw another tenant's conversation");
            let seq = frame["last_seq"].as_i64().expect("last_seq");
            let entry = last_seen.entry(conversation).or_insert(0);
            *entry = (*entry).max(seq);
        }
    }
}

async fn agent_with_conversations(app: &TestApp, owner: &Session, count: usize) -> Vec<(ConversationId, i64)> {
    let schema = app.tenant_schema(&owner.tenant_id).await;
    let people = visitors(app, &schema, count).await;
    let mut conversations = Vec::new();
    for chunk in people.chunks(100) {
        let mut batch = MessageBatch::new(kefu_api::db::DatabaseId::main(), chunk.len() * 2);
        for visitor in chunk {
            batch.push(&schema, from_visitor(*visitor, "first", "first"));
            batch.push(&schema, from_visitor(*visitor, "second", "second"));
        }
        for pair in batch.store(app.databases()).await.expect("batch").chunks(2) {
            conversations.push((conversation_of(&pair[1]), 2));
        }
    }
    conversations
}

/// An agent following hundreds of conversations resumes them all with `join_many`: one query,
/// each answered in order (`joined`, or an error that names an unknown one), and only the
/// conversations with missed messages are replayed.
#[tokio::test]
async fn join_many_resumes_hundreds_of_conversations() {
    const COUNT: usize = 350;
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let conversations = agent_with_conversations(&app, &owner, COUNT).await;
    let mut agent = app.agent(&owner).await;
    let unknown = ConversationId::from_uuid(uuid::Uuid::now_v7());
    // The agent holds everything of the even conversations and only the first message of the odd.
    let mut entries: Vec<Value> = conversations
        .iter()
        .enumerate()
        .map(|(i, (id, _))| json!({ "conversation_id": id, "last_seq": if i % 2 == 0 { 2 } else { 1 } }))
        .collect();
    entries.insert(7, json!({ "conversation_id": unknown }));
    for chunk in entries.chunks(200) {
        agent.send(json!({ "type": "join_many", "conversations": chunk })).await;
    }
    let mut expected = entries.iter().map(|e| e["conversation_id"].as_str().expect("id").to_owned());
    let mut replayed = std::collections::HashMap::new();
    for _ in 0..entries.len() {
        let want = expected.next().expect("entry");
        loop {
            let frame = agent.next().await.expect("session");
            match frame["type"].as_str() {
                Some("message") => {
                    let id = frame["conversation_id"].as_str().expect("id").to_owned();
                    assert_eq!(id, want, "a conversation's replay comes before its joined");
                    *replayed.entry(id).or_insert(0) += 1;
                }
                Some("joined") => {
                    assert_eq!(frame["conversation_id"], want.as_str(), "answered in order");
                    assert_eq!(frame["last_seq"], 2);
                    break;
                }
                Some("error") => {
                    assert_eq!(frame["code"], "conversation_not_found");
                    assert_eq!(frame["conversation_id"], want.as_str(), "the error names the conversation");
                    assert_eq!(want, unknown.to_string());
                    break;
                }
                other => panic!("unexpected frame {other:?}: {frame}"),
            }
        }
    }
    assert_eq!(replayed.len(), COUNT / 2, "only the conversations with missed messages are replayed");
    assert!(replayed.values().all(|n| *n == 1), "exactly the missed message");

    // Live messages follow on every joined conversation; joining again changes nothing.
    let (last, _) = conversations[COUNT - 1];
    agent.send(json!({ "type": "send", "conversation_id": last, "client_id": "live", "body": "live" })).await;
    let live = agent.next_of("message").await;
    assert_eq!((live["conversation_id"].as_str(), live["seq"].as_i64()), (Some(last.to_string().as_str()), Some(3)));
    agent.send(json!({ "type": "join", "conversation_id": last, "last_seq": 3 })).await;
    assert_eq!(agent.next_of("joined").await["last_seq"], 3);

    // More than 200 in one frame is refused whole.
    let too_many: Vec<Value> = (0..201).map(|_| json!({ "conversation_id": unknown })).collect();
    agent.send(json!({ "type": "join_many", "conversations": too_many })).await;
    assert_eq!(agent.next_of("error").await["code"], "invalid_frame");
}

/// The visitor session runs over any `Sink`/`Stream` of WebSocket messages: here channels,
/// with no network, against the real database.
#[tokio::test]
async fn a_visitor_session_runs_over_channels() {
    use axum::extract::ws::Message;
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let mut conn = app.db().acquire().await.expect("connection");
    let tenant_id: kefu_protocol::TenantId = owner.tenant_id.parse().expect("tenant id");
    let access = db::tenants::find_access(&mut conn, tenant_id).await.expect("read");
    drop(conn);
    let (tenant, _) = TenantCtx::admit(access).expect("active tenant");
    let visitor = new_visitor();
    let now = chrono::Utc::now().timestamp();
    let claims = kefu_protocol::VisitorClaims {
        iss: kefu_protocol::ISSUER.into(),
        aud: kefu_protocol::VISITOR_AUDIENCE.into(),
        sub: visitor,
        tid: tenant_id,
        region: "local".into(),
        ext_user: None,
        vip: None,
        country: None,
        iat: now,
        exp: now + 600,
        jti: "channels".into(),
    };
    // Channels in place of a socket: the session's sink and stream are plain Rust values.
    let (to_session, from_client) = tokio::sync::mpsc::channel::<Result<Message, std::io::Error>>(16);
    let (to_client, mut from_session) = tokio::sync::mpsc::channel::<Message>(64);
    let sink = Box::pin(futures_util::sink::unfold(to_client, |to_client, message: Message| async move {
        to_client.send(message).await.map_err(|_| std::io::Error::other("client gone"))?;
        Ok::<_, std::io::Error>(to_client)
    }));
    let stream = Box::pin(futures_util::stream::unfold(from_client, |mut from_client| async move {
        from_client.recv().await.map(|message| (message, from_client))
    }));
    async fn next(receiver: &mut tokio::sync::mpsc::Receiver<Message>) -> Option<Value> {
        loop {
            match tokio::time::timeout(Duration::from_secs(30), receiver.recv()).await.expect("a frame") {
                Some(Message::Text(text)) => return Some(serde_json::from_str::<Value>(&text).expect("json")),
                Some(Message::Close(frame)) => return frame.map(|f| json!({ "close": f.code })),
                Some(_) => continue,
                None => return None,
            }
        }
    }
    let session = tokio::spawn(kefu_api::realtime::visitor::run(
        sink,
        stream,
        app.state.clone(),
        tenant,
        claims,
        db::visitors::Seen::default(),
    ));
    let client = to_session;
    let text = |value: Value| Ok(Message::Text(value.to_string().into()));
    client.send(text(json!({ "type": "hello", "protocol": 1 }))).await.expect("hello");
    assert_eq!(next(&mut from_session).await.expect("welcome")["type"], "welcome");
    client.send(text(json!({ "type": "send", "client_id": "c-1", "body": "你好" }))).await.expect("send");
    let mut got = Vec::new();
    while !(got.contains(&"ack".to_owned()) && got.contains(&"message".to_owned())) {
        let frame = next(&mut from_session).await.expect("frame");
        got.push(frame["type"].as_str().expect("type").to_owned());
    }
    client.send(text(json!({ "type": "leave" }))).await.expect("leave");
    loop {
        match next(&mut from_session).await {
            Some(frame) if frame.get("close").is_some() => {
                assert_eq!(frame["close"], 1000);
                break;
            }
            Some(_) => continue,
            None => break,
        }
    }
    drop(client);
    tokio::time::timeout(Duration::from_secs(10), session).await.expect("session ends").expect("no panic");
}

/// The message path's Prometheus metrics move with traffic.
#[tokio::test]
async fn the_message_path_is_measured() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    for client_id in ["m-1", "m-2"] {
        visitor.send(json!({ "type": "send", "client_id": client_id, "body": "measured" })).await;
        visitor.next_of("ack").await;
    }
    // The second message reaches the visitor's own connection live, through the fan-out.
    while visitor.next_of("message").await["seq"] != 2 {}
    let mut agent: WsClient = app.agent(&owner).await;
    agent.send(json!({ "type": "ping" })).await;
    agent.next_of("pong").await;
    let metrics = reqwest::get(app.url("/metrics")).await.expect("metrics").text().await.expect("text");
    for name in [
        "kefu_ws_connections{kind=\"visitor\"}",
        "kefu_ws_connections{kind=\"agent\"}",
        "kefu_ws_frames_in_total{kind=\"visitor\"}",
        "kefu_ws_frames_out_total{kind=\"agent\"}",
        "kefu_messages_stored_total",
        "kefu_store_batch_size_bucket",
        "kefu_store_batch_duration_seconds_bucket",
        "kefu_ws_ack_seconds_bucket",
        "kefu_fanout_seconds_bucket{path=\"local\"",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics:\n{metrics}");
    }
}

fn conversation_row(stored: &Stored) -> db::conversations::ConversationRow {
    match stored {
        Stored::New { conversation, .. } => conversation.clone(),
        other => panic!("expected a stored message, got {other:?}"),
    }
}

/// A message moves its conversation's activity time only when it is more than 5 s old (so most
/// updates of a busy conversation touch no index), while `last_seq` always moves; a claim sets
/// the time at once.
#[tokio::test]
async fn a_message_moves_the_activity_time_only_when_it_is_five_seconds_old() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let schema = app.tenant_schema(&owner.tenant_id).await;
    let [visitor]: [VisitorId; 1] = visitors(&app, &schema, 1).await.try_into().expect("one visitor");
    let store = |client_id: &'static str| {
        let (schema, db) = (schema.clone(), app.databases().clone());
        async move {
            let mut batch = MessageBatch::new(kefu_api::db::DatabaseId::main(), 1);
            batch.push(&schema, from_visitor(visitor, client_id, "hello"));
            conversation_row(&batch.store(&db).await.expect("stored")[0])
        }
    };
    let opened = store("m-1").await;
    let second = store("m-2").await;
    assert_eq!(second.last_seq, 2);
    assert_eq!(second.updated_at, opened.updated_at, "a message within 5 s leaves the activity time");

    sqlx::query(sqlx::AssertSqlSafe(format!(
        "update {schema}.conversations set updated_at = updated_at - interval '6 seconds' where id = $1"
    )))
    .bind(opened.id)
    .execute(app.db())
    .await
    .expect("age the conversation");
    let third = store("m-3").await;
    assert_eq!(third.last_seq, 3);
    assert!(third.updated_at > opened.updated_at, "an older activity time moves to now: {third:?}");

    let mut tx = TenantTx::begin(app.databases(), &schema).await.expect("tx");
    let agent: UserId = owner.user_id.parse().expect("user id");
    let claimed = db::conversations::claim(&mut tx, opened.id, agent).await.expect("claim").expect("claimed");
    tx.commit().await.expect("commit");
    assert!(claimed.updated_at > third.updated_at, "a claim sets the activity time at once");
}

/// A visitor's `status` comes after `welcome`, after the message that opens a conversation and
/// on request, not after later messages (they do not move the visitor in the queue).
#[tokio::test]
async fn a_visitor_gets_status_after_welcome_the_opening_message_and_on_request_only() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (mut visitor, welcome) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    let first = &welcome["status"];
    assert_eq!(first["agents"], "offline", "{first}");
    assert!(first.get("queue").is_none(), "no conversation, no queue place: {first}");

    visitor.send(json!({ "type": "send", "client_id": "c1", "body": "你好" })).await;
    visitor.take_of("ack").await;
    assert_eq!(visitor.next_of("status").await["queue"]["position"], 1, "the opening message queues the visitor");

    visitor.send(json!({ "type": "send", "client_id": "c2", "body": "还在吗" })).await;
    let mut after_second = Vec::new();
    while let Ok(frame) = tokio::time::timeout(Duration::from_millis(500), visitor.next()).await {
        after_second.push(frame.expect("session open"));
    }
    assert!(after_second.iter().any(|f| f["type"] == "ack"), "{after_second:?}");
    assert!(after_second.iter().all(|f| f["type"] != "status"), "no status after a later message: {after_second:?}");

    visitor.send(json!({ "type": "status" })).await;
    assert_eq!(visitor.next_of("status").await["queue"]["position"], 1, "answered on request");
}
