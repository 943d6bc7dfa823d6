//! Teams (F14): admins create, rename, staff and delete them; every member reads them. A team is
//! a queue that conversations can be transferred to (`http::conversation_actions`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kefu_protocol::{TeamId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AdminUp, AnyMember, ApiJson, Auth, ConversationsRead};
use crate::db::NewId;
use crate::db::teams::TeamRow;
use crate::db::{self, TenantTx};
use crate::error::{ApiError, Result};
use crate::ops::events::{Change, ConversationChange};
use crate::state::AppState;

/// Most members one `PUT …/members` names.
pub const MAX_MEMBERS: usize = 1000;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_teams, create_team))
        .routes(routes!(rename_team, delete_team))
        .routes(routes!(replace_team_members))
}

/// A team.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeamView {
    /// `team_…`.
    pub id: TeamId,
    /// Name, unique in the tenant regardless of case.
    pub name: String,
    /// Its members.
    pub user_ids: Vec<UserId>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last renamed or re-staffed.
    pub updated_at: DateTime<Utc>,
}

impl From<TeamRow> for TeamView {
    fn from(row: TeamRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            user_ids: row.user_ids,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A team's name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamRequest {
    /// 1–80 characters.
    pub name: String,
}

/// A team's members, replacing the current ones.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamMembersRequest {
    /// Members of the tenant (`usr_…`), at most 1000.
    pub user_ids: Vec<String>,
}

/// Parses a `team_…` path segment; a malformed id is simply not found.
pub(crate) fn team_id(raw: &str) -> Result<TeamId> {
    raw.parse().map_err(|_| ApiError::not_found("team"))
}

fn team_name(raw: &str) -> Result<String> {
    crate::domain::names::parse_name(raw, 80).map_err(|m| ApiError::field("name", "invalid", m))
}

fn name_taken() -> ApiError {
    ApiError::field("name", "name_taken", "Another team already has this name.")
}

/// `name_taken` for a violation of either unique index on teams' names: the exact one
/// (`teams_name_key`, from the first migration), which an exact duplicate trips first, and the
/// one regardless of case (`teams_name_lower_key`).
fn unless_name_taken<T>(result: sqlx::Result<T>) -> Result<T> {
    match result {
        Err(sqlx::Error::Database(db))
            if matches!(db.constraint(), Some("teams_name_key" | "teams_name_lower_key")) =>
        {
            Err(name_taken())
        }
        other => Ok(other?),
    }
}

/// Every team with its members, by name.
#[utoipa::path(get, path = "/api/v1/teams", tag = "teams", security(("bearer" = [])),
    responses((status = 200, body = [TeamView])))]
async fn list_teams(
    State(state): State<AppState>,
    auth: Auth<AnyMember, ConversationsRead>,
) -> Result<axum::Json<Vec<TeamView>>> {
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let teams = db::teams::list(&mut tx).await?;
    tx.commit().await?;
    Ok(axum::Json(teams.into_iter().map(TeamView::from).collect()))
}

/// Creates a team (at most 100 per tenant).
#[utoipa::path(post, path = "/api/v1/teams", tag = "teams", security(("bearer" = [])), request_body = TeamRequest,
    responses((status = 201, body = TeamView), (status = 403, description = "forbidden"),
        (status = 422, description = "validation_failed (`name_taken`, `too_many_teams`)")))]
async fn create_team(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    ApiJson(body): ApiJson<TeamRequest>,
) -> Result<(StatusCode, axum::Json<TeamView>)> {
    let name = team_name(&body.name)?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    if db::teams::lock_and_count(&mut tx).await? >= db::teams::MAX_PER_TENANT {
        return Err(ApiError::field(
            "name",
            "too_many_teams",
            format!("A tenant can have at most {} teams.", db::teams::MAX_PER_TENANT),
        ));
    }
    let id = TeamId::new_v7();
    unless_name_taken(db::teams::insert(&mut tx, id, &name).await)?;
    let team = db::teams::find(&mut tx, id).await?.ok_or_else(|| ApiError::not_found("team"))?;
    let target = id.to_string();
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "team.created",
        Some(&target),
        serde_json::json!({ "name": name }),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(team.into())))
}

