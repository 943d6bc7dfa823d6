//! The workspace's retention period (docs/retention.md): how long conversation content is kept,
//! within the plan's bound, and what the last daily run deleted and kept. Admins and up; a change
//! is audited and applied within minutes.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AdminUp, ApiJson, Auth};
use crate::db::{self, TenantTx};
use crate::error::{ApiError, Result};
use crate::state::AppState;

/// The longest period a workspace may choose, whatever its plan (100 years).
pub const MAX_DAYS: i32 = 36_500;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_retention, put_retention))
}

/// The retention settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetentionView {
    /// The workspace's choice in days (null: as long as the plan allows).
    pub days: Option<i32>,
    /// The plan's bound in days (null: the plan keeps everything).
    pub plan_max_days: Option<i32>,
    /// The period applied (null: content is kept).
    pub effective_days: Option<i32>,
    /// From when the plan's bound applies: 30 days after the workspace moved to its plan (until
    /// then only the workspace's own choice deletes anything).
    pub plan_bound_from: DateTime<Utc>,
    /// When the next daily run is due.
    pub next_run_at: DateTime<Utc>,
    /// The last run, once there was one.
    pub last_run: Option<db::retention::RetentionRun>,
}

impl From<db::retention::Settings> for RetentionView {
    fn from(s: db::retention::Settings) -> Self {
        Self {
            days: s.retention_days,
            plan_max_days: s.max_retention_days,
            effective_days: s.effective_days(),
            plan_bound_from: s.bound_from,
            next_run_at: s.retention_next_at,
            last_run: s.retention_last.map(|last| last.0),
        }
    }
}

/// A new period.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionRequest {
    /// Days, 1–36500 and at most the plan's bound; null: as long as the plan allows.
    pub days: Option<i32>,
}

/// The workspace's retention settings and its last run.
#[utoipa::path(get, path = "/api/v1/retention", tag = "tenant", security(("bearer" = [])),
    responses((status = 200, body = RetentionView), (status = 403, description = "forbidden: admins and up")))]
async fn get_retention(State(state): State<AppState>, auth: Auth<AdminUp>) -> Result<axum::Json<RetentionView>> {
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let settings = db::retention::settings(&mut tx).await?;
    tx.commit().await?;
    Ok(axum::Json(settings.into()))
}

/// Sets how long conversation content is kept. Content older than the period is deleted by the
/// next run (within minutes): messages and notes of closed conversations with their attachments,
/// attachments never sent, page views. Open conversations keep theirs.
#[utoipa::path(put, path = "/api/v1/retention", tag = "tenant", security(("bearer" = [])),
    request_body = RetentionRequest,
    responses((status = 200, body = RetentionView), (status = 403, description = "forbidden: admins and up"),
        (status = 422, description = "validation_failed: `days` out of range or `over_plan`")))]
async fn put_retention(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    ApiJson(request): ApiJson<RetentionRequest>,
) -> Result<axum::Json<RetentionView>> {
    if let Some(days) = request.days
        && !(1..=MAX_DAYS).contains(&days)
    {
        return Err(ApiError::field("days", "out_of_range", "1–36500 days"));
    }
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let before = db::retention::settings(&mut tx).await?;
    if let (Some(days), Some(bound)) = (request.days, before.max_retention_days)
        && days > bound
    {
        return Err(ApiError::field("days", "over_plan", format!("Your plan keeps at most {bound} days.")));
    }
    db::retention::set_days(&mut tx, request.days).await?;
    let details = serde_json::json!({ "from": before.retention_days, "to": request.days });
    db::audit::record(&mut tx, auth.principal.actor(), "retention.changed", None, details).await?;
    let after = db::retention::settings(&mut tx).await?;
    tx.commit().await?;
    Ok(axum::Json(after.into()))
}
