//! Outgoing webhooks (issue 17, docs/api.md "Webhooks"): a workspace's endpoints (URL, event
//! filter, signing secret with rotation, enabled or not), a test event, and the delivery log with
//! replay. Admins and admin API keys; every change to an endpoint is audited. Sending is
//! `crate::webhooks`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kefu_protocol::{WebhookDeliveryId, WebhookEndpointId, WebhookEventId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AdminUp, ApiJson, Auth};
use super::validate::Fields;
use crate::db::webhooks::{DeliveryRow, DeliveryStatus, DisabledReason, EndpointFields, EndpointRow, NewDelivery};
use crate::db::{self, TenantTx};
use crate::error::{ApiError, Result};
use crate::state::AppState;
use crate::webhooks::guard::Guard;
use crate::webhooks::{payload, sign};

/// Endpoints a workspace may have.
pub const MAX_ENDPOINTS: i64 = 20;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 200;
/// Deliveries per page by default, and at most.
const DEFAULT_PAGE: i64 = 50;
const MAX_PAGE: i64 = 200;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_event_types))
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(get_endpoint_secret))
        .routes(routes!(rotate_endpoint_secret))
        .routes(routes!(send_test_event))
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(replay_delivery))
}

/// An endpoint, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpoint {
    /// `ep_…`.
    pub id: WebhookEndpointId,
    /// Where events are posted (https; http only where the operator allows private targets).
    pub url: String,
    /// What it is for.
    pub description: String,
    /// The event types it receives; empty for every type.
    pub event_types: Vec<String>,
    /// Events are sent only while enabled.
    pub enabled: bool,
    /// Why it is disabled: `manual` (an admin) or `failing` (Kefu, after a delivery failed for
    /// its whole retry schedule).
    pub disabled_reason: Option<DisabledReason>,
    /// Until when the previous secret still signs, after a rotation.
    pub previous_secret_until: Option<DateTime<Utc>>,
    /// The last delivery it answered with 2xx.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<EndpointRow> for WebhookEndpoint {
    fn from(row: EndpointRow) -> Self {
        let overlap = row.previous_secret_until.filter(|until| *until > Utc::now());
        Self {
            id: row.id,
            url: row.url,
            description: row.description,
            event_types: row.event_types,
            enabled: row.enabled,
            disabled_reason: row.disabled_reason,
            previous_secret_until: overlap,
            last_success_at: row.last_success_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// The workspace's endpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointList {
    /// Oldest first.
    pub items: Vec<WebhookEndpoint>,
}

/// An endpoint's signing secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookSecret {
    /// `whsec_` and base64: verify `webhook-signature` with it (Standard Webhooks).
    pub secret: String,
    /// After a rotation, the previous secret still signs (a second signature) until then.
    pub previous_secret_until: Option<DateTime<Utc>>,
}

/// A new endpoint and its secret (shown here, and to admins through `GET …/secret`).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhookEndpoint {
    /// The endpoint.
    pub endpoint: WebhookEndpoint,
    /// Its signing secret.
    pub secret: String,
}

/// The event types endpoints can ask for.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEventTypes {
    /// `conversation.created`, `message.created`, …
    pub items: Vec<String>,
}

/// A new endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpoint {
    /// https URL, at most 2048 characters.
    pub url: String,
    /// At most 200 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// Event types to receive (see `GET /api/v1/webhooks/event-types`); empty or absent for all.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
}

