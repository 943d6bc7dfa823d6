//! Outgoing webhooks (docs/api.md, "Webhooks"): the tenant's endpoints, the outbox of events the
//! capture triggers write in the changing transaction (`webhook_events`), the delivery log
//! (`webhook_deliveries`) with its claims and outcomes, and the control-plane list of tenants
//! with enabled endpoints (`control.webhook_tenants`) the dispatchers visit.
//!
//! This module only reads and writes rows; what is sent, when, and how it is signed is
//! `crate::webhooks`.

use chrono::{DateTime, Utc};
use kefu_protocol::{TenantId, WebhookDeliveryId, WebhookEndpointId, WebhookEventId};
use sqlx::PgConnection;
use uuid::Uuid;

use super::TenantTx;
use super::messages::MessageRow;

text_enum! {
    /// Where a delivery stands (`webhook_deliveries.status`).
    #[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum DeliveryStatus {
        /// Not sent yet, in flight, or waiting for its next attempt.
        Pending => "pending",
        /// The endpoint answered 2xx.
        Succeeded => "succeeded",
        /// Given up after the whole retry schedule.
        Failed => "failed",
    }
}

text_enum! {
    /// Why an endpoint is disabled (`webhook_endpoints.disabled_reason`).
    #[derive(serde::Serialize, utoipa::ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum DisabledReason {
        /// An admin turned it off.
        Manual => "manual",
        /// Kefu turned it off: a delivery failed for its whole retry schedule with no success
        /// since.
        Failing => "failing",
    }
}

/// An endpoint as stored (secrets included: only the dispatcher and the secret's endpoints read
/// them).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointRow {
    /// Id.
    pub id: WebhookEndpointId,
    /// Where deliveries are posted.
    pub url: String,
    /// What it is for, for people.
    pub description: String,
    /// The event types it receives; empty for every type.
    pub event_types: Vec<String>,
    /// Deliveries go out only while enabled.
    pub enabled: bool,
    /// Why it is disabled.
    pub disabled_reason: Option<DisabledReason>,
    /// The signing secret (`whsec_…`).
    pub secret: String,
    /// The secret before the last rotation, still signing until `previous_secret_until`.
    pub previous_secret: Option<String>,
    /// End of the rotation's overlap.
    pub previous_secret_until: Option<DateTime<Utc>>,
    /// The last delivery it answered with 2xx.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

const ENDPOINT_COLUMNS: &str = "id, url, description, event_types, enabled, disabled_reason, secret, previous_secret,
    previous_secret_until, last_success_at, created_at, updated_at";

/// What an endpoint is made of.
pub struct EndpointFields<'a> {
    /// URL.
    pub url: &'a str,
    /// Description.
    pub description: &'a str,
    /// Event types (empty: all).
    pub event_types: &'a [String],
}

/// Takes the tenant's endpoint lock (so a count and the insert that follows agree) and counts
/// its endpoints.
pub async fn lock_and_count(tx: &mut TenantTx) -> sqlx::Result<i64> {
    sqlx::query("select pg_advisory_xact_lock(hashtext(current_schema() || ':webhook_endpoints'))")
        .execute(tx.conn())
        .await?;
    sqlx::query_scalar("select count(*) from webhook_endpoints").fetch_one(tx.conn()).await
}

/// Inserts an endpoint, enabled.
pub async fn insert(
    tx: &mut TenantTx,
    id: WebhookEndpointId,
    fields: &EndpointFields<'_>,
    secret: &str,
) -> sqlx::Result<EndpointRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into webhook_endpoints (id, url, description, event_types, secret) values ($1, $2, $3, $4, $5)
         returning {ENDPOINT_COLUMNS}"
    )))
    .bind(id)
    .bind(fields.url)
    .bind(fields.description)
    .bind(fields.event_types)
    .bind(secret)
    .fetch_one(tx.conn())
    .await
}

/// Every endpoint, oldest first.
pub async fn list(tx: &mut TenantTx) -> sqlx::Result<Vec<EndpointRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ENDPOINT_COLUMNS} from webhook_endpoints order by created_at, id"
    )))
    .fetch_all(tx.conn())
    .await
}

