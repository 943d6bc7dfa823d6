//! Canned responses (F15): every member searches them; supervisors and up write them.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kefu_protocol::{CannedResponseId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AnyMember, ApiJson, Auth, ConversationsRead, SupervisorUp};
use super::validate::{Fields, valid};
use crate::db::canned_responses::{CannedFields, CannedRow};
use crate::db::{self, TenantTx};
use crate::error::{ApiError, Result, ResultExt};
use crate::state::AppState;

/// Longest search text, in characters.
pub const MAX_QUERY_CHARS: usize = 100;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_canned_responses, create_canned_response))
        .routes(routes!(update_canned_response, delete_canned_response))
}

/// A canned response.
#[derive(Debug, Serialize, ToSchema)]
pub struct CannedResponseView {
    /// `canned_…`.
    pub id: CannedResponseId,
    /// Lowercase, unique: `[a-z0-9_-]{1,32}`.
    pub shortcut: String,
    /// Title, 1–80 characters.
    pub title: String,
    /// Text inserted into the reply, 1–4000 characters.
    pub body: String,
    /// Who created it.
    pub created_by: Option<UserId>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last edited.
    pub updated_at: DateTime<Utc>,
}

impl From<CannedRow> for CannedResponseView {
    fn from(row: CannedRow) -> Self {
        Self {
            id: row.id,
            shortcut: row.shortcut,
            title: row.title,
            body: row.body,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Search.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CannedQuery {
    /// Matches a shortcut prefix, or text anywhere in the title or body (case-insensitive).
    pub q: Option<String>,
}

/// A new canned response.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCannedRequest {
    /// `[a-z0-9_-]{1,32}`; stored lowercase.
    pub shortcut: String,
    /// 1–80 characters.
    pub title: String,
    /// 1–4000 characters.
    pub body: String,
}

/// Changes; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCannedRequest {
    /// `[a-z0-9_-]{1,32}`.
    #[serde(default)]
    pub shortcut: Option<String>,
    /// 1–80 characters.
    #[serde(default)]
    pub title: Option<String>,
    /// 1–4000 characters.
    #[serde(default)]
    pub body: Option<String>,
}

fn canned_id(raw: &str) -> Result<CannedResponseId> {
    raw.parse().map_err(|_| ApiError::not_found("canned response"))
}

fn shortcut_taken() -> ApiError {
    ApiError::field("shortcut", "shortcut_taken", "Another canned response has this shortcut.")
}

fn check_body(body: &str) -> Result<String, String> {
    if body.trim().is_empty() {
        return Err("Must not be empty.".into());
    }
    if body.chars().count() > 4000 {
        return Err("Must be at most 4000 characters.".into());
    }
    if body.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err("Must not contain control characters.".into());
    }
    Ok(body.to_owned())
}

/// Validated fields; `None` where the request left a field out.
struct Checked {
    shortcut: Option<String>,
    title: Option<String>,
    body: Option<String>,
}

fn check(shortcut: Option<&str>, title: Option<&str>, body: Option<&str>) -> Result<Checked> {
    let mut fields = Fields::default();
    let shortcut = shortcut.map(|s| fields.take("shortcut", "invalid", crate::domain::canned::parse_shortcut(s)));
    let title = title.map(|t| fields.take("title", "invalid", crate::domain::names::parse_name(t, 80)));
    let body = body.map(|b| fields.take("body", "invalid", check_body(b)));
    fields.finish()?;
    Ok(Checked {
        shortcut: shortcut.map(valid).transpose()?,
        title: title.map(valid).transpose()?,
        body: body.map(valid).transpose()?,
    })
}

/// Canned responses by shortcut, at most 500; `q` filters.
#[utoipa::path(get, path = "/api/v1/canned-responses", tag = "canned-responses", security(("bearer" = [])),
    params(CannedQuery), responses((status = 200, body = [CannedResponseView]), (status = 422, description = "validation_failed")))]
async fn list_canned_responses(
    State(state): State<AppState>,
    auth: Auth<AnyMember, ConversationsRead>,
    Query(query): Query<CannedQuery>,
) -> Result<axum::Json<Vec<CannedResponseView>>> {
    let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > MAX_QUERY_CHARS || q.chars().any(char::is_control)) {
        return Err(ApiError::field("q", "invalid", format!("At most {MAX_QUERY_CHARS} characters.")));
    }
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let rows = db::canned_responses::list(&mut tx, q).await?;
    tx.commit().await?;
    Ok(axum::Json(rows.into_iter().map(CannedResponseView::from).collect()))
}

