//! Searching the history (issue 15): Chinese words of one, two and more characters, stemmed
//! English, phrases, exclusions and alternatives, with highlighted snippets; every filter; keyset
//! pages in both orders; field errors for bad queries; one tenant never finds another's
//! messages; a message whose node died before indexing it is found by the sweep; a re-index
//! rebuilds the index from Postgres.

use std::time::Duration;

use kefu_api::testing::{Session, TestApp, WsClient};
use kefu_protocol::VisitorId;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn new_visitor() -> VisitorId {
    VisitorId::from_uuid(uuid::Uuid::now_v7())
}

/// Sends a visitor message and returns its conversation id.
async fn say(visitor: &mut WsClient, client_id: &str, body: &str) -> String {
    visitor.send(json!({ "type": "send", "client_id": client_id, "body": body })).await;
    visitor.take_of("ack").await["conversation_id"].as_str().expect("conversation").to_owned()
}

/// An agent's message or note in a conversation, acknowledged.
async fn agent_says(agent: &mut WsClient, kind: &str, conversation: &str, client_id: &str, body: &str) {
    agent.send(json!({ "type": kind, "conversation_id": conversation, "client_id": client_id, "body": body })).await;
    agent.take_of("ack").await;
}

async fn search(app: &TestApp, session: &Session, query: &str) -> Value {
    let (status, body) = app.get(&format!("/api/v1/search?{query}"), Some(&session.access)).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body
}

