//! Attachments against real Postgres and the local object store: content sniffing, plan limits,
//! sending once through the WebSocket, replay, and who may download what.

use kefu_api::testing::TestApp;
use kefu_protocol::VisitorId;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\nIDATx\x9cc\0\x01\0\0\x05\0\x01\r\n-\xb4\0\0\0\0IEND\xaeB`\x82";

async fn upload(app: &TestApp, path: &str, token: &str, name: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(app.url(&format!("{path}?name={}", urlencode(name))))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn download(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("download")
}

#[tokio::test]
async fn uploads_are_sniffed_limited_sent_once_and_downloaded_only_by_their_conversation() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let visitor_id = VisitorId::from_uuid(uuid::Uuid::now_v7());
    let visitor_token = app.visitor_token(&owner.tenant_id, visitor_id, 600);

    // The content decides: a PNG named .txt is a PNG; an executable named .png is refused.
    let (status, image) = upload(&app, "/api/v1/visitor/attachments", &visitor_token, "收据.txt", PNG.to_vec()).await;
    assert_eq!(status, StatusCode::CREATED, "{image}");
    assert_eq!((image["content_type"].as_str(), image["name"].as_str()), (Some("image/png"), Some("收据.txt")));
    assert!(image["id"].as_str().is_some_and(|id| id.starts_with("att_")));
    let (status, refused) = upload(
        &app,
        "/api/v1/visitor/attachments",
        &visitor_token,
        "cat.png",
        b"MZ\x90\0\x03\0\0\0\x04\0\0\0".to_vec(),
    )
    .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("unsupported_media_type"))
    );
    let (status, _) = upload(&app, "/api/v1/visitor/attachments", "not-a-token", "a.txt", b"hi".to_vec()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, empty) = upload(&app, "/api/v1/visitor/attachments", &visitor_token, "a.txt", Vec::new()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{empty}");

    // Sent once, by its uploader, as a message that carries it (live and on replay).
    let (mut visitor, _) = app.visitor(&owner.tenant_id, visitor_id, None).await;
    let attachment = image["id"].as_str().expect("id").to_owned();
    visitor
        .send(json!({ "type": "send", "client_id": "img-1", "body": "收据.txt", "attachment_id": attachment }))
        .await;
    let message = visitor.next_of("message").await;
    assert_eq!(message["attachment"]["id"], attachment.as_str());
    assert_eq!(message["attachment"]["content_type"], "image/png");
    let conversation = message["conversation_id"].as_str().expect("conversation").to_owned();
    visitor.send(json!({ "type": "send", "client_id": "img-2", "body": "again", "attachment_id": attachment })).await;
    assert_eq!(visitor.next_of("error").await["code"], "invalid_frame", "an attachment is sent once");
    // A retry of the first send is the original message, not an error.
    visitor
        .send(json!({ "type": "send", "client_id": "img-1", "body": "收据.txt", "attachment_id": attachment }))
        .await;
    assert_eq!(visitor.next_of("ack").await["seq"], 1);
    let (mut replay, _) = app.visitor(&owner.tenant_id, visitor_id, Some(0)).await;
    assert_eq!(replay.next_of("message").await["attachment"]["name"], "收据.txt");

    // Another visitor can neither send nor see it.
    let stranger = VisitorId::from_uuid(uuid::Uuid::now_v7());
    let stranger_token = app.visitor_token(&owner.tenant_id, stranger, 600);
    let (mut other, _) = app.visitor(&owner.tenant_id, stranger, None).await;
    other.send(json!({ "type": "send", "client_id": "steal", "body": "mine now", "attachment_id": attachment })).await;
    assert_eq!(other.next_of("error").await["code"], "invalid_frame");
    let path = format!("/api/v1/visitor/attachments/{attachment}");
    assert_eq!(download(&app, &path, Some(&stranger_token)).await.status(), StatusCode::NOT_FOUND);

    // The visitor (token in the query, as an <img src> does) and the team download the bytes.
    let mine = download(&app, &format!("{path}?token={visitor_token}"), None).await;
    assert_eq!(mine.status(), StatusCode::OK);
    assert_eq!(mine.headers()["content-type"], "image/png");
    assert_eq!(mine.headers()["x-content-type-options"], "nosniff");
    assert!(mine.headers()["content-disposition"].to_str().is_ok_and(|d| d.starts_with("inline;")));
    assert_eq!(mine.bytes().await.expect("bytes").as_ref(), PNG);
    let team = download(&app, &format!("/api/v1/attachments/{attachment}"), Some(&owner.access)).await;
    assert_eq!(team.status(), StatusCode::OK);
    assert_eq!(team.bytes().await.expect("bytes").as_ref(), PNG);

    // Agents upload and send too; a text file downloads as an attachment.
    let (status, note) =
        upload(&app, "/api/v1/attachments", &owner.access, "退款说明.txt", "请按以下步骤退款。".as_bytes().to_vec())
            .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    assert_eq!(note["content_type"], "text/plain; charset=utf-8");
    let mut agent = app.agent(&owner).await;
    agent
        .send(json!({ "type": "send", "conversation_id": conversation, "client_id": "a-file", "body": "退款说明.txt",
                       "attachment_id": note["id"] }))
        .await;
    assert_eq!(agent.next_of("ack").await["seq"], 2);
    let received = visitor.next_of("message").await;
    assert_eq!(received["attachment"]["name"], "退款说明.txt");
    let file = download(
        &app,
        &format!("/api/v1/visitor/attachments/{}?token={visitor_token}", note["id"].as_str().unwrap_or_default()),
        None,
    )
    .await;
    assert!(file.headers()["content-disposition"].to_str().is_ok_and(|d| d.starts_with("attachment;")));

    // Another tenant's member cannot download it.
    let other_owner = app.verified_owner().await;
    let foreign = download(&app, &format!("/api/v1/attachments/{attachment}"), Some(&other_owner.access)).await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_plan_bounds_each_file_and_the_total() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    app.own_plan(&owner, "attachment_storage_mb = 2, attachment_max_mb = 1").await;
    let text = |kib: usize| "字".repeat(kib * 1024 / 3).into_bytes();
    let (status, too_big) = upload(&app, "/api/v1/attachments", &owner.access, "big.txt", text(1100)).await;
    assert_eq!((status, too_big["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")));
    for _ in 0..2 {
        let (status, body) = upload(&app, "/api/v1/attachments", &owner.access, "part.txt", text(900)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, full) = upload(&app, "/api/v1/attachments", &owner.access, "part.txt", text(900)).await;
    assert_eq!((status, full["code"].as_str()), (StatusCode::FORBIDDEN, Some("quota_exceeded")));
}

/// A request with a bad token and a 40 MiB body that never arrives: the api answers 401 at once,
/// from the headers, without waiting for (or reading) the body. Before, it read the whole body
/// first.
#[tokio::test]
async fn uploads_are_refused_before_their_body_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    for (path, token) in
        [("/api/v1/visitor/attachments?name=a.pdf", "not-a-token"), ("/api/v1/attachments?name=a.pdf", "not-a-token")]
    {
        let mut stream = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {token}\r\ncontent-type: application/octet-stream\r\ncontent-length: {}\r\n\r\n",
            app.addr,
            40 * 1024 * 1024
        );
        stream.write_all(head.as_bytes()).await.expect("headers");
        stream.write_all(b"%PDF-1.4 only the start").await.expect("a first chunk");
        let mut answer = vec![0u8; 512];
        let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut answer))
            .await
            .expect("an answer while the body is still missing")
            .expect("read");
        let answer = String::from_utf8_lossy(&answer[..read]).into_owned();
        assert!(answer.starts_with("HTTP/1.1 401"), "{path}: {answer}");
    }
}

/// Found by the authorization sweep: two uploads of one workspace at the same moment could
/// deadlock (each deleted expired files, taking the table's row-exclusive lock, then waited for
/// the quota lock the other's delete blocked), and Postgres failed one with a `500`. Members and
/// visitors of a workspace upload at once all the time: every upload must succeed.
#[tokio::test]
async fn concurrent_uploads_of_one_workspace_all_succeed() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let agent = app.invite_and_accept(&owner, "agent").await;
    let visitor = app.visitor_token(&owner.tenant_id, VisitorId::from_uuid(uuid::Uuid::now_v7()), 600);
    let uploads = (0..24).map(|i| {
        let (path, token) = match i % 3 {
            0 => ("/api/v1/attachments", owner.access.as_str()),
            1 => ("/api/v1/attachments", agent.access.as_str()),
            _ => ("/api/v1/visitor/attachments", visitor.as_str()),
        };
        upload(&app, path, token, "at-once.png", PNG.to_vec())
    });
    for (status, body) in futures_util::future::join_all(uploads).await {
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

/// The abuse a security review found: anyone can mint visitor tokens (site keys are public) and
/// fill a workspace's storage with files never sent. Unsent files do not count against the plan's
/// storage, one uploader may hold 20 of them, and they expire a day after their upload. A node
/// that refused an uploader answers them from memory for a few seconds (a refused flood reads
/// neither bodies nor the database); another node asks the database.
#[tokio::test]
async fn unsent_uploads_do_not_fill_storage_are_capped_per_uploader_and_expire_after_a_day() {
    let (app, second) = TestApp::spawn_pair().await;
    let owner = app.verified_owner().await;
    app.own_plan(&owner, "attachment_storage_mb = 2, attachment_max_mb = 1").await;
    let schema = app.tenant_schema(&owner.tenant_id).await;
    let visitor = VisitorId::from_uuid(uuid::Uuid::now_v7());
    let token = app.visitor_token(&owner.tenant_id, visitor, 600);
    for i in 0..20 {
        let (status, body) =
            upload(&app, "/api/v1/visitor/attachments", &token, &format!("{i}.png"), PNG.to_vec()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, refused) = upload(&app, "/api/v1/visitor/attachments", &token, "21.png", PNG.to_vec()).await;
    assert_eq!((status, refused["code"].as_str()), (StatusCode::FORBIDDEN, Some("quota_exceeded")), "{refused}");

    // Unsent files are not the workspace's storage: a member's file still fits.
    let text = "字".repeat(900 * 1024 / 3).into_bytes();
    let (status, body) = upload(&app, "/api/v1/attachments", &owner.access, "notes.txt", text).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // A day on, the visitor's files expire: the next upload anyone makes removes them, objects too.
    let keys: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "update {}.attachments set created_at = now() - interval '25 hours' where uploader_id = $1 returning storage_key",
        schema.name()
    )))
    .bind(visitor)
    .fetch_all(app.db())
    .await
    .expect("a day older");
    assert_eq!(keys.len(), 20);
    let root = std::path::PathBuf::from(&app.state.config.attachments.local_dir);
    assert!(keys.iter().all(|k| root.join(k).exists()), "stored until they expire");
    let other = app.visitor_token(&owner.tenant_id, VisitorId::from_uuid(uuid::Uuid::now_v7()), 600);
    let (status, body) = upload(&app, "/api/v1/visitor/attachments", &other, "x.png", PNG.to_vec()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let left: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select count(*) from {}.attachments where uploader_id = $1",
        schema.name()
    )))
    .bind(visitor)
    .fetch_one(app.db())
    .await
    .expect("count");
    assert_eq!(left, 0, "expired unsent files are deleted");
    assert!(keys.iter().all(|k| !root.join(k).exists()), "and their objects");
    let (status, body) = upload(&app, "/api/v1/visitor/attachments", &token, "again.png", PNG.to_vec()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "remembered for seconds on the node that refused: {body}");
    let (status, body) = upload(&second, "/api/v1/visitor/attachments", &token, "again.png", PNG.to_vec()).await;
    assert_eq!(status, StatusCode::CREATED, "the visitor may upload again: {body}");
}
