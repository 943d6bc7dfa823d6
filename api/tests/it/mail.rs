//! Mail delivery over real SMTP: the outbox worker hands queued mail to an SMTP server
//! (aiosmtpd, installed by `infra/local/test-tools.sh`).

use std::process::Stdio;
use std::time::{Duration, Instant};

use kefu_api::testing::TestApp;
use tokio::io::{AsyncBufReadExt, BufReader};

struct SmtpServer {
    child: tokio::process::Child,
    port: u16,
}

impl SmtpServer {
    async fn start() -> Self {
        let python = std::env::var("KEFU_TEST_PYTHON")
            .expect("KEFU_TEST_PYTHON is not set: run tests through `make test` (infra/local/test-tools.sh)");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let child = tokio::process::Command::new(python)
            .args([
                "-u",
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Debugging",
                "stdout",
            ])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start aiosmtpd");
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "aiosmtpd did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child, port }
    }
}

#[tokio::test]
async fn queued_mail_is_delivered_over_smtp_and_marked_sent() {
    // The test database is shared by every test (and kept between runs), so mail other tests
    // queued would all go before this one's: set them aside first.
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&kefu_api::testing::test_database_url().await)
        .await
        .expect("connect");
    sqlx::query("update control.outbox_mail set next_attempt_at = now() + interval '1 year' where sent_at is null")
        .execute(&mut conn)
        .await
        .expect("set queued mail aside");
    drop(conn);
    let mut smtp = SmtpServer::start().await;
    let port = smtp.port;
    let app = TestApp::spawn_with(|c| c.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}").into())).await;
    let owner = app.signup().await;

    // The SMTP server prints every message it receives.
    let stdout = smtp.child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut received = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(received.contains(&owner.email) && received.contains("verify-email?token=")) {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, lines.next_line()).await {
            Ok(Ok(Some(line))) => {
                received.push_str(&line);
                received.push('\n');
            }
            _ => panic!("no verification mail reached the SMTP server; got:\n{received}"),
        }
    }
    assert!(received.contains("From: Kefu <no-reply@kefu.localhost>"), "{received}");

    // A report-style mail goes as text and HTML alternatives, the chart inline beside the HTML.
    let png = kefu_api::analytics::chart::bars(&[3, 1, 4], &[1, 0, 0]).expect("png");
    let mut conn = app.db().acquire().await.expect("connection");
    kefu_api::db::outbox::enqueue_rich(
        &mut conn,
        None,
        "reports@example.com",
        "Daily report",
        "the text",
        "<p>the html <img src=\"cid:chart\"></p>",
        Some(&png),
    )
    .await
    .expect("queue");
    drop(conn);
    let mut rich = String::new();
    while !rich.find("To: reports@example.com").is_some_and(|at| rich[at..].contains("END MESSAGE")) {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, lines.next_line()).await {
            Ok(Ok(Some(line))) => {
                rich.push_str(&line);
                rich.push('\n');
            }
            _ => panic!("no report mail reached the SMTP server; got:\n{rich}"),
        }
    }
    for part in [
        "multipart/alternative",
        "multipart/related",
        "text/plain",
        "text/html",
        "image/png",
        "Content-Disposition: inline",
    ] {
        assert!(rich.contains(part), "{part} in:\n{rich}");
    }

    // The outbox records the delivery.
    let started = Instant::now();
    loop {
        let sent: Option<bool> = sqlx::query_scalar(
            "select sent_at is not null from control.outbox_mail where lower(to_address) = lower($1)",
        )
        .bind(&owner.email)
        .fetch_optional(app.db())
        .await
        .expect("outbox");
        if sent == Some(true) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "mail was not marked sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Delivered mail keeps its envelope, not its body: the verification link is gone.
    let (text, html): (String, Option<String>) = sqlx::query_as(
        "select body_text, body_html from control.outbox_mail
             where lower(to_address) = lower($1) and sent_at is not null limit 1",
    )
    .bind(&owner.email)
    .fetch_one(app.db())
    .await
    .expect("outbox");
    assert_eq!((text.as_str(), html), (kefu_api::db::outbox::BODY_REMOVED, None));
}

/// Mail never delivered (no SMTP, or given up) keeps its body at most 30 days: the links in it
/// are credentials.
#[tokio::test]
async fn old_undelivered_mail_bodies_are_removed() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let mut conn = app.db().acquire().await.expect("conn");
    sqlx::query(
        "update control.outbox_mail set created_at = now() - interval '31 days' where lower(to_address) = lower($1)",
    )
    .bind(&owner.email)
    .execute(&mut *conn)
    .await
    .expect("age it");
    // Every node sweeps hourly (and at its start): another test's node may have purged it first.
    kefu_api::db::outbox::purge_old_bodies(&mut conn).await.expect("purge");
    let text: String =
        sqlx::query_scalar("select body_text from control.outbox_mail where lower(to_address) = lower($1)")
            .bind(&owner.email)
            .fetch_one(&mut *conn)
            .await
            .expect("outbox");
    assert_eq!(text, kefu_api::db::outbox::BODY_REMOVED);
}
