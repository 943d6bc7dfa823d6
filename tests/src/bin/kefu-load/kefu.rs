//! The Kefu side of the protocol the benchmarks need: a fresh tenant, visitor tokens minted as
//! the edge does, visitor and agent sessions, and following many conversations (one `join` per
//! conversation under the frame limit, or `join_many` where the server supports it).

use std::collections::HashSet;
use std::time::Duration;

use kefu_protocol::VisitorId;
use serde_json::{Value, json};

use crate::net::{Net, Pacer, Ws, next_text, send};

/// How long a setup step may wait for the server before the bench gives up on that connection.
pub const SETUP_WAIT: Duration = Duration::from_secs(30);

/// A tenant made for one benchmark run.
pub struct Tenant {
    pub id: String,
    pub agent_token: String,
    keys: kefu_protocol::token::TokenKeys,
}

/// `http://host:port` → `ws://host:port{path}`.
pub fn ws_url(node: &str, path: &str) -> String {
    format!("{}{path}", node.replacen("http://", "ws://", 1))
}

fn keys(visitor_keys: &str) -> kefu_protocol::token::TokenKeys {
    let (kid, secret) = visitor_keys
        .split(',')
        .next()
        .and_then(|k| k.split_once(':'))
        .expect("--signing-keys (KEFU_AUTH__SIGNING_KEYS) must be kid:secret");
    kefu_protocol::token::TokenKeys::new([(kid, secret.as_bytes())]).expect("visitor keys")
}

impl Tenant {
    /// Signs up a fresh tenant on `node`; its owner is the agent of every agent connection.
    pub async fn signup(node: &str, visitor_keys: &str) -> Self {
        let email = format!("load-{}@load.example", uuid::Uuid::new_v4().simple());
        let response = reqwest::Client::new()
            .post(format!("{node}/api/v1/auth/signup"))
            .json(&json!({ "company_name": "Load Test", "email": email, "password": "load test password 1" }))
            .send()
            .await
            .expect("signup request");
        let status = response.status();
        let body: Value = response.json().await.expect("signup response is JSON");
        assert!(status.is_success(), "signup failed: {status} {body}");
        Self {
            id: body["tenant"]["id"].as_str().expect("tenant id in signup response").to_owned(),
            agent_token: body["access_token"].as_str().expect("access token in signup response").to_owned(),
            keys: keys(visitor_keys),
        }
    }

    /// An existing tenant (idle-socket worker processes).
    pub fn existing(id: &str, visitor_keys: &str) -> Self {
        Self { id: id.to_owned(), agent_token: String::new(), keys: keys(visitor_keys) }
    }

    /// A visitor token for a new visitor, as the edge mints it.
    pub fn visitor_token(&self) -> String {
        let now = chrono::Utc::now().timestamp();
        self.keys
            .sign(&kefu_protocol::VisitorClaims {
                iss: kefu_protocol::ISSUER.into(),
                aud: kefu_protocol::VISITOR_AUDIENCE.into(),
                sub: VisitorId::from_uuid(uuid::Uuid::new_v4()),
                tid: self.id.parse().expect("tenant id"),
                region: "local".into(),
                ext_user: None,
                vip: None,
                country: None,
                iat: now,
                exp: now + 3 * 3600,
                jti: uuid::Uuid::new_v4().simple().to_string(),
            })
            .expect("sign a visitor token")
    }

    pub fn visitor_url(&self, node: &str, token: &str) -> String {
        ws_url(node, &format!("/ws/visitor?token={token}"))
    }

    pub fn agent_url(&self, node: &str) -> String {
        ws_url(node, &format!("/ws/agent?token={}", self.agent_token))
    }
}

