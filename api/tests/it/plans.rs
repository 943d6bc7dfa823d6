//! Plans as data (issue 16, docs/billing.md): a signup tries Pro until a date its members see;
//! when the trial ends the workspace is on Free, loses what Free lacks (the bot is turned off, API
//! keys stop working, scheduled reports are refused) without losing data, its owner is mailed and
//! the audit log says why; the operator's plan edits and plan switches apply at once.

use kefu_api::testing::{Session, TestApp};
use kefu_protocol::TenantId;
use reqwest::StatusCode;
use serde_json::json;

fn tenant_of(session: &Session) -> TenantId {
    session.tenant_id.parse().expect("tenant")
}

async fn enable_bot(app: &TestApp, owner: &Session) -> (StatusCode, serde_json::Value) {
    app.call(
        "PUT",
        "/api/v1/bot",
        Some(&owner.access),
        Some(json!({ "enabled": true, "threshold": 0.7, "matcher": "lexical" })),
    )
    .await
}

#[tokio::test]
async fn a_trial_of_pro_ends_on_its_date_into_free_with_data_kept_and_features_off() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let other = app.verified_owner().await;

    // The signup tries Pro, and its members see until when.
    let (status, tenant) = app.get("/api/v1/tenant", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK, "{tenant}");
    assert_eq!(tenant["plan"]["id"], "pro", "{tenant}");
    assert!(tenant["plan"]["features"].as_array().is_some_and(|f| f.contains(&json!("bot"))), "{tenant}");
    let ends = tenant["trial_ends_at"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    let days = ends.map(|e| (e.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours());
    assert!(days.is_some_and(|h| (13 * 24..=14 * 24).contains(&h)), "a 14-day trial: {tenant}");

    // While trying Pro: the bot, an API key, scheduled reports.
    let (status, body) = enable_bot(&app, &owner).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, key) = app.post("/api/v1/api-keys", Some(&owner.access), json!({ "name": "CRM" })).await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let secret = key["secret"].as_str().expect("secret").to_owned();
    assert_eq!(app.get("/api/v1/conversations", Some(&secret)).await.0, StatusCode::OK);

    // The trial's date passes; any node's job ends it (and only this workspace's).
    sqlx::query("update control.tenants set trial_ends_at = now() - interval '1 minute' where id = $1")
        .bind(tenant_of(&owner))
        .execute(app.db())
        .await
        .expect("trial over");
    let mut ended = 0;
    for _ in 0..20 {
        ended += kefu_api::billing::lifecycle::end_trials(app.databases()).await.expect("a round");
        if app.get("/api/v1/tenant", Some(&owner.access)).await.1["plan"]["id"] == "free" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, tenant) = app.get("/api/v1/tenant", Some(&owner.access)).await;
    assert_eq!(tenant["plan"]["id"], "free", "{tenant}");
    assert_eq!(tenant["trial_ends_at"], json!(null), "{tenant}");
    assert!(ended <= 1, "ended once, whatever the rounds");
    let (_, theirs) = app.get("/api/v1/tenant", Some(&other.access)).await;
    assert_eq!(theirs["plan"]["id"], "pro", "another workspace's trial goes on: {theirs}");

    // What Free lacks is off; the knowledge base and the key are kept.
    let (_, bot) = app.get("/api/v1/bot", Some(&owner.access)).await;
    assert_eq!(bot["enabled"], false, "{bot}");
    let (status, problem) = enable_bot(&app, &owner).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(problem["code"], "plan_feature_required", "{problem}");
    let (status, problem) = app.get("/api/v1/conversations", Some(&secret)).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("plan_feature_required")), "{problem}");
    let (status, problem) = app.post("/api/v1/api-keys", Some(&owner.access), json!({ "name": "again" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let (_, keys) = app.get("/api/v1/api-keys", Some(&owner.access)).await;
    assert_eq!(keys.as_array().map(Vec::len), Some(1), "the key is kept: {keys}");
    let (status, problem) = app
        .call(
            "PUT",
            "/api/v1/analytics/reports",
            Some(&owner.access),
            Some(json!({ "daily": [owner.user_id], "weekly": [] })),
        )
        .await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("plan_feature_required")), "{problem}");

    // The audit log and the owner's mail say what happened.
    let (_, audit) = app.get("/api/v1/audit-log?action=plan.changed", Some(&owner.access)).await;
    let entry = &audit["entries"][0];
    assert_eq!(entry["details"]["cause"], "trial_ended", "{audit}");
    assert_eq!(entry["details"]["turned_off"], json!(["bot"]), "{audit}");
    let mails = app.mailbox(&owner.email).await;
    assert!(
        mails.iter().any(|m| m["subject"].as_str().is_some_and(|s| s.contains("trial has ended"))),
        "the owner is told: {mails:?}"
    );

    // The operator puts it back on Pro: the same key works again, the bot may be turned on.
    let schema = app.tenant_schema(&owner.tenant_id).await;
    let from = kefu_api::billing::lifecycle::switch(app.databases(), &schema, "pro", "operator").await.expect("switch");
    assert_eq!(from, "free");
    assert_eq!(app.get("/api/v1/conversations", Some(&secret)).await.0, StatusCode::OK);
    assert_eq!(enable_bot(&app, &owner).await.0, StatusCode::OK);
    assert!(kefu_api::billing::lifecycle::switch(app.databases(), &schema, "gold", "operator").await.is_err());
}

