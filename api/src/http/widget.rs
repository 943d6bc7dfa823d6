//! Widget settings (F5, F6) for admins: branding, texts, forms, allowed origins, identity
//! verification. One versioned document per tenant; saving bumps the version, which the edge
//! sees within seconds (docs/edge.md).

use axum::extract::State;
use chrono::{DateTime, Utc};
use kefu_protocol::ErrorCode;
use kefu_protocol::widget::WidgetSettings;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AdminUp, ApiJson, Auth};
use crate::db::{self, TenantTx};
use crate::domain::secret;
use crate::error::{ApiError, Result};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_widget, save_widget)).routes(routes!(rotate_identity_secret))
}

/// The widget document.
#[derive(Debug, Serialize, ToSchema)]
pub struct WidgetView {
    /// The settings (see docs/api.md for every field and limit).
    pub settings: WidgetSettings,
    /// Secret for identity verification (`hex(HMAC-SHA256(secret, user_id))`), once generated.
    pub identity_secret: Option<String>,
    /// Version; send it back when saving to avoid overwriting someone else's change.
    pub version: i64,
    /// Last saved.
    pub updated_at: DateTime<Utc>,
    /// The edge's public URL (`edge.public_url`), for the embed snippet
    /// `<script async src="{edge_url}/w/{site_key}.js">`; absent when not configured.
    pub edge_url: Option<String>,
}

impl WidgetView {
    fn new(row: db::widget::WidgetRow, state: &AppState) -> Self {
        Self {
            settings: row.settings.0,
            identity_secret: row.identity_secret,
            version: row.version,
            updated_at: row.updated_at,
            edge_url: state.config.edge.public_url.as_ref().map(|u| u.trim_end_matches('/').to_owned()),
        }
    }
}

/// New settings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveWidgetRequest {
    /// The whole settings document.
    pub settings: WidgetSettings,
    /// The version these settings were based on; a newer saved version is a `409 version_conflict`.
    pub version: Option<i64>,
}

/// The tenant's widget settings (defaults until first saved).
#[utoipa::path(get, path = "/api/v1/widget", tag = "widget", security(("bearer" = [])),
    responses((status = 200, body = WidgetView), (status = 403, description = "forbidden")))]
async fn get_widget(State(state): State<AppState>, auth: Auth<AdminUp>) -> Result<axum::Json<WidgetView>> {
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let row = db::widget::get(&mut tx).await?;
    tx.commit().await?;
    Ok(axum::Json(WidgetView::new(row, &state)))
}

/// Saves the widget settings; every invalid field is reported at once.
#[utoipa::path(put, path = "/api/v1/widget", tag = "widget", security(("bearer" = [])),
    request_body = SaveWidgetRequest,
    responses((status = 200, body = WidgetView), (status = 409, description = "version_conflict"),
        (status = 422, description = "validation_failed")))]
async fn save_widget(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    ApiJson(body): ApiJson<SaveWidgetRequest>,
) -> Result<axum::Json<WidgetView>> {
    let mut problems = body.settings.validate();
    for (i, pattern) in body.settings.allowed_origins.iter().enumerate() {
        if crate::domain::origins::covers_a_public_suffix(pattern) {
            problems.push(kefu_protocol::FieldError {
                field: format!("allowed_origins[{i}]"),
                code: "public_suffix".into(),
                message: "a wildcard may not cover a public suffix such as co.uk or github.io: list your own domain"
                    .into(),
            });
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::Validation(
            problems.into_iter().map(|mut p| (p.field = format!("settings.{}", p.field), p).1).collect(),
        ));
    }
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let Some(row) = db::widget::save(&mut tx, &body.settings, body.version).await? else {
        return Err(ApiError::client(
            ErrorCode::VersionConflict,
            "The widget was saved by someone else in the meantime; reload it and apply your change again.",
        ));
    };
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "widget.saved",
        None,
        serde_json::json!({ "version": row.version, "allowed_origins": body.settings.allowed_origins }),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(WidgetView::new(row, &state)))
}

/// Generates a new identity verification secret; the old one stops working within seconds.
#[utoipa::path(post, path = "/api/v1/widget/identity-secret", tag = "widget", security(("bearer" = [])),
    responses((status = 200, body = WidgetView)))]
async fn rotate_identity_secret(State(state): State<AppState>, auth: Auth<AdminUp>) -> Result<axum::Json<WidgetView>> {
    let mut bytes = [0u8; 32];
    secret::fill_random(&mut bytes).map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
    let identity_secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let row = db::widget::set_identity_secret(&mut tx, &identity_secret).await?;
    db::audit::record(&mut tx, auth.principal.actor(), "widget.identity_secret_rotated", None, serde_json::json!({}))
        .await?;
    tx.commit().await?;
    Ok(axum::Json(WidgetView::new(row, &state)))
}
