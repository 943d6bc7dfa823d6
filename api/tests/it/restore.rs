//! Restoring one workspace from its archive (issue 18, docs/backups.md "Restoring one
//! workspace"): two workspaces with data, the first exported, both changed, the first restored —
//! it equals its archive (with the documented exceptions: audit entries and the webhook log kept,
//! sequence numbers never back, current members' profiles active), the second keeps its changes;
//! files the store lost come back; open consoles reconnect and visitors whose row went away
//! reconnect and carry on. An archive of an older schema version is migrated forward. A
//! truncated, damaged or foreign archive, and a failure in the middle of the swap, change nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kefu_api::tenancy::restore::{Quiet, RestoreError, RestoreOptions, RestoreReport, restore_tenant};
use kefu_api::testing::{Session, TestApp, WsClient, WsEnd};
use kefu_protocol::{TenantId, VisitorId};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Tables whose rows a restore deliberately does not take from the archive as they are.
const NOT_AS_ARCHIVED: [&str; 5] = ["audit_log", "webhook_events", "webhook_deliveries", "conversations", "agents"];
/// Settings versions that nodes cache by: a restore moves them past both the archive's and the
/// workspace's.
const VERSIONS: [(&str, &str); 4] = [
    ("widget_settings", "version"),
    ("widget_settings", "service_hours_version"),
    ("bot_settings", "version"),
    ("routing_settings", "rules_version"),
];

/// Asserts that the restored tables equal the archived ones, except the tables restores treat
/// otherwise and the settings versions, which must have moved forward.
fn assert_as_archived(restored: &BTreeMap<String, Vec<String>>, archived: &BTreeMap<String, Vec<String>>) {
    for (table, rows) in archived {
        if NOT_AS_ARCHIVED.contains(&table.as_str()) {
            continue;
        }
        let versions: Vec<&str> = VERSIONS.iter().filter(|(t, _)| t == table).map(|(_, c)| *c).collect();
        if versions.is_empty() {
            assert_eq!(&restored[table], rows, "table {table}");
            continue;
        }
        let (mut now, mut then) = (values(&restored[table]), values(rows));
        assert_eq!(now.len(), then.len(), "table {table}");
        for (now, then) in now.iter_mut().zip(then.iter_mut()) {
            for column in &versions {
                assert!(now[column].as_i64() > then[column].as_i64(), "{table}.{column} moved forward");
                now[column] = Value::Null;
                then[column] = Value::Null;
            }
        }
        assert_eq!(now, then, "table {table}");
    }
}

fn new_visitor() -> VisitorId {
    VisitorId::from_uuid(uuid::Uuid::now_v7())
}

async fn say(visitor: &mut WsClient, client_id: &str, body: &str) -> Value {
    visitor.send(json!({ "type": "send", "client_id": client_id, "body": body })).await;
    visitor.take_of("ack").await
}

/// A test app whose analytics never refresh on their own during the test (a refresh between the
/// restore and the comparison would change the rollups) and whose agent sockets re-check their
/// membership every second.
async fn app() -> TestApp {
    TestApp::spawn_with(|c| {
        c.analytics.refresh_secs = 3600;
        c.auth.session_recheck_secs = 1;
    })
    .await
}

