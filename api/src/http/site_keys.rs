//! Public site keys (F5) for admins: create, list, revoke. The embed snippet names a key; the
//! edge resolves it to the tenant (`http::edge`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kefu_protocol::SiteKeyId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AdminUp, ApiJson, Auth};
use crate::db::NewId;
use crate::db::{self, TenantTx};
use crate::domain::names;
use crate::error::{ApiError, Result};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_site_key, list_site_keys)).routes(routes!(revoke_site_key))
}

/// New site key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSiteKeyRequest {
    /// What it is for (a site, a brand), 1–80 characters.
    pub label: String,
}

/// A site key.
#[derive(Debug, Serialize, ToSchema)]
pub struct SiteKeyView {
    /// The public key (`site_…`), as it appears in the embed snippet.
    pub site_key: SiteKeyId,
    /// Label.
    pub label: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl From<db::site_keys::SiteKeyRow> for SiteKeyView {
    fn from(row: db::site_keys::SiteKeyRow) -> Self {
        Self { site_key: row.id, label: row.label, created_at: row.created_at }
    }
}

/// Creates a site key. At most 20 active keys per tenant.
#[utoipa::path(post, path = "/api/v1/site-keys", tag = "widget", security(("bearer" = [])),
    request_body = CreateSiteKeyRequest,
    responses((status = 201, body = SiteKeyView), (status = 422, description = "validation_failed")))]
async fn create_site_key(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    ApiJson(body): ApiJson<CreateSiteKeyRequest>,
) -> Result<(StatusCode, axum::Json<SiteKeyView>)> {
    let label = names::parse_name(&body.label, 80).map_err(|m| ApiError::field("label", "invalid", m))?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    db::memberships::lock_seats(&mut tx).await?;
    if db::site_keys::count_active(&mut tx).await? >= db::site_keys::MAX_PER_TENANT {
        return Err(ApiError::field(
            "label",
            "too_many_keys",
            format!("A tenant can have at most {} site keys; revoke one first.", db::site_keys::MAX_PER_TENANT),
        ));
    }
    let row = db::site_keys::insert(&mut tx, SiteKeyId::new_v7(), &label).await?;
    let view = SiteKeyView::from(row);
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "site_key.created",
        Some(&view.site_key.to_string()),
        serde_json::json!({ "label": view.label }),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(view)))
}

/// Lists active site keys.
#[utoipa::path(get, path = "/api/v1/site-keys", tag = "widget", security(("bearer" = [])),
    responses((status = 200, body = [SiteKeyView])))]
async fn list_site_keys(State(state): State<AppState>, auth: Auth<AdminUp>) -> Result<axum::Json<Vec<SiteKeyView>>> {
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let rows = db::site_keys::list(&mut tx).await?;
    tx.commit().await?;
    Ok(axum::Json(rows.into_iter().map(SiteKeyView::from).collect()))
}

/// Revokes a site key: the edge stops serving it within seconds.
#[utoipa::path(delete, path = "/api/v1/site-keys/{site_key}", tag = "widget", security(("bearer" = [])),
    params(("site_key" = String, Path, description = "site_…")),
    responses((status = 204, description = "revoked"), (status = 404, description = "resource_not_found")))]
async fn revoke_site_key(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    Path(key): Path<String>,
) -> Result<StatusCode> {
    let key: SiteKeyId = key.parse().map_err(|_| ApiError::not_found("site key"))?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    if !db::site_keys::revoke(&mut tx, key).await? {
        return Err(ApiError::not_found("site key"));
    }
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "site_key.revoked",
        Some(&key.to_string()),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
