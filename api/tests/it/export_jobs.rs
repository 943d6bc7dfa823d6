//! Background exports (issue 15): a selection over the synchronous limit written by a job in
//! parts to the object store, with progress, a download link that needs no other credential and
//! stops working, cancellation that removes the files, resumption from the last stored part after
//! a node dies (the result byte for byte the same), audit entries, and another tenant seeing none
//! of it.

use std::time::Duration;

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

/// Adds `n` closed conversations, each with one visitor message, straight in the tenant's schema.
async fn bulk_conversations(app: &TestApp, owner: &Session, n: i64) {
    let schema = app.tenant_schema(&owner.tenant_id).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "with v as (insert into {s}.visitors (id) select gen_random_uuid() from generate_series(1, {n}) returning id),
              c as (insert into {s}.conversations (id, visitor_id, status, bot_active)
                    select gen_random_uuid(), id, 'closed', false from v returning id, visitor_id)
         insert into {s}.messages (id, conversation_id, seq, sender_kind, sender_id, body, client_id)
         select gen_random_uuid(), c.id, 1, 'visitor', c.visitor_id, 'bulk question ' || c.id, 'bulk-' || c.id from c;
         analyze {s}.conversations;",
        s = schema.name()
    )))
    .execute(app.db())
    .await
    .expect("bulk conversations");
}

