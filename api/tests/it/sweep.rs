//! The black-box authorization sweep (issue 17, docs/security.md "The authorization sweep"):
//! every operation of the running api's own OpenAPI document, filled with tenant A's real ids,
//! is called by tenant B's owner, tenant B's admin API key, tenant B's visitor and a set of forged
//! tokens. Another tenant's credentials must be refused (or, in their own namespace, see only
//! their own data); forged tokens must be `401` on every operation and at the socket upgrades. No
//! answer to an attacker may contain any of A's ids, secrets or marker words, and A's data is
//! unchanged afterwards.
//!
//! A new endpoint is swept without touching this file when it declares the `bearer` security
//! scheme; one that does not must be on [`PUBLIC`] (with its reason) or in [`VISITOR_TOKEN`] or
//! [`EDGE_SECRET`], or the sweep fails. A new path parameter needs an A id ([`Seed::id_for`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt;
use kefu_api::testing::{EDGE_PROOF, Session, TestApp, WsClient, unique};
use kefu_protocol::VisitorId;
use kefu_protocol::token::TokenKeys;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

/// Operations without a bearer token, and why the sweep does not call them.
const PUBLIC: &[(&str, &str, &str)] = &[
    ("POST", "/api/v1/auth/signup", "creates a new tenant; there is no existing one to reach"),
    ("POST", "/api/v1/auth/login", "authenticated by email and password"),
    ("GET", "/api/v1/auth/regions", "the deployment's regions for the signup page: nothing of any tenant"),
    ("POST", "/api/v1/auth/two-factor/setup", "authenticated by email and password, like login"),
    ("POST", "/api/v1/auth/logout", "takes a refresh token (body or cookie), not a bearer"),
    ("POST", "/api/v1/auth/refresh", "takes a refresh token (body or cookie), not a bearer"),
    ("POST", "/api/v1/auth/password-reset", "a request by email, answered alike whether or not the account exists"),
    ("POST", "/api/v1/auth/password-reset/confirm", "authorized by the mailed one-time token"),
    ("POST", "/api/v1/auth/verify-email", "authorized by the mailed one-time token"),
    ("POST", "/api/v1/invitations/accept", "authorized by the mailed invitation token"),
    ("GET", "/api/v1/invitations/lookup", "authorized by the mailed invitation token"),
    ("GET", "/api/v1/export/download", "authorized by a signed ten-minute download link"),
    ("POST", "/api/v1/stripe/webhook", "authorized by Stripe's signature"),
];

/// Operations authenticated by a visitor token (swept with visitor-shaped forgeries).
const VISITOR_TOKEN: &[(&str, &str)] =
    &[("POST", "/api/v1/visitor/attachments"), ("GET", "/api/v1/visitor/attachments/{id}")];

/// Operations for the edge's shared secret (every attacker must get `401 unauthenticated`).
const EDGE_SECRET: &[(&str, &str)] = &[("GET", "/internal/edge/v1/sites/{site_key}")];

/// A 1×1 PNG, an attachment every plan accepts.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\nIDATx\x9cc\0\x01\0\0\x05\0\x01\r\n-\xb4\0\0\0\0IEND\xaeB`\x82";

/// How an operation authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Member,
    Visitor,
    Edge,
}

/// One operation of the OpenAPI document.
#[derive(Debug, Clone)]
struct Operation {
    method: String,
    template: String,
    kind: Kind,
    /// The request body's content type, if it has one.
    content_type: Option<String>,
    /// Query parameters: name, required, the schema's enum (if any).
    query: Vec<(String, bool, Vec<String>)>,
}

impl Operation {
    fn label(&self) -> String {
        format!("{} {}", self.method, self.template)
    }

    fn has_path_ids(&self) -> bool {
        self.template.contains('{')
    }
}

/// Tenant A's seeded data.
struct Seed {
    owner: Session,
    agent: Session,
    marker: String,
    conversation: String,
    visitor: String,
    attachment: String,
    key_id: String,
    key_secret: String,
    team: String,
    canned: String,
    invitation: String,
    invitation_email: String,
    kb_entry: String,
    export_job: String,
    site_key: String,
    webhook_endpoint: String,
    webhook_secret: String,
    webhook_delivery: String,
    visitor_token: String,
    last_seq: i64,
}

