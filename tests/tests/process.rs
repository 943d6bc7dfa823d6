//! The `kefu` binary as an operator runs it: configuration errors, serving, graceful shutdown,
//! and a migration run killed half-way then resumed.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use kefu_api::testing::{WsClient, WsEnd};
use kefu_tests::{FreshDatabase, Server, kefu, kefu_bin, signup_owner, ws_url};
use serde_json::json;

#[test]
fn missing_and_bad_configuration_is_reported_all_at_once_with_exit_code_2() {
    let output = std::process::Command::new(kefu_bin())
        .env_clear()
        .env("KEFU_AUTH__SIGNING_KEYS", "k1:tooshort")
        .env("KEFU_HTTP__REQUEST_TIMEOUT_SECS", "0")
        .arg("serve")
        .output()
        .expect("run kefu");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(stderr.contains("shorter than 32 bytes"), "{stderr}");
    assert!(stderr.contains("KEFU_HTTP__REQUEST_TIMEOUT_SECS"), "{stderr}");
    assert!(!stderr.contains("tooshort"), "secrets are not echoed: {stderr}");

    let output = std::process::Command::new(kefu_bin())
        .env_clear()
        .env("DATABASE_URL", "postgres://x@127.0.0.1/db")
        .env("KEFU_AUTH__SIGNING_KEYS", "k1:0123456789abcdef0123456789abcdef")
        .env("KEFU_LISTEN", "not-an-address")
        .output()
        .expect("run kefu");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("LISTEN"), "{}", String::from_utf8_lossy(&output.stderr));
}

#[tokio::test]
async fn serve_migrates_serves_accounts_and_shuts_down_gracefully() {
    let db = FreshDatabase::create().await;
    let mut server = Server::start(&db.url, &[]).await;
    let client = reqwest::Client::new();
    let signup = client
        .post(format!("{}/api/v1/auth/signup", server.base))
        .json(&json!({ "company_name": "E2E Shop", "email": "owner@e2e-shop.example", "password": "an end to end password" }))
        .send()
        .await
        .expect("signup");
    assert_eq!(signup.status(), 201);
    let login = client
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({ "email": "owner@e2e-shop.example", "password": "an end to end password" }))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200);
    let body: serde_json::Value = login.json().await.expect("json");
    let me = client
        .get(format!("{}/api/v1/me", server.base))
        .bearer_auth(body["access_token"].as_str().expect("token"))
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), 200);

    server.terminate();
    exits_cleanly(&mut server, Instant::now(), Duration::from_secs(15)).await;
}

