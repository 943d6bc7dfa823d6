//! The S3 attachment backend over the real S3 protocol: two api nodes configured with the same
//! bucket on an S3-compatible server (moto's, from the test tools venv) store and serve the same
//! files, and the bytes are in the bucket under `<tenant>/<attachment>`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kefu_tests::{FreshDatabase, Server, free_port, tenant_with_site};

struct S3Server {
    child: Child,
    url: String,
}

impl S3Server {
    fn start() -> Self {
        let python = std::env::var("KEFU_TEST_PYTHON").expect("KEFU_TEST_PYTHON (infra/local/test-tools.sh)");
        let port = free_port();
        let child = Command::new(python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto's S3 server");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "the S3 server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, url: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn two_nodes_share_attachments_in_an_s3_bucket() {
    let s3 = S3Server::start();
    let http = reqwest::Client::new();
    let created = http.put(format!("{}/kefu-attachments", s3.url)).send().await.expect("create bucket");
    assert!(created.status().is_success(), "bucket: {}", created.status());
    let db = FreshDatabase::create().await;
    let env = [
        ("KEFU_ATTACHMENTS__BACKEND", "s3"),
        ("KEFU_ATTACHMENTS__S3_BUCKET", "kefu-attachments"),
        ("KEFU_ATTACHMENTS__S3_ENDPOINT", s3.url.as_str()),
        ("KEFU_ATTACHMENTS__S3_ACCESS_KEY_ID", "test-key"),
        ("KEFU_ATTACHMENTS__S3_SECRET_ACCESS_KEY", "test-secret"),
        ("KEFU_ATTACHMENTS__S3_ALLOW_HTTP", "true"),
        kefu_tests::EDGE_ENV,
    ];
    let node_a = Server::start(&db.url, &env).await;
    let node_b = Server::start(&db.url, &env).await;
    let shop = tenant_with_site(&node_a.base, "owner@s3.example", &[]).await;

    let body = "发货单 #2026-11\n数量: 3\n".as_bytes().to_vec();
    let uploaded: serde_json::Value = http
        .post(format!("{}/api/v1/attachments?name=invoice.txt", node_a.base))
        .bearer_auth(&shop.access)
        .body(body.clone())
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("json");
    let id = uploaded["id"].as_str().unwrap_or_else(|| panic!("upload failed: {uploaded}")).to_owned();

    // Node B serves what node A stored.
    let download = http
        .get(format!("{}/api/v1/attachments/{id}", node_b.base))
        .bearer_auth(&shop.access)
        .send()
        .await
        .expect("get");
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.expect("bytes").as_ref(), body.as_slice());

    // And the object is in the bucket, under the tenant's prefix (moto's model dump lists keys).
    let key = format!("{}/{}", shop.tenant_id.trim_start_matches("tnt_"), id.trim_start_matches("att_"));
    let models = http.get(format!("{}/moto-api/data.json", s3.url)).send().await.expect("models");
    let models = models.text().await.expect("text");
    assert!(models.contains(&key), "{key} is not in the bucket");
}