/// Changes; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookEndpoint {
    /// https URL.
    #[serde(default)]
    pub url: Option<String>,
    /// At most 200 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// Event types; empty for all.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// Enable or disable (enabling an endpoint Kefu disabled resumes its pending deliveries).
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// One delivery of an event to an endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDelivery {
    /// `dlv_…`.
    pub id: WebhookDeliveryId,
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// The event: the `webhook-id` header (the same for retries and replays).
    pub event_id: WebhookEventId,
    /// Its type.
    pub event_type: String,
    /// `pending` (not sent yet, in flight, or waiting to retry), `succeeded`, `failed` (given up).
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: i32,
    /// While pending: when the next attempt is due.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The last attempt.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The last response's status.
    pub response_status: Option<i32>,
    /// The last response's body, at most 1 KiB.
    pub response_body: Option<String>,
    /// Why the last attempt failed without a response (timeout, refused address, …).
    pub error: Option<String>,
    /// The delivery this one replays.
    pub replay_of: Option<WebhookDeliveryId>,
    /// The body sent (the JSON object).
    pub payload: serde_json::Value,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Succeeded or given up at.
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<DeliveryRow> for WebhookDelivery {
    fn from(row: DeliveryRow) -> Self {
        Self {
            id: row.id,
            endpoint_id: row.endpoint_id,
            event_id: row.event_id,
            event_type: row.event_type,
            next_attempt_at: (row.status == DeliveryStatus::Pending).then_some(row.next_attempt_at),
            status: row.status,
            attempts: row.attempts,
            last_attempt_at: row.last_attempt_at,
            response_status: row.response_status,
            response_body: row.response_body,
            error: row.error,
            replay_of: row.replay_of,
            payload: serde_json::from_str(&row.payload).unwrap_or(serde_json::Value::String(row.payload)),
            created_at: row.created_at,
            finished_at: row.finished_at,
        }
    }
}

/// A page of the delivery log.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveryPage {
    /// Newest first.
    pub items: Vec<WebhookDelivery>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next: Option<String>,
}

/// Which deliveries.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeliveryQuery {
    /// Only this endpoint's (`ep_…`).
    pub endpoint_id: Option<String>,
    /// Only `pending`, `succeeded` or `failed` ones.
    pub status: Option<String>,
    /// The previous page's `next`.
    pub before: Option<String>,
    /// 1–200 (default 50).
    pub limit: Option<i64>,
}

fn endpoint_id(raw: &str) -> Result<WebhookEndpointId> {
    raw.parse().map_err(|_| ApiError::not_found("webhook endpoint"))
}

fn delivery_id(raw: &str) -> Result<WebhookDeliveryId> {
    raw.parse().map_err(|_| ApiError::not_found("webhook delivery"))
}

fn guard(state: &AppState) -> Guard {
    Guard { allow_private: state.config.webhooks.allow_private_targets }
}

fn check_description(raw: &str) -> Result<String, String> {
    let text = raw.trim();
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(format!("At most {MAX_DESCRIPTION_CHARS} characters."));
    }
    if text.chars().any(char::is_control) {
        return Err("Must not contain control characters.".into());
    }
    Ok(text.to_owned())
}

fn check_types(types: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for kind in types {
        if !payload::EVENT_TYPES.contains(&kind.as_str()) {
            return Err(format!("Unknown event type `{}`; one of: {}.", kind, payload::EVENT_TYPES.join(", ")));
        }
        if !out.contains(kind) {
            out.push(kind.clone());
        }
    }
    Ok(out)
}

/// Validated fields; `None` where the request left a field out.
struct Checked {
    url: Option<String>,
    description: Option<String>,
    event_types: Option<Vec<String>>,
}

fn check(state: &AppState, url: Option<&str>, description: Option<&str>, types: Option<&[String]>) -> Result<Checked> {
    let mut fields = Fields::default();
    let guard = guard(state);
    let url = url.and_then(|u| fields.take("url", "invalid_url", guard.check_url(u.trim()).map(String::from)));
    let description = description.and_then(|d| fields.take("description", "invalid", check_description(d)));
    let event_types = types.and_then(|t| fields.take("event_types", "unknown_event_type", check_types(t)));
    fields.finish()?;
    Ok(Checked { url, description, event_types })
}

/// Lists the event types endpoints can receive.
#[utoipa::path(get, path = "/api/v1/webhooks/event-types", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = WebhookEventTypes), (status = 403, description = "forbidden")))]
async fn list_event_types(_auth: Auth<AdminUp>) -> Json<WebhookEventTypes> {
    Json(WebhookEventTypes { items: payload::EVENT_TYPES.iter().map(|t| (*t).to_owned()).collect() })
}

/// Lists the workspace's webhook endpoints.
#[utoipa::path(get, path = "/api/v1/webhooks/endpoints", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = WebhookEndpointList), (status = 403, description = "forbidden")))]
async fn list_endpoints(State(state): State<AppState>, auth: Auth<AdminUp>) -> Result<Json<WebhookEndpointList>> {
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let rows = db::webhooks::list(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(WebhookEndpointList { items: rows.into_iter().map(WebhookEndpoint::from).collect() }))
}

