//! Service hours (issue 14): business hours with special days in the tenant's time zone, across
//! daylight saving changes; visitors told the team is offline outside them, with the next
//! opening; the document validated, versioned and admin-only; the greeting and the away message
//! sent when they should be, once, in the visitor's language, and never into a conversation the
//! bot is answering (but to one it hands off while nobody is there).

use chrono::{DateTime, Utc};
use kefu_api::db::TenantTx;
use kefu_api::testing::{Session, TestApp, WsClient};
use kefu_protocol::VisitorId;
use kefu_protocol::hours::{BusinessHours, OpenSpan, SpecialDay, TimeSpan};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn save(app: &TestApp, session: &Session, doc: Value) -> (StatusCode, Value) {
    let (_, current) = app.get("/api/v1/service-hours", Some(&session.access)).await;
    let body = json!({ "service_hours": doc, "version": current["version"] });
    app.call("PUT", "/api/v1/service-hours", Some(&session.access), Some(body)).await
}

fn instant(text: &str) -> DateTime<Utc> {
    text.parse().expect("instant")
}

fn weekdays(from: &str, to: &str) -> Vec<OpenSpan> {
    (1..=5).map(|day| OpenSpan { day, from: from.into(), to: to.into() }).collect()
}

#[tokio::test]
async fn business_hours_follow_their_time_zone_across_daylight_saving_changes() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let schema = app.tenant_schema(&owner.tenant_id).await;
    let mut tx = TenantTx::begin(app.databases(), &schema).await.expect("tx");
    let new_york = BusinessHours {
        timezone: "America/New_York".into(),
        open: weekdays("09:00", "17:00"),
        special_days: vec![
            SpecialDay { date: "2026-03-10".into(), label: "Closed for training".into(), open: vec![] },
            SpecialDay {
                date: "2026-03-14".into(), // a Saturday
                label: "Spring sale".into(),
                open: vec![TimeSpan { from: "10:00".into(), to: "12:00".into() }],
            },
        ],
    };
    let mut at = async |hours: &BusinessHours, when: &str| {
        kefu_api::hours::clock(&mut tx, hours, instant(when)).await.expect("clock")
    };
    // Friday 2026-03-06, Eastern Standard Time (UTC-5).
    assert!(!at(&new_york, "2026-03-06T13:59:00Z").await.open, "08:59 EST");
    assert!(at(&new_york, "2026-03-06T14:00:00Z").await.open, "09:00 EST");
    assert!(at(&new_york, "2026-03-06T21:59:00Z").await.open, "16:59 EST");
    let friday_evening = at(&new_york, "2026-03-06T22:00:00Z").await;
    assert!(!friday_evening.open, "17:00 EST");
    // Clocks go forward on Sunday 2026-03-08: Monday 09:00 is EDT (UTC-4), 13:00 UTC.
    assert_eq!(friday_evening.opens_at, Some(instant("2026-03-09T13:00:00Z")));
    assert!(!at(&new_york, "2026-03-09T12:59:00Z").await.open, "08:59 EDT");
    assert!(at(&new_york, "2026-03-09T13:00:00Z").await.open, "09:00 EDT");
    // The special days: Tuesday closed, Saturday 10–12.
    let tuesday = at(&new_york, "2026-03-10T15:00:00Z").await;
    assert!(!tuesday.open);
    assert_eq!(tuesday.opens_at, Some(instant("2026-03-11T13:00:00Z")));
    assert!(at(&new_york, "2026-03-14T14:00:00Z").await.open, "Saturday 10:00 EDT");
    let saturday_noon = at(&new_york, "2026-03-14T16:00:00Z").await;
    assert!(!saturday_noon.open);
    assert_eq!(saturday_noon.opens_at, Some(instant("2026-03-16T13:00:00Z")));

    // The same instants elsewhere: Shanghai has no daylight saving, 09:00 CST is 01:00 UTC.
    let shanghai =
        BusinessHours { timezone: "Asia/Shanghai".into(), open: weekdays("09:00", "18:00"), special_days: vec![] };
    assert!(!at(&shanghai, "2026-03-09T00:59:00Z").await.open);
    assert!(at(&shanghai, "2026-03-09T01:00:00Z").await.open);
    assert!(!at(&shanghai, "2026-03-09T10:00:00Z").await.open, "18:00 CST");
    // London goes back to GMT on Sunday 2026-10-25: Friday 18:00 BST is 17:00 UTC, and Monday
    // 09:00 GMT is 09:00 UTC.
    let london =
        BusinessHours { timezone: "Europe/London".into(), open: weekdays("09:00", "18:00"), special_days: vec![] };
    assert!(at(&london, "2026-10-23T16:59:00Z").await.open, "17:59 BST");
    let friday = at(&london, "2026-10-23T17:00:00Z").await;
    assert!(!friday.open, "18:00 BST");
    assert_eq!(friday.opens_at, Some(instant("2026-10-26T09:00:00Z")));
    assert!(at(&london, "2026-10-26T09:00:00Z").await.open, "09:00 GMT");
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn outside_business_hours_visitors_are_told_the_team_is_offline_and_when_it_opens() {
    use chrono::{Datelike, Timelike};
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    // Open every day but today (in UTC): closed now, with an agent connected. (Not across midnight.)
    if Utc::now().num_seconds_from_midnight() > 86_400 - 10 {
        tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    }
    let now = Utc::now();
    let today = now.weekday().number_from_monday();
    let days: Vec<Value> =
        (1..=7).filter(|d| *d != today).map(|d| json!({ "day": d, "from": "00:00", "to": "24:00" })).collect();
    let (status, saved) = save(&app, &owner, json!({ "business_hours": { "timezone": "UTC", "open": days } })).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let tomorrow = (now.date_naive() + chrono::Days::new(1)).and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    assert_eq!(saved["now"]["open"], false);
    assert_eq!(saved["now"]["opens_at"].as_str().map(instant), Some(tomorrow), "{saved}");
    let mut agent = app.agent(&owner).await;
    agent.send(json!({ "type": "subscribe_inbox" })).await;
    let visitor = VisitorId::from_uuid(uuid::Uuid::now_v7());
    let (_, welcome) = app.visitor(&owner.tenant_id, visitor, None).await;
    assert_eq!(welcome["status"]["agents"], "offline", "closed today");
    assert_eq!(welcome["status"]["opens_at"].as_str().map(instant), Some(tomorrow), "{welcome}");

    // Today is a special day open around the clock: the connected agent is online again, and a
    // connected visitor is told at once.
    let (mut waiting, _) = app.visitor(&owner.tenant_id, visitor, None).await;
    let special = json!([{ "date": now.format("%Y-%m-%d").to_string(), "label": "Open day", "open": [{ "from": "00:00", "to": "24:00" }] }]);
    let (status, saved) =
        save(&app, &owner, json!({ "business_hours": { "timezone": "UTC", "open": days, "special_days": special } }))
            .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let status = waiting.status_where("online", |s| s["agents"] == "online").await;
    assert!(status.get("opens_at").is_none(), "{status}");

    // Without business hours, the team is there whenever agents are.
    let (status, saved) = save(&app, &owner, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert!(saved["now"].is_null());
}

#[tokio::test]
async fn service_hours_are_validated_versioned_and_changed_by_admins_only() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (status, doc) = app.get("/api/v1/service-hours", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["service_hours"]["auto_replies"]["away"]["enabled"], false, "off until turned on");
    assert!(doc["service_hours"]["business_hours"].is_null());

    let (status, problem) = save(
        &app,
        &owner,
        json!({
            "business_hours": {
                "timezone": "Mars/Olympus_Mons",
                "open": [{ "day": 8, "from": "09:00", "to": "18:00" }],
                "special_days": [{ "date": "2026-02-30" }, { "date": "2026-10-01", "open": [{ "from": "12:00", "to": "09:00" }] }]
            },
            "auto_replies": { "greeting": { "enabled": true, "texts": {} }, "away": { "enabled": false, "texts": { "fr": "Bonjour" } } }
        }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let fields: Vec<&str> =
        problem["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(
        fields,
        [
            "service_hours.business_hours.open.0.day",
            "service_hours.business_hours.special_days.0.date",
            "service_hours.business_hours.special_days.1.open.0.to",
            "service_hours.auto_replies.greeting.texts",
            "service_hours.auto_replies.away.texts.fr",
            "service_hours.business_hours.timezone",
        ],
        "{problem}"
    );
    let (status, problem) =
        save(&app, &owner, json!({ "business_hours": { "timezone": "Mars/Olympus_Mons", "open": [] } })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["code"], "unknown", "{problem}");
    let (status, problem) =
        save(&app, &owner, json!({ "business_hours": { "timezone": "UTC", "open": [], "extra": 1 } })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "unknown fields are refused: {problem}");

    let (status, first) =
        save(&app, &owner, json!({ "auto_replies": { "away": { "enabled": true, "texts": { "en": "Back soon." } } } }))
            .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["service_hours"]["auto_replies"]["away"]["texts"]["en"], "Back soon.");
    assert_eq!(first["service_hours"]["auto_replies"]["greeting"]["enabled"], false, "omitted: the default");
    // Saving on an old version is a conflict.
    let stale = json!({ "service_hours": {}, "version": doc["version"] });
    let (status, problem) = app.call("PUT", "/api/v1/service-hours", Some(&owner.access), Some(stale)).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::CONFLICT, Some("version_conflict")), "{problem}");

    // Agents read them; only admins change them.
    let agent = app.invite_and_accept(&owner, "agent").await;
    let (status, read) = app.get("/api/v1/service-hours", Some(&agent.access)).await;
    assert_eq!((status, read["version"].clone()), (StatusCode::OK, first["version"].clone()), "{read}");
    let (status, _) = save(&app, &agent, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The widget document no longer carries business hours.
    let (_, widget) = app.get("/api/v1/widget", Some(&owner.access)).await;
    let mut settings = widget["settings"].clone();
    assert!(settings.get("business_hours").is_none(), "{settings}");
    settings["business_hours"] = json!({ "timezone": "UTC", "open": [] });
    let body = json!({ "settings": settings, "version": widget["version"] });
    let (status, _) = app.call("PUT", "/api/v1/widget", Some(&owner.access), Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "business hours are saved with the service hours");
}

