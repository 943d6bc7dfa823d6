//! The access audit (issue 15): who read a transcript, searched or downloaded an attachment is
//! recorded (a repeated read within the hour once), with the admin changes not audited before
//! (canned responses, conversation tags); the log is filtered by actor, action, kind of action,
//! target and time, paged newest first, exported as CSV (the export recorded too), refuses bad
//! filters field by field, and never shows another tenant's entries.

use kefu_api::testing::{Session, TestApp};
use kefu_protocol::VisitorId;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn log(app: &TestApp, admin: &Session, query: &str) -> Value {
    let (status, page) = app.get(&format!("/api/v1/audit-log?{query}"), Some(&admin.access)).await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    page
}

fn actions(page: &Value) -> Vec<String> {
    page["entries"].as_array().expect("entries").iter().map(|e| e["action"].as_str().unwrap_or("").to_owned()).collect()
}

/// A conversation with one visitor message; returns its id.
async fn conversation(app: &TestApp, owner: &Session, body: &str) -> String {
    let (mut visitor, _) = app.visitor(&owner.tenant_id, VisitorId::from_uuid(uuid::Uuid::now_v7()), None).await;
    visitor.send(json!({ "type": "send", "client_id": "v1", "body": body })).await;
    visitor.take_of("ack").await["conversation_id"].as_str().expect("conversation").to_owned()
}