/// Sends `hello` and waits for `welcome`.
pub async fn hello(ws: &mut Ws) -> Result<(), String> {
    send(ws, r#"{"type":"hello","protocol":1}"#).await?;
    loop {
        let text = next_text(ws, SETUP_WAIT).await?;
        if text.contains("\"welcome\"") {
            return Ok(());
        }
        if text.contains("\"error\"") {
            return Err(format!("hello refused: {text}"));
        }
    }
}

/// Opens a visitor session (connect, hello, welcome).
pub async fn open_visitor(net: &Net, tenant: &Tenant, node: &str) -> Result<Ws, String> {
    let mut ws = net.connect(&tenant.visitor_url(node, &tenant.visitor_token())).await.map_err(|e| e.to_string())?;
    hello(&mut ws).await?;
    Ok(ws)
}

/// Opens an agent session (connect, hello, welcome).
pub async fn open_agent(net: &Net, tenant: &Tenant, node: &str) -> Result<Ws, String> {
    let mut ws = net.connect(&tenant.agent_url(node)).await.map_err(|e| e.to_string())?;
    hello(&mut ws).await?;
    Ok(ws)
}

/// A visitor message, waiting for its ack; returns `(conversation_id, seq)`.
pub async fn send_and_ack(ws: &mut Ws, body: &str) -> Result<(String, u64), String> {
    let client_id = format!("setup-{}", uuid::Uuid::new_v4().simple());
    send(ws, json!({ "type": "send", "client_id": client_id, "body": body }).to_string()).await?;
    loop {
        let text = next_text(ws, SETUP_WAIT).await?;
        if !text.contains(&client_id) {
            continue;
        }
        let frame: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        match frame["type"].as_str() {
            Some("ack") => {
                let conversation = frame["conversation_id"].as_str().ok_or("ack without conversation_id")?;
                return Ok((conversation.to_owned(), frame["seq"].as_u64().unwrap_or(0)));
            }
            Some("error") => return Err(format!("send refused: {text}")),
            _ => {}
        }
    }
}

/// How an agent follows many conversations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinStrategy {
    /// One `join` frame per conversation, paced under the frame limit, with a `ping` after each
    /// burst: the `pong` (frames are handled in order) says the burst was processed.
    Single,
    /// `join_many` frames of up to `batch` entries, each entry answered by `joined` or `error`.
    Bulk { batch: usize },
}

impl JoinStrategy {
    pub fn name(&self) -> String {
        match self {
            Self::Single => "join × M (paced)".into(),
            Self::Bulk { batch } => format!("join_many (≤ {batch} per frame)"),
        }
    }
}

/// What following took.
#[derive(Default, Debug)]
pub struct JoinOutcome {
    /// Frames sent (joins, pings, join_many).
    pub frames: u64,
    /// `rate_limited` errors received (each forced a resend).
    pub rate_limited: u64,
    /// Entries refused with an error naming the conversation.
    pub refused: u64,
}

/// Whether the server takes `join_many`: sends one for `first` and reads the answer. The
/// current server answers an unknown type with `error` `unknown_type`.
pub async fn supports_join_many(ws: &mut Ws, first: (&str, u64)) -> Result<bool, String> {
    let frame = json!({ "type": "join_many", "conversations": [{ "conversation_id": first.0, "last_seq": first.1 }] });
    send(ws, frame.to_string()).await?;
    loop {
        let text = next_text(ws, SETUP_WAIT).await?;
        let frame: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        match frame["type"].as_str() {
            Some("joined") => return Ok(true),
            Some("error") if frame["conversation_id"].is_string() => return Ok(true),
            Some("error") => return Ok(false),
            _ => {}
        }
    }
}