async fn send(visitor: &mut WsClient, client_id: &str, body: &str) -> String {
    visitor.send(json!({ "type": "send", "client_id": client_id, "body": body })).await;
    visitor.take_of("ack").await["conversation_id"].as_str().expect("conversation").to_owned()
}

async fn turn_on_auto_replies(app: &TestApp, owner: &Session) {
    let (status, body) = save(
        app,
        owner,
        json!({ "auto_replies": {
            "greeting": { "enabled": true, "texts": { "en": "Hello, one moment please.", "zh-CN": "您好，请稍候。" } },
            "away": { "enabled": true, "texts": { "en": "We're away; we'll answer when we're back.", "zh-CN": "我们暂时不在，回来后回复您。" } }
        } }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_greeting_and_the_away_message_are_sent_once_in_the_visitors_language() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    turn_on_auto_replies(&app, &owner).await;
    let mut agent = app.agent(&owner).await;
    agent.send(json!({ "type": "subscribe_inbox" })).await;

    // A Chinese-speaking visitor writes while the agent is online: greeted once, in Chinese,
    // under the widget's title.
    let token = app.visitor_token(&owner.tenant_id, VisitorId::from_uuid(uuid::Uuid::now_v7()), 600);
    let mut visitor = app.visitor_speaking(&token, "zh-CN,zh;q=0.9").await;
    visitor.status_where("online", |s| s["agents"] == "online").await;
    let conversation = send(&mut visitor, "q1", "你好，请问发货要多久？").await;
    let greeting = visitor.message_from("auto").await;
    assert_eq!(
        (greeting["body"].as_str(), greeting["sender"]["name"].as_str()),
        (Some("您好，请稍候。"), Some("在线客服"))
    );
    assert_eq!(greeting["private"], false);
    send(&mut visitor, "q2", "还在吗？").await;
    visitor.no_message_from("auto", 1500).await;

    // The team leaves: the next message gets the away message, once.
    drop(agent);
    visitor.status_where("offline", |s| s["agents"] == "offline").await;
    send(&mut visitor, "q3", "有人吗？").await;
    let away = visitor.message_from("auto").await;
    assert_eq!(away["body"], "我们暂时不在，回来后回复您。");
    send(&mut visitor, "q4", "那我等等。").await;
    visitor.no_message_from("auto", 1500).await;

    // An agent answers and leaves again: the visitor's next message is told again.
    let mut agent = app.agent(&owner).await;
    agent.send(json!({ "type": "join", "conversation_id": conversation })).await;
    agent.take_of("joined").await;
    agent
        .send(json!({ "type": "send", "conversation_id": conversation, "client_id": "a1", "body": "明天发货。" }))
        .await;
    agent.take_of("ack").await;
    drop(agent);
    visitor.status_where("offline", |s| s["agents"] == "offline").await;
    send(&mut visitor, "q5", "好的，谢谢").await;
    assert_eq!(visitor.message_from("auto").await["body"], "我们暂时不在，回来后回复您。");

    // The transcript agents read has the replies, from `auto`.
    let (status, page) = app.get(&format!("/api/v1/conversations/{conversation}/messages"), Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let kinds: Vec<&str> = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["sender"]["kind"].as_str())
        .filter(|k| *k != "system")
        .collect();
    assert_eq!(kinds, ["visitor", "auto", "visitor", "visitor", "auto", "visitor", "agent", "visitor", "auto"]);

    // A visitor without a language preference gets the widget's default language (English).
    let (mut english, _) = app.visitor(&owner.tenant_id, VisitorId::from_uuid(uuid::Uuid::now_v7()), None).await;
    send(&mut english, "e1", "Hello?").await;
    let away = english.message_from("auto").await;
    assert_eq!(
        (away["body"].as_str(), away["sender"]["name"].as_str()),
        (Some("We're away; we'll answer when we're back."), Some("Chat with us"))
    );
}

#[tokio::test]
async fn the_bot_answers_without_auto_replies_and_its_handoff_while_nobody_is_there_gets_the_away_message() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/kb/entries",
            Some(&owner.access),
            Some(json!({ "language": "en", "question": "How long does shipping take?", "alternatives": ["When will my order arrive?"], "answer": "Orders ship within 48 hours." })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.enable_bot(&owner).await;
    turn_on_auto_replies(&app, &owner).await;

    let (mut visitor, _) = app.visitor(&owner.tenant_id, VisitorId::from_uuid(uuid::Uuid::now_v7()), None).await;
    send(&mut visitor, "b1", "How long does shipping take?").await;
    visitor.message_from("bot").await;
    visitor.no_message_from("auto", 1500).await;

    visitor.send(json!({ "type": "human" })).await;
    let away = visitor.message_from("auto").await;
    assert_eq!(away["body"], "We're away; we'll answer when we're back.");
}
