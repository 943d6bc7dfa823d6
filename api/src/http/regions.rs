//! The deployment's regions as the signup page offers them (`GET /api/v1/auth/regions`): each
//! region's name, label and console, and which one this node is. A workspace is homed in the
//! region whose console signs it up; a signup that names another region is refused with
//! `421 wrong_region`, naming that region's console (docs/regions.md).

use axum::extract::State;
use kefu_protocol::ErrorCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Result};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_regions))
}

/// One region where workspaces can live.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegionView {
    /// Its name (`eu-central`), as a workspace's `region`.
    pub name: String,
    /// What people see ("Europe (Frankfurt)").
    pub label: String,
    /// Its console: sign up and sign in there for a workspace in this region.
    pub app_url: String,
}

/// The regions and this node's own.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegionsView {
    /// The region of the node answering: signups here are homed in it.
    pub current: String,
    /// Every region, this one included, in the operator's order.
    pub regions: Vec<RegionView>,
}

/// The regions a workspace can be homed in, for the signup page's choice.
#[utoipa::path(get, path = "/api/v1/auth/regions", tag = "auth",
    responses((status = 200, body = RegionsView)))]
async fn list_regions(State(state): State<AppState>) -> axum::Json<RegionsView> {
    let regions = state
        .config
        .region_directory()
        .into_iter()
        .map(|entry| RegionView { name: entry.name, label: entry.label, app_url: entry.app_url })
        .collect();
    axum::Json(RegionsView { current: state.config.region.clone(), regions })
}

/// Refuses a signup for `wanted`, when it names a region other than this node's: the workspace
/// would be homed here, not where its owner chose.
pub fn check_signup_region(state: &AppState, wanted: Option<&str>) -> Result<()> {
    let Some(wanted) = wanted else { return Ok(()) };
    if wanted == state.config.region {
        return Ok(());
    }
    let directory = state.config.region_directory();
    match directory.iter().find(|entry| entry.name == wanted) {
        Some(entry) => Err(ApiError::client(
            ErrorCode::WrongRegion,
            format!(
                "Workspaces in {} sign up at {}/signup; this server is in region `{}`.",
                entry.label, entry.app_url, state.config.region
            ),
        )),
        // Not echoed: the name is the client's, of any length the body limit allows.
        None => {
            Err(ApiError::client(ErrorCode::ValidationFailed, "There is no such region; see /api/v1/auth/regions."))
        }
    }
}
