//! Routing rules (F19): every member reads them; admins replace the whole list (versioned).
//! Saving checks each rule's shape, compiles every pattern, and checks that the teams and agents
//! the actions name exist, reporting every problem with its field (`rules.{i}.…`).

use axum::extract::State;
use chrono::{DateTime, Utc};
use kefu_protocol::ErrorCode;
use kefu_protocol::rules::{Action, Rule};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AdminUp, AnyMember, ApiJson, Auth};
use crate::db::{self, TenantTx};
use crate::error::{ApiError, Result};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_rules, put_rules))
}

/// The rules.
#[derive(Debug, Serialize, ToSchema)]
pub struct RulesView {
    /// The rules, in the order they run (docs/routing.md describes every field).
    pub rules: Vec<Rule>,
    /// Version; send it back when saving to avoid overwriting someone else's change.
    pub version: i64,
    /// Last saved.
    pub updated_at: DateTime<Utc>,
}

/// A new list of rules.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveRulesRequest {
    /// The whole list.
    pub rules: Vec<Rule>,
    /// The version it was based on; a newer saved version is a `409 version_conflict`.
    pub version: Option<i64>,
}

impl From<db::rules::RulesRow> for RulesView {
    fn from(row: db::rules::RulesRow) -> Self {
        Self { rules: row.rules.0, version: row.version, updated_at: row.updated_at }
    }
}

/// The tenant's routing rules.
#[utoipa::path(get, path = "/api/v1/rules", tag = "routing", security(("bearer" = [])),
    responses((status = 200, body = RulesView)))]
async fn get_rules(State(state): State<AppState>, auth: Auth<AnyMember>) -> Result<axum::Json<RulesView>> {
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let row = db::rules::get(&mut tx).await?;
    tx.commit().await?;
    Ok(axum::Json(row.into()))
}

/// Replaces the routing rules (admins); every invalid field is reported at once.
#[utoipa::path(put, path = "/api/v1/rules", tag = "routing", security(("bearer" = [])),
    request_body = SaveRulesRequest,
    responses((status = 200, body = RulesView), (status = 403, description = "forbidden"),
        (status = 409, description = "version_conflict"), (status = 422, description = "validation_failed")))]
async fn put_rules(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    ApiJson(body): ApiJson<SaveRulesRequest>,
) -> Result<axum::Json<RulesView>> {
    let mut problems = kefu_protocol::rules::validate(&body.rules);
    for (i, rule) in body.rules.iter().enumerate() {
        for (j, condition) in rule.conditions.iter().enumerate() {
            if let Some(Err(reason)) = condition.pattern().map(crate::rules::matcher::compile) {
                problems.push(kefu_protocol::FieldError {
                    field: format!("rules.{i}.conditions.{j}.value"),
                    code: "invalid_pattern".into(),
                    message: reason,
                });
            }
        }
    }
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    for (i, rule) in body.rules.iter().enumerate() {
        for (j, action) in rule.actions.iter().enumerate() {
            let unknown = match action {
                Action::Team { team_id } => {
                    (!db::teams::exists(&mut tx, *team_id).await?).then_some(("team_id", "no such team"))
                }
                Action::Assign { user_id } => db::agents::capacity(&mut tx, *user_id)
                    .await?
                    .is_none()
                    .then_some(("user_id", "no such active member")),
                Action::Tag { .. } | Action::Priority { .. } => None,
            };
            if let Some((field, message)) = unknown {
                problems.push(kefu_protocol::FieldError {
                    field: format!("rules.{i}.actions.{j}.{field}"),
                    code: "unknown".into(),
                    message: message.into(),
                });
            }
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let Some(row) = db::rules::save(&mut tx, &body.rules, body.version).await? else {
        return Err(ApiError::client(
            ErrorCode::VersionConflict,
            "The rules were saved by someone else in the meantime; reload them and apply your change again.",
        ));
    };
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "rules.saved",
        None,
        serde_json::json!({ "version": row.version, "rules": body.rules.len() }),
    )
    .await?;
    tx.commit().await?;
    state.rules.forget(auth.tenant.id);
    Ok(axum::Json(row.into()))
}
