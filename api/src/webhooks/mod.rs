//! Outgoing webhooks (docs/api.md, "Webhooks"; docs/decisions.md explains the choices).
//!
//! Capture: triggers on `messages`, `conversations` and `visitors` (`kefu.webhook_capture_v1`)
//! write an event into the tenant's outbox (`webhook_events`) in the changing transaction, only
//! while an enabled endpoint wants its type. Nothing committed is missed (the row commits with
//! the change) and nothing uncommitted is sent (the dispatcher reads committed rows only).
//!
//! Dispatch, on every node (unless `webhooks.dispatch` is off): the tenants with an enabled
//! endpoint are listed in `control.webhook_tenants`. A node visits a tenant when it hears of a
//! change of it through `ops::events` (quickly), when the tenant's `next_visit_at` comes (its
//! earliest retry, taken with `skip locked` so one node takes it), and at least every
//! `webhooks.sweep_secs` (the fallback for a node that died between a commit and its visit). A
//! visit fans the outbox out into one delivery per matching endpoint (under the tenant's fan-out
//! lock, so deliveries are numbered in event order), then claims due deliveries (a lease, no
//! transaction held while sending), posts them signed, and records each outcome.
//!
//! Order: a delivery waits while an earlier delivery for the same endpoint and conversation (or
//! visitor) is pending; once that one succeeds or is given up, the next goes.
//! Failure: retries after each delay of `webhooks.retry_schedule_secs` (about a day by default);
//! a delivery that exhausts it is given up, and its endpoint is disabled, with a mail to the
//! workspace's admins, unless it answered 2xx since that delivery was created.