/// Renames a team.
#[utoipa::path(patch, path = "/api/v1/teams/{team_id}", tag = "teams", security(("bearer" = [])),
    params(("team_id" = String, Path, description = "team_…")), request_body = TeamRequest,
    responses((status = 200, body = TeamView), (status = 403, description = "forbidden"),
        (status = 404, description = "resource_not_found"), (status = 422, description = "validation_failed (`name_taken`)")))]
async fn rename_team(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TeamRequest>,
) -> Result<axum::Json<TeamView>> {
    let id = team_id(&id)?;
    let name = team_name(&body.name)?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    if !unless_name_taken(db::teams::rename(&mut tx, id, &name).await)? {
        return Err(ApiError::not_found("team"));
    }
    let team = db::teams::find(&mut tx, id).await?.ok_or_else(|| ApiError::not_found("team"))?;
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "team.renamed",
        Some(&id.to_string()),
        serde_json::json!({ "name": name }),
    )
    .await?;
    tx.commit().await?;
    // New members may take the team's waiting conversations.
    state.router.wake(auth.tenant.id);
    Ok(axum::Json(team.into()))
}

/// Deletes a team; open conversations in its queue stay open with no team (announced as
/// `conversation_updated`).
#[utoipa::path(delete, path = "/api/v1/teams/{team_id}", tag = "teams", security(("bearer" = [])),
    params(("team_id" = String, Path, description = "team_…")),
    responses((status = 204, description = "deleted"), (status = 403, description = "forbidden"),
        (status = 404, description = "resource_not_found")))]
async fn delete_team(State(state): State<AppState>, auth: Auth<AdminUp>, Path(id): Path<String>) -> Result<StatusCode> {
    let id = team_id(&id)?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let moved = db::teams::delete(&mut tx, id).await?.ok_or_else(|| ApiError::not_found("team"))?;
    let mut rows = Vec::with_capacity(moved.len());
    for conversation in moved {
        if let Some(row) = db::conversations::find(&mut tx, conversation).await? {
            rows.push(row);
        }
    }
    db::audit::record(&mut tx, auth.principal.actor(), "team.deleted", Some(&id.to_string()), serde_json::json!({}))
        .await?;
    tx.commit().await?;
    for row in &rows {
        state.events.publish(Change::ConversationChanged {
            tenant: auth.tenant.id,
            conversation: row.clone(),
            cause: ConversationChange::TeamRemoved,
        });
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces a team's members; every id must be a member of the tenant.
#[utoipa::path(put, path = "/api/v1/teams/{team_id}/members", tag = "teams", security(("bearer" = [])),
    params(("team_id" = String, Path, description = "team_…")), request_body = TeamMembersRequest,
    responses((status = 200, body = TeamView), (status = 403, description = "forbidden"),
        (status = 404, description = "resource_not_found"), (status = 422, description = "validation_failed (`not_a_member`)")))]
async fn replace_team_members(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TeamMembersRequest>,
) -> Result<axum::Json<TeamView>> {
    let id = team_id(&id)?;
    if body.user_ids.len() > MAX_MEMBERS {
        return Err(ApiError::field("user_ids", "too_many", format!("At most {MAX_MEMBERS} members.")));
    }
    let mut users: Vec<UserId> = Vec::with_capacity(body.user_ids.len());
    for raw in &body.user_ids {
        let user = raw.parse::<UserId>().map_err(|_| {
            ApiError::field("user_ids", "not_a_member", format!("{raw} is not a member of this tenant."))
        })?;
        if !users.contains(&user) {
            users.push(user);
        }
    }
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    if !db::teams::exists(&mut tx, id).await? {
        return Err(ApiError::not_found("team"));
    }
    let active = db::teams::active_members(&mut tx, &users).await?;
    if let Some(stranger) = users.iter().find(|u| !active.contains(u)) {
        return Err(ApiError::field("user_ids", "not_a_member", format!("{stranger} is not a member of this tenant.")));
    }
    db::teams::replace_members(&mut tx, id, &users).await?;
    let team = db::teams::find(&mut tx, id).await?.ok_or_else(|| ApiError::not_found("team"))?;
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "team.members_replaced",
        Some(&id.to_string()),
        serde_json::json!({ "members": team.user_ids.len() }),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(team.into()))
}