impl Seed {
    /// A's id for a path parameter of `template`.
    fn id_for(&self, template: &str, param: &str) -> Option<&str> {
        let id = match param {
            "conversation_id" => &self.conversation,
            "canned_id" => &self.canned,
            "user_id" => &self.agent.user_id,
            "team_id" => &self.team,
            "visitor_id" => &self.visitor,
            "site_key" => &self.site_key,
            "endpoint_id" => &self.webhook_endpoint,
            "delivery_id" => &self.webhook_delivery,
            "id" => {
                let before = template.split(&format!("/{{{param}}}")).next().unwrap_or_default();
                match before.rsplit('/').next().unwrap_or_default() {
                    "api-keys" => &self.key_id,
                    "attachments" => &self.attachment,
                    "conversations" => &self.conversation,
                    "jobs" => &self.export_job,
                    "invitations" => &self.invitation,
                    "entries" => &self.kb_entry,
                    _ => return None,
                }
            }
            _ => return None,
        };
        Some(id)
    }

    /// A's id for an id-like query parameter (so a filter by A's ids is tried too).
    fn query_id(&self, name: &str) -> Option<&str> {
        Some(match name {
            "conversation" | "target" => &self.conversation,
            "visitor" => &self.visitor,
            "agent" | "assignee" => &self.agent.user_id,
            "actor" => &self.owner.user_id,
            "team" => &self.team,
            _ => return None,
        })
    }

    /// Everything of A that must never reach an attacker: ids (also as bare hex, as in schema
    /// names), secrets, addresses, the slug and the marker word. Without `ids`, only the tenant's
    /// id of A's ids: for the probes, after which B's own records (its audit log, the filters of
    /// its exports) rightly hold the ids B sent.
    fn secrets(&self, ids: bool) -> Vec<String> {
        let all = [
            &self.owner.tenant_id,
            &self.owner.user_id,
            &self.agent.user_id,
            &self.conversation,
            &self.visitor,
            &self.attachment,
            &self.key_id,
            &self.team,
            &self.canned,
            &self.invitation,
            &self.kb_entry,
            &self.export_job,
            &self.site_key,
            &self.webhook_endpoint,
            &self.webhook_delivery,
        ];
        let ids = if ids { &all[..] } else { &all[..1] };
        let mut secrets: Vec<String> = ids.iter().map(|id| (*id).clone()).collect();
        secrets.extend(ids.iter().filter_map(|id| id.split_once('_').map(|(_, hex)| hex.to_owned())));
        secrets.extend([
            self.key_secret.clone(),
            self.webhook_secret.clone(),
            self.owner.email.clone(),
            self.agent.email.clone(),
            self.invitation_email.clone(),
            self.owner.slug.clone(),
            self.owner.refresh.clone(),
            self.marker.clone(),
        ]);
        secrets
    }

