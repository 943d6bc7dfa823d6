//! The agent console in headless Chromium (console/tests/browser.test.mjs, run by Node with
//! playwright-core): the api serves the built console, the native edge serves the widget and its
//! preview, and the scenarios sign up, verify, invite, chat with a visitor, edit the widget and
//! check phone layout and Chinese, and add a webhook endpoint whose test event reaches a receiver. This harness starts the api and the edge and hands the
//! scenarios their addresses; the scenarios start the demo shop page, a proxy standing for the
//! edge's public address (which the api must know before the edge exists), and a proxy in front
//! of the api whose network they cut under a console. Billing goes to the tests' fake Stripe,
//! whose Checkout and portal pages the owner clicks through.

use std::path::PathBuf;
use std::process::Command;

use kefu_api::fake_stripe::{Delivery, FakeStripe, WEBHOOK_SECRET};
use kefu_tests::{EDGE_ENV, Edge, FreshDatabase, SIGNING_KEYS, Server, VISITOR_KEYS, console_dist, free_port};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_chromium() {
    let Some(node_bin) = std::env::var_os("KEFU_TEST_NODE_BIN") else {
        panic!("KEFU_TEST_NODE_BIN (Node 22's bin directory) is not set: run the tests with make test");
    };
    let chromium = std::env::var("KEFU_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/lib/chromium/chromium".into());
    assert!(PathBuf::from(&chromium).exists(), "{chromium} is missing: make test installs Debian's chromium");
    let dist = console_dist();
    let db = FreshDatabase::create().await;
    let (demo_port, proxy_port) = (free_port(), free_port());
    let public_edge = format!("http://127.0.0.1:{proxy_port}");
    let dist = dist.display().to_string();
    let stripe = FakeStripe::start().await;
    // Two regions on the signup page: this api's own, and "elsewhere" — the same console under
    // another host name, standing for another region's console.
    let api_port = free_port();
    let regions = format!(
        "[{{name=\"local\",label=\"Local\",app_url=\"http://127.0.0.1:{api_port}\"}},\
         {{name=\"elsewhere\",label=\"Elsewhere 别处\",app_url=\"http://localhost:{api_port}\"}}]"
    );
    let api = Server::start_on(
        &db.url,
        &[
            ("KEFU_REGIONS", &regions),
            EDGE_ENV,
            ("KEFU_HTTP__CONSOLE_DIR", &dist),
            ("KEFU_EDGE__PUBLIC_URL", &public_edge),
            ("KEFU_BILLING__STRIPE_SECRET_KEY", "sk_test_kefu"),
            ("KEFU_BILLING__STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("KEFU_BILLING__STRIPE_API_BASE", &stripe.base),
            // The webhook scenario's receiver listens on 127.0.0.1.
            ("KEFU_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true"),
        ],
        api_port,
    )
    .await;
    stripe.deliver_to(Delivery { url: format!("{}/api/v1/stripe/webhook", api.base), secret: WEBHOOK_SECRET.into() });
    // Widget settings saved in the console reach the edge within a second.
    let edge = Edge::start_public(&[("local", &api.base, VISITOR_KEYS)], "cache_secs = 1", Some(&public_edge)).await;

    let console = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../console");
    let path = format!("{}:{}", PathBuf::from(node_bin).display(), std::env::var("PATH").unwrap_or_default());
    // The scenarios run on a blocking thread: the fake Stripe serves on this runtime meanwhile.
    let mut node = Command::new("node");
    node.args(["--test", "--test-reporter=spec", "--test-concurrency=1", "tests/browser.test.mjs"])
        .current_dir(&console)
        .env("PATH", path)
        .env("KEFU_API", &api.base)
        .env("KEFU_EDGE", &edge.base)
        .env("KEFU_PROXY_PORT", proxy_port.to_string())
        .env("KEFU_DEMO_PORT", demo_port.to_string())
        .env("KEFU_CHROMIUM", &chromium)
        // The operator's command line, for the billing scenario (`kefu plans set`).
        .env("KEFU_BIN", kefu_tests::kefu_bin())
        .env("KEFU_OPERATOR_DATABASE_URL", &db.url)
        .env("KEFU_OPERATOR_SIGNING_KEYS", SIGNING_KEYS)
        .env("KEFU_OPERATOR_VISITOR_KEYS", VISITOR_KEYS);
    let status = tokio::task::spawn_blocking(move || node.status().expect("run node")).await.expect("node's thread");
    assert!(status.success(), "the console's browser scenarios failed ({status}); their output is above");
}