/// Exports the owner's whole workspace through the API and saves the archive; returns its path.
async fn export(app: &TestApp, owner: &Session) -> PathBuf {
    let (status, job) = app.post("/api/v1/tenant/export/jobs", Some(&owner.access), json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let id = job["id"].as_str().expect("id").to_owned();
    for _ in 0..600 {
        let (_, job) = app.get(&format!("/api/v1/export/jobs/{id}"), Some(&owner.access)).await;
        if job["status"] == "done" {
            break;
        }
        assert!(job["status"] == "queued" || job["status"] == "running", "{job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, link) = app.post(&format!("/api/v1/export/jobs/{id}/link"), Some(&owner.access), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{link}");
    let bytes = reqwest::get(link["url"].as_str().expect("url")).await.expect("download").bytes().await.expect("body");
    let path = std::env::temp_dir().join(format!("kefu-restore-test-{}.tar", uuid::Uuid::now_v7().simple()));
    std::fs::write(&path, &bytes).expect("save the archive");
    path
}

/// The archive's entries by path.
fn entries(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(std::fs::File::open(path).expect("archive"));
    let mut out = Vec::new();
    for entry in archive.entries().expect("a tar archive") {
        let mut entry = entry.expect("an entry");
        let name = entry.path().expect("path").display().to_string();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).expect("data");
        out.push((name, data));
    }
    out
}

/// Writes `entries` as a tar archive (as the exporter does: GNU headers, end blocks).
fn write_archive(entries: &[(String, Vec<u8>)]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("kefu-restore-test-{}.tar", uuid::Uuid::now_v7().simple()));
    let mut builder = tar::Builder::new(std::fs::File::create(&path).expect("create"));
    for (name, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, data.as_slice()).expect("append");
    }
    builder.finish().expect("finish");
    path
}

/// Each table's rows in the archive, as sorted JSON texts.
fn archived_rows(path: &Path) -> BTreeMap<String, Vec<String>> {
    let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, data) in entries(path) {
        let Some(rest) = name.strip_prefix("tables/") else { continue };
        let table = rest.split('/').next().expect("table").to_owned();
        let rows = tables.entry(table).or_default();
        for line in String::from_utf8(data).expect("utf-8").lines().filter(|l| !l.is_empty()) {
            rows.push(line.to_owned());
        }
    }
    for rows in tables.values_mut() {
        rows.sort();
    }
    tables
}

/// Each table of a tenant's schema with its rows, as sorted JSON texts (the archive's form).
async fn live_rows(app: &TestApp, tenant: &str) -> BTreeMap<String, Vec<String>> {
    let schema = app.tenant_schema(tenant).await;
    let pool = app.databases().maintenance_pool(schema.database()).await.expect("the tenant's database");
    let tables: Vec<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.tables where table_schema = $1 and table_type = 'BASE TABLE'",
    )
    .bind(schema.name())
    .fetch_all(&pool)
    .await
    .expect("tables");
    let mut out = BTreeMap::new();
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select to_jsonb(t)::text from {}.\"{table}\" t order by 1",
            schema.name()
        )))
        .fetch_all(&pool)
        .await
        .expect("rows");
        out.insert(table, rows.into_iter().collect::<Vec<_>>());
    }
    for rows in out.values_mut() {
        rows.sort();
    }
    out
}

/// Rows of a table as JSON values.
fn values(rows: &[String]) -> Vec<Value> {
    rows.iter().map(|r| serde_json::from_str(r).expect("json")).collect()
}

async fn restore(app: &TestApp, tenant: &str, path: &Path) -> Result<RestoreReport, RestoreError> {
    let tenant: TenantId = tenant.parse().expect("tenant id");
    restore_tenant(app.databases(), Some(&app.state.attachments), tenant, path, RestoreOptions::default(), &Quiet).await
}

/// Whether a restore's staging schema of the tenant is visible.
async fn staging_exists(app: &TestApp, tenant: &str) -> bool {
    let tenant: TenantId = tenant.parse().expect("tenant id");
    sqlx::query_scalar("select exists (select 1 from pg_namespace where nspname = $1)")
        .bind(format!("r_{}", tenant.simple()))
        .fetch_one(app.db())
        .await
        .expect("staging")
}