    /// A JSON body that is valid where that is cheap, so that a handler missing its tenant check
    /// would act; `{}` otherwise. The same for every attacker: B's owner and B's key creating
    /// the same name at once is a race worth running too. Ids in bodies are A's; the attacker's own namespace gets A's
    /// ids only in a `probe`.
    fn json_body(&self, method: &str, template: &str, probe: bool) -> Value {
        let agent = self.agent.user_id.as_str();
        let probed = |id: &str| if probe { json!(id) } else { Value::Null };
        match (method, template) {
            ("PUT", "/api/v1/analytics/reports") => {
                json!({ "daily": if probe { vec![agent] } else { vec![] }, "weekly": [] })
            }
            ("POST", "/api/v1/api-keys") => json!({ "name": "sweep" }),
            ("PUT", "/api/v1/bot") => json!({ "enabled": false, "threshold": 0.7, "matcher": "lexical" }),
            ("POST", "/api/v1/bot/test") => json!({ "question": "where is my order" }),
            ("POST", "/api/v1/canned-responses") => {
                json!({ "shortcut": "sweep", "title": "sweep", "body": "sweep" })
            }
            ("PATCH", "/api/v1/canned-responses/{canned_id}") => json!({ "title": "taken over" }),
            ("POST", "/api/v1/conversations/{conversation_id}/messages") => json!({ "body": "taken over" }),
            ("POST", "/api/v1/conversations/{conversation_id}/participants") => json!({ "user_id": agent }),
            ("PUT", "/api/v1/conversations/{conversation_id}/priority") => json!({ "priority": 99 }),
            ("POST", "/api/v1/conversations/{conversation_id}/read") => json!({ "seq": self.last_seq }),
            ("PUT", "/api/v1/conversations/{conversation_id}/skills") => json!({ "skills": ["sweep"] }),
            ("PUT", "/api/v1/conversations/{conversation_id}/tags") => json!({ "tags": ["taken-over"] }),
            ("POST", "/api/v1/conversations/{conversation_id}/transfer") => json!({ "to": agent }),
            ("POST", "/api/v1/export/jobs") => json!({ "filters": { "conversation": probed(&self.conversation) } }),
            ("POST", "/api/v1/invitations") => json!({ "email": "sweep-invitee@example.com" }),
            ("POST", "/api/v1/kb/entries") | ("PUT", "/api/v1/kb/entries/{id}") => {
                json!({ "language": "en", "question": "sweep?", "answer": "sweep" })
            }
            ("PUT", "/api/v1/me/language") => json!({ "language": "en" }),
            ("PATCH", "/api/v1/members/{user_id}") => json!({ "role": "admin" }),
            ("PATCH", "/api/v1/members/{user_id}/profile") => json!({ "display_name": "taken over" }),
            ("PUT", "/api/v1/retention") => json!({ "days": 365 }),
            ("POST", "/api/v1/billing/subscribe") => json!({ "plan": "pro" }),
            ("PUT", "/api/v1/routing") => {
                json!({ "auto_assign": false, "strategy": "least_busy", "default_team_id": probed(&self.team) })
            }
            ("PUT", "/api/v1/rules") => json!({ "rules": [] }),
            ("POST", "/api/v1/site-keys") => json!({ "label": "sweep" }),
            ("POST", "/api/v1/teams") => json!({ "name": "sweep team" }),
            ("PATCH", "/api/v1/teams/{team_id}") => json!({ "name": "taken over" }),
            ("PUT", "/api/v1/teams/{team_id}/members") => json!({ "user_ids": [agent] }),
            // The attacker's own tenant must survive the sweep: neither its slug nor its password.
            ("DELETE", "/api/v1/tenant") => json!({ "confirm_slug": "not-this-slug", "password": "not the password" }),
            ("PATCH", "/api/v1/tenant") => json!({ "name": "sweep" }),
            _ => json!({}),
        }
    }
}

/// Who calls, and with what: a credential for member (and edge) operations and one for visitor
/// operations (empty: no `Authorization`).
struct Attacker {
    name: &'static str,
    /// Another tenant's real credentials (judged by tenancy), or a forgery (must be `401`).
    other_tenant: bool,
    member: String,
    visitor: String,
}

impl Attacker {
    fn credential(&self, kind: Kind) -> &str {
        match kind {
            Kind::Visitor => &self.visitor,
            Kind::Member | Kind::Edge => &self.member,
        }
    }
}

/// A JWT signed with HS256 under `kid` with `secret`.
fn hs256(kid: &str, claims: &Value, secret: &[u8]) -> String {
    TokenKeys::new([(kid, secret)]).expect("a key").sign(claims).expect("sign")
}

/// The claims of a JWT (unverified).
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has claims");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64 claims")).expect("JSON claims")
}

