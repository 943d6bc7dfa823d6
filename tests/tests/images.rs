//! The container images as an operator runs them (`make test-images`, which builds them first):
//! `kefu migrate` and `kefu serve` from the api image and `kefu-edge` from the edge image, under
//! podman, non-root, read-only, with every capability dropped, against this machine's Postgres and
//! Redis. A visitor chats through the edge container with an agent on the api container; the
//! console is served; SIGTERM (`podman stop`) drains and exits 0.
//!
//! Ignored in `make test` (building the images takes minutes): infra/images/test.sh runs it with
//! `KEFU_TEST_API_IMAGE` and `KEFU_TEST_EDGE_IMAGE` naming the images it built.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use kefu_api::testing::WsClient;
use kefu_tests::{
    EDGE_SECRET, FreshDatabase, SIGNING_KEYS, VISITOR_KEYS, free_port, inbox_agent_on, tenant_with_site, wait_until_up,
};
use serde_json::{Value, json};

const SHOP: &str = "https://shop.example";
const METRICS_TOKEN: &str = "an-image-smoke-test-metrics-token-of-length";

fn image(variable: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| panic!("{variable} is not set: run `make test-images`"))
}

fn podman(args: &[&str]) -> Output {
    Command::new("podman").args(args).stdin(Stdio::null()).output().expect("run podman")
}

fn podman_ok(args: &[&str]) -> String {
    let output = podman(args);
    assert!(
        output.status.success(),
        "podman {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A running container, removed when dropped (its logs are printed when the test failed).
struct Container {
    name: String,
}

impl Container {
    /// `podman run --detach` as production would: host network (the test's Postgres and Redis
    /// are on loopback), read-only root, no capabilities, no privilege escalation.
    fn run(name: &str, image: &str, env: &[(&str, String)], extra: &[&str], args: &[&str]) -> Self {
        let _ = podman(&["rm", "--force", name]);
        let mut command: Vec<String> = [
            "run",
            "--detach",
            "--name",
            name,
            "--network",
            "host",
            "--read-only",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for (key, value) in env {
            command.push("--env".into());
            command.push(format!("{key}={value}"));
        }
        command.extend(extra.iter().map(|s| (*s).to_owned()));
        command.push(image.into());
        command.extend(args.iter().map(|s| (*s).to_owned()));
        let command: Vec<&str> = command.iter().map(String::as_str).collect();
        podman_ok(&command);
        Self { name: name.into() }
    }

    /// The user the container's first process runs as, as `uid:gid`.
    fn process_user(&self) -> String {
        let pid = podman_ok(&["inspect", "--format", "{{.State.Pid}}", &self.name]);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or_default()
                .to_owned()
        };
        format!("{}:{}", field("Uid:"), field("Gid:"))
    }

    /// Sends SIGTERM, waits (at most `limit`) and returns the exit code.
    fn stop(&self, limit: Duration) -> i32 {
        let started = Instant::now();
        podman_ok(&["stop", "--time", &limit.as_secs().to_string(), &self.name]);
        assert!(started.elapsed() < limit, "{} did not stop on SIGTERM within {limit:?}", self.name);
        podman_ok(&["inspect", "--format", "{{.State.ExitCode}}", &self.name]).parse().expect("exit code")
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let logs = podman(&["logs", &self.name]);
            eprintln!("--- logs of {} ---\n{}", self.name, String::from_utf8_lossy(&logs.stderr));
        }
        let _ = podman(&["rm", "--force", &self.name]);
    }
}

fn api_env(database_url: &str, port: u16) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("DATABASE_URL", database_url.to_owned()),
        ("KEFU_MODE", "production".to_owned()),
        ("KEFU_REGION", "smoke".to_owned()),
        ("KEFU_LISTEN", format!("127.0.0.1:{port}")),
        ("KEFU_PUBLIC_URL", format!("http://127.0.0.1:{port}")),
        ("KEFU_AUTH__SIGNING_KEYS", SIGNING_KEYS.to_owned()),
        ("KEFU_AUTH__VISITOR_KEYS", VISITOR_KEYS.to_owned()),
        ("KEFU_AUTH__TWO_FACTOR_KEYS", "smoke:an-image-smoke-test-two-factor-key-of-length".to_owned()),
        ("KEFU_EDGE__SECRET", EDGE_SECRET.to_owned()),
        ("KEFU_HTTP__METRICS_TOKEN", METRICS_TOKEN.to_owned()),
        ("KEFU_HTTP__SHUTDOWN_DELAY_SECS", "1".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ];
    if let Ok(redis) = std::env::var("REDIS_URL") {
        env.push(("REDIS_URL", redis));
    }
    env
}