/// Creates an endpoint (at most 20 per workspace), enabled, with a new secret.
#[utoipa::path(post, path = "/api/v1/webhooks/endpoints", tag = "webhooks", security(("bearer" = [])),
    request_body = CreateWebhookEndpoint,
    responses((status = 201, body = CreatedWebhookEndpoint), (status = 403, description = "forbidden"),
        (status = 422, description = "validation_failed (`invalid_url` — not https, credentials, an internal address —, `unknown_event_type`, `too_many_endpoints`)")))]
async fn create_endpoint(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    ApiJson(body): ApiJson<CreateWebhookEndpoint>,
) -> Result<(StatusCode, Json<CreatedWebhookEndpoint>)> {
    let checked = check(
        &state,
        Some(&body.url),
        Some(body.description.as_deref().unwrap_or("")),
        Some(body.event_types.as_deref().unwrap_or(&[])),
    )?;
    let (Some(url), Some(description), Some(event_types)) = (checked.url, checked.description, checked.event_types)
    else {
        return Err(ApiError::Internal(anyhow::anyhow!("validated webhook endpoint incomplete")));
    };
    let secret = sign::new_secret()?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    if db::webhooks::lock_and_count(&mut tx).await? >= MAX_ENDPOINTS {
        return Err(ApiError::field(
            "url",
            "too_many_endpoints",
            format!("A workspace can have at most {MAX_ENDPOINTS} webhook endpoints."),
        ));
    }
    let id = WebhookEndpointId::from_uuid(uuid::Uuid::now_v7());
    let fields = EndpointFields { url: &url, description: &description, event_types: &event_types };
    let row = db::webhooks::insert(&mut tx, id, &fields, &secret).await?;
    db::webhooks::sync_tenant(&mut tx).await?;
    let details = serde_json::json!({ "url": url, "event_types": event_types });
    db::audit::record(&mut tx, auth.principal.actor(), "webhooks.endpoint_created", Some(&id.to_string()), details)
        .await?;
    tx.commit().await?;
    state.webhooks.set_listed(auth.tenant.id, true);
    Ok((StatusCode::CREATED, Json(CreatedWebhookEndpoint { endpoint: row.into(), secret })))
}

/// One endpoint.
#[utoipa::path(get, path = "/api/v1/webhooks/endpoints/{endpoint_id}", tag = "webhooks", security(("bearer" = [])),
    params(("endpoint_id" = String, Path, description = "ep_…")),
    responses((status = 200, body = WebhookEndpoint), (status = 403, description = "forbidden"),
        (status = 404, description = "resource_not_found")))]
async fn get_endpoint(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    Path(id): Path<String>,
) -> Result<Json<WebhookEndpoint>> {
    let id = endpoint_id(&id)?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let row = db::webhooks::find(&mut tx, id).await?.ok_or_else(|| ApiError::not_found("webhook endpoint"))?;
    tx.commit().await?;
    Ok(Json(row.into()))
}

/// Changes an endpoint: URL, description, event types, enabled.
#[utoipa::path(patch, path = "/api/v1/webhooks/endpoints/{endpoint_id}", tag = "webhooks", security(("bearer" = [])),
    params(("endpoint_id" = String, Path, description = "ep_…")), request_body = UpdateWebhookEndpoint,
    responses((status = 200, body = WebhookEndpoint), (status = 403, description = "forbidden"),
        (status = 404, description = "resource_not_found"),
        (status = 422, description = "validation_failed (`invalid_url`, `unknown_event_type`)")))]
async fn update_endpoint(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateWebhookEndpoint>,
) -> Result<Json<WebhookEndpoint>> {
    let id = endpoint_id(&id)?;
    let checked = check(&state, body.url.as_deref(), body.description.as_deref(), body.event_types.as_deref())?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let row = db::webhooks::update(
        &mut tx,
        id,
        checked.url.as_deref(),
        checked.description.as_deref(),
        checked.event_types.as_deref(),
        body.enabled,
    )
    .await?
    .ok_or_else(|| ApiError::not_found("webhook endpoint"))?;
    db::webhooks::sync_tenant(&mut tx).await?;
    let listed = db::webhooks::any_enabled(&mut tx).await?;
    let details = serde_json::json!({
        "url": checked.url, "description": checked.description, "event_types": checked.event_types,
        "enabled": body.enabled,
    });
    db::audit::record(&mut tx, auth.principal.actor(), "webhooks.endpoint_changed", Some(&id.to_string()), details)
        .await?;
    tx.commit().await?;
    state.webhooks.set_listed(auth.tenant.id, listed);
    if row.enabled {
        state.webhooks.wake(auth.tenant.id);
    }
    Ok(Json(row.into()))
}