/// The forgeries, each in a member-token and a visitor-token shape.
fn forgeries(app: &TestApp, seed: &Seed, b: &Session, b_visitor: &str) -> Vec<Attacker> {
    let config = &app.state.config;
    let member_key = config.signing_keys().expect("member keys").into_iter().next().expect("a member key");
    let visitor_key = config.visitor_keys().expect("visitor keys").into_iter().next().expect("a visitor key");
    let member_claims = claims_of(&seed.owner.access);
    let visitor_claims = claims_of(&seed.visitor_token);
    let alg_none = |kid: &str, claims: &Value| {
        let header = json!({ "alg": "none", "typ": "JWT", "kid": kid });
        format!("{}.{}.", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()))
    };
    let wrong_secret = b"a-guessed-secret-that-is-not-any-of-the-keys";
    let expired = |claims: &Value| {
        let mut claims = claims.clone();
        let now = chrono::Utc::now().timestamp();
        claims["iat"] = json!(now - 7200);
        claims["exp"] = json!(now - 3600);
        claims
    };
    let sign_with = |key: &kefu_api::config::SigningKey, claims: &Value| {
        hs256(&key.kid, claims, key.secret.expose_secret().as_bytes())
    };
    // B's genuine token with A's tenant and user written in: the signature no longer holds.
    let tampered = |token: &str, changes: &[(&str, &str)]| {
        let mut parts = token.split('.');
        let (header, _, signature) = (parts.next(), parts.next(), parts.next());
        let mut claims = claims_of(token);
        for (field, value) in changes {
            claims[*field] = json!(value);
        }
        format!(
            "{}.{}.{}",
            header.unwrap_or_default(),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            signature.unwrap_or_default()
        )
    };
    let forged = |name, member: String, visitor: String| Attacker { name, other_tenant: false, member, visitor };
    vec![
        forged("alg none", alg_none(&member_key.kid, &member_claims), alg_none(&visitor_key.kid, &visitor_claims)),
        forged(
            "HS256 with a wrong key",
            hs256(&member_key.kid, &member_claims, wrong_secret),
            hs256(&visitor_key.kid, &visitor_claims, wrong_secret),
        ),
        forged(
            "unknown kid",
            hs256("sweep-unknown-kid", &member_claims, wrong_secret),
            hs256("sweep-unknown-kid", &visitor_claims, wrong_secret),
        ),
        forged(
            "expired (real key)",
            sign_with(&member_key, &expired(&member_claims)),
            sign_with(&visitor_key, &expired(&visitor_claims)),
        ),
        forged(
            "A's tenant, signed with the other key set",
            sign_with(&visitor_key, &member_claims),
            sign_with(&member_key, &visitor_claims),
        ),
        forged(
            "B's token rewritten to A's tenant",
            tampered(&b.access, &[("tid", seed.owner.tenant_id.as_str()), ("sub", seed.owner.user_id.as_str())]),
            tampered(b_visitor, &[("tid", seed.owner.tenant_id.as_str()), ("sub", seed.visitor.as_str())]),
        ),
        // A's own visitor token as an agent's bearer, and A's agent token as a visitor's.
        forged("the other audience", seed.visitor_token.clone(), seed.owner.access.clone()),
        forged("A's refresh token as an access token", seed.owner.refresh.clone(), seed.owner.refresh.clone()),
        forged("garbage bearer", "garbage.not-a.jwt".into(), "garbage.not-a.jwt".into()),
        forged("unknown API key", format!("kefu_sk_{}", "A".repeat(43)), format!("kefu_sk_{}", "A".repeat(43))),
        forged("no Authorization", String::new(), String::new()),
    ]
}

/// The operations of the running api's OpenAPI document.
async fn operations(app: &TestApp) -> Vec<Operation> {
    let (status, doc) = app.get("/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK, "the OpenAPI document");
    let mut operations = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let method = method.to_uppercase();
            let bearer =
                op["security"].as_array().is_some_and(|schemes| schemes.iter().any(|s| s.get("bearer").is_some()));
            let listed = |list: &[(&str, &str)]| list.iter().any(|(m, p)| *m == method && p == template);
            let kind = if bearer {
                Kind::Member
            } else if listed(VISITOR_TOKEN) {
                Kind::Visitor
            } else if listed(EDGE_SECRET) {
                Kind::Edge
            } else {
                assert!(
                    PUBLIC.iter().any(|(m, p, _)| *m == method && p == template),
                    "{method} {template} declares no bearer security and is on no list in sweep.rs: \
                     declare `security((\"bearer\" = []))` or add it to PUBLIC with its reason"
                );
                continue;
            };
            assert!(
                !PUBLIC.iter().any(|(m, p, _)| *m == method && p == template),
                "{method} {template} is swept but also on PUBLIC"
            );
            let content_type = op["requestBody"]["content"].as_object().and_then(|c| c.keys().next().cloned());
            let query = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .map(|p| {
                    let values = p["schema"]["enum"].as_array().into_iter().flatten();
                    (
                        p["name"].as_str().unwrap_or_default().to_owned(),
                        p["required"].as_bool().unwrap_or(false),
                        values.filter_map(|v| v.as_str().map(str::to_owned)).collect(),
                    )
                })
                .collect();
            operations.push(Operation { method, template: template.clone(), kind, content_type, query });
        }
    }
    // Every listed operation must still exist (a stale list would hide nothing, but lie).
    let exists = |m: &str, p: &str| doc["paths"][p].get(m.to_lowercase()).is_some();
    for (m, p, _) in PUBLIC {
        assert!(exists(m, p), "PUBLIC lists {m} {p}, which the api no longer has");
    }
    for (m, p) in VISITOR_TOKEN.iter().chain(EDGE_SECRET) {
        assert!(exists(m, p), "sweep.rs lists {m} {p}, which the api no longer has");
    }
    operations
}