/// One endpoint.
pub async fn find(tx: &mut TenantTx, id: WebhookEndpointId) -> sqlx::Result<Option<EndpointRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("select {ENDPOINT_COLUMNS} from webhook_endpoints where id = $1")))
        .bind(id)
        .fetch_optional(tx.conn())
        .await
}

/// Changes an endpoint; `None` fields stay. Enabling clears the reason; disabling records
/// `manual`.
pub async fn update(
    tx: &mut TenantTx,
    id: WebhookEndpointId,
    url: Option<&str>,
    description: Option<&str>,
    event_types: Option<&[String]>,
    enabled: Option<bool>,
) -> sqlx::Result<Option<EndpointRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update webhook_endpoints set url = coalesce($2, url), description = coalesce($3, description),
                event_types = coalesce($4, event_types), enabled = coalesce($5, enabled),
                disabled_reason = case when $5 is null then disabled_reason when $5 then null else 'manual' end
         where id = $1 returning {ENDPOINT_COLUMNS}"
    )))
    .bind(id)
    .bind(url)
    .bind(description)
    .bind(event_types)
    .bind(enabled)
    .fetch_optional(tx.conn())
    .await
}

/// Deletes an endpoint and its deliveries.
pub async fn delete(tx: &mut TenantTx, id: WebhookEndpointId) -> sqlx::Result<bool> {
    let done = sqlx::query("delete from webhook_endpoints where id = $1").bind(id).execute(tx.conn()).await?;
    Ok(done.rows_affected() > 0)
}

/// Gives an endpoint a new secret; the current one keeps signing for `overlap_secs`.
pub async fn rotate(
    tx: &mut TenantTx,
    id: WebhookEndpointId,
    secret: &str,
    overlap_secs: u64,
) -> sqlx::Result<Option<EndpointRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update webhook_endpoints set previous_secret = secret, secret = $2,
                previous_secret_until = now() + make_interval(secs => $3)
         where id = $1 returning {ENDPOINT_COLUMNS}"
    )))
    .bind(id)
    .bind(secret)
    .bind(overlap_secs as f64)
    .fetch_optional(tx.conn())
    .await
}

/// Disables an endpoint whose deliveries kept failing, unless it was disabled already or
/// answered 2xx since `since` (the given-up delivery's creation). Returns whether it did.
pub async fn disable_failing(tx: &mut TenantTx, id: WebhookEndpointId, since: DateTime<Utc>) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update webhook_endpoints set enabled = false, disabled_reason = 'failing'
         where id = $1 and enabled and (last_success_at is null or last_success_at < $2)",
    )
    .bind(id)
    .bind(since)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Whether the tenant has an enabled endpoint.
pub async fn any_enabled(tx: &mut TenantTx) -> sqlx::Result<bool> {
    sqlx::query_scalar("select exists (select 1 from webhook_endpoints where enabled)").fetch_one(tx.conn()).await
}

/// Keeps the transaction's tenant in `control.webhook_tenants` exactly while it has an enabled
/// endpoint (call after every write to its endpoints, in the same transaction); a listed tenant
/// is due a visit at once.
pub async fn sync_tenant(tx: &mut TenantTx) -> sqlx::Result<()> {
    let enabled = any_enabled(tx).await?;
    let tenant = tx.tenant_id();
    let conn = tx.control().await?;
    if enabled {
        sqlx::query(
            "insert into control.webhook_tenants (tenant_id) values ($1)
             on conflict (tenant_id) do update set next_visit_at = now()",
        )
        .bind(tenant)
        .execute(conn)
        .await?;
    } else {
        sqlx::query("delete from control.webhook_tenants where tenant_id = $1").bind(tenant).execute(conn).await?;
    }
    Ok(())
}