/// Deletes an endpoint and its delivery log.
#[utoipa::path(delete, path = "/api/v1/webhooks/endpoints/{endpoint_id}", tag = "webhooks", security(("bearer" = [])),
    params(("endpoint_id" = String, Path, description = "ep_…")),
    responses((status = 204, description = "deleted"), (status = 403, description = "forbidden"),
        (status = 404, description = "resource_not_found")))]
async fn delete_endpoint(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id = endpoint_id(&id)?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let Some(row) = db::webhooks::find(&mut tx, id).await? else {
        return Err(ApiError::not_found("webhook endpoint"));
    };
    db::webhooks::delete(&mut tx, id).await?;
    db::webhooks::sync_tenant(&mut tx).await?;
    let listed = db::webhooks::any_enabled(&mut tx).await?;
    let details = serde_json::json!({ "url": row.url });
    db::audit::record(&mut tx, auth.principal.actor(), "webhooks.endpoint_deleted", Some(&id.to_string()), details)
        .await?;
    tx.commit().await?;
    state.webhooks.set_listed(auth.tenant.id, listed);
    Ok(StatusCode::NO_CONTENT)
}

/// An endpoint's signing secret.
#[utoipa::path(get, path = "/api/v1/webhooks/endpoints/{endpoint_id}/secret", tag = "webhooks",
    security(("bearer" = [])), params(("endpoint_id" = String, Path, description = "ep_…")),
    responses((status = 200, body = WebhookSecret), (status = 403, description = "forbidden"),
        (status = 404, description = "resource_not_found")))]
async fn get_endpoint_secret(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    Path(id): Path<String>,
) -> Result<Json<WebhookSecret>> {
    let id = endpoint_id(&id)?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let row = db::webhooks::find(&mut tx, id).await?.ok_or_else(|| ApiError::not_found("webhook endpoint"))?;
    let view = WebhookEndpoint::from(row.clone());
    tx.commit().await?;
    Ok(Json(WebhookSecret { secret: row.secret, previous_secret_until: view.previous_secret_until }))
}

/// Gives an endpoint a new secret; the previous one keeps signing (a second signature in
/// `webhook-signature`) for `webhooks.rotation_overlap_secs` (a day by default).
#[utoipa::path(post, path = "/api/v1/webhooks/endpoints/{endpoint_id}/rotate-secret", tag = "webhooks",
    security(("bearer" = [])), params(("endpoint_id" = String, Path, description = "ep_…")),
    responses((status = 200, body = WebhookSecret), (status = 403, description = "forbidden"),
        (status = 404, description = "resource_not_found")))]
async fn rotate_endpoint_secret(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    Path(id): Path<String>,
) -> Result<Json<WebhookSecret>> {
    let id = endpoint_id(&id)?;
    let secret = sign::new_secret()?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let row = db::webhooks::rotate(&mut tx, id, &secret, state.config.webhooks.rotation_overlap_secs)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint"))?;
    let details = serde_json::json!({ "previous_secret_until": row.previous_secret_until });
    db::audit::record(&mut tx, auth.principal.actor(), "webhooks.secret_rotated", Some(&id.to_string()), details)
        .await?;
    tx.commit().await?;
    Ok(Json(WebhookSecret { secret, previous_secret_until: row.previous_secret_until }))
}

/// Sends a `webhook.test` event to an endpoint (whatever its filter); the delivery is in the log.
#[utoipa::path(post, path = "/api/v1/webhooks/endpoints/{endpoint_id}/test", tag = "webhooks",
    security(("bearer" = [])), params(("endpoint_id" = String, Path, description = "ep_…")),
    responses((status = 202, body = WebhookDelivery), (status = 403, description = "forbidden"),
        (status = 404, description = "resource_not_found")))]