/// The bodies found, in order.
fn bodies(page: &Value) -> Vec<String> {
    page["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["message"]["body"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn q(text: &str) -> String {
    format!("q={}", urlencode(text))
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn chinese_and_english_keywords_with_snippets() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    let conversation = say(&mut visitor, "v1", "你好，我想申请退款").await;
    say(&mut visitor, "v2", "物流信息一直没有更新").await;
    say(&mut visitor, "v3", "Two refunds were refunded, order #A-1001").await;
    say(&mut visitor, "v4", "请开发票 invoice please").await;
    let mut agent = app.agent(&owner).await;
    agent.send(json!({ "type": "claim", "conversation_id": conversation })).await;
    agent_says(&mut agent, "note", &conversation, "n1", "VIP：退款已批准").await;
    app.wait_indexed(&owner).await;

    // One, two and four characters; substrings, not dictionary words.
    assert_eq!(bodies(&search(&app, &owner, &q("退")).await), ["VIP：退款已批准", "你好，我想申请退款"]);
    assert_eq!(bodies(&search(&app, &owner, &q("退款")).await).len(), 2);
    assert_eq!(bodies(&search(&app, &owner, &q("物流信息")).await), ["物流信息一直没有更新"]);
    assert_eq!(bodies(&search(&app, &owner, &q("流信")).await), ["物流信息一直没有更新"]);
    assert!(bodies(&search(&app, &owner, &q("信物")).await).is_empty(), "the characters, but not in this order");
    assert!(bodies(&search(&app, &owner, &q("退货")).await).is_empty());
    // English: stems, case, phrases, prefixes, identifiers.
    assert_eq!(bodies(&search(&app, &owner, &q("REFUND")).await), ["Two refunds were refunded, order #A-1001"]);
    assert_eq!(bodies(&search(&app, &owner, &q("\"refunds were\"")).await).len(), 1);
    assert!(bodies(&search(&app, &owner, &q("\"refunds two\"")).await).is_empty());
    assert_eq!(bodies(&search(&app, &owner, &q("refu*")).await).len(), 1);
    assert_eq!(bodies(&search(&app, &owner, &q("a-1001")).await).len(), 1);
    // Exclusions and alternatives; full-width forms fold.
    assert_eq!(bodies(&search(&app, &owner, &q("退款 -VIP")).await), ["你好，我想申请退款"]);
    assert_eq!(bodies(&search(&app, &owner, &q("发票 OR 物流")).await).len(), 2);
    assert_eq!(bodies(&search(&app, &owner, &q("ＩＮＶＯＩＣＥ")).await), ["请开发票 invoice please"]);

    // The hit: the message, its conversation and visitor, and the match marked in plain text.
    let page = search(&app, &owner, &q("申请退款")).await;
    let hit = &page["hits"][0];
    assert_eq!(hit["conversation"]["conversation_id"], conversation.as_str());
    assert_eq!(hit["message"]["sender"]["kind"], "visitor");
    assert_eq!(hit["snippet"], json!([{ "text": "你好，我想", "hit": false }, { "text": "申请退款", "hit": true }]));
    assert!(page["next_after"].is_null());

    // Relevance: the message that says it twice ranks first.
    say(&mut visitor, "v5", "退款 退款 退款，还是退款").await;
    app.wait_indexed(&owner).await;
    let page = search(&app, &owner, &format!("{}&order=relevance", q("退款"))).await;
    assert_eq!(bodies(&page)[0], "退款 退款 退款，还是退款");
    assert!(page["hits"][0]["rank"].as_f64().unwrap_or(0.0) > page["hits"][1]["rank"].as_f64().unwrap_or(1.0));
}

#[tokio::test]
async fn every_filter_narrows_the_hits() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let agent_member = app.invite_and_accept(&owner, "agent").await;
    let (_, team) = app.post("/api/v1/teams", Some(&owner.access), json!({ "name": "Billing" })).await;
    let team_id = team["id"].as_str().expect("team").to_owned();

    let (mut first, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    let one = say(&mut first, "a", "订单问题 first").await;
    let (mut second, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    let two = say(&mut second, "b", "订单问题 second").await;
    let mut agent = app.agent(&agent_member).await;
    agent.send(json!({ "type": "claim", "conversation_id": two })).await;
    agent_says(&mut agent, "send", &two, "r1", "订单问题 reply").await;
    agent_says(&mut agent, "note", &two, "n1", "订单问题 note").await;
    let (status, _) = app
        .call(
            "PUT",
            &format!("/api/v1/conversations/{one}/tags"),
            Some(&owner.access),
            Some(json!({ "tags": ["vip"] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut owner_ws = app.agent(&owner).await;
    owner_ws.send(json!({ "type": "claim", "conversation_id": one })).await;
    while first.next_of("conversation_updated").await["assignee"].is_null() {}
    let (status, body) =
        app.post(&format!("/api/v1/conversations/{one}/transfer"), Some(&owner.access), json!({ "to": team_id })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    agent.send(json!({ "type": "close", "conversation_id": two })).await;
    while second.next_of("conversation_updated").await["status"] != "closed" {}
    second.send(json!({ "type": "rate", "conversation_id": two, "rating": 2, "comment": "slow" })).await;
    second.next_of("rated").await;
    let between = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    say(&mut first, "c", "订单问题 later").await;
    app.wait_indexed(&owner).await;

    let all = q("订单问题");
    let found = async |query: String| {
        let mut found = bodies(&search(&app, &owner, &format!("{all}&{query}")).await);
        found.sort();
        found
    };
    let mut everything = bodies(&search(&app, &owner, &all).await);
    everything.sort();
    assert_eq!(everything.len(), 5);
    assert_eq!(
        found(format!("agent={}", agent_member.user_id)).await,
        ["订单问题 note", "订单问题 reply", "订单问题 second"]
    );
    assert_eq!(found("sender=agent".into()).await, ["订单问题 reply"]);
    assert_eq!(found("sender=note".into()).await, ["订单问题 note"]);
    assert_eq!(found("sender=visitor".into()).await.len(), 3);
    assert_eq!(found(format!("conversation={one}")).await, ["订单问题 first", "订单问题 later"]);
    assert_eq!(found(format!("team={team_id}")).await, ["订单问题 first", "订单问题 later"]);
    assert_eq!(found("tag=VIP".into()).await, ["订单问题 first", "订单问题 later"]);
    assert_eq!(found("status=closed".into()).await, ["订单问题 note", "订单问题 reply", "订单问题 second"]);
    assert_eq!(found("rating=1,2".into()).await.len(), 3);
    assert!(found("rating=5".into()).await.is_empty());
    let instant = urlencode(&between.to_rfc3339());
    assert_eq!(found(format!("from={instant}")).await, ["订单问题 later"]);
    assert_eq!(found(format!("to={instant}")).await.len(), 4);
    let visitor_of_one =
        search(&app, &owner, &format!("{all}&conversation={one}")).await["hits"][0]["conversation"]["visitor_id"]
            .as_str()
            .expect("visitor")
            .to_owned();
    assert_eq!(found(format!("visitor={visitor_of_one}")).await.len(), 2);
    // Without keywords, the filters alone: every message and note of the conversation, newest first.
    let history = bodies(&search(&app, &owner, &format!("conversation={one}")).await);
    assert_eq!(history.len(), 3, "{history:?}");
    assert_eq!((history[0].as_str(), history[2].as_str()), ("订单问题 later", "订单问题 first"));
    assert!(history[1].contains("transferred this conversation to Billing"), "{history:?}");
    let visitor_said = bodies(&search(&app, &owner, &format!("conversation={one}&sender=visitor")).await);
    assert_eq!(visitor_said, ["订单问题 later", "订单问题 first"]);
}

#[tokio::test]
async fn pages_follow_each_other_without_gaps_or_repeats() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    for n in 0..25 {
        say(&mut visitor, &format!("m{n}"), &format!("分页 {}", "分页".repeat(n % 4 + 1))).await;
    }
    app.wait_indexed(&owner).await;
    for order in ["newest", "relevance"] {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let cursor = after.as_deref().map(|a| format!("&after={}", urlencode(a))).unwrap_or_default();
            let page = search(&app, &owner, &format!("{}&order={order}&limit=10{cursor}", q("分页"))).await;
            pages += 1;
            for hit in page["hits"].as_array().expect("hits") {
                seen.push(hit["message"]["message_id"].as_str().expect("id").to_owned());
            }
            match page["next_after"].as_str() {
                Some(next) => after = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(pages, 3, "{order}");
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!((seen.len(), unique.len()), (25, 25), "{order}: every hit once");
    }
    // Newest first is newest first.
    let page = search(&app, &owner, &format!("{}&limit=2", q("分页"))).await;
    assert_eq!(page["hits"][0]["message"]["client_id"], "m24");
    assert_eq!(page["hits"][1]["message"]["client_id"], "m23");
}

#[tokio::test]
async fn bad_searches_are_field_errors() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let cases = [
        (q(&"退".repeat(201)), "q", "too_long"),
        (q(&"a ".repeat(17)), "q", "too_many_terms"),
        (q("-退款"), "q", "only_exclusions"),
        (q("?!"), "q", "no_words"),
        ("from=yesterday".to_owned(), "from", "invalid"),
        ("from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z".to_owned(), "to", "out_of_range"),
        ("rating=6".to_owned(), "rating", "invalid"),
        ("sender=robot".to_owned(), "sender", "invalid"),
        ("order=relevance".to_owned(), "order", "invalid"),
        ("limit=0".to_owned(), "limit", "out_of_range"),
        ("after=nonsense".to_owned(), "after", "invalid"),
        ("agent=usr_nope".to_owned(), "agent", "invalid"),
        ("status=pending".to_owned(), "status", "invalid"),
    ];
    for (query, field, code) in cases {
        let (status, problem) = app.get(&format!("/api/v1/search?{query}"), Some(&owner.access)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
        assert_eq!(problem["errors"][0]["code"], code, "{query}: {problem}");
    }
    let (status, _) = app.get("/api/v1/search?q=x", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_tenant_never_finds_another_tenants_messages() {
    let app = TestApp::spawn().await;
    let alpha = app.verified_owner().await;
    let beta = app.verified_owner().await;
    let (mut alpha_visitor, _) = app.visitor(&alpha.tenant_id, new_visitor(), None).await;
    let alpha_conversation = say(&mut alpha_visitor, "a", "机密 alpha").await;
    let (mut beta_visitor, _) = app.visitor(&beta.tenant_id, new_visitor(), None).await;
    say(&mut beta_visitor, "b", "机密 beta").await;
    app.wait_indexed(&alpha).await;
    app.wait_indexed(&beta).await;
    assert_eq!(bodies(&search(&app, &alpha, &q("机密")).await), ["机密 alpha"]);
    assert_eq!(bodies(&search(&app, &beta, &q("机密")).await), ["机密 beta"]);
    // Naming the other tenant's conversation finds nothing, with or without keywords.
    assert!(bodies(&search(&app, &beta, &format!("conversation={alpha_conversation}")).await).is_empty());
    assert!(bodies(&search(&app, &beta, &format!("{}&conversation={alpha_conversation}", q("机密"))).await).is_empty());
}

#[tokio::test]
async fn a_message_whose_node_died_before_indexing_it_is_found_by_the_sweep() {
    let app = TestApp::spawn_with(|config| config.search.sweep_secs = 1).await;
    let owner = app.verified_owner().await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    let conversation = say(&mut visitor, "v", "第一条").await;
    app.wait_indexed(&owner).await;
    // Stored by a node that died before announcing it: the row and its queue entry, no event.
    let schema = app.tenant_schema(&owner.tenant_id).await;
    let conversation_uuid = conversation.trim_start_matches("conv_");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into {schema}.messages (id, conversation_id, seq, sender_kind, sender_id, client_id, body)
         values (gen_random_uuid(), '{conversation_uuid}'::uuid, 2, 'visitor', gen_random_uuid(), 'orphan', '孤儿消息 orphan')",
        schema = schema.name()
    )))
    .execute(app.db())
    .await
    .expect("insert");
    for _ in 0..100 {
        if bodies(&search(&app, &owner, &q("孤儿")).await) == ["孤儿消息 orphan"] {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the sweep never indexed the orphaned message");
}

#[tokio::test]
async fn a_reindex_rebuilds_the_index_from_postgres() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    for n in 0..7 {
        say(&mut visitor, &format!("m{n}"), &format!("重建索引 {n}")).await;
    }
    app.wait_indexed(&owner).await;
    let schema = app.tenant_schema(&owner.tenant_id).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("delete from {}.search_docs", schema.name())))
        .execute(app.db())
        .await
        .expect("lose the index");
    assert!(bodies(&search(&app, &owner, &q("重建")).await).is_empty());
    let tenant: kefu_protocol::TenantId = owner.tenant_id.parse().expect("tenant id");
    let indexed_again = kefu_api::search::indexer::reindex(app.databases(), tenant, &|_| {}).await.expect("reindex");
    assert_eq!(indexed_again, 7);
    assert_eq!(bodies(&search(&app, &owner, &q("重建")).await).len(), 7);
}
