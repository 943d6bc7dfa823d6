//! Retention (issue 15): a workspace's period within its plan's bound; the daily run deletes
//! content older than it in batches — messages of closed conversations with their search entries
//! and attachment files, attachments never sent, page views — keeps an open conversation's
//! messages and says so, keeps the conversations and everything recent, and leaves a receipt in
//! the audit log; admins only; bad input refused; another workspace untouched.

use std::time::Duration;

use kefu_api::testing::{Session, TestApp, WsClient};
use kefu_protocol::VisitorId;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn new_visitor() -> VisitorId {
    VisitorId::from_uuid(uuid::Uuid::now_v7())
}

async fn say(visitor: &mut WsClient, client_id: &str, body: &str) -> String {
    visitor.send(json!({ "type": "send", "client_id": client_id, "body": body })).await;
    visitor.take_of("ack").await["conversation_id"].as_str().expect("conversation").to_owned()
}

/// Runs retention rounds (any test's node may take the workspace) until its last run is recorded
/// after `since`.
async fn run_retention(app: &TestApp, owner: &Session, since: chrono::DateTime<chrono::Utc>) -> Value {
    for _ in 0..100 {
        kefu_api::archive::retention::round(app.databases(), &app.state.attachments, &CancellationToken::new())
            .await
            .expect("a round");
        let (_, view) = app.get("/api/v1/retention", Some(&owner.access)).await;
        let at = view["last_run"]["at"].as_str().and_then(|a| chrono::DateTime::parse_from_rfc3339(a).ok());
        if at.is_some_and(|at| at >= since) && view["last_run"]["complete"] == true {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no retention run was recorded");
}

#[tokio::test]
async fn old_content_is_deleted_in_batches_open_conversations_keep_theirs_and_say_so() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let stranger = app.verified_owner().await;
    let schema = app.tenant_schema(&owner.tenant_id).await;
    let s = schema.name().to_owned();

    // Last year: a conversation now closed, and one still open; today: a closed one.
    let (mut old_visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    let old_closed = say(&mut old_visitor, "v1", "去年的退款问题").await;
    let (mut open_visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    let old_open = say(&mut open_visitor, "v1", "还在处理的老问题").await;
    let (mut new_visitor_ws, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    let recent = say(&mut new_visitor_ws, "v1", "今天的问题").await;
    app.wait_indexed(&owner).await;
    // The same in another workspace, which keeps everything.
    let (mut theirs, _) = app.visitor(&stranger.tenant_id, new_visitor(), None).await;
    say(&mut theirs, "v1", "别人的旧消息").await;
    let their_schema = app.tenant_schema(&stranger.tenant_id).await;

    let root = std::path::PathBuf::from(&app.state.config.attachments.local_dir);
    let tenant_dir =
        uuid::Uuid::parse_str(owner.tenant_id.trim_start_matches("tnt_")).expect("uuid").simple().to_string();
    let (sent_file, unsent_file) = (format!("{tenant_dir}/retention-sent"), format!("{tenant_dir}/retention-unsent"));
    std::fs::create_dir_all(root.join(&tenant_dir)).expect("dir");
    for key in [&sent_file, &unsent_file] {
        std::fs::write(root.join(key), b"%PDF-1.4 old").expect("a file");
    }
    let old_conversation = old_closed.trim_start_matches("conv_");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "update {s}.conversations set status = 'closed', closed_at = now() where id in ('{old_conversation}', '{recent}');
         update {s}.messages set created_at = now() - interval '400 days'
             where conversation_id in ('{old_conversation}', '{}');
         update {their}.messages set created_at = now() - interval '300 days';
         insert into {s}.attachments (id, uploader_kind, uploader_id, name, content_type, size, storage_key, message_id,
                                      conversation_id, created_at)
         select gen_random_uuid(), 'visitor', gen_random_uuid(), 'old.pdf', 'application/pdf', 12, '{sent_file}', m.id,
                m.conversation_id, now() - interval '400 days'
         from {s}.messages m where m.conversation_id = '{old_conversation}' limit 1;
         insert into {s}.attachments (id, uploader_kind, uploader_id, name, content_type, size, storage_key, created_at)
         values (gen_random_uuid(), 'visitor', gen_random_uuid(), 'never.pdf', 'application/pdf', 12, '{unsent_file}',
                 now() - interval '400 days');
         insert into {s}.page_views (visitor_id, url, viewed_at)
         select v.id, 'https://shop.example/old-' || g, now() - interval '400 days'
         from (select id from {s}.visitors limit 1) v, generate_series(1, 1200) g;
         insert into {s}.page_views (visitor_id, url) select id, 'https://shop.example/today' from {s}.visitors limit 1;",
        old_open.trim_start_matches("conv_"),
        recent = recent.trim_start_matches("conv_"),
        their = their_schema.name(),
    )))
    .execute(app.db())
    .await
    .expect("a year-old history");

    // A plan keeping 365 days: its bound applies 30 days after the workspace joined the plan
    // (a downgrade never deletes history at once; docs/billing.md).
    app.own_plan(&owner, "max_retention_days = 365").await;
    let (_, view) = app.get("/api/v1/retention", Some(&owner.access)).await;
    assert_eq!((view["plan_max_days"].as_i64(), view["effective_days"].as_i64()), (Some(365), None), "{view}");
    let from = view["plan_bound_from"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    assert!(from.is_some_and(|f| (f.to_utc() - chrono::Utc::now()).num_days() == 29), "{view}");
    sqlx::query("update control.tenants set plan_since = now() - interval '31 days' where id = $1")
        .bind(owner.tenant_id.parse::<kefu_protocol::TenantId>().expect("tenant"))
        .execute(app.db())
        .await
        .expect("a month on the plan");

    // Admins only; the period within 1–36500 days and the plan's bound.
    let supervisor = app.invite_and_accept(&owner, "supervisor").await;
    assert_eq!(
        app.call("PUT", "/api/v1/retention", Some(&supervisor.access), Some(json!({ "days": 30 }))).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, view) = app.get("/api/v1/retention", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(
        (view["days"].clone(), view["plan_max_days"].as_i64(), view["effective_days"].as_i64()),
        (Value::Null, Some(365), Some(365))
    );
    for (days, code) in [(json!(0), "out_of_range"), (json!(40_000), "out_of_range"), (json!(400), "over_plan")] {
        let (status, problem) =
            app.call("PUT", "/api/v1/retention", Some(&owner.access), Some(json!({ "days": days }))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(
            (problem["errors"][0]["field"].as_str(), problem["errors"][0]["code"].as_str()),
            (Some("days"), Some(code))
        );
    }
    let asked = chrono::Utc::now();
    let (status, view) = app.call("PUT", "/api/v1/retention", Some(&owner.access), Some(json!({ "days": 180 }))).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["effective_days"], 180);

    let view = run_retention(&app, &owner, asked).await;
    let last = &view["last_run"];
    assert_eq!(last["messages"], 1, "{view}");
    assert_eq!(last["attachments"], 2, "{view}");
    assert_eq!(last["page_views"], 1200, "{view}");
    assert_eq!(last["kept_open"], 1, "the open conversation's old message is kept and counted: {view}");

    let db = app.db().clone();
    let count = |sql: String| {
        let db = db.clone();
        async move { sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(&db).await.expect("count") }
    };
    assert_eq!(
        count(format!("select count(*) from {s}.messages where conversation_id = '{old_conversation}'")).await,
        0
    );
    assert_eq!(
        count(format!("select count(*) from {s}.conversations where id = '{old_conversation}'")).await,
        1,
        "the conversation stays"
    );
    assert_eq!(count(format!("select count(*) from {s}.messages where body = '还在处理的老问题'")).await, 1);
    assert_eq!(count(format!("select count(*) from {s}.messages where body = '今天的问题'")).await, 1);
    assert_eq!(count(format!("select count(*) from {s}.page_views")).await, 1);
    assert_eq!(count(format!("select count(*) from {s}.attachments")).await, 0);
    assert!(!root.join(&sent_file).exists() && !root.join(&unsent_file).exists(), "the files are gone");
    let (_, found) = app.get("/api/v1/search?q=%E9%80%80%E6%AC%BE", Some(&owner.access)).await;
    assert_eq!(found["hits"], json!([]), "and so are their search entries: {found}");
    let (status, transcript) =
        app.get(&format!("/api/v1/conversations/{old_closed}/messages"), Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK, "{transcript}");

    // The other workspace keeps its 300-day-old message (its plan keeps five years).
    let their = their_schema.name();
    assert_eq!(count(format!("select count(*) from {their}.messages where body = '别人的旧消息'")).await, 1);

    // The receipt.
    let (_, log) = app.get("/api/v1/audit-log?action=retention.", Some(&owner.access)).await;
    let actions: Vec<&str> =
        log["entries"].as_array().expect("entries").iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["retention.applied", "retention.changed"], "{log}");
}