/// How an operation is called: its path and query, filled with A's ids, and its JSON body.
#[derive(Clone, PartialEq)]
struct Call {
    path: String,
    json: Value,
}

/// The call of an operation; id filters in the query are A's ids only in a `probe`.
fn call_for(op: &Operation, seed: &Seed, probe: bool) -> Result<Call, String> {
    let mut path = String::new();
    let mut rest = op.template.as_str();
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').map(|e| start + e).ok_or_else(|| format!("{}: bad template", op.label()))?;
        let param = &rest[start + 1..end];
        let id = seed
            .id_for(&op.template, param)
            .ok_or_else(|| format!("{}: no A id for `{param}`; seed one in sweep.rs (Seed::id_for)", op.label()))?;
        path.push_str(&rest[..start]);
        path.push_str(id);
        rest = &rest[end + 1..];
    }
    path.push_str(rest);
    let mut query = Vec::new();
    for (name, required, values) in &op.query {
        let value = match (seed.query_id(name).filter(|_| probe), name.as_str()) {
            (Some(id), _) => id.to_owned(),
            (None, "table") => "agents".into(),
            (None, "format") if values.iter().any(|v| v == "json") => "json".into(),
            (None, _) if !values.is_empty() => values[0].clone(),
            (None, _) if *required => "x".into(),
            (None, _) => continue,
        };
        query.push(format!("{name}={value}"));
    }
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    Ok(Call { path, json: seed.json_body(&op.method, &op.template, probe) })
}

/// The answer to one request.
struct Answer {
    status: StatusCode,
    body: String,
}

/// Sends a call; returns the answer and what was sent (path, query and body).
async fn send(app: &TestApp, op: &Operation, call: &Call, credential: &str) -> (Answer, String) {
    let method = reqwest::Method::from_bytes(op.method.as_bytes()).expect("method");
    let mut request = app.http.request(method, app.url(&call.path));
    if !credential.is_empty() {
        request = request.bearer_auth(credential);
    }
    let mut sent = call.path.clone();
    match op.content_type.as_deref() {
        Some("application/json") => {
            sent.push_str(&call.json.to_string());
            request = request.json(&call.json);
        }
        Some("application/octet-stream") => {
            request = request.header("content-type", "application/octet-stream").body(PNG.to_vec());
        }
        Some(other) => request = request.header("content-type", other).body("[]"),
        None => {}
    }
    let response = request.send().await.expect("the api answers");
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    (Answer { status, body }, sent)
}

/// What is wrong with an answer, if anything.
fn judge(op: &Operation, attacker: &Attacker, answer: &Answer, sent: &str, secrets: &[String]) -> Option<String> {
    let problem: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    let code = problem["code"].as_str().unwrap_or_default();
    let status = answer.status.as_u16();
    if op.kind == Kind::Edge {
        if status != 401 || code != "unauthenticated" {
            return Some(format!("expected 401 unauthenticated, got {status} {code}"));
        }
    } else if attacker.other_tenant {
        // Erasure is idempotent by design (docs/api.md "Visitors"): an id the tenant never had
        // answers `erased: false`, exactly as for an id nobody ever had.
        let not_erased = op.method == "DELETE"
            && op.template == "/api/v1/visitors/{visitor_id}"
            && status == 200
            && problem["erased"] == false;
        if op.has_path_ids() && ![401, 403, 404].contains(&status) && !not_erased {
            return Some(format!("A's resource answered {status} {code}"));
        }
        // Billing answers 503 in the attacker's own namespace on a node that sells no plans
        // (this test runs without Stripe), as documented.
        let unsold = status == 503 && code == "service_unavailable" && op.template.starts_with("/api/v1/billing/");
        if status >= 500 && !unsold {
            return Some(format!("a server error {status} {code}"));
        }
    } else {
        let wanted = if attacker.credential(op.kind).is_empty() { "unauthenticated" } else { "invalid_token" };
        let kind = format!("urn:kefu:error:{wanted}");
        if status != 401 || code != wanted || problem["type"] != kind.as_str() {
            return Some(format!("expected 401 {wanted}, got {status} {code} {}", problem["type"]));
        }
    }
    let leaked: Vec<&String> =
        secrets.iter().filter(|s| answer.body.contains(s.as_str()) && !sent.contains(s.as_str())).collect();
    if !leaked.is_empty() {
        let context: Vec<String> = leaked
            .iter()
            .filter_map(|secret| {
                let at = answer.body.find(secret.as_str())?;
                let from = answer.body.floor_char_boundary(at.saturating_sub(160));
                let to = answer.body.ceil_char_boundary(at + secret.len() + 60);
                Some(answer.body[from..to].to_owned())
            })
            .collect();
        return Some(format!("leaked {leaked:?} ({status}) in: {context:#?}"));
    }
    None
}

