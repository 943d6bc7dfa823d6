//! Postgres restarted mid-conversation: sends fail with a retryable error while it is down,
//! retries with the same client id succeed once it is back, nothing is lost or doubled.

use kefu_api::testing::WsClient;
use kefu_protocol::VisitorId;
use kefu_tests::{OwnPostgres, Server, visitor_token};
use serde_json::{Value, json};

#[tokio::test]
async fn sends_fail_retryably_while_postgres_is_down_and_retries_succeed_after() {
    let pg = OwnPostgres::start();
    let server = Server::start(&pg.url(), &[("KEFU_DATABASE__ACQUIRE_TIMEOUT_MS", "1000")]).await;
    let client = reqwest::Client::new();
    let signup: Value = client
        .post(format!("{}/api/v1/auth/signup", server.base))
        .json(&json!({ "company_name": "Restart Co", "email": "owner@restart.example", "password": "a restart password" }))
        .send()
        .await
        .expect("signup")
        .json()
        .await
        .expect("json");
    let tenant = signup["tenant"]["id"].as_str().expect("tenant").to_owned();
    let visitor_id = VisitorId::from_uuid(uuid::Uuid::new_v4());
    let url = format!(
        "{}/ws/visitor?token={}",
        server.base.replacen("http://", "ws://", 1),
        visitor_token(&tenant, visitor_id)
    );
    let mut visitor = WsClient::connect(&url).await.expect("upgrade");
    visitor.send(json!({ "type": "hello", "protocol": 1 })).await;
    visitor.next_of("welcome").await;
    visitor.send(json!({ "type": "send", "client_id": "before", "body": "before the restart" })).await;
    assert_eq!(visitor.next_of("ack").await["seq"], 1);

    pg.stop();
    visitor.send(json!({ "type": "send", "client_id": "during", "body": "while it is down" })).await;
    let error = visitor.next_of("error").await;
    assert_eq!(error["code"], "unavailable", "{error}");
    assert_eq!(error["retryable"], true);
    assert_eq!(error["client_id"], "during");

    pg.restart();
    // The pool reconnects; the client retries the same frame until it is acknowledged.
    let mut ack = None;
    for _ in 0..50 {
        visitor.send(json!({ "type": "send", "client_id": "during", "body": "while it is down" })).await;
        let frame = loop {
            let frame = visitor.next().await.expect("session survives the restart");
            if frame["type"] == "ack" || frame["type"] == "error" {
                break frame;
            }
        };
        if frame["type"] == "ack" {
            ack = Some(frame);
            break;
        }
        assert_eq!(frame["retryable"], true, "{frame}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let ack = ack.expect("acknowledged after the restart");
    assert_eq!(ack["seq"], 2);
    // A duplicate retry changes nothing.
    visitor.send(json!({ "type": "send", "client_id": "during", "body": "while it is down" })).await;
    assert_eq!(visitor.next_of("ack").await["seq"], 2);

    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&pg.url()).await.expect("pool");
    let schema = format!("t_{}", tenant.trim_start_matches("tnt_"));
    let stored: Vec<(i64, String)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("select seq, client_id from {schema}.messages order by seq")))
            .fetch_all(&pool)
            .await
            .expect("transcript");
    assert_eq!(stored, vec![(1, "before".to_owned()), (2, "during".to_owned())]);
    pool.close().await;
    drop(server);
}
