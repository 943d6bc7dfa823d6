//! Analytics (issue 15): first response and response times, durations, missed and resolved
//! chats, reopens, CSAT, per agent and team, sources and visits, from conversations stored
//! through the real message path (their times set afterwards so the figures are exact); the
//! incremental refresh counting what changed since; erasure taking a visitor out of the counts; the
//! tenant's time zone; CSV; the stats endpoint for API keys; roles, bad input and two tenants.

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

async fn reply(agent: &mut WsClient, conversation: &str, client_id: &str, body: &str) {
    agent.send(json!({ "type": "send", "conversation_id": conversation, "client_id": client_id, "body": body })).await;
    agent.take_of("ack").await;
}

/// Polls the conversation over REST until `wanted` holds (claims and closes are not acked).
async fn until(app: &TestApp, session: &Session, conversation: &str, wanted: impl Fn(&Value) -> bool) {
    let started = std::time::Instant::now();
    loop {
        let (_, body) = app.get(&format!("/api/v1/conversations/{conversation}"), Some(&session.access)).await;
        if wanted(&body) {
            return;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "never: {body}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Sets every message's time from its body (`body → seconds after base`), the conversation's
/// start to base and its close to `closed_after` seconds after base (if closed), as if it had
/// happened an hour ago; and marks it changed.
async fn set_times(
    app: &TestApp,
    session: &Session,
    conversation: &str,
    offsets: &[(&str, i32)],
    closed_after: Option<i32>,
) {
    let schema = app.tenant_schema(&session.tenant_id).await;
    let id: kefu_protocol::ConversationId = conversation.parse().expect("id");
    let base = "date_trunc('minute', now()) - interval '1 hour'";
    for (body, secs) in offsets {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "update {}.messages set created_at = {base} + make_interval(secs => $3) where conversation_id = $1 and body = $2",
            schema.name()
        )))
        .bind(id)
        .bind(*body)
        .bind(f64::from(*secs))
        .execute(app.db())
        .await
        .expect("message time");
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "update {}.conversations set created_at = {base},
             closed_at = case when status = 'closed' then {base} + make_interval(secs => $2) end,
             updated_at = now()
         where id = $1",
        schema.name()
    )))
    .bind(id)
    .bind(f64::from(closed_after.unwrap_or(0)))
    .execute(app.db())
    .await
    .expect("conversation times");
}

/// Yesterday and today (UTC), the period every read here asks for.
fn period() -> String {
    let today = chrono::Utc::now().date_naive();
    format!("from={}&to={today}", today - chrono::Days::new(1))
}

async fn dashboard(app: &TestApp, session: &Session, extra: &str) -> Value {
    let (status, body) = app.get(&format!("/api/v1/analytics?{}{extra}", period()), Some(&session.access)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["freshness"]["complete"], true, "{body}");
    body
}

fn close_to(value: &Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() < 0.01)
}