pub mod guard;
pub mod payload;
pub mod sign;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;
use kefu_protocol::{Role, TenantId, WebhookEventId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use self::guard::{Guard, GuardedResolver};
use crate::config::WebhooksConfig;
use crate::db::webhooks::{Claimed, NewDelivery, Outcome};
use crate::db::{self, Databases, TenantTx};
use crate::ops::events::{Change, Subscriber};

/// Tenants visited at once per node.
const CONCURRENCY: usize = 4;
/// Outbox events fanned out per transaction.
const FAN_OUT_BATCH: i64 = 200;
/// Deliveries claimed (and sent concurrently) per round of a visit.
const CLAIM_BATCH: i64 = 20;
/// Tenants a node takes from the due list per round.
const DUE_TENANTS: i64 = 100;
/// Response bytes kept in the delivery log.
pub const RESPONSE_KEPT_BYTES: usize = 1024;
/// Response bytes read at most (the rest is not downloaded).
const RESPONSE_READ_BYTES: usize = 64 * 1024;
/// Finished deliveries deleted per visit once past the retention.
const PURGE_BATCH: i64 = 500;
/// How often a node re-reads which tenants have endpoints (its filter for announcements).
const KNOWN_REFRESH: Duration = Duration::from_secs(10);

/// This node's handle on the dispatcher: wake a tenant, and know which tenants have endpoints.
#[derive(Clone)]
pub struct Webhooks {
    wake: mpsc::UnboundedSender<TenantId>,
    known: Arc<RwLock<HashSet<TenantId>>>,
}

impl Webhooks {
    /// Asks this node to visit the tenant soon.
    pub fn wake(&self, tenant: TenantId) {
        let _ = self.wake.send(tenant);
    }

    /// Records on this node whether the tenant has an enabled endpoint (after a write here; other
    /// nodes learn within [`KNOWN_REFRESH`]).
    pub fn set_listed(&self, tenant: TenantId, listed: bool) {
        let mut known = self.known.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if listed {
            known.insert(tenant);
        } else {
            known.remove(&tenant);
        }
    }

    fn listed(&self, tenant: &TenantId) -> bool {
        self.known.read().unwrap_or_else(std::sync::PoisonError::into_inner).contains(tenant)
    }
}

impl Subscriber for Webhooks {
    fn committed(&self, change: &Change) {
        let tenant = match change {
            Change::MessageStored { tenant, .. }
            | Change::ConversationChanged { tenant, .. }
            | Change::VisitorUpdated { tenant, .. } => tenant,
            _ => return,
        };
        if self.listed(tenant) {
            self.wake(*tenant);
        }
    }
}

/// The dispatcher's queue of woken tenants, until [`Dispatcher::start`] takes it.
pub struct Dispatcher {
    handle: Webhooks,
    wakes: mpsc::UnboundedReceiver<TenantId>,
}

impl Dispatcher {
    /// The handle (the events subscriber) and the dispatcher it wakes.
    pub fn new() -> (Webhooks, Self) {
        let (wake, wakes) = mpsc::unbounded_channel();
        let handle = Webhooks { wake, known: Arc::default() };
        (handle.clone(), Self { handle, wakes })
    }

    /// Runs the dispatcher until `shutdown` (or only drops its queue when the node does not
    /// dispatch).
    pub fn start(
        self,
        databases: Databases,
        config: WebhooksConfig,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        if !config.dispatch {
            return Ok(());
        }
        let sender = Arc::new(Sender::new(
            Guard { allow_private: config.allow_private_targets },
            Duration::from_secs(config.request_timeout_secs),
        )?);
        let config = Arc::new(config);
        tokio::spawn(refresh_known(databases.clone(), self.handle.clone(), shutdown.clone()));
        tokio::spawn(take_due(databases.clone(), self.handle.clone(), config.clone(), shutdown.clone()));
        tokio::spawn(crate::ops::jobs::drain_tenants(self.wakes, CONCURRENCY, shutdown, move |tenant| {
            let (databases, sender, config) = (databases.clone(), sender.clone(), config.clone());
            async move {
                if let Err(error) = visit(&databases, &sender, &config, tenant).await {
                    tracing::warn!(error = format!("{error:#}"), %tenant, "webhook visit failed; the next one retries");
                }
            }
        }));
        Ok(())
    }
}

/// Keeps the node's list of tenants with endpoints current.
async fn refresh_known(databases: Databases, handle: Webhooks, shutdown: CancellationToken) {
    loop {
        let listed = match databases.control().acquire().await {
            Ok(mut conn) => db::webhooks::listed_tenants(&mut conn).await,
            Err(error) => Err(error),
        };
        match listed {
            Ok(listed) => {
                *handle.known.write().unwrap_or_else(std::sync::PoisonError::into_inner) = listed.into_iter().collect();
            }
            Err(error) => tracing::warn!(%error, "could not read the tenants with webhook endpoints"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(KNOWN_REFRESH) => {}
        }
    }
}

/// Every round, takes the tenants due a visit (retries, the fallback sweep) and wakes them.
async fn take_due(databases: Databases, handle: Webhooks, config: Arc<WebhooksConfig>, shutdown: CancellationToken) {
    loop {
        let due = match databases.control().acquire().await {
            Ok(mut conn) => db::webhooks::due_tenants(&mut conn, DUE_TENANTS, config.sweep_secs).await,
            Err(error) => Err(error),
        };
        match due {
            Ok(due) => due.into_iter().for_each(|tenant| handle.wake(tenant)),
            Err(error) => tracing::warn!(%error, "could not take the tenants due a webhook visit"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(config.round_ms)) => {}
        }
    }
}

/// One visit: fan the outbox out, send what is due until nothing more is, purge the old log,
/// and say when the tenant is due next.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
pub async fn visit(
    databases: &Databases,
    sender: &Sender,
    config: &WebhooksConfig,
    tenant: TenantId,
) -> anyhow::Result<()> {
    let Some(schema) = db::tenants::active_schema(databases, tenant).await? else {
        return Ok(());
    };
    loop {
        while fan_out(databases, &schema).await? >= FAN_OUT_BATCH {}
        let mut tx = TenantTx::begin(databases, &schema).await?;
        let claimed = db::webhooks::claim_due(&mut tx, CLAIM_BATCH, config.request_timeout_secs + 30).await?;
        tx.commit().await?;
        if claimed.is_empty() {
            break;
        }
        let attempts = claimed.iter().map(|c| async move { (c, sender.send_claimed(c).await) });
        let results = futures_util::future::join_all(attempts).await;
        for (claimed, attempt) in results {
            record(databases, &schema, config, claimed, &attempt).await?;
        }
    }
    let mut tx = TenantTx::begin(databases, &schema).await?;
    let purged = db::webhooks::purge_finished(&mut tx, config.log_retention_days, PURGE_BATCH).await?;
    let next = if db::webhooks::has_events(&mut tx).await? {
        Some(Utc::now())
    } else {
        db::webhooks::next_due(&mut tx).await?
    };
    tx.commit().await?;
    if purged > 0 {
        tracing::debug!(purged, "old webhook deliveries removed");
    }
    let mut conn = databases.control().acquire().await?;
    db::webhooks::schedule_visit(&mut conn, tenant, next, config.sweep_secs).await?;
    Ok(())
}

/// Turns up to [`FAN_OUT_BATCH`] outbox events into deliveries, one per enabled endpoint that
/// wants the type and existed when it happened; returns how many events it took.
async fn fan_out(databases: &Databases, schema: &db::TenantSchema) -> anyhow::Result<i64> {
    let mut tx = TenantTx::begin(databases, schema).await?;
    db::webhooks::lock_fan_out(&mut tx).await?;
    let events = db::webhooks::pending_events(&mut tx, FAN_OUT_BATCH).await?;
    if events.is_empty() {
        return Ok(0);
    }
    let endpoints = db::webhooks::enabled_endpoints(&mut tx).await?;
    let message_ids: Vec<_> = events.iter().filter_map(|e| e.message_id).collect();
    let mut messages: HashMap<_, _> =
        db::webhooks::messages(&mut tx, &message_ids).await?.into_iter().map(|m| (m.id, m)).collect();
    for event in &events {
        let data = match (event.message_id, &event.data) {
            (Some(id), _) => match messages.remove(&id) {
                Some(message) => payload::message_data(message),
                // Erased before it went out: nothing to say.
                None => continue,
            },
            (None, Some(sqlx::types::Json(snapshot))) => payload::snapshot_data(&event.kind, snapshot.clone()),
            (None, None) => continue,
        };
        let body = payload::body(&event.kind, event.occurred_at, data);
        for (endpoint, types, created_at) in &endpoints {
            let wanted = types.is_empty() || types.contains(&event.kind);
            if wanted && *created_at <= event.occurred_at {
                let new = NewDelivery {
                    endpoint_id: *endpoint,
                    event_id: event.event_id,
                    event_type: &event.kind,
                    ordering_key: event.ordering_key,
                    payload: &body,
                    replay_of: None,
                };
                db::webhooks::insert_delivery(&mut tx, &new).await?;
            }
        }
    }
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    db::webhooks::delete_events(&mut tx, &ids).await?;
    tx.commit().await?;
    Ok(i64::try_from(events.len()).unwrap_or(i64::MAX))
}

/// Records an attempt's outcome: done, retried after the schedule's next delay, or given up
/// (and then the endpoint disabled with a mail to the admins, unless it succeeded since).
async fn record(
    databases: &Databases,
    schema: &db::TenantSchema,
    config: &WebhooksConfig,
    claimed: &Claimed,
    attempt: &Attempt,
) -> anyhow::Result<()> {
    let outcome = Outcome {
        response_status: attempt.status.map(i32::from),
        response_body: attempt.body.as_deref(),
        error: attempt.error.as_deref(),
    };
    let mut tx = TenantTx::begin(databases, schema).await?;
    if attempt.succeeded() {
        db::webhooks::succeeded(&mut tx, claimed, &outcome).await?;
        tx.commit().await?;
        metrics::counter!("kefu_webhook_attempts_total", "outcome" => "succeeded").increment(1);
        return Ok(());
    }
    metrics::counter!("kefu_webhook_attempts_total", "outcome" => "failed").increment(1);
    let retry_in = usize::try_from(claimed.attempts)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|n| config.retry_schedule_secs.get(n).copied());
    let recorded = db::webhooks::failed(&mut tx, claimed, &outcome, retry_in).await?;
    if recorded && retry_in.is_none() {
        metrics::counter!("kefu_webhook_deliveries_given_up_total").increment(1);
        if db::webhooks::disable_failing(&mut tx, claimed.endpoint_id, claimed.created_at).await? {
            disabled(&mut tx, claimed, attempt).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// An endpoint was disabled for failing: the control list, the audit log and the admins' mail.
async fn disabled(tx: &mut TenantTx, claimed: &Claimed, attempt: &Attempt) -> anyhow::Result<()> {
    db::webhooks::sync_tenant(tx).await?;
    let details = serde_json::json!({ "url": claimed.url, "delivery_id": claimed.id.to_string() });
    db::audit::record(
        tx,
        db::audit::Actor::System,
        "webhooks.endpoint_disabled",
        Some(&claimed.endpoint_id.to_string()),
        details,
    )
    .await?;
    let company = db::tenants::current(tx).await?.map(|t| t.name).unwrap_or_default();
    let reason = attempt.reason();
    for member in db::memberships::list(tx).await? {
        if matches!(member.role, Role::Admin | Role::Owner) {
            let mail = crate::mail::templates::webhook_disabled(&company, &claimed.url, &reason);
            crate::mail::enqueue_for_tenant(tx, &member.email, &mail).await?;
        }
    }
    tracing::warn!(endpoint_id = %claimed.endpoint_id, "webhook endpoint disabled after failing deliveries");
    Ok(())
}

/// Creates a delivery of a test event to one endpoint (sent whatever its event filter).
pub async fn insert_test(
    tx: &mut TenantTx,
    endpoint: kefu_protocol::WebhookEndpointId,
) -> sqlx::Result<db::webhooks::DeliveryRow> {
    let event = WebhookEventId::from_uuid(uuid::Uuid::now_v7());
    let data = serde_json::json!({ "endpoint_id": endpoint, "message": "A test event from Kefu." });
    let body = payload::body(payload::TEST_EVENT, Utc::now(), data);
    let new = NewDelivery {
        endpoint_id: endpoint,
        event_id: event,
        event_type: payload::TEST_EVENT,
        ordering_key: None,
        payload: &body,
        replay_of: None,
    };
    db::webhooks::insert_delivery(tx, &new).await
}

/// What one attempt came to.
#[derive(Debug, Clone, Default)]
pub struct Attempt {
    /// The response's status, when one came.
    pub status: Option<u16>,
    /// Its body, truncated to [`RESPONSE_KEPT_BYTES`].
    pub body: Option<String>,
    /// Why there was no response (refused address, timeout, connection error).
    pub error: Option<String>,
}

impl Attempt {
    /// A 2xx answer.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// Why it failed, for people.
    pub fn reason(&self) -> String {
        match (&self.status, &self.error) {
            (_, Some(error)) => error.clone(),
            (Some(status), None) => format!("HTTP {status}"),
            (None, None) => "no response".into(),
        }
    }
}

/// The HTTP client of webhooks: no proxy, no redirects, a time limit, and every connection to an
/// address the guard checked.
pub struct Sender {
    client: reqwest::Client,
    guard: Guard,
}

impl Sender {
    /// A client with the guard and the per-request time limit.
    pub fn new(guard: Guard, timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .dns_resolver(GuardedResolver { guard })
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("Kefu-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, guard })
    }

    async fn send_claimed(&self, claimed: &Claimed) -> Attempt {
        let mut secrets = vec![claimed.secret.as_str()];
        secrets.extend(claimed.previous_secret.as_deref());
        self.send(&claimed.url, &claimed.event_id.to_string(), &claimed.payload, &secrets).await
    }

    /// Posts a signed body to `url` (`webhook-id` = `id`, signed with each of `secrets`); a
    /// redirect is an answer like any other (not followed), and a refused address an error.
    pub async fn send(&self, url: &str, id: &str, body: &str, secrets: &[&str]) -> Attempt {
        if let Err(refused) = self.guard.check_url(url) {
            return Attempt { error: Some(format!("refused: {refused}")), ..Attempt::default() };
        }
        let timestamp = Utc::now().timestamp();
        let request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", sign::header(secrets, id, timestamp, body))
            .body(body.to_owned());
        match request.send().await {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let mut bytes = Vec::new();
                while bytes.len() < RESPONSE_READ_BYTES {
                    match response.chunk().await {
                        Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                        Ok(None) | Err(_) => break,
                    }
                }
                Attempt { status: Some(status), body: Some(truncate(&bytes)), error: None }
            }
            Err(error) => Attempt { error: Some(describe(&error)), ..Attempt::default() },
        }
    }
}

/// The first [`RESPONSE_KEPT_BYTES`] of a body as text (cut at a character boundary).
fn truncate(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(RESPONSE_KEPT_BYTES + 4)]);
    let mut end = text.len().min(RESPONSE_KEPT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// A client error with its causes (the refused address is a cause of a connect error).
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() { "timed out".to_owned() } else { error.to_string() };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