#[tokio::test]
async fn reads_and_changes_are_recorded_and_a_repeated_read_once_an_hour() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let agent = app.invite_and_accept(&owner, "agent").await;
    let conversation = conversation(&app, &owner, "我要退款").await;
    let transcript = format!("/api/v1/conversations/{conversation}/messages");

    // The agent opens the transcript twice and scrolls: one entry; the owner's read is their own.
    for _ in 0..3 {
        assert_eq!(app.get(&transcript, Some(&agent.access)).await.0, StatusCode::OK);
    }
    assert_eq!(app.get(&transcript, Some(&owner.access)).await.0, StatusCode::OK);
    let reads = log(&app, &owner, &format!("action=transcript.read&target={conversation}")).await;
    let readers: Vec<&str> =
        reads["entries"].as_array().expect("entries").iter().filter_map(|e| e["actor_user_id"].as_str()).collect();
    assert_eq!(readers, [owner.user_id.as_str(), agent.user_id.as_str()]);
    assert_eq!(reads["entries"][1]["actor_name"].as_str().map(|n| !n.is_empty()), Some(true), "named: {reads}");

    // A search is recorded with what was asked; its further pages are not.
    let (status, first) = app.get("/api/v1/search?q=%E9%80%80&limit=1&sender=visitor", Some(&agent.access)).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    if let Some(next) = first["next_after"].as_str() {
        let (status, _) = app
            .get(&format!("/api/v1/search?q=%E9%80%80&limit=1&sender=visitor&after={next}"), Some(&agent.access))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let searches = log(&app, &owner, "action=search.performed").await;
    assert_eq!(searches["entries"].as_array().map(Vec::len), Some(1), "{searches}");
    assert_eq!(searches["entries"][0]["details"], json!({ "q": "退", "sender": "visitor" }));
    assert_eq!(searches["entries"][0]["actor_user_id"], agent.user_id.as_str());

    // An attachment downloaded twice: one entry, with the file's name.
    let (status, uploaded) =
        app.upload("/api/v1/attachments", &owner.access, "receipt.txt", "收据 receipt".as_bytes().to_vec()).await;
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    let attachment = uploaded["id"].as_str().expect("attachment").to_owned();
    for _ in 0..2 {
        let response = reqwest::Client::new()
            .get(app.url(&format!("/api/v1/attachments/{attachment}")))
            .bearer_auth(&agent.access)
            .send()
            .await
            .expect("download");
        assert_eq!(response.status(), StatusCode::OK);
    }
    let downloads = log(&app, &owner, &format!("action=attachment.downloaded&target={attachment}")).await;
    assert_eq!(downloads["entries"].as_array().map(Vec::len), Some(1), "{downloads}");
    assert_eq!(downloads["entries"][0]["details"]["name"], "receipt.txt");

    // Changes not audited before: canned responses and tags.
    let (status, canned) = app
        .post(
            "/api/v1/canned-responses",
            Some(&owner.access),
            json!({ "shortcut": "hi", "title": "Hello", "body": "您好" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{canned}");
    let canned_id = canned["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/canned-responses/{canned_id}");
    assert_eq!(app.call("PATCH", &path, Some(&owner.access), Some(json!({ "title": "Hi" }))).await.0, StatusCode::OK);
    assert_eq!(app.call("DELETE", &path, Some(&owner.access), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        actions(&log(&app, &owner, "action=canned.").await),
        ["canned.deleted", "canned.changed", "canned.created"]
    );
    let tags = format!("/api/v1/conversations/{conversation}/tags");
    assert_eq!(app.call("PUT", &tags, Some(&agent.access), Some(json!({ "tags": ["退款"] }))).await.0, StatusCode::OK);
    let tagged = log(&app, &owner, &format!("action=conversation.tagged&actor={}", agent.user_id)).await;
    assert_eq!(tagged["entries"][0]["details"], json!({ "tags": ["退款"] }));
}

#[tokio::test]
async fn the_log_is_filtered_paged_and_exported_and_bad_filters_are_field_errors() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let stranger = app.verified_owner().await;
    for n in 0..5 {
        let (status, _) = app
            .post(
                "/api/v1/canned-responses",
                Some(&owner.access),
                json!({ "shortcut": format!("c{n}"), "title": format!("=SUM({n})"), "body": "x" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }

    // Pages of two, newest first, each entry once.
    let mut seen = Vec::new();
    let mut query = "action=canned.created&limit=2".to_owned();
    loop {
        let page = log(&app, &owner, &query).await;
        seen.extend(page["entries"].as_array().expect("entries").iter().map(|e| e["id"].as_i64().unwrap_or(0)));
        match page["next_before"].as_i64() {
            Some(before) => query = format!("action=canned.created&limit=2&before={before}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first: {seen:?}");

    // Time bounds.
    let future = "2099-01-01T00:00:00Z";
    assert!(actions(&log(&app, &owner, &format!("from={future}")).await).is_empty());
    assert_eq!(actions(&log(&app, &owner, &format!("to={future}&action=canned.created")).await).len(), 5);

    // CSV: a byte-order mark, a header, a row per entry, cells a spreadsheet will not run; the
    // export itself is recorded.
    let response = reqwest::Client::new()
        .get(app.url("/api/v1/audit-log/export?action=canned."))
        .bearer_auth(&owner.access)
        .send()
        .await
        .expect("export");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap_or("").starts_with("text/csv"));
    let text = response.text().await.expect("csv");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("\u{feff}id,occurred_at,actor_user_id,actor_name,actor_api_key_id,action,target,details")
    );
    assert_eq!(lines.count(), 5, "{text}");
    assert!(text.contains("canned.created"));
    assert_eq!(actions(&log(&app, &owner, "action=audit.exported").await), ["audit.exported"]);

    // Another tenant sees none of it, even asking for this tenant's owner.
    assert!(actions(&log(&app, &stranger, &format!("actor={}", owner.user_id)).await).is_empty());
    assert!(!actions(&log(&app, &stranger, "").await).contains(&"canned.created".to_owned()));

    for (query, field, code) in [
        ("actor=nobody", "actor", "invalid"),
        ("action=DROP%20TABLE", "action", "invalid"),
        ("from=yesterday", "from", "invalid"),
        ("from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", "to", "out_of_range"),
        ("limit=0", "limit", "out_of_range"),
    ] {
        let (status, problem) = app.get(&format!("/api/v1/audit-log?{query}"), Some(&owner.access)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {problem}");
        assert_eq!(
            (problem["errors"][0]["field"].as_str(), problem["errors"][0]["code"].as_str()),
            (Some(field), Some(code))
        );
    }
    let agent = app.invite_and_accept(&owner, "agent").await;
    assert_eq!(app.get("/api/v1/audit-log/export", Some(&agent.access)).await.0, StatusCode::FORBIDDEN);
}