/// Takes up to `limit` tenants due a visit and puts their next one `lease_secs` later (so the
/// nodes share the visits, and a tenant whose visitor died is visited again then).
pub async fn due_tenants(conn: &mut PgConnection, limit: i64, lease_secs: u64) -> sqlx::Result<Vec<TenantId>> {
    sqlx::query_scalar(
        "update control.webhook_tenants w set next_visit_at = now() + make_interval(secs => $2)
          where w.tenant_id in (select tenant_id from control.webhook_tenants where next_visit_at <= now()
                                 order by next_visit_at limit $1 for update skip locked)
          returning w.tenant_id",
    )
    .bind(limit)
    .bind(lease_secs as f64)
    .fetch_all(conn)
    .await
}

/// Every tenant with an enabled endpoint (each node's filter for the announcements it hears).
pub async fn listed_tenants(conn: &mut PgConnection) -> sqlx::Result<Vec<TenantId>> {
    sqlx::query_scalar("select tenant_id from control.webhook_tenants").fetch_all(conn).await
}

/// After a visit: the tenant is due again at `at` (its earliest pending attempt), but never
/// later than `fallback_secs` from now.
pub async fn schedule_visit(
    conn: &mut PgConnection,
    tenant: TenantId,
    at: Option<DateTime<Utc>>,
    fallback_secs: u64,
) -> sqlx::Result<()> {
    sqlx::query(
        "update control.webhook_tenants
            set next_visit_at = least(coalesce($2, 'infinity'), now() + make_interval(secs => $3))
          where tenant_id = $1",
    )
    .bind(tenant)
    .bind(at)
    .bind(fallback_secs as f64)
    .execute(conn)
    .await?;
    Ok(())
}

/// An event waiting in the outbox.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    /// Outbox order.
    pub id: i64,
    /// The `webhook-id`.
    pub event_id: WebhookEventId,
    /// `conversation.closed`, `message.created`, …
    #[sqlx(rename = "type")]
    pub kind: String,
    /// The conversation or visitor whose events go in order.
    pub ordering_key: Option<Uuid>,
    /// A message event's message.
    pub message_id: Option<kefu_protocol::MessageId>,
    /// Conversation and visitor events: the row as it was.
    pub data: Option<sqlx::types::Json<serde_json::Value>>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
}

/// Takes the tenant's fan-out lock until the transaction ends: fan-outs of one tenant take
/// turns, so deliveries are numbered in event order whichever nodes run them.
pub async fn lock_fan_out(tx: &mut TenantTx) -> sqlx::Result<()> {
    sqlx::query("select pg_advisory_xact_lock(hashtext(current_schema() || ':webhook_fan_out'))")
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The oldest `limit` events in the outbox.
pub async fn pending_events(tx: &mut TenantTx, limit: i64) -> sqlx::Result<Vec<EventRow>> {
    sqlx::query_as(
        "select id, event_id, type, ordering_key, message_id, data, occurred_at
         from webhook_events order by id limit $1",
    )
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// Removes events once their deliveries exist.
pub async fn delete_events(tx: &mut TenantTx, ids: &[i64]) -> sqlx::Result<()> {
    sqlx::query("delete from webhook_events where id = any($1)").bind(ids).execute(tx.conn()).await?;
    Ok(())
}

/// Messages by id (those still there: erased messages are gone).
pub async fn messages(tx: &mut TenantTx, ids: &[kefu_protocol::MessageId]) -> sqlx::Result<Vec<MessageRow>> {
    sqlx::query_as(
        "select id, conversation_id, seq, sender_kind, sender_id, sender_name, client_id, private, body, created_at,
                attachment, event, bot
         from messages where id = any($1)",
    )
    .bind(ids)
    .fetch_all(tx.conn())
    .await
}

/// The enabled endpoints, for a fan-out: id, types and creation.
pub async fn enabled_endpoints(
    tx: &mut TenantTx,
) -> sqlx::Result<Vec<(WebhookEndpointId, Vec<String>, DateTime<Utc>)>> {
    sqlx::query_as("select id, event_types, created_at from webhook_endpoints where enabled order by id")
        .fetch_all(tx.conn())
        .await
}

/// A delivery to create.
pub struct NewDelivery<'a> {
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// The event (`webhook-id`).
    pub event_id: WebhookEventId,
    /// Its type.
    pub event_type: &'a str,
    /// Its ordering key.
    pub ordering_key: Option<Uuid>,
    /// The exact body.
    pub payload: &'a str,
    /// The delivery it replays.
    pub replay_of: Option<WebhookDeliveryId>,
}

/// Creates a pending delivery, due now.
pub async fn insert_delivery(tx: &mut TenantTx, new: &NewDelivery<'_>) -> sqlx::Result<DeliveryRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into webhook_deliveries (id, endpoint_id, event_id, event_type, ordering_key, payload, replay_of)
         values ($1, $2, $3, $4, $5, $6, $7) returning {DELIVERY_COLUMNS}"
    )))
    .bind(WebhookDeliveryId::from_uuid(Uuid::now_v7()))
    .bind(new.endpoint_id)
    .bind(new.event_id)
    .bind(new.event_type)
    .bind(new.ordering_key)
    .bind(new.payload)
    .bind(new.replay_of)
    .fetch_one(tx.conn())
    .await
}