#[tokio::test]
async fn figures_are_computed_from_real_conversations_and_kept_current() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let mut agent = app.agent(&owner).await;

    // Answered twice, closed after 100 s and rated 5; the visitor came from WeChat.
    let (mut first, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    first
        .send(json!({ "type": "page_view", "url": "https://shop.example/landing?utm_source=wechat&utm_campaign=%E5%8F%8C11",
                      "title": "双11", "referrer": "https://weixin.qq.com/s/abc" }))
        .await;
    let answered = say(&mut first, "a1", "我想退款").await;
    say(&mut first, "a2", "订单号 1001").await;
    agent.send(json!({ "type": "claim", "conversation_id": answered })).await;
    until(&app, &owner, &answered, |c| c["assignee"] == owner.user_id.as_str()).await;
    reply(&mut agent, &answered, "r1", "好的，马上处理").await;
    say(&mut first, "a3", "多久到账？").await;
    reply(&mut agent, &answered, "r2", "三个工作日").await;
    agent.send(json!({ "type": "note", "conversation_id": answered, "client_id": "n1", "body": "a private note is no reply" })).await;
    agent.take_of("ack").await;
    agent.send(json!({ "type": "close", "conversation_id": answered })).await;
    until(&app, &owner, &answered, |c| c["status"] == "closed").await;
    first.send(json!({ "type": "rate", "conversation_id": answered, "rating": 5, "comment": "很快" })).await;
    first.next_of("rated").await;
    set_times(
        &app,
        &owner,
        &answered,
        &[("我想退款", 0), ("订单号 1001", 5), ("好的，马上处理", 20), ("多久到账？", 60), ("三个工作日", 90)],
        Some(100),
    )
    .await;

    // Closed without a reply: missed.
    let (mut second, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    let missed = say(&mut second, "b1", "hello?").await;
    agent.send(json!({ "type": "close", "conversation_id": missed })).await;
    until(&app, &owner, &missed, |c| c["status"] == "closed").await;
    set_times(&app, &owner, &missed, &[("hello?", 0)], Some(40)).await;

    // Still open, waiting.
    let (mut third, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    let waiting = say(&mut third, "c1", "anyone there").await;
    set_times(&app, &owner, &waiting, &[("anyone there", 0)], None).await;

    let body = dashboard(&app, &owner, "").await;
    let totals = &body["totals"];
    assert_eq!(totals["conversations"], 3, "{totals}");
    assert_eq!(totals["closed"], 2);
    assert_eq!(totals["missed"], 1);
    assert_eq!(totals["resolved"], 1);
    assert!(close_to(&totals["first_response_secs"], 20.0), "{totals}");
    // (20 + 30) / 2: the second run of questions began at 60 s and was answered at 90 s.
    assert!(close_to(&totals["response_secs"], 25.0), "{totals}");
    assert!(close_to(&totals["duration_secs"], 70.0), "{totals}");
    assert!(close_to(&totals["missed_rate"], 0.5));
    assert!(close_to(&totals["resolution_rate"], 0.5));
    assert_eq!(totals["rated"], 1);
    assert!(close_to(&totals["rating_average"], 5.0));
    assert!(close_to(&totals["csat"], 1.0));
    assert_eq!(body["granularity"], "hour");
    assert_eq!(body["timezone"], "UTC");
    let series_total: i64 = body["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|p| p["metrics"]["conversations"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(series_total, 3);
    let heat_total: i64 =
        body["heatmap"].as_array().expect("heatmap").iter().map(|c| c["conversations"].as_i64().unwrap_or(0)).sum();
    assert_eq!(heat_total, 3);
    // Per agent: the owner has the answered one; the two nobody claimed have no agent.
    let agents = body["agents"].as_array().expect("agents");
    let mine = agents.iter().find(|a| a["user_id"] == owner.user_id.as_str()).expect("owner's row");
    assert_eq!(mine["metrics"]["conversations"], 1);
    assert!(close_to(&mine["metrics"]["first_response_secs"], 20.0));
    assert!(agents.iter().any(|a| a["user_id"].is_null() && a["metrics"]["conversations"] == 2), "{agents:?}");
    // Sources: WeChat by UTM and by referrer host; a visit with its page view.
    let sources = body["conversation_sources"].as_array().expect("sources");
    let share = |dimension: &str, value: &str| {
        sources.iter().find(|s| s["dimension"] == dimension && s["value"] == value).map(|s| s["count"].clone())
    };
    assert_eq!(share("utm_source", "wechat"), Some(json!(1)), "{sources:?}");
    assert_eq!(share("utm_campaign", "双11"), Some(json!(1)));
    assert_eq!(share("referrer", "weixin.qq.com"), Some(json!(1)));
    assert_eq!(share("referrer", ""), Some(json!(2)), "the other two came directly");
    assert!(body["visits"]["visits"].as_i64().unwrap_or(0) >= 1, "{}", body["visits"]);
    assert!(
        body["visits"]["sources"]
            .as_array()
            .expect("visit sources")
            .iter()
            .any(|s| s["dimension"] == "utm_source" && s["value"] == "wechat")
    );

    // What changes after a refresh is counted by the next one: a reopen and a new conversation.
    let (status, _) = app.post(&format!("/api/v1/conversations/{missed}/reopen"), Some(&owner.access), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (mut fourth, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    say(&mut fourth, "d1", "new one").await;
    let body = dashboard(&app, &owner, "").await;
    assert_eq!(body["totals"]["conversations"], 4, "{}", body["totals"]);
    assert_eq!(body["totals"]["reopened"], 1);
    assert_eq!(body["totals"]["closed"], 1, "the reopened one is open again");

    // Erasing the WeChat visitor takes their conversation and visit out of the counts.
    let first_id = app.get(&format!("/api/v1/conversations/{answered}"), Some(&owner.access)).await.1["visitor_id"]
        .as_str()
        .expect("visitor id")
        .to_owned();
    let (status, _) = app.call("DELETE", &format!("/api/v1/visitors/{first_id}"), Some(&owner.access), None).await;
    assert_eq!(status, StatusCode::OK);
    let body = dashboard(&app, &owner, "").await;
    assert_eq!(body["totals"]["conversations"], 3, "{}", body["totals"]);
    assert_eq!(body["totals"]["rated"], 0);
    let sources = body["conversation_sources"].as_array().expect("sources");
    assert!(!sources.iter().any(|s| s["value"] == "wechat"), "{sources:?}");

    // Filters: one agent's conversations only.
    let body = dashboard(&app, &owner, &format!("&agent={}", owner.user_id)).await;
    assert_eq!(body["totals"]["conversations"], 0, "the owner's one was erased");
}

#[tokio::test]
async fn days_follow_the_tenant_time_zone_and_tables_download_as_csv() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    say(&mut visitor, "v1", "你好").await;
    let week = dashboard(&app, &owner, "&granularity=day").await;
    assert_eq!(week["timezone"], "UTC");

    // Business hours in Shanghai: days are cut there from now on (the rollups are cut again).
    let (_, current) = app.get("/api/v1/service-hours", Some(&owner.access)).await;
    let mut doc = current["service_hours"].clone();
    doc["business_hours"] = json!({ "timezone": "Asia/Shanghai",
        "open": (1..=7).map(|day| json!({ "day": day, "from": "00:00", "to": "24:00" })).collect::<Vec<_>>() });
    let (status, saved) = app
        .call(
            "PUT",
            "/api/v1/service-hours",
            Some(&owner.access),
            Some(json!({ "service_hours": doc, "version": current["version"] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let (status, body) = app.get("/api/v1/analytics?granularity=day", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["timezone"], "Asia/Shanghai");
    let shanghai_today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    assert_eq!(body["to"], shanghai_today.to_string());
    assert_eq!(body["totals"]["conversations"], 1);
    let day = body["series"][0]["at"].as_str().expect("bucket");
    assert!(day.ends_with("16:00:00Z"), "a Shanghai midnight: {day}");

    // CSV of a table, with a byte-order mark and a header.
    let response = reqwest::Client::new()
        .get(app.url("/api/v1/analytics/export?table=agents"))
        .bearer_auth(&owner.access)
        .send()
        .await
        .expect("export");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap_or("").starts_with("text/csv"));
    let text = response.text().await.expect("csv");
    assert!(text.starts_with("\u{feff}user_id,name,conversations,"), "{text}");
    assert_eq!(text.lines().count(), 2, "the header and the row of conversations nobody was assigned: {text}");
}

#[tokio::test]
async fn stats_for_api_keys_roles_bad_input_and_two_tenants() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let other = app.verified_owner().await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    say(&mut visitor, "v1", "hi").await;

    // An API key with the supervisor role reads the stats; the other tenant sees none of them.
    let (status, key) =
        app.post("/api/v1/api-keys", Some(&owner.access), json!({ "name": "bi", "role": "supervisor" })).await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let secret = key["secret"].as_str().expect("secret").to_owned();
    let (status, stats) = app.get("/api/v1/stats", Some(&secret)).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["totals"]["conversations"], 1);
    assert!(stats["previous"]["conversations"].is_number());
    let (_, theirs) = app.get("/api/v1/stats", Some(&other.access)).await;
    assert_eq!(theirs["totals"]["conversations"], 0, "{theirs}");
    let (_, theirs) = app.get("/api/v1/analytics", Some(&other.access)).await;
    assert!(theirs["agents"].as_array().expect("agents").is_empty());

    // Agents and agent-role keys may not.
    let agent = app.invite_and_accept(&owner, "agent").await;
    let (status, _) = app.get("/api/v1/analytics", Some(&agent.access)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, weak) = app.post("/api/v1/api-keys", Some(&owner.access), json!({ "name": "weak", "role": "agent" })).await;
    let (status, _) = app.get("/api/v1/stats", Some(weak["secret"].as_str().expect("secret"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Bad input: field errors, never a 500.
    for (query, field) in [
        ("from=2026-13-01", "from"),
        ("from=2026-01-10&to=2026-01-01", "to"),
        ("from=2024-01-01&to=2026-01-01", "from"),
        ("from=2026-01-01&to=2026-03-01&granularity=hour", "granularity"),
        ("granularity=minute", "granularity"),
        ("team=nope", "team"),
        ("agent=team_00000000000000000000000000000000", "agent"),
    ] {
        let (status, body) = app.get(&format!("/api/v1/analytics?{query}"), Some(&owner.access)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
    let (status, body) = app.get("/api/v1/analytics/export?table=nope", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

/// A queued mail: to, subject, text, HTML, inline PNG.
type QueuedMail = (String, String, String, Option<String>, Option<Vec<u8>>);

#[tokio::test]
async fn daily_and_weekly_reports_are_mailed_in_each_members_language() {
    let app = TestApp::spawn_with(|c| c.analytics.reports_round_secs = 1).await;
    let owner = app.verified_owner().await;
    let supervisor = app.invite_and_accept(&owner, "supervisor").await;
    let agent = app.invite_and_accept(&owner, "agent").await;
    for (session, language) in [(&owner, "en"), (&supervisor, "zh-CN")] {
        let (status, _) =
            app.call("PUT", "/api/v1/me/language", Some(&session.access), Some(json!({ "language": language }))).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let (status, body) =
        app.call("PUT", "/api/v1/me/language", Some(&owner.access), Some(json!({ "language": "fr" }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Agents may not receive reports (they show every agent's figures); supervisors may not choose.
    let (status, body) = app
        .call(
            "PUT",
            "/api/v1/analytics/reports",
            Some(&owner.access),
            Some(json!({ "daily": [owner.user_id], "weekly": [owner.user_id, agent.user_id] })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "weekly[1]");
    assert_eq!(body["errors"][0]["code"], "not_allowed");
    let (status, _) = app
        .call("PUT", "/api/v1/analytics/reports", Some(&supervisor.access), Some(json!({ "daily": [], "weekly": [] })))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .call(
            "PUT",
            "/api/v1/analytics/reports",
            Some(&owner.access),
            Some(json!({ "daily": [owner.user_id], "weekly": [owner.user_id, supervisor.user_id] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let next_daily: chrono::DateTime<chrono::Utc> =
        body["daily"]["next_at"].as_str().expect("next").parse().expect("instant");
    assert!(next_daily > chrono::Utc::now() && next_daily <= chrono::Utc::now() + chrono::Duration::days(1));
    assert_eq!(next_daily.format("%H:%M").to_string(), "08:00", "08:00 in the tenant's time zone (UTC)");

    // Yesterday: one conversation, answered.
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    let conversation = say(&mut visitor, "v1", "昨天的问题").await;
    let mut ws = app.agent(&owner).await;
    ws.send(json!({ "type": "claim", "conversation_id": conversation })).await;
    until(&app, &owner, &conversation, |c| c["assignee"] == owner.user_id.as_str()).await;
    reply(&mut ws, &conversation, "r1", "已解决").await;
    let schema = app.tenant_schema(&owner.tenant_id).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "update {s}.conversations set created_at = now() - interval '1 day', updated_at = now();
         update {s}.messages set created_at = now() - interval '1 day' + case when body = '已解决' then interval '30 seconds' else interval '0 seconds' end",
        s = schema.name()
    )))
    .execute(app.db())
    .await
    .expect("yesterday");

    // Both come due now: the worker sends them once and schedules the next.
    sqlx::query("update control.report_subscriptions set next_at = now() where tenant_id = $1")
        .bind(owner.tenant_id.parse::<kefu_protocol::TenantId>().expect("tenant"))
        .execute(app.db())
        .await
        .expect("due");
    let started = std::time::Instant::now();
    let mails = loop {
        let mails: Vec<QueuedMail> = sqlx::query_as(
            "select to_address, subject, body_text, body_html, inline_png from control.outbox_mail
             where lower(to_address) in (lower($1), lower($2)) and body_html is not null order by to_address, subject",
        )
        .bind(&owner.email)
        .bind(&supervisor.email)
        .fetch_all(app.db())
        .await
        .expect("outbox");
        if mails.len() >= 3 {
            break mails;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "reports not queued: {mails:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(mails.len(), 3, "once each: {mails:?}");
    let of = |to: &str, marker: &str| {
        mails
            .iter()
            .find(|m| m.0.eq_ignore_ascii_case(to) && m.1.contains(marker))
            .unwrap_or_else(|| panic!("{marker} to {to}: {mails:?}"))
    };
    let daily = of(&owner.email, "Daily report");
    assert!(daily.2.contains("Conversations: 1"), "{}", daily.2);
    assert!(daily.2.contains("First response: 30 s"), "{}", daily.2);
    assert!(daily.2.contains("/analytics?from="), "a link to the page: {}", daily.2);
    assert!(daily.3.as_deref().is_some_and(|h| h.contains("cid:chart")));
    assert!(daily.4.as_deref().is_some_and(|png| png.starts_with(b"\x89PNG")), "the chart");
    of(&owner.email, "Weekly report");
    let chinese = of(&supervisor.email, "客服周报");
    assert!(chinese.2.contains("会话数：1"), "{}", chinese.2);
    assert!(!chinese.2.contains("Conversations"), "only Chinese for a zh-CN member: {}", chinese.2);

    let (_, body) = app.get("/api/v1/analytics/reports", Some(&owner.access)).await;
    assert!(body["daily"]["last_sent_at"].is_string(), "{body}");
    let next: chrono::DateTime<chrono::Utc> =
        body["weekly"]["next_at"].as_str().expect("next").parse().expect("instant");
    assert!(next > chrono::Utc::now(), "the next one is scheduled: {body}");
}