/// Creates a canned response (at most 1000 per tenant).
#[utoipa::path(post, path = "/api/v1/canned-responses", tag = "canned-responses", security(("bearer" = [])),
    request_body = CreateCannedRequest,
    responses((status = 201, body = CannedResponseView), (status = 403, description = "forbidden"),
        (status = 422, description = "validation_failed (`shortcut_taken`, `too_many_canned_responses`)")))]
async fn create_canned_response(
    State(state): State<AppState>,
    auth: Auth<SupervisorUp>,
    ApiJson(body): ApiJson<CreateCannedRequest>,
) -> Result<(StatusCode, axum::Json<CannedResponseView>)> {
    let checked = check(Some(&body.shortcut), Some(&body.title), Some(&body.body))?;
    let (Some(shortcut), Some(title), Some(text)) = (checked.shortcut, checked.title, checked.body) else {
        return Err(ApiError::Internal(anyhow::anyhow!("validated canned response incomplete")));
    };
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    if db::canned_responses::lock_and_count(&mut tx).await? >= db::canned_responses::MAX_PER_TENANT {
        return Err(ApiError::field(
            "shortcut",
            "too_many_canned_responses",
            format!("A tenant can have at most {} canned responses.", db::canned_responses::MAX_PER_TENANT),
        ));
    }
    let by = auth.principal.user_id();
    let fields = CannedFields { shortcut: &shortcut, title: &title, body: &text };
    let row = db::canned_responses::insert(&mut tx, by, &fields)
        .await
        .on_constraint("canned_responses_shortcut_key", shortcut_taken)?;
    let details = serde_json::json!({ "shortcut": shortcut, "title": title });
    db::audit::record(&mut tx, auth.principal.actor(), "canned.created", Some(&row.id.to_string()), details).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(row.into())))
}

/// Edits a canned response.
#[utoipa::path(patch, path = "/api/v1/canned-responses/{canned_id}", tag = "canned-responses",
    security(("bearer" = [])), params(("canned_id" = String, Path, description = "canned_…")),
    request_body = UpdateCannedRequest,
    responses((status = 200, body = CannedResponseView), (status = 403, description = "forbidden"),
        (status = 404, description = "resource_not_found"), (status = 422, description = "validation_failed (`shortcut_taken`)")))]
async fn update_canned_response(
    State(state): State<AppState>,
    auth: Auth<SupervisorUp>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateCannedRequest>,
) -> Result<axum::Json<CannedResponseView>> {
    let id = canned_id(&id)?;
    let checked = check(body.shortcut.as_deref(), body.title.as_deref(), body.body.as_deref())?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let row = db::canned_responses::update(
        &mut tx,
        id,
        checked.shortcut.as_deref(),
        checked.title.as_deref(),
        checked.body.as_deref(),
    )
    .await
    .on_constraint("canned_responses_shortcut_key", shortcut_taken)?
    .ok_or_else(|| ApiError::not_found("canned response"))?;
    let details = serde_json::json!({ "shortcut": row.shortcut, "title": row.title });
    db::audit::record(&mut tx, auth.principal.actor(), "canned.changed", Some(&id.to_string()), details).await?;
    tx.commit().await?;
    Ok(axum::Json(row.into()))
}

/// Deletes a canned response.
#[utoipa::path(delete, path = "/api/v1/canned-responses/{canned_id}", tag = "canned-responses",
    security(("bearer" = [])), params(("canned_id" = String, Path, description = "canned_…")),
    responses((status = 204, description = "deleted"), (status = 403, description = "forbidden"),
        (status = 404, description = "resource_not_found")))]
async fn delete_canned_response(
    State(state): State<AppState>,
    auth: Auth<SupervisorUp>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id = canned_id(&id)?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    if !db::canned_responses::delete(&mut tx, id).await? {
        return Err(ApiError::not_found("canned response"));
    }
    db::audit::record(&mut tx, auth.principal.actor(), "canned.deleted", Some(&id.to_string()), serde_json::json!({}))
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
