//! `kefu tenants restore` as an operator runs it (docs/backups.md, "Restoring one workspace"):
//! SIGKILLed while it reads the archive and again while it swaps, the workspace keeps its data
//! and no staging schema is left behind; run again, it finishes and the workspace equals its
//! archive; an archive written by `kefu tenants export` restores too.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use kefu_tests::{FreshDatabase, Server, kefu, signup_owner};
use serde_json::{Value, json};

/// Conversations (each with a visitor and two messages) written straight into the workspace, so
/// that a restore takes long enough to be killed at a chosen step.
const CONVERSATIONS: i64 = 5_000;

async fn counts(pool: &sqlx::PgPool, schema: &str) -> (i64, i64, i64, bool) {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select (select count(*) from {schema}.visitors), (select count(*) from {schema}.conversations),
                (select count(*) from {schema}.messages),
                exists (select 1 from pg_namespace where nspname = 'r_' || substr('{schema}', 3))"
    )))
    .fetch_one(pool)
    .await
    .expect("counts")
}

/// Runs `kefu tenants restore` and SIGKILLs it `after` it printed a line starting with `at`.
fn kill_restore_at(url: &str, tenant: &str, archive: &std::path::Path, at: &str, after: Duration) {
    let mut child = kefu(url)
        .args(["tenants", "restore", tenant, "--from"])
        .arg(archive)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kefu tenants restore");
    let stderr = child.stderr.take().expect("stderr");
    let mut seen = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("line");
        if line.starts_with(at) {
            std::thread::sleep(after);
            child.kill().expect("SIGKILL");
            let _ = child.wait();
            return;
        }
        seen.push(line);
    }
    let _ = child.wait();
    panic!("the restore never printed `{at}`: {seen:?}");
}

#[tokio::test]
async fn a_restore_killed_half_way_changes_nothing_and_a_rerun_finishes() {
    let db = FreshDatabase::create().await;
    let server = Server::start(&db.url, &[]).await;
    let email = format!("restore-{}@example.com", uuid::Uuid::new_v4().simple());
    let (access, tenant) = signup_owner(&server.base, "Restore 恢复", &email).await;
    let schema = format!("t_{}", tenant.trim_start_matches("tnt_"));
    let pool = db.pool().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "with v as (insert into {schema}.visitors (id) select gen_random_uuid() from generate_series(1, {CONVERSATIONS})
                    returning id),
              c as (insert into {schema}.conversations (id, visitor_id, status, bot_active, last_seq)
                    select gen_random_uuid(), id, 'closed', false, 2 from v returning id, visitor_id)
         insert into {schema}.messages (id, conversation_id, seq, sender_kind, sender_id, body, client_id)
         select gen_random_uuid(), c.id, n, 'visitor', c.visitor_id, '问题 ' || n || ' ' || c.id, 'bulk-' || n
           from c, generate_series(1, 2) n;"
    )))
    .execute(&pool)
    .await
    .expect("bulk data");

    // The archive, through the API as the owner downloads it.
    let http = reqwest::Client::new();
    let job: Value = http
        .post(format!("{}/api/v1/tenant/export/jobs", server.base))
        .bearer_auth(&access)
        .json(&json!({}))
        .send()
        .await
        .expect("export")
        .json()
        .await
        .expect("job");
    let id = job["id"].as_str().unwrap_or_else(|| panic!("a job: {job}")).to_owned();
    for _ in 0..1200 {
        let job: Value = http
            .get(format!("{}/api/v1/export/jobs/{id}", server.base))
            .bearer_auth(&access)
            .send()
            .await
            .expect("job")
            .json()
            .await
            .expect("json");
        if job["status"] == "done" {
            break;
        }
        assert!(job["status"] == "queued" || job["status"] == "running", "{job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let link: Value = http
        .post(format!("{}/api/v1/export/jobs/{id}/link", server.base))
        .bearer_auth(&access)
        .json(&json!({}))
        .send()
        .await
        .expect("link")
        .json()
        .await
        .expect("json");
    let bytes = reqwest::get(link["url"].as_str().expect("url")).await.expect("download").bytes().await.expect("body");
    let archive = std::env::temp_dir().join(format!("kefu-restore-kill-{}.tar", uuid::Uuid::new_v4().simple()));
    std::fs::write(&archive, &bytes).expect("save the archive");
    let archived = counts(&pool, &schema).await;
    assert_eq!(archived, (CONVERSATIONS, CONVERSATIONS, 2 * CONVERSATIONS, false));

    // After the archive, half of the conversations go.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "delete from {schema}.visitors where id in (select id from {schema}.visitors order by id limit {})",
        CONVERSATIONS / 2
    )))
    .execute(&pool)
    .await
    .expect("delete");
    let changed = counts(&pool, &schema).await;
    assert_eq!(changed.1, CONVERSATIONS / 2);

    // Killed while reading the archive, and while swapping: nothing changed, nothing left.
    kill_restore_at(&db.url, &tenant, &archive, "restore: loaded `messages`", Duration::ZERO);
    assert_eq!(counts(&pool, &schema).await, changed, "killed while reading");
    kill_restore_at(&db.url, &tenant, &archive, "restore: swapping", Duration::from_millis(150));
    // The killed client's backend rolls back as soon as it notices; its locks go with it.
    assert_eq!(counts(&pool, &schema).await, changed, "killed while swapping");

    let output = kefu(&db.url).args(["tenants", "restore", &tenant, "--from"]).arg(&archive).output().expect("restore");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(summary.contains("restored workspace"), "{summary}");
    // The figures docs/backups.md quotes.
    eprint!("{}{summary}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(counts(&pool, &schema).await, archived);

    // The operator's own archive of the workspace restores too (checked with a dry run).
    let own = std::env::temp_dir().join(format!("kefu-restore-own-{}.tar", uuid::Uuid::new_v4().simple()));
    let output = kefu(&db.url).args(["tenants", "export", &tenant, "--to"]).arg(&own).output().expect("export");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let output =
        kefu(&db.url).args(["tenants", "restore", &tenant, "--dry-run", "--from"]).arg(&own).output().expect("dry run");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("dry run"));
    assert_eq!(counts(&pool, &schema).await, archived);
    pool.close().await;
    let _ = std::fs::remove_file(archive);
    let _ = std::fs::remove_file(own);
}