async fn send_test_event(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<WebhookDelivery>)> {
    let id = endpoint_id(&id)?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    if db::webhooks::find(&mut tx, id).await?.is_none() {
        return Err(ApiError::not_found("webhook endpoint"));
    }
    let row = crate::webhooks::insert_test(&mut tx, id).await?;
    tx.commit().await?;
    state.webhooks.wake(auth.tenant.id);
    Ok((StatusCode::ACCEPTED, Json(row.into())))
}

/// The delivery log, newest first; filter by endpoint and state.
#[utoipa::path(get, path = "/api/v1/webhooks/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(DeliveryQuery),
    responses((status = 200, body = WebhookDeliveryPage), (status = 403, description = "forbidden"),
        (status = 422, description = "validation_failed")))]
async fn list_deliveries(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    Query(query): Query<DeliveryQuery>,
) -> Result<Json<WebhookDeliveryPage>> {
    let mut fields = Fields::default();
    let endpoint = query
        .endpoint_id
        .as_deref()
        .filter(|e| !e.is_empty())
        .and_then(|e| fields.take("endpoint_id", "invalid", e.parse::<WebhookEndpointId>()));
    let status = query.status.as_deref().filter(|s| !s.is_empty()).and_then(|s| {
        fields.take("status", "invalid", s.parse::<DeliveryStatus>().map_err(|_| "pending, succeeded or failed"))
    });
    let before = query
        .before
        .as_deref()
        .filter(|b| !b.is_empty())
        .and_then(|b| fields.take("before", "invalid", b.parse::<i64>().map_err(|_| "a `next` of this log")));
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        fields.take::<(), _>("limit", "out_of_range", Err("1–200"));
    }
    fields.finish()?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let rows = db::webhooks::list_deliveries(&mut tx, endpoint, status, before, limit + 1).await?;
    tx.commit().await?;
    let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
    let mut rows = rows;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next = if more { rows.last().map(|r| r.seq.to_string()) } else { None };
    Ok(Json(WebhookDeliveryPage { items: rows.into_iter().map(WebhookDelivery::from).collect(), next }))
}

/// One delivery.
#[utoipa::path(get, path = "/api/v1/webhooks/deliveries/{delivery_id}", tag = "webhooks", security(("bearer" = [])),
    params(("delivery_id" = String, Path, description = "dlv_…")),
    responses((status = 200, body = WebhookDelivery), (status = 403, description = "forbidden"),
        (status = 404, description = "resource_not_found")))]
async fn get_delivery(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    Path(id): Path<String>,
) -> Result<Json<WebhookDelivery>> {
    let id = delivery_id(&id)?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let row = db::webhooks::find_delivery(&mut tx, id).await?.ok_or_else(|| ApiError::not_found("webhook delivery"))?;
    tx.commit().await?;
    Ok(Json(row.into()))
}

/// Sends a delivery's event again to its endpoint: a new delivery with the same body and
/// `webhook-id` (so the receiver can tell it is the same event), after the endpoint's other
/// pending deliveries of the same conversation.
#[utoipa::path(post, path = "/api/v1/webhooks/deliveries/{delivery_id}/replay", tag = "webhooks",
    security(("bearer" = [])), params(("delivery_id" = String, Path, description = "dlv_…")),
    responses((status = 202, body = WebhookDelivery), (status = 403, description = "forbidden"),
        (status = 404, description = "resource_not_found")))]
async fn replay_delivery(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<WebhookDelivery>)> {
    let id = delivery_id(&id)?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let original =
        db::webhooks::find_delivery(&mut tx, id).await?.ok_or_else(|| ApiError::not_found("webhook delivery"))?;
    let new = NewDelivery {
        endpoint_id: original.endpoint_id,
        event_id: original.event_id,
        event_type: &original.event_type,
        ordering_key: original.ordering_key,
        payload: &original.payload,
        replay_of: Some(original.id),
    };
    let row = db::webhooks::insert_delivery(&mut tx, &new).await?;
    let details =
        serde_json::json!({ "replay_of": original.id.to_string(), "endpoint_id": original.endpoint_id.to_string() });
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "webhooks.delivery_replayed",
        Some(&row.id.to_string()),
        details,
    )
    .await?;
    tx.commit().await?;
    state.webhooks.wake(auth.tenant.id);
    Ok((StatusCode::ACCEPTED, Json(row.into())))
}
