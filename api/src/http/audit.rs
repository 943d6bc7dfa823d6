//! The tenant's audit log (F26), readable by admins.

use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AdminUp, Auth};
use crate::db::{self, TenantTx};
use crate::error::Result;
use crate::state::AppState;
use chrono::{DateTime, Utc};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_log))
}

/// Paging of the audit log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Entries to return, 1–200 (default 50).
    pub limit: Option<i64>,
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    /// Sequence number.
    pub id: i64,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Acting user (`usr_…`), if a person.
    pub actor_user_id: Option<String>,
    /// Acting API key (`key_…`), if a key.
    pub actor_api_key_id: Option<String>,
    /// What happened, e.g. `member.invited`.
    pub action: String,
    /// What it happened to.
    pub target: Option<String>,
    /// Details.
    pub details: serde_json::Value,
}

/// Lists the newest audit entries of the caller's tenant.
#[utoipa::path(get, path = "/api/v1/audit-log", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = [AuditEntry])))]
async fn list_audit_log(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    Query(query): Query<AuditQuery>,
) -> Result<axum::Json<Vec<AuditEntry>>> {
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let rows = db::audit::latest(&mut tx, limit).await?;
    tx.commit().await?;
    Ok(axum::Json(
        rows.into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                occurred_at: r.occurred_at,
                actor_user_id: r.actor_user_id.map(|u| u.to_string()),
                actor_api_key_id: r.actor_api_key_id.map(|k| k.to_string()),
                action: r.action,
                target: r.target,
                details: r.details,
            })
            .collect(),
    ))
}