#[tokio::test]
async fn a_restored_workspace_equals_its_archive_and_the_other_keeps_its_changes() {
    let app = app().await;
    let owner = app.verified_owner().await;
    let other = app.verified_owner().await;

    // Workspace A before the archive: a conversation, a canned response, a sent file.
    let first = new_visitor();
    let first_token = app.visitor_token(&owner.tenant_id, first, 600);
    let (mut visitor, _) = app.visitor_with_token(&first_token, None).await;
    let conversation = say(&mut visitor, "a1", "我想退款").await["conversation_id"].as_str().expect("id").to_owned();
    let file = b"%PDF-1.4 the invoice".to_vec();
    let (status, uploaded) = app.upload("/api/v1/visitor/attachments", &first_token, "发票.pdf", file.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    let attachment = uploaded["id"].as_str().expect("id").to_owned();
    visitor
        .send(json!({ "type": "send", "client_id": "a2", "body": "the invoice", "attachment_id": attachment }))
        .await;
    assert_eq!(visitor.take_of("ack").await["seq"], 2);
    let (status, canned) = app
        .post(
            "/api/v1/canned-responses",
            Some(&owner.access),
            json!({ "shortcut": "hi", "title": "Hi", "body": "您好！" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{canned}");
    let (mut theirs, _) = app.visitor(&other.tenant_id, new_visitor(), None).await;
    say(&mut theirs, "b1", "the other workspace, before").await;
    app.wait_indexed(&owner).await;
    let archive = export(&app, &owner).await;
    let archived = archived_rows(&archive);

    // After the archive: more in the same conversation, a new visitor, the canned response
    // replaced, a new member, the file lost from the store; the other workspace changes too.
    assert_eq!(say(&mut visitor, "a3", "还在吗？").await["seq"], 3);
    let second = new_visitor();
    let (mut newcomer, _) = app.visitor(&owner.tenant_id, second, None).await;
    say(&mut newcomer, "n1", "a visitor after the archive").await;
    let canned_id = canned["id"].as_str().expect("id");
    let path = format!("/api/v1/canned-responses/{canned_id}");
    assert_eq!(app.call("DELETE", &path, Some(&owner.access), None).await.0, StatusCode::NO_CONTENT);
    let member = app.invite_and_accept(&owner, "agent").await;
    let tenant: TenantId = owner.tenant_id.parse().expect("tenant");
    let key = kefu_api::attachments::AttachmentStore::key_of(tenant, attachment.parse().expect("attachment id"));
    app.state.attachments.delete(&key).await.expect("lose the file");
    say(&mut theirs, "b2", "the other workspace, after").await;
    app.wait_indexed(&other).await;
    let others_before = live_rows(&app, &other.tenant_id).await;
    let mut console = app.agent(&owner).await;

    let report = restore(&app, &owner.tenant_id, &archive).await.expect("restored");
    assert!(report.committed);
    assert_eq!(report.swapped.raised_conversations, 1, "{report:?}");
    assert_eq!(report.swapped.profiles_activated, 1, "the new member's profile: {report:?}");
    assert_eq!(report.files_put_back, 1, "{report:?}");
    assert!(report.swapped.kept_audit_entries >= 2, "the deletion and the invitation: {report:?}");

    // A equals its archive, table by table, except where the restore says otherwise.
    let restored = live_rows(&app, &owner.tenant_id).await;
    assert_eq!(restored.keys().collect::<Vec<_>>(), archived.keys().collect::<Vec<_>>());
    assert_as_archived(&restored, &archived);
    // Conversations as archived, but sequence numbers never go back.
    let mut conversations = values(&restored["conversations"]);
    let archived_conversations = values(&archived["conversations"]);
    assert_eq!(conversations.len(), 1);
    assert_eq!(conversations[0]["last_seq"], 3, "the number the removed message had stays used");
    conversations[0]["last_seq"] = archived_conversations[0]["last_seq"].clone();
    assert_eq!(conversations, archived_conversations);
    // The archive's audit entries, those written since, and the restore's.
    let audit = values(&restored["audit_log"]);
    for entry in values(&archived["audit_log"]) {
        assert!(audit.contains(&entry), "an archived audit entry was kept: {entry}");
    }
    assert!(audit.iter().any(|e| e["action"] == "tenant.restored"));
    assert!(audit.iter().any(|e| e["action"] == "canned.deleted"));
    // Profiles: the archive's, and the new member's (active).
    let agents = values(&restored["agents"]);
    let member_uuid = member.user_id.parse::<kefu_protocol::UserId>().expect("user id").as_uuid().to_string();
    assert!(agents.iter().any(|a| a["user_id"] == member_uuid && a["active"] == true), "{agents:?}");
    for agent in values(&archived["agents"]) {
        assert!(agents.contains(&agent));
    }
    // B keeps its changes; the file is back.
    assert_eq!(live_rows(&app, &other.tenant_id).await, others_before);
    assert_eq!(app.state.attachments.get(&key).await.expect("file back").to_vec(), file);
    assert!(!staging_exists(&app, &owner.tenant_id).await);
    let (_, page) = app.get("/api/v1/canned-responses", Some(&owner.access)).await;
    assert_eq!(page.as_array().map(Vec::len), Some(1), "the deleted canned response is back: {page}");

    // The open console is told to reconnect (its membership re-check sees the restore).
    loop {
        match console.next().await {
            Ok(_) => continue,
            Err(end) => {
                assert_eq!(end, WsEnd::Closed(1001));
                break;
            }
        }
    }
    // A visitor whose row the restore removed is told to reconnect at their next message, and
    // carries on after reconnecting.
    newcomer.send(json!({ "type": "send", "client_id": "n2", "body": "still there?" })).await;
    let error = newcomer.next_of("error").await;
    assert_eq!((error["code"].as_str(), error["retryable"].as_bool()), (Some("unavailable"), Some(true)), "{error}");
    assert_eq!(newcomer.next().await.expect_err("closed"), WsEnd::Closed(1001));
    let (mut newcomer, _) = app.visitor(&owner.tenant_id, second, None).await;
    assert_eq!(say(&mut newcomer, "n2", "still there?").await["seq"], 1);
    // The archived conversation goes on above every number handed out before the restore.
    let (mut visitor, welcome) = app.visitor_with_token(&first_token, Some(3)).await;
    assert_eq!(welcome["conversation_id"], conversation.as_str());
    assert_eq!(say(&mut visitor, "a4", "谢谢").await["seq"], 4);
    let (status, transcript) =
        app.get(&format!("/api/v1/conversations/{conversation}/messages"), Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK, "{transcript}");
    let seqs: Vec<i64> =
        transcript["messages"].as_array().expect("messages").iter().filter_map(|m| m["seq"].as_i64()).collect();
    assert_eq!(seqs, vec![1, 2, 4]);
    let _ = std::fs::remove_file(archive);
}

#[tokio::test]
async fn an_archive_of_an_older_schema_version_is_migrated_forward() {
    let app = app().await;
    let owner = app.verified_owner().await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    say(&mut visitor, "o1", "an old archive").await;
    app.wait_indexed(&owner).await;
    let archive = export(&app, &owner).await;
    let archived = archived_rows(&archive);

    // The same archive as a Kefu of the feed migration wrote it: the tables and columns it had.
    let old_version = 20261205000004_i64;
    let old = kefu_api::testing::tables_at_version(app.db(), old_version).await;
    let mut old_entries = Vec::new();
    for (name, data) in entries(&archive) {
        if name == "manifest.json" {
            let mut manifest: Value = serde_json::from_slice(&data).expect("manifest");
            manifest["schema_version"] = json!(old_version);
            let tables = manifest["tables"].as_object_mut().expect("tables");
            tables.retain(|table, _| old.contains_key(table));
            old_entries.push((name, serde_json::to_vec(&manifest).expect("json")));
        } else if let Some(rest) = name.strip_prefix("tables/") {
            let table = rest.split('/').next().expect("table");
            let Some(columns) = old.get(table) else { continue };
            let mut lines = Vec::new();
            for line in String::from_utf8(data).expect("utf-8").lines().filter(|l| !l.is_empty()) {
                let mut row: serde_json::Map<String, Value> = serde_json::from_str(line).expect("row");
                row.retain(|column, _| columns.contains(column));
                lines.push(serde_json::to_string(&row).expect("json"));
            }
            old_entries.push((name, (lines.join("\n") + "\n").into_bytes()));
        } else {
            old_entries.push((name, data));
        }
    }
    assert!(old.len() < archived.len(), "the old version has fewer tables");
    let old_archive = write_archive(&old_entries);

    say(&mut visitor, "o2", "after the archive").await;
    let report = restore(&app, &owner.tenant_id, &old_archive).await.expect("restored");
    assert_eq!(report.archive_version, old_version);
    assert!(report.migrated_forward >= 2, "{report:?}");
    assert_as_archived(&live_rows(&app, &owner.tenant_id).await, &archived);
    let _ = std::fs::remove_file(archive);
    let _ = std::fs::remove_file(old_archive);
}

#[tokio::test]
async fn a_truncated_damaged_or_foreign_archive_and_a_failed_swap_change_nothing() {
    let app = app().await;
    let owner = app.verified_owner().await;
    let other = app.verified_owner().await;
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    say(&mut visitor, "d1", "before the archive").await;
    let (mut theirs, _) = app.visitor(&other.tenant_id, new_visitor(), None).await;
    say(&mut theirs, "t1", "the other workspace").await;
    app.wait_indexed(&owner).await;
    app.wait_indexed(&other).await;
    let archive = export(&app, &owner).await;
    let others_archive = export(&app, &other).await;
    say(&mut visitor, "d2", "after the archive").await;
    app.wait_indexed(&owner).await;
    let before = live_rows(&app, &owner.tenant_id).await;
    let whole = std::fs::read(&archive).expect("archive");
    let unchanged = |why: &'static str| {
        let app = &app;
        let before = &before;
        let tenant = owner.tenant_id.clone();
        async move {
            assert_eq!(&live_rows(app, &tenant).await, before, "{why}: the workspace is unchanged");
            assert!(!staging_exists(app, &tenant).await, "{why}: no staging schema is left");
        }
    };

    // Cut short, in the middle of an entry and at an entry's end.
    let cut = std::env::temp_dir().join(format!("kefu-restore-cut-{}.tar", uuid::Uuid::now_v7().simple()));
    std::fs::write(&cut, &whole[..whole.len() / 2]).expect("write");
    let error = restore(&app, &owner.tenant_id, &cut).await.expect_err("refused");
    assert!(matches!(error, RestoreError::Archive(_)), "{error}");
    assert!(error.to_string().contains("truncated"), "{error}");
    unchanged("truncated").await;
    let mut lost_part = entries(&archive);
    lost_part.retain(|(name, _)| !name.starts_with("tables/messages/"));
    let lost_part = write_archive(&lost_part);
    let error = restore(&app, &owner.tenant_id, &lost_part).await.expect_err("refused");
    assert!(error.to_string().contains("table `messages`: the manifest says"), "{error}");
    unchanged("a lost part").await;

    // A row that does not fit its table, and one that breaks a foreign key late in the load.
    let damaged = |change: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut all = entries(&archive);
        for (name, data) in &mut all {
            if name.starts_with("tables/messages/") {
                let text = String::from_utf8(data.clone()).expect("utf-8");
                let mut lines: Vec<String> = text.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect();
                let mut row: serde_json::Map<String, Value> = serde_json::from_str(&lines[0]).expect("row");
                change(&mut row);
                lines[0] = serde_json::to_string(&row).expect("json");
                *data = (lines.join("\n") + "\n").into_bytes();
            }
        }
        write_archive(&all)
    };
    let extra_column = damaged(&|row| {
        row.insert("mood".into(), json!("sunny"));
    });
    let error = restore(&app, &owner.tenant_id, &extra_column).await.expect_err("refused");
    assert!(error.to_string().contains("has columns the table lacks (mood)"), "{error}");
    unchanged("an unknown column").await;
    let orphan = damaged(&|row| {
        row.insert("conversation_id".into(), json!(uuid::Uuid::new_v4()));
    });
    let error = restore(&app, &owner.tenant_id, &orphan).await.expect_err("refused");
    assert!(matches!(error, RestoreError::Invalid(_)), "{error}");
    unchanged("a broken foreign key").await;

    // Another workspace's archive, and one from a newer Kefu.
    let error = restore(&app, &owner.tenant_id, &others_archive).await.expect_err("refused");
    assert!(error.to_string().contains("never copies one workspace's data into another"), "{error}");
    let mut newer = entries(&archive);
    for (name, data) in &mut newer {
        if name == "manifest.json" {
            let mut manifest: Value = serde_json::from_slice(data).expect("manifest");
            manifest["schema_version"] = json!(kefu_api::tenancy::latest_tenant_version() + 1);
            *data = serde_json::to_vec(&manifest).expect("json");
        }
    }
    let newer = write_archive(&newer);
    let error = restore(&app, &owner.tenant_id, &newer).await.expect_err("refused");
    assert!(error.to_string().contains("newer than this binary"), "{error}");
    unchanged("foreign and newer archives").await;

    // A failure in the middle of the swap, after the workspace's tables were emptied: rolled
    // back with the rest.
    let schema = app.tenant_schema(&owner.tenant_id).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "create function {s}.fail_restore() returns trigger language plpgsql as $$
         begin raise exception 'the disk is full'; end $$;
         create trigger fail_restore before insert on {s}.messages
           for each statement execute function {s}.fail_restore();",
        s = schema.name()
    )))
    .execute(app.db())
    .await
    .expect("a failing trigger");
    let error = restore(&app, &owner.tenant_id, &archive).await.expect_err("failed");
    assert!(error.to_string().contains("the disk is full"), "{error}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "drop trigger fail_restore on {s}.messages; drop function {s}.fail_restore();",
        s = schema.name()
    )))
    .execute(app.db())
    .await
    .expect("drop the trigger");
    unchanged("a failed swap").await;

    // A dry run checks everything and changes nothing; the real one then succeeds.
    let tenant: TenantId = owner.tenant_id.parse().expect("tenant");
    let dry = restore_tenant(app.databases(), None, tenant, &archive, RestoreOptions { dry_run: true }, &Quiet)
        .await
        .expect("a dry run");
    assert!(!dry.committed);
    unchanged("a dry run").await;
    restore(&app, &owner.tenant_id, &archive).await.expect("restored");
    let restored = live_rows(&app, &owner.tenant_id).await;
    assert_eq!(restored["messages"], archived_rows(&archive)["messages"]);
    for path in [archive, others_archive, cut, lost_part, extra_column, orphan, newer] {
        let _ = std::fs::remove_file(path);
    }
}

