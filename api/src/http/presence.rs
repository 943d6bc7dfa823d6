//! Presence over REST (F13, F16): which agents are connected and how available, which visitors
//! are online and on which page, across all nodes.

use axum::extract::State;
use kefu_protocol::ws::AgentStatus;
use kefu_protocol::{UserId, VisitorId};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AnyMember, Auth, ConversationsRead};
use crate::error::{ApiError, Result};
use crate::realtime::presence::visitors::CurrentPage;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_agent_presence)).routes(routes!(list_visitor_presence))
}

/// One connected agent.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentPresence {
    /// User id.
    pub user_id: UserId,
    /// `online`, `busy` or `away` (agents not listed are offline).
    pub status: AgentStatus,
}

/// Lists the tenant's connected agents with their best status over all their connections.
#[utoipa::path(get, path = "/api/v1/presence/agents", tag = "members", security(("bearer" = [])),
    responses((status = 200, body = [AgentPresence]), (status = 503, description = "service_unavailable")))]
async fn list_agent_presence(
    State(state): State<AppState>,
    auth: Auth<AnyMember, ConversationsRead>,
) -> Result<axum::Json<Vec<AgentPresence>>> {
    let agents = state.presence.agents(auth.tenant.id).await.map_err(unavailable)?;
    Ok(axum::Json(agents.into_iter().map(|(user_id, status)| AgentPresence { user_id, status }).collect()))
}

fn unavailable(error: redis::RedisError) -> ApiError {
    tracing::warn!(%error, "presence unavailable");
    ApiError::client(kefu_protocol::ErrorCode::ServiceUnavailable, "Presence is unavailable; retry shortly.")
}

/// One online visitor.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitorPresence {
    /// Visitor id.
    pub visitor_id: VisitorId,
    /// The page they are on, once their widget reported one.
    pub current_page: Option<CurrentPage>,
}

/// Online visitors.
#[derive(Debug, Serialize, ToSchema)]
pub struct OnlineVisitors {
    /// How many visitors are online.
    pub total: usize,
    /// Up to 500 of them with their current page.
    pub visitors: Vec<VisitorPresence>,
}

/// Lists the tenant's online visitors (any tab, any node) with the page each is on: the exact
/// total and at most 500 entries.
#[utoipa::path(get, path = "/api/v1/presence/visitors", tag = "visitors", security(("bearer" = [])),
    responses((status = 200, body = OnlineVisitors), (status = 503, description = "service_unavailable")))]
async fn list_visitor_presence(
    State(state): State<AppState>,
    auth: Auth<AnyMember, ConversationsRead>,
) -> Result<axum::Json<OnlineVisitors>> {
    let (total, online) = state.presence.visitors_online(auth.tenant.id).await.map_err(unavailable)?;
    let visitors = online
        .into_iter()
        .map(|v| VisitorPresence { visitor_id: v.visitor_id, current_page: v.current_page })
        .collect();
    Ok(axum::Json(OnlineVisitors { total, visitors }))
}