#[tokio::test]
async fn the_operator_edits_a_plan_and_every_check_reads_the_new_numbers() {
    use kefu_api::db::plans::{Change, change, find};
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    // A plan of this test's own, so no other test sees the edits.
    let id = app.own_plan(&owner, "seats = 2, features = '{}', max_retention_days = 90").await;

    // Two seats: the owner and one invitation.
    let invite = |email: String| {
        let (app, owner) = (&app, &owner);
        async move { app.post("/api/v1/invitations", Some(&owner.access), json!({ "email": email, "role": "agent" })).await }
    };
    assert_eq!(invite(kefu_api::testing::unique("a") + "@example.com").await.0, StatusCode::CREATED);
    let (status, problem) = invite(kefu_api::testing::unique("b") + "@example.com").await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::CONFLICT, Some("seat_limit_reached")), "{problem}");

    // The operator raises the seats and adds the API: both apply on the next request.
    let mut conn = app.db().acquire().await.expect("conn");
    for assignment in ["seats=3", "features=api", "max_retention_days=none"] {
        let parsed = Change::parse(assignment).expect("parse");
        assert!(change(&mut conn, &id, &parsed).await.expect("change"), "{assignment}");
    }
    assert!(
        change(&mut conn, &id, &Change::Features(vec!["teleport".into()])).await.is_err(),
        "an unknown feature is refused by the table"
    );
    assert!(change(&mut conn, &id, &Change::Number("seats", 0)).await.is_err(), "no plan of zero seats");
    let plan = find(&mut conn, &id).await.expect("find").expect("plan");
    assert_eq!((plan.seats, plan.features.clone(), plan.max_retention_days), (3, vec!["api".to_owned()], None));
    drop(conn);
    assert_eq!(invite(kefu_api::testing::unique("c") + "@example.com").await.0, StatusCode::CREATED);
    let (status, key) = app.post("/api/v1/api-keys", Some(&owner.access), json!({ "name": "CRM" })).await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let (status, problem) = enable_bot(&app, &owner).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("plan_feature_required")), "{problem}");
}

#[tokio::test]
async fn usage_shows_every_limit_with_its_use_and_the_plans_offered() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let agent = app.invite_and_accept(&owner, "agent").await;
    app.own_plan(&owner, "seats = 2, conversations_per_month = 5, kb_entries = 10").await;
    for i in 0..4 {
        let (mut visitor, _) =
            app.visitor(&owner.tenant_id, kefu_protocol::VisitorId::from_uuid(uuid::Uuid::now_v7()), None).await;
        visitor.send(json!({ "type": "send", "client_id": "c", "body": format!("问题 {i}") })).await;
        visitor.take_of("ack").await;
    }
    // Any member reads it (agents see why chats arrive as messages).
    let (status, usage) = app.get("/api/v1/usage", Some(&agent.access)).await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    let meter = |name: &str| usage["meters"].as_array().and_then(|m| m.iter().find(|m| m["name"] == name)).cloned();
    assert_eq!(
        meter("seats").map(|m| (m["used"].clone(), m["limit"].clone(), m["level"].clone())),
        Some((json!(2), json!(2), json!("reached")))
    );
    assert_eq!(
        meter("conversations").map(|m| (m["used"].clone(), m["level"].clone())),
        Some((json!(4), json!("near")))
    );
    assert_eq!(meter("kb_entries").map(|m| m["level"].clone()), Some(json!("ok")));
    assert_eq!(meter("storage_mb").map(|m| m["used"].clone()), Some(json!(0)));
    assert_eq!(usage["conversations_paused"], false);
    assert!(usage["month"].as_str().is_some_and(|m| m.len() == 7), "{usage}");
    // The plans offered: the public ones, in order, without the test's own.
    let (status, plans) = app.get("/api/v1/plans", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = plans.as_array().expect("plans").iter().filter_map(|p| p["id"].as_str()).collect();
    let shipped: Vec<&str> = ids.iter().copied().filter(|id| ["free", "starter", "pro"].contains(id)).collect();
    assert_eq!(shipped, ["free", "starter", "pro"], "in billing-page order: {ids:?}");
    assert!(ids.iter().all(|id| !id.starts_with("plan")), "plans not offered stay out: {ids:?}");
    assert_eq!(app.get("/api/v1/usage", None).await.0, StatusCode::UNAUTHORIZED);
}