/// A delivery as the log shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    /// Id.
    pub id: WebhookDeliveryId,
    /// Creation order.
    pub seq: i64,
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// The event (`webhook-id`).
    pub event_id: WebhookEventId,
    /// Its type.
    pub event_type: String,
    /// The conversation or visitor whose deliveries go in order.
    pub ordering_key: Option<Uuid>,
    /// The body sent.
    pub payload: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made (or under way).
    pub attempts: i32,
    /// The next attempt, while pending.
    pub next_attempt_at: DateTime<Utc>,
    /// The last attempt.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The last response's status.
    pub response_status: Option<i32>,
    /// The last response's body, truncated.
    pub response_body: Option<String>,
    /// Why the last attempt failed without a response (or with a refused address).
    pub error: Option<String>,
    /// The delivery this one replays.
    pub replay_of: Option<WebhookDeliveryId>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Succeeded or given up at.
    pub finished_at: Option<DateTime<Utc>>,
}

const DELIVERY_COLUMNS: &str =
    "id, seq, endpoint_id, event_id, event_type, ordering_key, payload, status, attempts, next_attempt_at,
    last_attempt_at, response_status, response_body, error, replay_of, created_at, finished_at";

/// A page of the log, newest first, before `before` (a `seq`), optionally one endpoint's or in
/// one state.
pub async fn list_deliveries(
    tx: &mut TenantTx,
    endpoint: Option<WebhookEndpointId>,
    status: Option<DeliveryStatus>,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<DeliveryRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {DELIVERY_COLUMNS} from webhook_deliveries
         where ($1::uuid is null or endpoint_id = $1) and ($2::text is null or status = $2)
           and ($3::bigint is null or seq < $3)
         order by seq desc limit $4"
    )))
    .bind(endpoint)
    .bind(status)
    .bind(before)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// One delivery.
pub async fn find_delivery(tx: &mut TenantTx, id: WebhookDeliveryId) -> sqlx::Result<Option<DeliveryRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("select {DELIVERY_COLUMNS} from webhook_deliveries where id = $1")))
        .bind(id)
        .fetch_optional(tx.conn())
        .await
}

/// A delivery claimed for an attempt, with what sending it needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    /// The delivery.
    pub id: WebhookDeliveryId,
    /// The event (`webhook-id`).
    pub event_id: WebhookEventId,
    /// The body.
    pub payload: String,
    /// This attempt's number, from 1.
    pub attempts: i32,
    /// When the delivery was created.
    pub created_at: DateTime<Utc>,
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// Its URL.
    pub url: String,
    /// Its secret.
    pub secret: String,
    /// The previous secret while the rotation's overlap lasts.
    pub previous_secret: Option<String>,
}

