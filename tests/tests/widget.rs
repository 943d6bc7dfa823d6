//! The visitor widget in headless Chromium (edge/widget/tests/browser.test.mjs, run by Node with
//! playwright-core): the demo shop page on its own origin embeds the snippet, the loader and
//! the chat UI come from the native edge, and the agent answers over the real protocol against
//! a real api node with Postgres. This harness starts the api and the edge, hands the scenarios
//! what they need, and kills and restarts the api when they ask (files in `KEFU_CONTROL_DIR`);
//! the scenarios themselves start the demo page and a cuttable proxy in front of the edge.

use std::path::PathBuf;
use std::process::Command;

use kefu_tests::{EDGE_ENV, Edge, FreshDatabase, SIGNING_KEYS, Server, VISITOR_KEYS, free_port, tenant_with_site};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn widget_in_chromium() {
    let Some(node_bin) = std::env::var_os("KEFU_TEST_NODE_BIN") else {
        panic!("KEFU_TEST_NODE_BIN (Node 22's bin directory) is not set: run the tests with make test");
    };
    let chromium = std::env::var("KEFU_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/lib/chromium/chromium".into());
    assert!(PathBuf::from(&chromium).exists(), "{chromium} is missing: make test installs Debian's chromium");
    let db = FreshDatabase::create().await;
    let (demo_port, proxy_port) = (free_port(), free_port());
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    // Replies a visitor leaves unread are mailed after a second, with links to the public edge.
    let api_env = [EDGE_ENV, ("KEFU_EDGE__PUBLIC_URL", proxy.as_str()), ("KEFU_MAIL__REPLY_DELAY_SECS", "1")];
    let api = Server::start(&db.url, &api_env).await;
    let demo_origin = format!("http://127.0.0.1:{demo_port}");
    let hostile_origin = format!("http://localhost:{demo_port}");
    let shop = tenant_with_site(&api.base, "owner@widget.example", &[&demo_origin, &hostile_origin]).await;
    // Settings saved by the tests reach the edge within a second.
    let edge = Edge::start_public(&[("local", &api.base, VISITOR_KEYS)], "cache_secs = 1", Some(&proxy)).await;

    let widget = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../edge/widget");
    let path = format!("{}:{}", PathBuf::from(node_bin).display(), std::env::var("PATH").unwrap_or_default());
    // The scenarios ask this harness to kill and restart the api node through files here.
    let control = std::env::temp_dir().join(format!("kefu-widget-control-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&control).expect("control dir");
    let mut node = Command::new("node")
        .args(["--test", "--test-reporter=spec", "tests/browser.test.mjs"])
        .current_dir(&widget)
        .env("PATH", path)
        .env("KEFU_API", &api.base)
        .env("KEFU_EDGE", &edge.base)
        .env("KEFU_PROXY_PORT", proxy_port.to_string())
        .env("KEFU_DEMO_PORT", demo_port.to_string())
        .env("KEFU_SITE_KEY", &shop.site_key)
        .env("KEFU_AGENT_TOKEN", &shop.access)
        .env("KEFU_CHROMIUM", &chromium)
        .env("KEFU_CONTROL_DIR", &control)
        // The operator's command line, for the over-quota scenario (`kefu plans set`).
        .env("KEFU_BIN", kefu_tests::kefu_bin())
        .env("KEFU_OPERATOR_DATABASE_URL", &db.url)
        .env("KEFU_OPERATOR_SIGNING_KEYS", SIGNING_KEYS)
        .env("KEFU_OPERATOR_VISITOR_KEYS", VISITOR_KEYS)
        .spawn()
        .expect("run node");
    let api_port: u16 = api.base.rsplit(':').next().and_then(|p| p.parse().ok()).expect("api port");
    let mut api = Some(api);
    let status = loop {
        if let Some(status) = node.try_wait().expect("wait for node") {
            break status;
        }
        if std::fs::remove_file(control.join("kill-api")).is_ok() {
            drop(api.take()); // SIGKILL: nothing is flushed or closed politely.
            std::fs::write(control.join("kill-api.done"), "").expect("ack");
        }
        if std::fs::remove_file(control.join("start-api")).is_ok() {
            api = Some(Server::start_on(&db.url, &api_env, api_port).await);
            std::fs::write(control.join("start-api.done"), "").expect("ack");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let _ = std::fs::remove_dir_all(&control);
    assert!(status.success(), "the browser scenarios failed ({status}); their output is above");
}
