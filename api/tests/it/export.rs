//! Exporting conversations (issue 15): the conversations a search finds, as the seed's JSON
//! archive (`session_id`, `user_id`, `messages: [{sender, content, timestamp}]`, extended with
//! ids, notes, agent names and attachments) and as CSV, one conversation by id, newest first;
//! recorded in the audit log; for supervisors and up; bounded; never another tenant's.

use kefu_api::testing::{Session, TestApp, WsClient};
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

async fn export(app: &TestApp, session: &Session, query: &str) -> (StatusCode, String, String) {
    let response = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/export/conversations?{query}")))
        .bearer_auth(&session.access)
        .send()
        .await
        .expect("export");
    let status = response.status();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (status, content_type, response.text().await.expect("body"))
}

#[tokio::test]
async fn a_search_exported_as_the_seed_archive_and_as_csv() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    // An anonymous visitor asks for a refund; the owner answers and leaves a note.
    let (mut first, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    let refund = say(&mut first, "v1", "我要退款").await;
    let mut agent = app.agent(&owner).await;
    agent.send(json!({ "type": "claim", "conversation_id": refund })).await;
    for (kind, id, body) in [("send", "a1", "好的，已为您登记退款"), ("note", "n1", "=VIP, refund today")] {
        agent.send(json!({ "type": kind, "conversation_id": refund, "client_id": id, "body": body })).await;
        agent.take_of("ack").await;
    }
    // A signed-in customer (the tenant's own id U1001) asks about delivery, then a refund.
    let token = app.identified_visitor_token(&owner.tenant_id, new_visitor(), 600, Some("U1001"), None);
    let (mut second, _) = app.visitor_with_token(&token, None).await;
    let delivery = say(&mut second, "v1", "物流信息没有更新").await;
    say(&mut second, "v2", "如果不到就退款吧").await;
    // Someone else's question about an invoice.
    let (mut third, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    let invoice = say(&mut third, "v1", "请开发票").await;
    app.wait_indexed(&owner).await;

    let (status, content_type, body) = export(&app, &owner, "q=%E9%80%80%E6%AC%BE").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(content_type.starts_with("application/json"), "{content_type}");
    let archive: Value = serde_json::from_str(&body).expect("a JSON document");
    let sessions: Vec<&str> =
        archive.as_array().expect("an array").iter().filter_map(|c| c["session_id"].as_str()).collect();
    assert_eq!(sessions, [delivery.as_str(), refund.as_str()], "newest first, only conversations that mention 退款");
    // The seed's shape…
    let customer = &archive[0];
    assert_eq!(customer["user_id"], "U1001");
    assert_eq!(customer["messages"][0]["sender"], "user");
    assert_eq!(customer["messages"][0]["content"], "物流信息没有更新");
    assert!(chrono::DateTime::parse_from_rfc3339(customer["messages"][0]["timestamp"].as_str().unwrap_or("")).is_ok());
    // …extended: every message and note of the conversation, ids, agent names.
    let anonymous = &archive[1];
    assert!(anonymous["user_id"].as_str().is_some_and(|u| u.starts_with("vis_")));
    let messages = anonymous["messages"].as_array().expect("messages");
    let said: Vec<(&str, &str, bool)> = messages
        .iter()
        .filter(|m| m["sender"] != "system")
        .map(|m| (m["sender"].as_str().unwrap_or(""), m["content"].as_str().unwrap_or(""), m["private"] == true))
        .collect();
    assert_eq!(
        said,
        [("user", "我要退款", false), ("agent", "好的，已为您登记退款", false), ("agent", "=VIP, refund today", true)]
    );
    let reply = messages.iter().find(|m| m["content"] == "好的，已为您登记退款").expect("reply");
    assert!(reply["agent_name"].as_str().is_some_and(|n| !n.is_empty()));
    assert!(reply["id"].as_str().is_some_and(|id| id.starts_with("msg_")));
    assert_eq!(anonymous["status"], "open");

    // CSV: a row per message, the seed's ids, cells a spreadsheet will not run.
    let (status, content_type, csv) = export(&app, &owner, "q=%E9%80%80%E6%AC%BE&format=csv").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/csv"));
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "\u{feff}session_id,user_id,visitor_name,message_id,seq,timestamp,sender,agent_name,private,content,attachment_id,attachment_name"
        )
    );
    let rows: Vec<&str> = lines.collect();
    let expected =
        archive.as_array().into_iter().flatten().map(|c| c["messages"].as_array().map_or(0, Vec::len)).sum::<usize>();
    assert_eq!(rows.len(), expected, "{csv}");
    assert!(rows.iter().any(|r| r.contains("'=VIP, refund today")), "{csv}");
    assert!(rows.iter().any(|r| r.starts_with(&format!("{delivery},U1001,"))), "{csv}");

    // One conversation; no filter at all is every conversation.
    let (_, _, one) = export(&app, &owner, &format!("conversation={invoice}")).await;
    assert_eq!(serde_json::from_str::<Value>(&one).expect("json").as_array().map(Vec::len), Some(1));
    let (_, _, all) = export(&app, &owner, "").await;
    assert_eq!(serde_json::from_str::<Value>(&all).expect("json").as_array().map(Vec::len), Some(3));

    // Each export is in the audit log with what it held.
    let (_, log) = app.get("/api/v1/audit-log?action=conversations.exported", Some(&owner.access)).await;
    let entries = log["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[3]["details"], json!({ "q": "退款", "format": "json", "conversations": 2 }));
    assert_eq!(entries[1]["target"], invoice.as_str());
}

#[tokio::test]
async fn exports_are_for_supervisors_bounded_and_never_another_tenants() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let agent = app.invite_and_accept(&owner, "agent").await;
    let stranger = app.verified_owner().await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    let conversation = say(&mut visitor, "v1", "机密").await;

    assert_eq!(export(&app, &agent, "").await.0, StatusCode::FORBIDDEN);
    let (status, _, problem) = export(&app, &owner, "format=xml").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem.contains("\"format\""), "{problem}");
    let (status, _, problem) = export(&app, &owner, "q=-x").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");

    // Naming this tenant's conversation, the other tenant gets an empty archive.
    let (status, _, body) = export(&app, &stranger, &format!("conversation={conversation}")).await;
    assert_eq!((status, body.trim()), (StatusCode::OK, "[\n]"));

    // Over 1,000 conversations is refused, saying so; a narrower export of the same tenant works.
    let schema = app.tenant_schema(&owner.tenant_id).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "with v as (insert into {s}.visitors (id) select gen_random_uuid() from generate_series(1, 1000) returning id)
         insert into {s}.conversations (id, visitor_id, status, bot_active) select gen_random_uuid(), id, 'closed', false from v",
        s = schema.name()
    )))
    .execute(app.db())
    .await
    .expect("a thousand more conversations");
    let (status, _, problem) = export(&app, &owner, "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem.contains("too_many_conversations"), "{problem}");
    assert_eq!(export(&app, &owner, &format!("conversation={conversation}")).await.0, StatusCode::OK);
}