/// Seeds tenant A: a conversation with messages and an attachment, a visitor with a profile, an
/// agent, a team, a pending invitation, an API key, a canned response, a knowledge-base entry,
/// a site key and an export job, all named with A's marker word.
async fn seed(app: &TestApp) -> Seed {
    let owner = app.verified_owner().await;
    app.own_plan(&owner, "").await;
    let marker = unique("zqsweep");
    let (status, _) =
        app.call("PATCH", "/api/v1/tenant", Some(&owner.access), Some(json!({ "name": format!("{marker} Co") }))).await;
    assert_eq!(status, StatusCode::OK, "rename A");
    let agent = app.invite_and_accept(&owner, "agent").await;
    let profile = format!("/api/v1/members/{}/profile", agent.user_id);
    let (status, _) = app
        .call("PATCH", &profile, Some(&owner.access), Some(json!({ "display_name": format!("{marker} agent") })))
        .await;
    assert_eq!(status, StatusCode::OK, "name A's agent");
    let created = |what: &'static str, (status, body): (StatusCode, Value), field: &'static str| {
        assert!(status.is_success(), "seeding {what}: {status} {body}");
        body[field].as_str().unwrap_or_else(|| panic!("seeding {what}: no `{field}` in {body}")).to_owned()
    };
    let invitation_email = format!("{marker}-invitee@example.com");
    let invitation = created(
        "an invitation",
        app.post("/api/v1/invitations", Some(&owner.access), json!({ "email": invitation_email })).await,
        "id",
    );
    let key = app
        .post("/api/v1/api-keys", Some(&owner.access), json!({ "name": format!("{marker} key"), "role": "admin" }))
        .await;
    let key_secret = created("an API key", key.clone(), "secret");
    let key_id = created("an API key", key, "id");
    let team = created(
        "a team",
        app.post("/api/v1/teams", Some(&owner.access), json!({ "name": format!("{marker} team") })).await,
        "id",
    );
    let (status, _) = app
        .call(
            "PUT",
            &format!("/api/v1/teams/{team}/members"),
            Some(&owner.access),
            Some(json!({ "user_ids": [agent.user_id] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "A's team members");
    let canned = created(
        "a canned response",
        app.post(
            "/api/v1/canned-responses",
            Some(&owner.access),
            json!({ "shortcut": marker, "title": format!("{marker} title"), "body": format!("{marker} canned body") }),
        )
        .await,
        "id",
    );
    let kb_entry = created(
        "a knowledge-base entry",
        app.post(
            "/api/v1/kb/entries",
            Some(&owner.access),
            json!({ "language": "en", "question": format!("{marker} question?"), "answer": format!("{marker} answer") }),
        )
        .await,
        "id",
    );
    let site_key = created(
        "a site key",
        app.post("/api/v1/site-keys", Some(&owner.access), json!({ "label": format!("{marker} site") })).await,
        "site_key",
    );

    // A visitor with a profile writes; the owner answers with a file.
    let visitor_id = VisitorId::from_uuid(uuid::Uuid::now_v7());
    let visitor_token = app.visitor_token(&owner.tenant_id, visitor_id, 600);
    let (mut visitor, _) = app.visitor_with_token(&visitor_token, None).await;
    visitor.send(json!({ "type": "send", "client_id": "sweep-1", "body": format!("{marker} my order 4711") })).await;
    let conversation = visitor.next_of("ack").await["conversation_id"].as_str().expect("a conversation").to_owned();
    visitor
        .send(json!({ "type": "profile", "name": format!("{marker} visitor"), "email": format!("{marker}@visitor.example") }))
        .await;
    let (status, upload) =
        app.upload("/api/v1/attachments", &owner.access, &format!("{marker}.png"), PNG.to_vec()).await;
    let attachment = created("an attachment", (status, upload), "id");
    let reply = json!({ "body": format!("{marker} reply"), "attachment_id": attachment });
    let sent = app.post(&format!("/api/v1/conversations/{conversation}/messages"), Some(&owner.access), reply).await;
    assert_eq!(sent.0, StatusCode::CREATED, "A's reply: {}", sent.1);
    let last_seq = sent.1["seq"].as_i64().expect("seq");
    let visitor = visitor_id.to_string();
    // The profile is stored off the session's path: wait until A sees it.
    for _ in 0..100 {
        let (_, profile) = app.get(&format!("/api/v1/visitors/{visitor}"), Some(&owner.access)).await;
        if profile.to_string().contains(&marker) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let export_job = created(
        "an export job",
        app.post("/api/v1/export/jobs", Some(&owner.access), json!({ "filters": {} })).await,
        "id",
    );
    // A webhook endpoint (test nodes allow private targets; nothing listens there) and the
    // delivery of its test event.
    let (status, endpoint) = app
        .post(
            "/api/v1/webhooks/endpoints",
            Some(&owner.access),
            json!({ "url": "http://127.0.0.1:9/hooks", "description": format!("{marker} hook") }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "A's webhook endpoint: {endpoint}");
    let webhook_endpoint = endpoint["endpoint"]["id"].as_str().expect("endpoint id").to_owned();
    let webhook_secret = endpoint["secret"].as_str().expect("endpoint secret").to_owned();
    let webhook_delivery = created(
        "a webhook delivery",
        app.post(&format!("/api/v1/webhooks/endpoints/{webhook_endpoint}/test"), Some(&owner.access), json!({})).await,
        "id",
    );
    Seed {
        owner,
        agent,
        marker,
        conversation,
        visitor,
        attachment,
        key_id,
        key_secret,
        team,
        canned,
        invitation,
        invitation_email,
        kb_entry,
        export_job,
        site_key,
        webhook_endpoint,
        webhook_secret,
        webhook_delivery,
        visitor_token,
        last_seq,
    }
}

#[tokio::test]
async fn sweep_every_operation_with_another_tenants_and_forged_credentials() {
    let started = std::time::Instant::now();
    let app = TestApp::spawn().await;
    let seed = seed(&app).await;
    let b = app.verified_owner().await;
    app.own_plan(&b, "api_requests_per_minute = 100000").await;
    let (status, b_key) = app.post("/api/v1/api-keys", Some(&b.access), json!({ "name": "b", "role": "admin" })).await;
    assert_eq!(status, StatusCode::CREATED, "B's key: {b_key}");
    let b_key = b_key["secret"].as_str().expect("secret").to_owned();
    let b_visitor = app.visitor_token(&b.tenant_id, VisitorId::from_uuid(uuid::Uuid::now_v7()), 600);

    let mut attackers = vec![
        Attacker { name: "tenant B's owner", other_tenant: true, member: b.access.clone(), visitor: b.access.clone() },
        Attacker { name: "tenant B's admin API key", other_tenant: true, member: b_key.clone(), visitor: b_key },
        // B's visitor on B's own visitor operations, and as a member's bearer everywhere else.
        Attacker {
            name: "tenant B's visitor",
            other_tenant: true,
            member: b_visitor.clone(),
            visitor: b_visitor.clone(),
        },
    ];
    attackers.extend(forgeries(&app, &seed, &b, &b_visitor));

    let operations = operations(&app).await;
    let mut failures = Vec::new();
    // Three rounds, one after the other: B's own namespace without A's ids (lists, settings,
    // creating), then everything addressed by A's ids, then the probes — B's namespace with A's
    // ids as filters and references — judged without A's ids, which B's own records (its audit
    // log, its exports' filters) rightly hold from then on.
    let mut rounds: [Vec<(&Operation, Call, &Attacker, &str)>; 3] = Default::default();
    for op in &operations {
        let (plain, probe) = match (call_for(op, &seed, false), call_for(op, &seed, true)) {
            (Ok(plain), Ok(probe)) => (plain, probe),
            (Err(problem), _) | (_, Err(problem)) => {
                failures.push(problem);
                continue;
            }
        };
        let round = usize::from(op.has_path_ids());
        for attacker in &attackers {
            rounds[round].push((op, plain.clone(), attacker, attacker.credential(op.kind)));
        }
        if !op.has_path_ids() && probe != plain {
            for attacker in attackers.iter().filter(|a| a.other_tenant) {
                rounds[2].push((op, probe.clone(), attacker, attacker.credential(op.kind)));
            }
        }
    }
    let (all, without_ids) = (seed.secrets(true), seed.secrets(false));
    let mut calls = 0;
    for (round, jobs) in rounds.into_iter().enumerate() {
        calls += jobs.len();
        let secrets = if round == 2 { &without_ids } else { &all };
        let results: Vec<Option<String>> = futures_util::stream::iter(jobs)
            .map(|(op, call, attacker, credential)| {
                let app = &app;
                async move {
                    let (answer, sent) = send(app, op, &call, credential).await;
                    judge(op, attacker, &answer, &sent, secrets)
                        .map(|problem| format!("{} as {}: {problem}", op.label(), attacker.name))
                }
            })
            .buffer_unordered(8)
            .collect()
            .await;
        failures.extend(results.into_iter().flatten());
    }

    // The sockets: every forgery is refused at the upgrade.
    let mut upgrades = 0;
    for attacker in attackers.iter().filter(|a| !a.other_tenant) {
        for (path, token, headers) in [
            ("/ws/agent", attacker.member.as_str(), &[][..]),
            ("/ws/visitor", attacker.visitor.as_str(), &[EDGE_PROOF][..]),
        ] {
            let url = if token.is_empty() { app.ws_url(path) } else { app.ws_url(&format!("{path}?token={token}")) };
            upgrades += 1;
            match WsClient::connect_with_headers(&url, headers).await {
                Err(401) => {}
                Err(status) => failures.push(format!("{path} with {}: {status}", attacker.name)),
                Ok(_) => failures.push(format!("{path} with {}: upgraded", attacker.name)),
            }
        }
    }

    // A's data is as it was.
    let owner = Some(seed.owner.access.as_str());
    let (_, conversation) = app.get(&format!("/api/v1/conversations/{}", seed.conversation), owner).await;
    if conversation["last_seq"] != seed.last_seq || conversation["status"] != "open" {
        failures.push(format!("A's conversation changed: {conversation}"));
    }
    for (path, id) in [
        ("/api/v1/members", &seed.agent.user_id),
        ("/api/v1/api-keys", &seed.key_id),
        ("/api/v1/invitations", &seed.invitation),
        ("/api/v1/teams", &seed.team),
        ("/api/v1/canned-responses", &seed.canned),
        ("/api/v1/kb/entries", &seed.kb_entry),
        ("/api/v1/site-keys", &seed.site_key),
        ("/api/v1/tenant", &seed.marker),
        (&format!("/api/v1/visitors/{}", seed.visitor), &seed.marker),
    ] {
        let (status, body) = app.get(path, owner).await;
        if status != StatusCode::OK || !body.to_string().contains(id.as_str()) {
            failures.push(format!("A's {path} lost {id}: {status} {body}"));
        }
    }

    let by_kind = |kind: Kind| operations.iter().filter(|op| op.kind == kind).count();
    eprintln!(
        "authorization sweep: {} operations ({} member, {} visitor-token, {} edge-secret) × {} attackers = {calls} calls, \
         {upgrades} socket upgrades, {} public operations allow-listed; {} failures; {:.1} s",
        operations.len(),
        by_kind(Kind::Member),
        by_kind(Kind::Visitor),
        by_kind(Kind::Edge),
        attackers.len(),
        PUBLIC.len(),
        failures.len(),
        started.elapsed().as_secs_f64(),
    );
    assert!(by_kind(Kind::Member) > 50, "the OpenAPI document lists the bearer operations");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