/// Claims up to `limit` due deliveries of enabled endpoints for one attempt each: the attempt is
/// counted and the next one put `lease_secs` ahead, so no other node takes it while it is in
/// flight (and another does if this node dies). A delivery waits while an earlier delivery of the
/// same endpoint and ordering key is pending, so each conversation's events arrive in order.
pub async fn claim_due(tx: &mut TenantTx, limit: i64, lease_secs: u64) -> sqlx::Result<Vec<Claimed>> {
    sqlx::query_as(
        "with due as (
             select d.id from webhook_deliveries d
             join webhook_endpoints e on e.id = d.endpoint_id and e.enabled
             where d.status = 'pending' and d.next_attempt_at <= now()
               and not exists (select 1 from webhook_deliveries p
                                where p.endpoint_id = d.endpoint_id and p.ordering_key = d.ordering_key
                                  and p.status = 'pending' and p.seq < d.seq)
             order by d.seq limit $1
             for update of d skip locked)
         update webhook_deliveries d
            set attempts = d.attempts + 1, last_attempt_at = now(),
                next_attempt_at = now() + make_interval(secs => $2)
           from due, webhook_endpoints e
          where d.id = due.id and e.id = d.endpoint_id
         returning d.id, d.event_id, d.payload, d.attempts, d.created_at, d.endpoint_id, e.url, e.secret,
                   case when e.previous_secret_until > now() then e.previous_secret end as previous_secret",
    )
    .bind(limit)
    .bind(lease_secs as f64)
    .fetch_all(tx.conn())
    .await
}

/// What an attempt came to.
pub struct Outcome<'a> {
    /// The response's status, if one came.
    pub response_status: Option<i32>,
    /// Its body, truncated.
    pub response_body: Option<&'a str>,
    /// Why there was no (2xx) response.
    pub error: Option<&'a str>,
}

/// Records a successful attempt (only if the claim still holds: the attempt number matches).
pub async fn succeeded(tx: &mut TenantTx, claimed: &Claimed, outcome: &Outcome<'_>) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update webhook_deliveries set status = 'succeeded', finished_at = now(), response_status = $3,
                response_body = $4, error = null
          where id = $1 and attempts = $2 and status = 'pending'",
    )
    .bind(claimed.id)
    .bind(claimed.attempts)
    .bind(outcome.response_status)
    .bind(outcome.response_body)
    .execute(tx.conn())
    .await?;
    if done.rows_affected() > 0 {
        sqlx::query("update webhook_endpoints set last_success_at = now() where id = $1")
            .bind(claimed.endpoint_id)
            .execute(tx.conn())
            .await?;
    }
    Ok(done.rows_affected() > 0)
}

/// Records a failed attempt: the next one after `retry_in_secs`, or, with `None`, the delivery
/// is given up (only if the claim still holds).
pub async fn failed(
    tx: &mut TenantTx,
    claimed: &Claimed,
    outcome: &Outcome<'_>,
    retry_in_secs: Option<u64>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update webhook_deliveries
            set status = case when $5::float8 is null then 'failed' else 'pending' end,
                finished_at = case when $5::float8 is null then now() end,
                next_attempt_at = case when $5::float8 is null then next_attempt_at
                                       else now() + make_interval(secs => $5) end,
                response_status = $3, response_body = $4, error = $6
          where id = $1 and attempts = $2 and status = 'pending'",
    )
    .bind(claimed.id)
    .bind(claimed.attempts)
    .bind(outcome.response_status)
    .bind(outcome.response_body)
    .bind(retry_in_secs.map(|s| s as f64))
    .bind(outcome.error)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The earliest pending attempt of an enabled endpoint (when the tenant is next due).
pub async fn next_due(tx: &mut TenantTx) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar(
        "select min(d.next_attempt_at) from webhook_deliveries d
         join webhook_endpoints e on e.id = d.endpoint_id and e.enabled
         where d.status = 'pending'",
    )
    .fetch_one(tx.conn())
    .await
}

/// Whether events wait in the outbox.
pub async fn has_events(tx: &mut TenantTx) -> sqlx::Result<bool> {
    sqlx::query_scalar("select exists (select 1 from webhook_events)").fetch_one(tx.conn()).await
}

/// Deletes up to `limit` finished deliveries older than `days`; returns how many.
pub async fn purge_finished(tx: &mut TenantTx, days: u32, limit: i64) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "delete from webhook_deliveries where id in (
             select id from webhook_deliveries where finished_at < now() - make_interval(days => $1) limit $2)",
    )
    .bind(i32::try_from(days).unwrap_or(i32::MAX))
    .bind(limit)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}
