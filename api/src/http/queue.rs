//! The live queue over REST (F19, F20): the waiting conversations in the order they are served,
//! each with its place in its team's queue, how long it has waited and its wait estimate; and
//! setting a conversation's priority (which reorders the queue) or the skills it needs (which
//! decide who may be given it) by hand, for supervisors and up.
//! Consoles re-read the queue when the agent WebSocket says it moved (`conversation_updated` of
//! a waiting conversation, `presence`, `queue_changed`).

use std::time::Duration;

use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use kefu_protocol::ws::Availability;
use kefu_protocol::{ConversationId, TeamId, VisitorId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AnyMember, ApiJson, Auth, ConversationsRead, ConversationsWrite, SupervisorUp};
use crate::db::{self, TenantTx};
use crate::error::{ApiError, Result};
use crate::ops::events::Change;
use crate::routing::queue::{self, TimesCache};
use crate::state::AppState;

/// Most entries one read returns.
pub const MAX_QUEUE_PAGE: i64 = 1000;
/// Entries returned without `limit`.
pub const DEFAULT_QUEUE_PAGE: i64 = 200;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_queue)).routes(routes!(set_priority)).routes(routes!(set_skills))
}

/// How much of the queue to read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// Entries, 1–1000 (default 200), from the front of the queue.
    pub limit: Option<i64>,
}

/// The queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueView {
    /// The team's availability as visitors are told it.
    pub availability: Availability,
    /// Closed by business hours: when the team next opens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opens_at: Option<DateTime<Utc>>,
    /// How many conversations wait in all.
    pub waiting: i64,
    /// The first waiting conversations, in the order they are served.
    pub entries: Vec<QueueEntry>,
}

/// A waiting conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueEntry {
    /// `conv_…`.
    pub conversation_id: ConversationId,
    /// `vis_…`.
    pub visitor_id: VisitorId,
    /// The visitor's name, if they gave one.
    pub visitor_name: Option<String>,
    /// The team whose queue it is in (its own, else the default team).
    pub team_id: Option<TeamId>,
    /// Tags.
    pub tags: Vec<String>,
    /// Skills an agent needs to be given it.
    pub skills: Vec<String>,
    /// The priority it waits at, 0–100: the highest of the one set on it, its visitor's VIP
    /// level × 10 and its tags' priorities.
    pub priority: i16,
    /// The priority set on it (by hand or a rule).
    pub set_priority: i16,
    /// 1 = next in its team's queue.
    pub position: i64,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// Seconds until an agent is expected to take it, when there is a basis (docs/routing.md).
    pub estimated_wait_secs: Option<u32>,
}

/// The waiting conversations in the order they are served (any member).
#[utoipa::path(get, path = "/api/v1/queue", tag = "routing", security(("bearer" = [])), params(QueueQuery),
    responses((status = 200, body = QueueView), (status = 422, description = "validation_failed")))]
async fn get_queue(
    State(state): State<AppState>,
    auth: Auth<AnyMember, ConversationsRead>,
    Query(query): Query<QueueQuery>,
) -> Result<axum::Json<QueueView>> {
    let limit = query.limit.unwrap_or(DEFAULT_QUEUE_PAGE);
    if !(1..=MAX_QUEUE_PAGE).contains(&limit) {
        return Err(ApiError::field("limit", "out_of_range", format!("1 to {MAX_QUEUE_PAGE}")));
    }
    let mut times = TimesCache::new(Duration::ZERO);
    let view = queue::read(&state.db, &state.presence, &auth.tenant, limit, &mut times).await?;
    let entries = view
        .entries
        .into_iter()
        .map(|entry| QueueEntry {
            conversation_id: entry.place.id,
            visitor_id: entry.place.visitor_id,
            visitor_name: entry.place.visitor_name,
            team_id: entry.place.team_id,
            tags: entry.place.tags,
            skills: entry.place.skills,
            priority: entry.place.priority,
            set_priority: entry.place.set_priority,
            position: entry.place.position,
            created_at: entry.place.created_at,
            estimated_wait_secs: entry.estimated_wait_secs,
        })
        .collect();
    Ok(axum::Json(QueueView {
        availability: view.availability,
        opens_at: view.opens_at,
        waiting: view.waiting,
        entries,
    }))
}