/// Waits until the job leaves `queued`/`running`; returns it.
async fn finished(app: &TestApp, session: &Session, id: &str) -> Value {
    for _ in 0..600 {
        let (status, job) = app.get(&format!("/api/v1/export/jobs/{id}"), Some(&session.access)).await;
        assert_eq!(status, StatusCode::OK, "{job}");
        if job["status"] != "queued" && job["status"] != "running" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the export {id} did not finish in a minute");
}

async fn download(app: &TestApp, session: &Session, id: &str) -> (String, String) {
    let (status, link) = app.post(&format!("/api/v1/export/jobs/{id}/link"), Some(&session.access), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{link}");
    let url = link["url"].as_str().expect("url").to_owned();
    assert!(url.starts_with(&app.url("/api/v1/export/download?token=kefu_dl_")), "{url}");
    // The link is the credential: no bearer token.
    let response = reqwest::get(&url).await.expect("download");
    assert_eq!(response.status(), StatusCode::OK);
    let disposition =
        response.headers().get("content-disposition").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(disposition.starts_with("attachment; filename=\"conversations-"), "{disposition}");
    (url, response.text().await.expect("body"))
}

#[tokio::test]
async fn a_big_selection_is_exported_in_the_background_and_downloaded_through_a_link() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    let refund = say(&mut visitor, "v1", "我要退款").await;
    bulk_conversations(&app, &owner, 1_200).await;
    // Over the synchronous limit, the direct export says so…
    let (status, problem) = app.get("/api/v1/export/conversations", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    // …and a job takes it.
    let (status, job) = app.post("/api/v1/export/jobs", Some(&owner.access), json!({ "filters": {} })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!((job["total"].as_i64(), job["format"].as_str()), (Some(1_201), Some("json")));
    let id = job["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("exp_"));
    let job = finished(&app, &owner, &id).await;
    assert_eq!((job["status"].as_str(), job["written"].as_i64()), (Some("done"), Some(1_201)), "{job}");
    assert!(job["expires_at"].as_str().is_some());

    let (url, body) = download(&app, &owner, &id).await;
    assert_eq!(body.len() as i64, job["bytes"].as_i64().expect("bytes"));
    let archive: Value = serde_json::from_str(&body).expect("one JSON document across the parts");
    let sessions: Vec<&str> =
        archive.as_array().expect("array").iter().filter_map(|c| c["session_id"].as_str()).collect();
    assert_eq!(sessions.len(), 1_201);
    let mut unique = sessions.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 1_201, "every conversation once");
    let mine = archive.as_array().into_iter().flatten().find(|c| c["session_id"] == refund.as_str()).expect("refund");
    assert_eq!(mine["messages"][0]["content"], "我要退款");

    // CSV, with a keyword filter: only the matching conversation.
    let (status, csv_job) = app
        .post("/api/v1/export/jobs", Some(&owner.access), json!({ "format": "csv", "filters": { "q": "退款" } }))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{csv_job}");
    let csv_id = csv_job["id"].as_str().expect("id").to_owned();
    assert_eq!(finished(&app, &owner, &csv_id).await["status"], "done");
    let (_, csv) = download(&app, &owner, &csv_id).await;
    assert!(csv.starts_with("\u{feff}session_id,"), "{csv}");
    assert_eq!(csv.lines().filter(|l| l.starts_with(refund.as_str())).count(), 1, "{csv}");
    assert_eq!(csv.lines().count(), 2, "{csv}");

    // A new link replaces the old one; a made-up token finds nothing.
    download(&app, &owner, &id).await;
    assert_eq!(reqwest::get(&url).await.expect("old link").status(), StatusCode::NOT_FOUND);
    let bogus = app.url(&format!("/api/v1/export/download?token=kefu_dl_{}", "A".repeat(43)));
    assert_eq!(reqwest::get(&bogus).await.expect("bogus").status(), StatusCode::NOT_FOUND);

    // Asking and downloading are in the audit log.
    let (_, log) = app.get("/api/v1/audit-log?action=conversations.exported", Some(&owner.access)).await;
    let asked: Vec<&Value> = log["entries"].as_array().expect("entries").iter().collect();
    assert!(
        asked.iter().any(|e| e["details"]["job"] == id.as_str() && e["details"]["conversations"] == 1_201),
        "{log}"
    );
    let (_, log) = app.get("/api/v1/audit-log?action=export.downloaded", Some(&owner.access)).await;
    let downloads = log["entries"].as_array().expect("entries");
    assert_eq!(downloads.len(), 3, "{log}");
    assert!(downloads.iter().all(|e| e["actor_user_id"] == owner.user_id.as_str()), "{log}");

    let (status, list) = app.get("/api/v1/export/jobs", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK);
    let listed: Vec<&str> = list["jobs"].as_array().expect("jobs").iter().filter_map(|j| j["id"].as_str()).collect();
    assert_eq!(listed, [csv_id.as_str(), id.as_str()], "newest first");
}

#[tokio::test]
async fn a_job_resumes_from_its_last_part_after_its_node_dies() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    bulk_conversations(&app, &owner, 650).await;
    let (_, job) = app.post("/api/v1/export/jobs", Some(&owner.access), json!({})).await;
    let first = job["id"].as_str().expect("id").to_owned();
    assert_eq!(finished(&app, &owner, &first).await["status"], "done");
    let (_, whole) = download(&app, &owner, &first).await;

    // A second job whose node died after storing two parts (400 conversations) and while writing
    // the third: its lease ran out, a torn third part is in the store.
    let tenant: kefu_protocol::TenantId = owner.tenant_id.parse().expect("tenant");
    let first_id: kefu_protocol::ExportJobId = first.parse().expect("job");
    let second = kefu_protocol::ExportJobId::from_uuid(uuid::Uuid::now_v7());
    let archive: Value = serde_json::from_str(&whole).expect("json");
    let four_hundredth = archive[399]["session_id"].as_str().expect("400th").to_owned();
    let cursor: kefu_protocol::ConversationId = four_hundredth.parse().expect("conversation id");
    let root = std::path::PathBuf::from(&app.state.config.attachments.local_dir);
    let key = |job, part| root.join(kefu_api::archive::jobs::part_key(tenant, job, part));
    std::fs::create_dir_all(key(second, 1).parent().expect("dir")).expect("dir");
    let mut stored = 0;
    for part in 1..=2 {
        stored += std::fs::metadata(key(first_id, part)).expect("part").len();
        std::fs::copy(key(first_id, part), key(second, part)).expect("copy a part");
    }
    std::fs::write(key(second, 3), b",{\"session_id\":\"torn").expect("a torn part");
    sqlx::query(
        "insert into control.export_jobs (id, tenant_id, requested_by_user, format, filters, status, total, written,
             parts, bytes, cursor_id, attempts, lease_until, started_at)
         values ($1, $2, $3, 'json', '{}', 'running', 650, 400, 2, $4, $5, 1, now() - interval '1 second', now())",
    )
    .bind(second)
    .bind(tenant)
    .bind(owner.user_id.parse::<kefu_protocol::UserId>().expect("user"))
    .bind(i64::try_from(stored).expect("size"))
    .bind(cursor)
    .execute(app.db())
    .await
    .expect("a half-done job");
    app.state.export_jobs.poke();
    let resumed = finished(&app, &owner, &second.to_string()).await;
    assert_eq!((resumed["status"].as_str(), resumed["written"].as_i64()), (Some("done"), Some(650)), "{resumed}");
    let (_, again) = download(&app, &owner, &second.to_string()).await;
    assert!(again == whole, "the resumed export is byte for byte the uninterrupted one");
}

#[tokio::test]
async fn jobs_are_cancellable_bounded_for_supervisors_and_never_another_tenants() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let agent = app.invite_and_accept(&owner, "agent").await;
    let stranger = app.verified_owner().await;
    bulk_conversations(&app, &owner, 30).await;

    let (status, _) = app.post("/api/v1/export/jobs", Some(&agent.access), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for (body, field) in [
        (json!({ "format": "xml" }), "format"),
        (json!({ "filters": { "q": "-x" } }), "q"),
        (json!({ "filters": { "from": "yesterday" } }), "from"),
    ] {
        let (status, problem) = app.post("/api/v1/export/jobs", Some(&owner.access), body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let (status, problem) = app.post("/api/v1/export/jobs", Some(&owner.access), json!({ "what": 1 })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "unknown fields are refused: {problem}");

    // The plan's limit bounds a job.
    sqlx::query("update control.plans set export_conversations = 20 where id = (select plan_id from control.tenants where id = $1)")
        .bind(owner.tenant_id.parse::<kefu_protocol::TenantId>().expect("tenant"))
        .execute(app.db())
        .await
        .expect("a small plan");
    let (status, problem) = app.post("/api/v1/export/jobs", Some(&owner.access), json!({})).await;
    sqlx::query("update control.plans set export_conversations = 1000000 where id = 'pro'")
        .execute(app.db())
        .await
        .expect("the plan back");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["code"], "too_many_conversations", "{problem}");

    let (status, job) = app.post("/api/v1/export/jobs", Some(&owner.access), json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let id = job["id"].as_str().expect("id").to_owned();
    // The other tenant cannot see, cancel or download it.
    for path in [format!("/api/v1/export/jobs/{id}")] {
        assert_eq!(app.get(&path, Some(&stranger.access)).await.0, StatusCode::NOT_FOUND);
    }
    assert_eq!(
        app.post(&format!("/api/v1/export/jobs/{id}/cancel"), Some(&stranger.access), json!({})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(&format!("/api/v1/export/jobs/{id}/link"), Some(&stranger.access), json!({})).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, theirs) = app.get("/api/v1/export/jobs", Some(&stranger.access)).await;
    assert_eq!(theirs["jobs"], json!([]));
    assert_eq!(finished(&app, &owner, &id).await["status"], "done");

    // Cancelling: a finished job stays as it is; queued ones are cancelled, their files removed,
    // and a cancelled job has no link.
    let (_, done) = app.post(&format!("/api/v1/export/jobs/{id}/cancel"), Some(&owner.access), json!({})).await;
    assert_eq!(done["status"], "done");
    let schema_tenant: kefu_protocol::TenantId = owner.tenant_id.parse().expect("tenant");
    let root = std::path::PathBuf::from(&app.state.config.attachments.local_dir);
    let mut cancelled = Vec::new();
    for _ in 0..3 {
        let (status, job) = app.post("/api/v1/export/jobs", Some(&owner.access), json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{job}");
        let id = job["id"].as_str().expect("id").to_owned();
        let (_, job) = app.post(&format!("/api/v1/export/jobs/{id}/cancel"), Some(&owner.access), json!({})).await;
        assert!(job["status"] == "cancelled" || job["status"] == "done", "{job}");
        if job["status"] == "cancelled" {
            let (status, problem) =
                app.post(&format!("/api/v1/export/jobs/{id}/link"), Some(&owner.access), json!({})).await;
            assert_eq!(status, StatusCode::CONFLICT, "{problem}");
            cancelled.push(id);
        }
    }
    // A worker may be storing a part as the job is cancelled: it removes the files itself once
    // its part is refused, so they are gone soon after the sweep whichever came last.
    kefu_api::archive::jobs::sweep(app.databases(), &app.state.attachments).await.expect("sweep");
    for id in &cancelled {
        let job: kefu_protocol::ExportJobId = id.parse().expect("id");
        let dir = root.join(kefu_api::archive::jobs::part_key(schema_tenant, job, 1));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while dir.exists() && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(!dir.exists(), "a cancelled job's files are removed");
    }

    // At most three unfinished jobs at once.
    sqlx::query("update control.export_jobs set status = 'queued', lease_until = now() + interval '1 hour' where tenant_id = $1")
        .bind(schema_tenant)
        .execute(app.db())
        .await
        .expect("three stuck jobs");
    let (status, problem) = app.post("/api/v1/export/jobs", Some(&owner.access), json!({})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{problem}");
    assert_eq!(problem["code"], "rate_limited", "{problem}");
}

#[tokio::test]
async fn the_owner_exports_the_whole_workspace_as_one_tar_archive() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let admin = app.invite_and_accept(&owner, "admin").await;
    let stranger = app.verified_owner().await;
    let visitor_token = app.visitor_token(&owner.tenant_id, new_visitor(), 600);
    let (mut visitor, _) = app.visitor_with_token(&visitor_token, None).await;
    say(&mut visitor, "v1", "整个工作区的导出").await;
    let (status, canned) = app
        .post(
            "/api/v1/canned-responses",
            Some(&owner.access),
            json!({ "shortcut": "hi", "title": "Hello", "body": "您好！" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{canned}");
    let file = b"%PDF-1.4 the workspace's file".to_vec();
    let (status, uploaded) = app.upload("/api/v1/visitor/attachments", &visitor_token, "发票.pdf", file.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    let (mut theirs, _) = app.visitor(&stranger.tenant_id, new_visitor(), None).await;
    say(&mut theirs, "v1", "别人的会话").await;

    // The owner's alone.
    assert_eq!(app.post("/api/v1/tenant/export/jobs", Some(&admin.access), json!({})).await.0, StatusCode::FORBIDDEN);
    let (status, job) = app.post("/api/v1/tenant/export/jobs", Some(&owner.access), json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!((job["kind"].as_str(), job["format"].as_str()), (Some("tenant"), Some("tar")));
    let id = job["id"].as_str().expect("id").to_owned();
    assert_eq!(app.get(&format!("/api/v1/export/jobs/{id}"), Some(&admin.access)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/export/jobs?kind=tenant", Some(&admin.access)).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&format!("/api/v1/export/jobs/{id}"), Some(&stranger.access)).await.0, StatusCode::NOT_FOUND);
    let job = finished(&app, &owner, &id).await;
    assert_eq!(job["status"], "done", "{job}");
    let (_, listed) = app.get("/api/v1/export/jobs?kind=tenant", Some(&owner.access)).await;
    assert_eq!(listed["jobs"][0]["id"], id.as_str());

    let (status, link) = app.post(&format!("/api/v1/export/jobs/{id}/link"), Some(&owner.access), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{link}");
    let response = reqwest::get(link["url"].as_str().expect("url")).await.expect("download");
    assert_eq!(response.headers()["content-type"], "application/x-tar");
    let bytes = response.bytes().await.expect("body");
    let mut archive = tar::Archive::new(std::io::Cursor::new(bytes.to_vec()));
    let mut files = std::collections::BTreeMap::new();
    for entry in archive.entries().expect("a tar archive") {
        let mut entry = entry.expect("an entry");
        let path = entry.path().expect("path").display().to_string();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).expect("data");
        files.insert(path, data);
    }
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).expect("manifest");
    assert_eq!(manifest["format"], "kefu.tenant-archive.v1");
    assert_eq!(manifest["tenant_id"], owner.tenant_id.as_str());
    // Every table of the schema, each with as many rows as the manifest says.
    let schema = app.tenant_schema(&owner.tenant_id).await;
    let tables: Vec<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.tables where table_schema = $1 and table_type = 'BASE TABLE'",
    )
    .bind(schema.name())
    .fetch_all(app.db())
    .await
    .expect("tables");
    assert!(tables.len() > 20, "{tables:?}");
    for table in &tables {
        let rows: usize = files
            .iter()
            .filter(|(path, _)| path.starts_with(&format!("tables/{table}/")))
            .map(|(_, data)| data.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count())
            .sum();
        assert_eq!(Some(rows as i64), manifest["tables"][table].as_i64(), "rows of {table}");
    }
    let messages: Vec<Value> = files["tables/messages/000001.jsonl"]
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("a row"))
        .collect();
    assert!(messages.iter().any(|m| m["body"] == "整个工作区的导出"));
    assert!(
        !files.values().any(|d| d.windows("别人的会话".len()).any(|w| w == "别人的会话".as_bytes())),
        "nothing of another workspace"
    );
    let canned_rows = String::from_utf8(files["tables/canned_responses/000001.jsonl"].clone()).expect("utf-8");
    assert!(canned_rows.contains("您好！"), "{canned_rows}");
    // The control-plane rows, without secrets; the file.
    let members: Value = serde_json::from_slice(&files["control/members.json"]).expect("members");
    assert_eq!(members.as_array().map(Vec::len), Some(2));
    let all = String::from_utf8_lossy(&files.values().flatten().copied().collect::<Vec<u8>>()).into_owned();
    assert!(!all.contains("password_hash") && !all.contains("key_hash") && !all.contains("token_hash"));
    let attachment = uploaded["id"].as_str().expect("id").trim_start_matches("att_").to_owned();
    assert_eq!(files[&format!("attachments/{attachment}/发票.pdf")], file);
}