/// Waits until the server exited, at most `limit` after `signalled`, and checks it exited 0.
async fn exits_cleanly(server: &mut Server, signalled: Instant, limit: Duration) {
    loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            assert!(status.success(), "graceful shutdown exits 0, got {status}");
            return;
        }
        assert!(signalled.elapsed() < limit, "server did not stop within {limit:?} of SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// With `http.shutdown_delay_secs`, SIGTERM first takes the node out of the load balancer
/// (`/readyz` 503 `draining`) while it keeps serving requests and sockets; only after the delay
/// are sockets told to reconnect elsewhere (`going_away`, close 1001) and the process exits 0.
#[tokio::test]
async fn shutdown_delay_reports_draining_while_serving_then_closes_sockets_with_going_away() {
    let db = FreshDatabase::create().await;
    let mut server = Server::start(&db.url, &[("KEFU_HTTP__SHUTDOWN_DELAY_SECS", "3")]).await;
    let (token, _) = signup_owner(&server.base, "Draining Shop", "owner@draining.example").await;
    let mut agent = WsClient::connect(&ws_url(&server.base, &format!("/ws/agent?token={token}"))).await.expect("agent");
    agent.send(json!({ "type": "hello", "protocol": 1 })).await;
    agent.next_of("welcome").await;
    let client = reqwest::Client::new();

    server.terminate();
    let signalled = Instant::now();
    let readiness = loop {
        let response = client.get(format!("{}/readyz", server.base)).send().await.expect("readyz while draining");
        if response.status() == 503 {
            break response.json::<serde_json::Value>().await.expect("json");
        }
        assert!(signalled.elapsed() < Duration::from_secs(2), "readiness did not drop at the signal");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(readiness["status"], "draining");
    // Still serving meanwhile: liveness, authenticated requests, the open socket.
    let health = client.get(format!("{}/healthz", server.base)).send().await.expect("healthz");
    assert_eq!(health.status(), 200);
    let me = client.get(format!("{}/api/v1/me", server.base)).bearer_auth(&token).send().await.expect("me");
    assert_eq!(me.status(), 200);
    agent.send(json!({ "type": "ping" })).await;

    let end = loop {
        match agent.next().await {
            Ok(frame) if frame["type"] == "error" => assert_eq!(frame["code"], "going_away", "{frame}"),
            Ok(_) => {}
            Err(end) => break end,
        }
    };
    let closed_after = signalled.elapsed();
    assert_eq!(end, WsEnd::Closed(1001));
    assert!(closed_after >= Duration::from_secs(2), "sockets closed only after the delay, not {closed_after:?}");
    exits_cleanly(&mut server, signalled, Duration::from_secs(20)).await;
}

#[tokio::test]
async fn migrate_killed_half_way_resumes_and_finishes() {
    let db = FreshDatabase::create().await;
    let status = kefu(&db.url).arg("migrate").status().expect("migrate control plane");
    assert!(status.success());
    let status = kefu(&db.url).args(["create-unmigrated-tenants", "1000"]).status().expect("create tenants");
    assert!(status.success());

    // Run with one worker, and SIGKILL it once it reports progress.
    let mut child = kefu(&db.url)
        .args(["migrate", "--concurrency", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn migrate");
    let stderr = child.stderr.take().expect("stderr");
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("line");
        if line.starts_with("progress:") {
            break;
        }
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();

    let pool = db.pool().await;
    let counts = |pool: sqlx::PgPool| async move {
        let row: (i64, i64) = sqlx::query_as(
            "select count(*) filter (where coalesce(s.version, 0) > 0), count(*) filter (where coalesce(s.version, 0) = 0)
             from control.tenants t left join kefu.tenant_schemas s on s.tenant_id = t.id",
        )
        .fetch_one(&pool)
        .await
        .expect("counts");
        row
    };
    let (done, behind) = counts(pool.clone()).await;
    assert!(done >= 100 && behind > 0, "killed half-way: {done} done, {behind} behind");

    let output = kefu(&db.url).args(["migrate", "--concurrency", "4"]).output().expect("resume");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(summary.contains(&format!("{behind} were behind, {behind} migrated, 0 failed")), "{summary}");
    assert_eq!(counts(pool.clone()).await, (1000, 0));

    let output = kefu(&db.url).arg("migrate").output().expect("rerun");
    assert!(String::from_utf8_lossy(&output.stdout).contains("0 were behind"), "idempotent");
    pool.close().await;
}

#[tokio::test]
async fn production_mode_logs_json_lines_with_request_ids_to_stderr() {
    let db = FreshDatabase::create().await;
    let status = kefu(&db.url).arg("migrate").status().expect("migrate");
    assert!(status.success());
    let port = kefu_tests::free_port();
    let mut child = kefu(&db.url)
        .arg("serve")
        .env("KEFU_MODE", "production")
        .env("KEFU_AUTH__TWO_FACTOR_KEYS", "prod-2fa-1:a-production-two-factor-sealing-secret")
        .env("RUST_LOG", "info")
        .env("KEFU_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let lines = std::thread::spawn(move || BufReader::new(stderr).lines().map_while(Result::ok).collect::<Vec<_>>());
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(response) =
            client.get(format!("http://127.0.0.1:{port}/healthz")).header("x-request-id", "e2e-req-1").send().await
            && response.status().is_success()
        {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    assert!(child.wait().expect("wait").success());
    let lines = lines.join().expect("reader");
    assert!(!lines.is_empty());
    for line in &lines {
        let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(value["level"].is_string(), "{line}");
    }
    assert!(lines.iter().any(|l| l.contains("e2e-req-1")), "request spans carry the request id: {lines:?}");
}