#[tokio::test]
#[ignore = "builds on images made by `make test-images`"]
async fn the_images_migrate_serve_chat_through_the_edge_and_stop_cleanly() {
    let (api_image, edge_image) = (image("KEFU_TEST_API_IMAGE"), image("KEFU_TEST_EDGE_IMAGE"));
    let db = FreshDatabase::create().await;
    let (api_port, edge_port) = (free_port(), free_port());
    let api_base = format!("http://127.0.0.1:{api_port}");
    let env = api_env(&db.url, api_port);
    let suffix = uuid::Uuid::new_v4().simple().to_string();

    // The image's metadata: non-root, the documented entry point.
    assert_eq!(podman_ok(&["image", "inspect", "--format", "{{.Config.User}}", &api_image]), "65532:65532");
    assert_eq!(podman_ok(&["image", "inspect", "--format", "{{.Config.User}}", &edge_image]), "65532:65532");

    // `kefu migrate` as a one-off container (the Kubernetes migration Job).
    let mut migrate: Vec<String> =
        vec!["run".into(), "--rm".into(), "--network".into(), "host".into(), "--read-only".into()];
    for (key, value) in &env {
        migrate.push("--env".into());
        migrate.push(format!("{key}={value}"));
    }
    migrate.push(api_image.clone());
    migrate.push("migrate".into());
    let migrate: Vec<&str> = migrate.iter().map(String::as_str).collect();
    let output = podman(&migrate);
    assert!(output.status.success(), "kefu migrate in the image: {}", String::from_utf8_lossy(&output.stderr));

    // Attachments need a writable directory on a read-only root: a named volume, which starts as
    // the image's /var/lib/kefu (owned by nonroot), as docs/self-hosting.md runs it.
    let volume = format!("kefu-smoke-attachments-{suffix}:/var/lib/kefu");
    let api = Container::run(&format!("kefu-smoke-api-{suffix}"), &api_image, &env, &["--volume", &volume], &["serve"]);
    wait_until_up(&format!("{api_base}/readyz"), Duration::from_secs(60), "the api container").await;
    assert_eq!(api.process_user(), "65532:65532", "kefu runs as nonroot");

    let http = reqwest::Client::new();
    let console = http.get(format!("{api_base}/")).send().await.expect("console");
    assert_eq!(console.status(), 200);
    let page = console.text().await.expect("console page");
    assert!(page.contains("<script") && page.contains("/assets/"), "the console's index.html: {page}");
    let metrics = http.get(format!("{api_base}/metrics")).bearer_auth(METRICS_TOKEN).send().await.expect("metrics");
    assert_eq!(metrics.status(), 200);
    assert!(metrics.text().await.expect("metrics").contains("kefu_http_requests_total"));

    // The edge container, configured by a mounted file as docs/self-hosting.md shows.
    let config_dir = std::env::temp_dir().join(format!("kefu-smoke-edge-{suffix}"));
    std::fs::create_dir_all(&config_dir).expect("edge config dir");
    let config = config_dir.join("edge.toml");
    std::fs::write(
        &config,
        format!(
            "public_url = \"http://127.0.0.1:{edge_port}\"\napi_secret = \"{EDGE_SECRET}\"\n\
             visitor_secret = \"an-image-smoke-test-visitor-secret-of-length\"\n\
             [[regions]]\nname = \"smoke\"\napi_url = \"{api_base}\"\nvisitor_keys = \"{VISITOR_KEYS}\"\n"
        ),
    )
    .expect("edge config");
    let mount = format!("{}:/etc/kefu/edge.toml:ro", config.display());
    let edge = Container::run(
        &format!("kefu-smoke-edge-{suffix}"),
        &edge_image,
        &[("KEFU_EDGE_LISTEN", format!("127.0.0.1:{edge_port}")), ("RUST_LOG", "warn".into())],
        &["--volume", &mount],
        &[],
    );
    let edge_base = format!("http://127.0.0.1:{edge_port}");
    wait_until_up(&format!("{edge_base}/healthz"), Duration::from_secs(30), "the edge container").await;
    assert_eq!(edge.process_user(), "65532:65532", "kefu-edge runs as nonroot");

    // A visitor chats through the edge container with the owner on the api container.
    let shop = tenant_with_site(&api_base, "owner@image-smoke.example", &[SHOP]).await;
    let loader = http.get(format!("{edge_base}/w/{}.js", shop.site_key)).send().await.expect("loader");
    assert_eq!(loader.status(), 200, "the widget loader from the edge image");
    let grant: Value = http
        .post(format!("{edge_base}/v1/sessions"))
        .header("origin", SHOP)
        .json(&json!({ "site_key": shop.site_key }))
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("grant");
    let token = grant["token"].as_str().unwrap_or_else(|| panic!("a visitor token: {grant}"));
    let visitor_url = format!("{}?token={token}", grant["ws_url"].as_str().expect("ws_url"));
    let mut agent = inbox_agent_on(&api_base, &shop.access).await;
    let mut visitor = WsClient::connect(&visitor_url).await.expect("visitor through the edge");
    visitor.send(json!({ "type": "hello", "protocol": 1 })).await;
    visitor.next_of("welcome").await;
    visitor.send(json!({ "type": "send", "client_id": "smoke-1", "body": "你好，容器" })).await;
    let ack = visitor.next_of("ack").await;
    assert_eq!(ack["seq"], 1);
    let conversation = ack["conversation_id"].as_str().expect("conversation").to_owned();
    assert_eq!(agent.next_of("conversation_updated").await["conversation_id"], conversation.as_str());
    agent.send(json!({ "type": "join", "conversation_id": conversation, "last_seq": 0 })).await;
    let message = agent.next_of("message").await;
    assert_eq!(message["body"], "你好，容器", "the agent reads the visitor's message: {message}");

    // SIGTERM: both drain and exit 0 (the api after its 1 s shutdown delay).
    assert_eq!(edge.stop(Duration::from_secs(20)), 0, "kefu-edge exits 0 on SIGTERM");
    assert_eq!(api.stop(Duration::from_secs(30)), 0, "kefu exits 0 on SIGTERM");
    drop((api, edge));
    let _ = podman(&["volume", "rm", "--force", &format!("kefu-smoke-attachments-{suffix}")]);
    let _ = std::fs::remove_dir_all(&config_dir);
}
