//! Routing settings (F19, F20): whether conversations are assigned automatically, how an agent
//! is chosen, the default team, and the priorities of tags. Every member reads them; admins change them. A change wakes
//! the assignment engine (`routing`), so turning it on assigns what is waiting.

use std::collections::BTreeMap;

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AdminUp, AnyMember, ApiJson, Auth};
use crate::db::routing::{RoutingSettings, Strategy};
use crate::db::{self, TenantTx};
use crate::error::{ApiError, Result};
use crate::ops::events::Change;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_routing, put_routing))
}

/// New routing settings (all fields).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingRequest {
    /// Assign new and waiting conversations automatically.
    pub auto_assign: bool,
    /// `least_busy` (fewest open conversations for their capacity) or `round_robin`.
    pub strategy: Strategy,
    /// `team_…` whose members take conversations that have no team; `null` for anyone.
    #[serde(default)]
    pub default_team_id: Option<String>,
    /// Tag → priority (0–100, at most 50 tags): a waiting conversation with the tag waits at
    /// least at that priority (e.g. `{"vip": 50}`).
    #[serde(default)]
    pub tag_priorities: BTreeMap<String, u16>,
}

/// Most tags with a priority.
pub const MAX_TAG_PRIORITIES: usize = 50;

fn tag_priorities(raw: &BTreeMap<String, u16>) -> Result<BTreeMap<String, i16>> {
    let invalid = |message: String| ApiError::field("tag_priorities", "invalid", message);
    if raw.len() > MAX_TAG_PRIORITIES {
        return Err(invalid(format!("At most {MAX_TAG_PRIORITIES} tags.")));
    }
    let mut out = BTreeMap::new();
    for (tag, priority) in raw {
        let tag = crate::domain::tags::parse_tag(tag).map_err(invalid)?;
        let priority = i16::try_from(*priority).ok().filter(|p| *p <= 100);
        let Some(priority) = priority else { return Err(invalid(format!("{tag}: the priority must be 0–100."))) };
        out.insert(tag, priority);
    }
    Ok(out)
}

/// The tenant's routing settings.
#[utoipa::path(get, path = "/api/v1/routing", tag = "routing", security(("bearer" = [])),
    responses((status = 200, body = RoutingSettings)))]
async fn get_routing(State(state): State<AppState>, auth: Auth<AnyMember>) -> Result<axum::Json<RoutingSettings>> {
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let settings = db::routing::settings(&mut tx).await?;
    tx.commit().await?;
    Ok(axum::Json(settings))
}

/// Replaces the tenant's routing settings (admins).
#[utoipa::path(put, path = "/api/v1/routing", tag = "routing", security(("bearer" = [])),
    request_body = RoutingRequest,
    responses((status = 200, body = RoutingSettings), (status = 403, description = "forbidden"),
        (status = 422, description = "validation_failed (`default_team_id`: `not_found`)")))]
async fn put_routing(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    ApiJson(body): ApiJson<RoutingRequest>,
) -> Result<axum::Json<RoutingSettings>> {
    let no_team = || ApiError::field("default_team_id", "not_found", "No such team.");
    let default_team_id = body.default_team_id.as_deref().map(|raw| raw.parse().map_err(|_| no_team())).transpose()?;
    let tag_priorities = tag_priorities(&body.tag_priorities)?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    if let Some(team) = default_team_id
        && !db::teams::exists(&mut tx, team).await?
    {
        return Err(no_team());
    }
    let settings =
        RoutingSettings { auto_assign: body.auto_assign, strategy: body.strategy, default_team_id, tag_priorities };
    let saved = db::routing::update_settings(&mut tx, &settings).await?;
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "routing.changed",
        None,
        serde_json::to_value(&saved).unwrap_or_default(),
    )
    .await?;
    tx.commit().await?;
    state.router.wake(auth.tenant.id);
    state.events.publish(Change::QueueReordered { tenant: auth.tenant.id });
    Ok(axum::Json(saved))
}
