//! Erasing a visitor on request (issue 15, GDPR/PIPL): their profile, page views,
//! conversations, messages and notes, search entries, attachment files and mail go; another
//! visitor of the tenant and another tenant's mail to the same address stay; the receipt is in
//! the audit log with counts only; erasing again changes nothing; admins only.

use kefu_api::testing::TestApp;
use kefu_protocol::VisitorId;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_visitor_is_erased_everywhere_once_and_nothing_else_is() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let stranger = app.verified_owner().await;
    let email = format!("erase-{}@example.cn", uuid::Uuid::now_v7().simple());

    // The visitor: a profile, a page view, a conversation with a file and a reply and a note.
    let visitor_id = VisitorId::from_uuid(uuid::Uuid::now_v7());
    let token = app.visitor_token(&owner.tenant_id, visitor_id, 600);
    let (mut visitor, _) = app.visitor_with_token(&token, None).await;
    visitor.send(json!({ "type": "profile", "name": "王芳", "email": email })).await;
    visitor.take_of("saved").await;
    visitor.send(json!({ "type": "page_view", "url": "https://shop.example/cart", "title": "Cart" })).await;
    let (status, upload) = app
        .upload("/api/v1/visitor/attachments", &token, "id-card.txt", "身份证 320102199001011234".as_bytes().to_vec())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{upload}");
    let attachment = upload["id"].as_str().expect("attachment").to_owned();
    visitor
        .send(
            json!({ "type": "send", "client_id": "v1", "body": "我的身份证号码在附件里", "attachment_id": attachment }),
        )
        .await;
    let conversation = visitor.take_of("ack").await["conversation_id"].as_str().expect("conversation").to_owned();
    let mut agent = app.agent(&owner).await;
    agent.send(json!({ "type": "claim", "conversation_id": conversation })).await;
    for (kind, id, body) in [("send", "a1", "收到，身份证已核对"), ("note", "n1", "身份证 verified")] {
        agent.send(json!({ "type": kind, "conversation_id": conversation, "client_id": id, "body": body })).await;
        agent.take_of("ack").await;
    }
    drop(visitor);
    // Someone else in the tenant, and mail to the address in this tenant and another.
    let (mut other, _) = app.visitor(&owner.tenant_id, VisitorId::from_uuid(uuid::Uuid::now_v7()), None).await;
    other.send(json!({ "type": "send", "client_id": "o1", "body": "身份证 question from someone else" })).await;
    other.take_of("ack").await;
    for tenant in [&owner.tenant_id, &stranger.tenant_id] {
        sqlx::query(
            "insert into control.outbox_mail (id, tenant_id, to_address, subject, body_text)
             values (gen_random_uuid(), $1::uuid, $2, '回复', '收到，身份证已核对')",
        )
        .bind(tenant.trim_start_matches("tnt_"))
        .bind(email.to_uppercase())
        .execute(app.db())
        .await
        .expect("mail");
    }
    let mut found = 0;
    for _ in 0..100 {
        let (_, page) = app.get("/api/v1/search?q=%E8%BA%AB%E4%BB%BD%E8%AF%81", Some(&owner.access)).await;
        found = page["hits"].as_array().map_or(0, Vec::len);
        if found == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(found, 4, "the visitor's three messages and the other visitor's one are searchable");

    // Agents may not erase; an admin does, and gets the receipt.
    let agent_member = app.invite_and_accept(&owner, "agent").await;
    let path = format!("/api/v1/visitors/{visitor_id}");
    assert_eq!(app.call("DELETE", &path, Some(&agent_member.access), None).await.0, StatusCode::FORBIDDEN);
    let (status, receipt) = app.call("DELETE", &path, Some(&owner.access), None).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(receipt["erased"], true);
    assert_eq!(
        (
            receipt["conversations"].as_i64(),
            receipt["page_views"].as_i64(),
            receipt["files"].as_i64(),
            receipt["mails"].as_i64()
        ),
        (Some(1), Some(1), Some(1), Some(1))
    );
    assert!(receipt["messages"].as_i64().is_some_and(|n| n >= 3), "{receipt}");

    // Gone everywhere: profile, conversation, file, search; the other visitor and the other
    // tenant's mail stay.
    assert_eq!(app.get(&path, Some(&owner.access)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&format!("/api/v1/conversations/{conversation}"), Some(&owner.access)).await.0,
        StatusCode::NOT_FOUND
    );
    let file = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/attachments/{attachment}")))
        .bearer_auth(&owner.access)
        .send()
        .await
        .expect("download");
    assert_eq!(file.status(), StatusCode::NOT_FOUND);
    let stored = std::path::Path::new(&app.state.config.attachments.local_dir)
        .join(owner.tenant_id.trim_start_matches("tnt_"))
        .join(attachment.trim_start_matches("att_"));
    assert!(!stored.exists(), "the file's bytes are deleted: {}", stored.display());
    let (_, page) = app.get("/api/v1/search?q=%E8%BA%AB%E4%BB%BD%E8%AF%81", Some(&owner.access)).await;
    let left: Vec<&str> =
        page["hits"].as_array().into_iter().flatten().filter_map(|h| h["message"]["body"].as_str()).collect();
    assert_eq!(left, ["身份证 question from someone else"]);
    let mails: Vec<String> = sqlx::query_scalar(
        "select replace(tenant_id::text, '-', '') from control.outbox_mail where lower(to_address) = $1",
    )
    .bind(&email)
    .fetch_all(app.db())
    .await
    .expect("mails");
    assert_eq!(mails, [stranger.tenant_id.trim_start_matches("tnt_").to_owned()]);

    // The receipt in the audit log keeps counts, not the person.
    let (_, log) =
        app.get(&format!("/api/v1/audit-log?action=visitor.erased&target={visitor_id}"), Some(&owner.access)).await;
    let entry = &log["entries"][0];
    assert_eq!(entry["details"]["conversations"], 1);
    assert!(!entry.to_string().contains(&email) && !entry.to_string().contains("王芳"), "{entry}");

    // Again: nothing left, nothing changes, no second receipt.
    let (status, again) = app.call("DELETE", &path, Some(&owner.access), None).await;
    assert_eq!((status, &again["erased"]), (StatusCode::OK, &json!(false)));
    let (_, log) = app.get("/api/v1/audit-log?action=visitor.erased", Some(&owner.access)).await;
    assert_eq!(log["entries"].as_array().map(Vec::len), Some(1));
    // Another tenant cannot erase this tenant's visitors (nothing of theirs is there).
    let (_, other_tenant) =
        app.call("DELETE", &format!("/api/v1/visitors/{visitor_id}"), Some(&stranger.access), None).await;
    assert_eq!(other_tenant["erased"], false);
}