/// Follows every `(conversation_id, last_seq)`. Frames that are not answers to the joins
/// (replayed messages) go to `other`.
pub async fn join_all(
    ws: &mut Ws,
    entries: &[(String, u64)],
    strategy: JoinStrategy,
    pacer: &mut Pacer,
    burst: u32,
    other: &mut dyn FnMut(&str, &Value),
) -> Result<JoinOutcome, String> {
    let mut outcome = JoinOutcome::default();
    match strategy {
        JoinStrategy::Single => {
            // A burst of joins plus one ping fits the server's burst allowance.
            let chunk_size = usize::try_from(burst.saturating_sub(1).max(1)).unwrap_or(1);
            for chunk in entries.chunks(chunk_size) {
                loop {
                    for (conversation, last_seq) in chunk {
                        pacer.wait().await;
                        let frame = json!({ "type": "join", "conversation_id": conversation, "last_seq": last_seq });
                        send(ws, frame.to_string()).await?;
                    }
                    pacer.wait().await;
                    send(ws, r#"{"type":"ping"}"#).await?;
                    outcome.frames += chunk.len() as u64 + 1;
                    let limited = read_until_pong(ws, &mut outcome, other).await?;
                    if limited == 0 {
                        break;
                    }
                    // Which joins were refused is unknowable (the error names none): resend the
                    // burst after a pause (joining twice is harmless).
                    outcome.rate_limited += limited;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        JoinStrategy::Bulk { batch } => {
            let mut pending: HashSet<&str> = entries.iter().map(|(c, _)| c.as_str()).collect();
            let mut round: Vec<&(String, u64)> = entries.iter().collect();
            while !pending.is_empty() {
                for chunk in round.chunks(batch.clamp(1, 200)) {
                    let list: Vec<Value> =
                        chunk.iter().map(|(c, s)| json!({ "conversation_id": c, "last_seq": s })).collect();
                    pacer.wait().await;
                    send(ws, json!({ "type": "join_many", "conversations": list }).to_string()).await?;
                    outcome.frames += 1;
                }
                // Read answers until all are in, or nothing comes for 2 s after a refusal.
                let mut limited = 0;
                while !pending.is_empty() {
                    let wait = if limited > 0 { Duration::from_secs(2) } else { SETUP_WAIT };
                    let text = match next_text(ws, wait).await {
                        Ok(text) => text,
                        Err(_) if limited > 0 => break,
                        Err(e) => return Err(format!("{} joins unanswered: {e}", pending.len())),
                    };
                    let frame: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
                    match (frame["type"].as_str(), frame["conversation_id"].as_str()) {
                        (Some("joined"), Some(c)) => {
                            pending.remove(c);
                        }
                        (Some("error"), Some(c)) => {
                            if pending.remove(c) {
                                outcome.refused += 1;
                            }
                        }
                        (Some("error"), None) if frame["code"] == "rate_limited" => limited += 1,
                        _ => other(&text, &frame),
                    }
                }
                outcome.rate_limited += limited;
                round = entries.iter().filter(|(c, _)| pending.contains(c.as_str())).collect();
            }
        }
    }
    Ok(outcome)
}

/// Reads until `pong`; returns the `rate_limited` errors seen. If the ping itself was refused
/// no pong comes: after a refusal, 2 s of silence ends the wait too.
async fn read_until_pong(
    ws: &mut Ws,
    outcome: &mut JoinOutcome,
    other: &mut dyn FnMut(&str, &Value),
) -> Result<u64, String> {
    let mut limited = 0;
    loop {
        let wait = if limited > 0 { Duration::from_secs(2) } else { SETUP_WAIT };
        let text = match next_text(ws, wait).await {
            Ok(text) => text,
            Err(_) if limited > 0 => return Ok(limited),
            Err(e) => return Err(e),
        };
        if text.contains("\"pong\"") {
            return Ok(limited);
        }
        let frame: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        match frame["type"].as_str() {
            Some("error") if frame["code"] == "rate_limited" => limited += 1,
            Some("error") if frame["conversation_id"].is_string() => outcome.refused += 1,
            Some("joined") => {}
            _ => other(&text, &frame),
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{SinkExt, StreamExt};
    use serde_json::{Value, json};
    use tokio_tungstenite::tungstenite::Message;

    use super::*;

    /// A one-connection WebSocket server answering each frame with `answer(frame, index)`.
    async fn mock(answer: fn(&Value, usize) -> Vec<Value>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let mut ws = tokio_tungstenite::accept_async(stream).await.expect("handshake");
            let mut index = 0;
            while let Some(Ok(Message::Text(text))) = ws.next().await {
                let frame: Value = serde_json::from_str(text.as_str()).expect("json");
                for out in answer(&frame, index) {
                    ws.send(Message::text(out.to_string())).await.expect("send");
                }
                index += 1;
            }
        });
        format!("ws://{addr}/ws/agent")
    }

    /// The bulk protocol as specified: each entry answered in order, after its replay; an
    /// unknown conversation gets an error naming it; the second frame is refused once.
    fn bulk_server(frame: &Value, index: usize) -> Vec<Value> {
        match frame["type"].as_str() {
            Some("join_many") if index == 2 => {
                vec![json!({ "type": "error", "code": "rate_limited", "retryable": true })]
            }
            Some("join_many") => frame["conversations"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|e| {
                    let c = e["conversation_id"].as_str().unwrap_or_default();
                    let seq = e["last_seq"].as_u64().unwrap_or(0);
                    if c.starts_with("conv_missing") {
                        vec![json!({ "type": "error", "code": "conversation_not_found", "conversation_id": c })]
                    } else {
                        vec![
                            json!({ "type": "message", "conversation_id": c, "seq": seq + 1 }),
                            json!({ "type": "joined", "conversation_id": c, "last_seq": seq + 1 }),
                        ]
                    }
                })
                .collect(),
            Some("ping") => vec![json!({ "type": "pong" })],
            _ => vec![],
        }
    }

    /// Today's server: no `join_many`, joins unanswered, the frame limit hit once.
    fn old_server(frame: &Value, index: usize) -> Vec<Value> {
        match frame["type"].as_str() {
            Some("join_many") => vec![json!({ "type": "error", "code": "unknown_type", "retryable": false })],
            Some("join") if index == 3 => vec![json!({ "type": "error", "code": "rate_limited", "retryable": true })],
            Some("join") => vec![json!({ "type": "message", "conversation_id": frame["conversation_id"], "seq": 2 })],
            Some("ping") => vec![json!({ "type": "pong" })],
            _ => vec![],
        }
    }

    fn entries(n: usize) -> Vec<(String, u64)> {
        (0..n).map(|i| (format!("conv_{i}"), 1)).collect()
    }

    #[tokio::test]
    async fn join_many_is_detected_and_every_entry_answered() {
        let net = Net::new(0, 0);
        let mut ws = net.connect(&mock(bulk_server).await).await.expect("connect");
        assert!(supports_join_many(&mut ws, ("conv_0", 1)).await.expect("probe"));
        let mut list = entries(450);
        list.push(("conv_missing".into(), 0));
        let mut replayed = 0;
        let mut pacer = Pacer::new(0.0, 1);
        let outcome = join_all(&mut ws, &list, JoinStrategy::Bulk { batch: 200 }, &mut pacer, 20, &mut |_, f| {
            replayed += usize::from(f["type"] == "message");
        })
        .await
        .expect("join");
        // Frames 1–3 after the probe; the second (index 2) was refused and sent again.
        assert_eq!(outcome.rate_limited, 1);
        assert_eq!(outcome.refused, 1);
        assert_eq!(outcome.frames, 4);
        assert!(replayed >= 450);
    }

    #[tokio::test]
    async fn single_joins_detect_an_old_server_and_resend_a_refused_burst() {
        let net = Net::new(0, 0);
        let mut ws = net.connect(&mock(old_server).await).await.expect("connect");
        assert!(!supports_join_many(&mut ws, ("conv_0", 1)).await.expect("probe"));
        let mut pacer = Pacer::new(0.0, 1);
        let outcome =
            join_all(&mut ws, &entries(30), JoinStrategy::Single, &mut pacer, 20, &mut |_, _| {}).await.expect("join");
        assert_eq!(outcome.rate_limited, 1);
        // 19 joins + ping, resent once, then 11 joins + ping.
        assert_eq!(outcome.frames, 20 + 20 + 12);
    }
}
