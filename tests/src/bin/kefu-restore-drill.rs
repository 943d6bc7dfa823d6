//! The API side of `make test-restore` (infra/local/test-restore.sh, docs/backups.md): writes
//! labelled data into a workspace through the public API and checks afterwards which labels a
//! restored database has. Speaks only HTTP and the visitor WebSocket, like any client.
//!
//! ```text
//! kefu-restore-drill wait  <api>                         until /readyz answers 200 (60 s)
//! kefu-restore-drill seed  <api> <state.json>            sign up a workspace, remember it
//! kefu-restore-drill write <api> <state.json> <label>    a visitor message <label>, the agent's REST reply
//!                                                        <label>-reply, a canned response /<label>
//! kefu-restore-drill check <api> <state.json> --present a,b --absent c
//! ```
//! The api must run with the e2e keys of `kefu_tests::kefu` (visitor tokens are minted here).

use std::path::PathBuf;

use anyhow::{Context as _, bail, ensure};
use clap::{Parser, Subcommand};
use kefu_protocol::VisitorId;
use serde_json::{Value, json};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Waits until the api is ready.
    Wait { api: String },
    /// Signs up a workspace and saves its login and a visitor in the state file.
    Seed { api: String, state: PathBuf },
    /// Writes one labelled message pair and canned response.
    Write { api: String, state: PathBuf, label: String },
    /// Checks which labels exist (exit 1 when any expectation fails).
    Check {
        api: String,
        state: PathBuf,
        /// Labels that must exist (comma-separated).
        #[arg(long, value_delimiter = ',')]
        present: Vec<String>,
        /// Labels that must not exist (comma-separated).
        #[arg(long, value_delimiter = ',')]
        absent: Vec<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Wait { api } => {
            kefu_tests::wait_until_up(&format!("{api}/readyz"), std::time::Duration::from_secs(60), "kefu serve").await;
            Ok(())
        }
        Command::Seed { api, state } => seed(&api, &state).await,
        Command::Write { api, state, label } => write(&api, &state, &label).await,
        Command::Check { api, state, present, absent } => check(&api, &state, &present, &absent).await,
    }
}

async fn seed(api: &str, path: &PathBuf) -> anyhow::Result<()> {
    let email = format!("drill-{}@example.com", uuid::Uuid::new_v4().simple());
    let password = "a restore drill passphrase";
    let response = reqwest::Client::new()
        .post(format!("{api}/api/v1/auth/signup"))
        .json(&json!({ "company_name": "Restore Drill 恢复演练", "email": email, "password": password }))
        .send()
        .await?;
    ensure!(response.status() == 201, "signup: {}", response.text().await?);
    let body: Value = response.json().await?;
    let state = json!({
        "email": email, "password": password,
        "tenant_id": body["tenant"]["id"],
        "visitor": VisitorId::from_uuid(uuid::Uuid::now_v7()).to_string(),
    });
    std::fs::write(path, serde_json::to_vec_pretty(&state)?)?;
    println!("seeded workspace {}", state["tenant_id"]);
    Ok(())
}

fn load(path: &PathBuf) -> anyhow::Result<Value> {
    Ok(serde_json::from_slice(&std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)?)
}

async fn login(api: &str, state: &Value) -> anyhow::Result<String> {
    let response = reqwest::Client::new()
        .post(format!("{api}/api/v1/auth/login"))
        .json(&json!({ "email": state["email"], "password": state["password"] }))
        .send()
        .await?;
    ensure!(response.status() == 200, "login: {}", response.text().await?);
    let body: Value = response.json().await?;
    Ok(body["access_token"].as_str().context("access_token")?.to_owned())
}

async fn write(api: &str, path: &PathBuf, label: &str) -> anyhow::Result<()> {
    let mut state = load(path)?;
    let tenant = state["tenant_id"].as_str().context("tenant_id")?.to_owned();
    let visitor: VisitorId = state["visitor"].as_str().context("visitor")?.parse()?;
    let mut socket = kefu_tests::visitor_on(api, &tenant, visitor, 0).await;
    socket.send(json!({ "type": "send", "client_id": format!("drill-{label}"), "body": label })).await;
    let ack = socket.take_of("ack").await;
    let conversation = ack["conversation_id"].as_str().context("conversation_id")?.to_owned();
    state["conversation"] = json!(conversation);
    std::fs::write(path, serde_json::to_vec_pretty(&state)?)?;

    let access = login(api, &state).await?;
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{api}/api/v1/conversations/{conversation}/messages"))
        .bearer_auth(&access)
        .json(&json!({ "body": format!("{label}-reply") }))
        .send()
        .await?;
    ensure!(response.status() == 201, "reply: {}", response.text().await?);
    let response = http
        .post(format!("{api}/api/v1/canned-responses"))
        .bearer_auth(&access)
        .json(&json!({ "shortcut": label, "title": label, "body": format!("the canned response {label}") }))
        .send()
        .await?;
    ensure!(response.status() == 201, "canned response: {}", response.text().await?);
    println!("wrote {label}: message seq {}, its reply and a canned response", ack["seq"]);
    Ok(())
}

/// `GET url` with the member's token: the answer's JSON, or the refusal as an error.
async fn get_json(http: &reqwest::Client, url: &str, access: &str) -> anyhow::Result<Value> {
    Ok(http.get(url).bearer_auth(access).send().await?.error_for_status()?.json().await?)
}

async fn check(api: &str, path: &PathBuf, present: &[String], absent: &[String]) -> anyhow::Result<()> {
    let state = load(path)?;
    let access = login(api, &state).await?;
    let http = reqwest::Client::new();
    let conversation = state["conversation"].as_str().context("no conversation written yet")?;
    let page =
        get_json(&http, &format!("{api}/api/v1/conversations/{conversation}/messages?limit=200"), &access).await?;
    let bodies: Vec<&str> =
        page["messages"].as_array().context("messages")?.iter().filter_map(|m| m["body"].as_str()).collect();
    let canned = get_json(&http, &format!("{api}/api/v1/canned-responses"), &access).await?;
    let shortcuts: Vec<&str> =
        canned.as_array().context("canned responses")?.iter().filter_map(|c| c["shortcut"].as_str()).collect();
    let mut problems = Vec::new();
    for label in present.iter().filter(|l| !l.is_empty()) {
        let reply = format!("{label}-reply");
        if !bodies.contains(&label.as_str()) || !bodies.contains(&reply.as_str()) {
            problems.push(format!("the messages of {label} are missing"));
        }
        if !shortcuts.contains(&label.as_str()) {
            problems.push(format!("the canned response {label} is missing"));
        }
    }
    for label in absent.iter().filter(|l| !l.is_empty()) {
        if bodies.contains(&label.as_str()) || shortcuts.contains(&label.as_str()) {
            problems.push(format!("{label} survived, but was written after the recovery point"));
        }
    }
    println!("checked: {} messages ({}), canned responses ({})", bodies.len(), bodies.join(", "), shortcuts.join(", "));
    if !problems.is_empty() {
        bail!("{}", problems.join("; "));
    }
    Ok(())
}
