//! Agent presence over REST (F16): who is connected and how available, across all nodes.

use axum::extract::State;
use kefu_protocol::UserId;
use kefu_protocol::ws::AgentStatus;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AnyMember, Auth};
use crate::error::{ApiError, Result};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_agent_presence))
}

/// One connected agent.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentPresence {
    /// User id.
    #[schema(value_type = String)]
    pub user_id: UserId,
    /// `online`, `busy` or `away` (agents not listed are offline).
    #[schema(value_type = String)]
    pub status: AgentStatus,
}

/// Lists the tenant's connected agents with their best status over all their connections.
#[utoipa::path(get, path = "/api/v1/presence/agents", tag = "members", security(("bearer" = [])),
    responses((status = 200, body = [AgentPresence]), (status = 503, description = "service_unavailable")))]
async fn list_agent_presence(
    State(state): State<AppState>,
    auth: Auth<AnyMember>,
) -> Result<axum::Json<Vec<AgentPresence>>> {
    let agents = state.presence.agents(auth.tenant.id).await.map_err(|error| {
        tracing::warn!(%error, "presence unavailable");
        ApiError::client(kefu_protocol::ErrorCode::ServiceUnavailable, "Presence is unavailable; retry shortly.")
    })?;
    Ok(axum::Json(agents.into_iter().map(|(user_id, status)| AgentPresence { user_id, status }).collect()))
}