/// A conversation's priority.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityRequest {
    /// 0–100; higher is served first, then longest waiting.
    pub priority: u16,
}

/// Sets an open conversation's priority (supervisors and up): the queue is reordered at once.
/// Its VIP level and tags still apply: it waits at the highest of the three.
#[utoipa::path(put, path = "/api/v1/conversations/{conversation_id}/priority", tag = "routing",
    security(("bearer" = [])), params(("conversation_id" = String, Path, description = "conv_…")),
    request_body = PriorityRequest,
    responses((status = 200, body = PriorityRequest), (status = 403, description = "forbidden"),
        (status = 404, description = "resource_not_found"), (status = 409, description = "conversation_closed"),
        (status = 422, description = "validation_failed")))]
async fn set_priority(
    State(state): State<AppState>,
    auth: Auth<SupervisorUp, ConversationsWrite>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PriorityRequest>,
) -> Result<axum::Json<PriorityRequest>> {
    let id: ConversationId = id.parse().map_err(|_| ApiError::not_found("conversation"))?;
    let priority = i16::try_from(body.priority)
        .ok()
        .filter(|p| *p <= 100)
        .ok_or_else(|| ApiError::field("priority", "out_of_range", "0 to 100"))?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    match db::queue::set_priority(&mut tx, id, priority).await? {
        None => return Err(ApiError::not_found("conversation")),
        Some(false) => {
            return Err(ApiError::client(
                kefu_protocol::ErrorCode::ConversationClosed,
                "The conversation is closed; reopen it first.",
            ));
        }
        Some(true) => {}
    }
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "conversation.prioritized",
        Some(&id.to_string()),
        serde_json::json!({ "priority": priority }),
    )
    .await?;
    tx.commit().await?;
    state.events.publish(Change::QueueReordered { tenant: auth.tenant.id });
    Ok(axum::Json(PriorityRequest { priority: body.priority }))
}

/// Most skills one conversation may need.
pub const MAX_CONVERSATION_SKILLS: usize = 10;

/// The skills a conversation needs.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkillsRequest {
    /// At most 10, each 1–40 characters; stored trimmed and lowercase, without duplicates.
    /// The engine gives the conversation only to an agent with all of them.
    pub skills: Vec<String>,
}

/// Sets the skills a conversation needs (supervisors and up); the engine looks again at once.
#[utoipa::path(put, path = "/api/v1/conversations/{conversation_id}/skills", tag = "routing",
    security(("bearer" = [])), params(("conversation_id" = String, Path, description = "conv_…")),
    request_body = SkillsRequest,
    responses((status = 200, body = SkillsRequest), (status = 403, description = "forbidden"),
        (status = 404, description = "resource_not_found"), (status = 422, description = "validation_failed")))]
async fn set_skills(
    State(state): State<AppState>,
    auth: Auth<SupervisorUp, ConversationsWrite>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SkillsRequest>,
) -> Result<axum::Json<SkillsRequest>> {
    let id: ConversationId = id.parse().map_err(|_| ApiError::not_found("conversation"))?;
    let mut skills: Vec<String> = Vec::new();
    for raw in &body.skills {
        let skill =
            crate::domain::tags::parse_label(raw, "skill").map_err(|m| ApiError::field("skills", "invalid", m))?;
        if !skills.contains(&skill) {
            skills.push(skill);
        }
    }
    if skills.len() > MAX_CONVERSATION_SKILLS {
        return Err(ApiError::field("skills", "too_many", format!("At most {MAX_CONVERSATION_SKILLS} skills.")));
    }
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let saved =
        db::routing::set_skills(&mut tx, id, &skills).await?.ok_or_else(|| ApiError::not_found("conversation"))?;
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "conversation.skills_set",
        Some(&id.to_string()),
        serde_json::json!({ "skills": saved }),
    )
    .await?;
    tx.commit().await?;
    state.router.wake(auth.tenant.id);
    Ok(axum::Json(SkillsRequest { skills: saved }))
}
