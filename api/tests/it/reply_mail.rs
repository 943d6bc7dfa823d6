//! Leave a message, get the answer by email (issue 14): an agent's reply the visitor has not read
//! within `mail.reply_delay_secs` is mailed to the address they left, once, in their language,
//! with a signed link to the edge's hosted chat page for that visitor; a reply they read in the
//! widget is not. (The edge's side of the link, and the page in a browser, are tested in
//! `tests/`.)

use std::time::{Duration, Instant};

use kefu_api::testing::{TestApp, unique};
use kefu_protocol::VisitorId;
use serde_json::{Value, json};

async fn mails(app: &TestApp, to: &str, at_least: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let mails = app.mailbox(to).await;
        if mails.len() >= at_least {
            return mails;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{at_least} mail(s) to {to} expected, got {mails:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_reply_the_visitor_did_not_read_is_emailed_once_in_their_language() {
    // Any test node may mail a due conversation (they share the database): every one has the
    // same edge URL (`TEST_EDGE_URL`), as a cluster's nodes do.
    let app = TestApp::spawn_with(|c| c.mail.reply_delay_secs = 2).await;
    let owner = app.verified_owner().await;
    let (status, site) = app.post("/api/v1/site-keys", Some(&owner.access), json!({ "label": "shop" })).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{site}");
    let email = format!("{}@visitor.example", unique("left-a-message"));
    let visitor_id = VisitorId::from_uuid(uuid::Uuid::now_v7());
    let token = app.visitor_token(&owner.tenant_id, visitor_id, 600);

    // A Chinese-speaking visitor leaves a message with their address (what the offline form
    // sends) and goes away.
    let mut left = app.visitor_speaking(&token, "zh-CN,zh;q=0.9").await;
    left.send(json!({ "type": "profile", "name": "王芳", "email": email })).await;
    left.take_of("saved").await;
    left.send(json!({ "type": "send", "client_id": "m1", "body": "我的订单什么时候发货？" })).await;
    let conversation = left.take_of("ack").await["conversation_id"].as_str().expect("conversation").to_owned();
    drop(left);

    // An agent answers twice: one mail with both replies.
    let mut agent = app.agent(&owner).await;
    agent.send(json!({ "type": "join", "conversation_id": conversation })).await;
    agent.take_of("joined").await;
    for (id, body) in [("a1", "您好，已为您查询。"), ("a2", "订单明天发货。")] {
        agent.send(json!({ "type": "send", "conversation_id": conversation, "client_id": id, "body": body })).await;
        agent.take_of("ack").await;
    }
    let mail = mails(&app, &email, 1).await.remove(0);
    let (subject, body) = (mail["subject"].as_str().unwrap_or(""), mail["body_text"].as_str().unwrap_or(""));
    assert!(subject.ends_with("回复了您的留言"), "{subject}");
    assert!(body.starts_with("王芳，您好！"), "{body}");
    assert!(body.contains("您好，已为您查询。") && body.contains("订单明天发货。"), "{body}");
    // The link opens this visitor's chat through the tenant's site key, for 30 days.
    let link = body
        .split(&format!("{}/c/", kefu_api::config::TEST_EDGE_URL))
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a link");
    let claims: kefu_protocol::ChatLinkClaims = app
        .state
        .jwt
        .visitor_keys()
        .verify(link, kefu_protocol::CHAT_LINK_AUDIENCE)
        .expect("signed with the region's keys");
    assert_eq!(claims.sub, visitor_id);
    assert_eq!(
        (claims.tid.to_string(), claims.site.to_string()),
        (owner.tenant_id.clone(), site["site_key"].as_str().unwrap_or("").to_owned())
    );
    assert_eq!(claims.exp - claims.iat, kefu_protocol::CHAT_LINK_TTL_SECS);
    assert!(
        app.state
            .jwt
            .visitor_keys()
            .verify::<kefu_protocol::VisitorClaims>(link, kefu_protocol::VISITOR_AUDIENCE)
            .is_err(),
        "a link is not a visitor token"
    );

    // A reply the visitor reads in the widget is not mailed, and nothing is mailed twice.
    let mut back = app.visitor_speaking(&token, "zh-CN").await;
    agent
        .send(json!({ "type": "send", "conversation_id": conversation, "client_id": "a3", "body": "还有其他问题吗？" }))
        .await;
    agent.take_of("ack").await;
    let seen = loop {
        let message = back.take_of("message").await;
        if message["client_id"] == "a3" {
            break message["seq"].as_i64().expect("seq");
        }
    };
    back.send(json!({ "type": "read", "seq": seen })).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(app.mailbox(&email).await.len(), 1, "read replies are not mailed");

    // A visitor without a language preference is written to in English.
    let other = format!("{}@visitor.example", unique("left-a-message"));
    let token = app.visitor_token(&owner.tenant_id, VisitorId::from_uuid(uuid::Uuid::now_v7()), 600);
    let mut left = app.visitor_with_token(&token, None).await.0;
    left.send(json!({ "type": "profile", "email": other })).await;
    left.take_of("saved").await;
    left.send(json!({ "type": "send", "client_id": "m1", "body": "When does my order ship?" })).await;
    let conversation = left.take_of("ack").await["conversation_id"].as_str().expect("conversation").to_owned();
    drop(left);
    agent.send(json!({ "type": "join", "conversation_id": conversation })).await;
    agent.take_of("joined").await;
    agent
        .send(json!({ "type": "send", "conversation_id": conversation, "client_id": "e1", "body": "Tomorrow." }))
        .await;
    agent.take_of("ack").await;
    let mail = mails(&app, &other, 1).await.remove(0);
    assert!(mail["subject"].as_str().is_some_and(|s| s.ends_with("replied to your message")), "{mail}");
    let body = mail["body_text"].as_str().unwrap_or("");
    assert!(body.starts_with("Hello,") && body.contains("    Tomorrow."), "{body}");
}