#[tokio::test]
async fn a_workspace_outside_the_control_database_is_restored_with_its_control_rows_in_one_decision() {
    let app = TestApp::spawn_placed().await;
    app.place_new_tenants_in("pg2-b").await;
    let owner = app.verified_owner().await;
    let schema = app.tenant_schema(&owner.tenant_id).await;
    assert_eq!(schema.database().as_str(), "pg2-b");
    let (mut visitor, _) = app.visitor(&owner.tenant_id, new_visitor(), None).await;
    say(&mut visitor, "p1", "在第二个集群上").await;
    app.wait_indexed(&owner).await;
    let archive = export(&app, &owner).await;
    let archived = archived_rows(&archive);
    say(&mut visitor, "p2", "after the archive").await;
    app.invite_and_accept(&owner, "agent").await;

    let report = restore(&app, &owner.tenant_id, &archive).await.expect("restored");
    assert_eq!(report.swapped.profiles_activated, 1, "{report:?}");
    assert_as_archived(&live_rows(&app, &owner.tenant_id).await, &archived);
    // The control row changed in the same decision as the tenant's data (two-phase commit).
    let restored_at: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select restored_at from control.tenants where id = $1")
            .bind(owner.tenant_id.parse::<TenantId>().expect("tenant"))
            .fetch_one(app.db())
            .await
            .expect("control row");
    assert!(restored_at.is_some());
    let pool = app.databases().maintenance_pool(schema.database()).await.expect("pool");
    let prepared: i64 = sqlx::query_scalar("select count(*) from pg_prepared_xacts where gid like 'kefu:%'")
        .fetch_one(&pool)
        .await
        .expect("prepared");
    assert_eq!(prepared, 0, "nothing left in doubt");
    let _ = std::fs::remove_file(archive);
}
