//! Tenant API keys (F4): created by admins, shown once, stored hashed, revocable. A key acts with
//! the role it was given (never owner, never above its creator's role).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use kefu_protocol::{ApiKeyId, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{API_KEY_PREFIX, AdminUp, ApiJson, Auth};
use crate::db::NewId;
use crate::db::{self, TenantTx};
use crate::domain::{names, secret};
use crate::error::{ApiError, Result};
use crate::state::AppState;
use chrono::{DateTime, Utc};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_api_key, list_api_keys)).routes(routes!(revoke_api_key))
}

/// New key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// What the key is for, 1–80 characters.
    pub name: String,
    /// `agent` (default), `supervisor` or `admin`.
    #[serde(default = "default_role")]
    #[schema(value_type = String)]
    pub role: Role,
}

fn default_role() -> Role {
    Role::Agent
}

/// A key as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    /// Key id (`key_…`).
    #[schema(value_type = String)]
    pub id: ApiKeyId,
    /// Name.
    pub name: String,
    /// Role the key acts with.
    #[schema(value_type = String)]
    pub role: Role,
    /// The first characters of the secret, to tell keys apart.
    pub prefix: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A key just created: the only time the secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    /// The key's metadata.
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// The secret: `Authorization: Bearer kefu_sk_…`. Store it now; it cannot be shown again.
    pub secret: String,
}

impl TryFrom<db::api_keys::ApiKeyRow> for ApiKeyView {
    type Error = ApiError;
    fn try_from(row: db::api_keys::ApiKeyRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            name: row.name,
            role: row.role,
            prefix: row.prefix,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        })
    }
}

/// Creates a key. At most 50 active keys per tenant.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", security(("bearer" = [])),
    request_body = CreateApiKeyRequest,
    responses((status = 201, body = CreatedApiKey), (status = 403, description = "forbidden, plan_feature_required"), (status = 422, description = "validation_failed")))]
async fn create_api_key(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    ApiJson(body): ApiJson<CreateApiKeyRequest>,
) -> Result<(StatusCode, axum::Json<CreatedApiKey>)> {
    let name = names::parse_name(&body.name, 80).map_err(|m| ApiError::field("name", "invalid", m))?;
    if body.role == Role::Owner {
        return Err(ApiError::field("role", "invalid_role", "A key cannot act as owner."));
    }
    if !auth.principal.role().includes(body.role) {
        return Err(ApiError::forbidden("You cannot create a key with a role above your own."));
    }
    {
        let mut conn = state.db.control().acquire().await?;
        crate::billing::require(&mut conn, auth.tenant.id, crate::billing::Feature::Api).await?;
    }
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    db::memberships::lock_seats(&mut tx).await?;
    if db::api_keys::count_active(&mut tx).await? >= db::api_keys::MAX_PER_TENANT {
        return Err(ApiError::field(
            "name",
            "too_many_keys",
            format!("A tenant can have at most {} active keys; revoke one first.", db::api_keys::MAX_PER_TENANT),
        ));
    }
    let secret = secret::generate(API_KEY_PREFIX)?;
    let prefix: String = secret.chars().take(API_KEY_PREFIX.len() + 7).collect();
    let id = ApiKeyId::new_v7();
    let row = db::api_keys::insert(
        &mut tx,
        id,
        &name,
        body.role,
        &prefix,
        &secret::digest(&secret),
        auth.principal.user_id(),
    )
    .await?;
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "api_key.created",
        Some(&id.to_string()),
        serde_json::json!({ "name": name, "role": body.role }),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(CreatedApiKey { key: row.try_into()?, secret })))
}

/// Lists active keys (never their secrets).
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys", security(("bearer" = [])),
    responses((status = 200, body = [ApiKeyView])))]
async fn list_api_keys(State(state): State<AppState>, auth: Auth<AdminUp>) -> Result<axum::Json<Vec<ApiKeyView>>> {
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let rows = db::api_keys::list(&mut tx).await?;
    tx.commit().await?;
    rows.into_iter().map(ApiKeyView::try_from).collect::<Result<Vec<_>>>().map(axum::Json)
}

/// Revokes a key; requests with it fail at once.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api-keys", security(("bearer" = [])),
    params(("id" = String, Path, description = "key_…")),
    responses((status = 204, description = "revoked"), (status = 404, description = "resource_not_found")))]
async fn revoke_api_key(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id: ApiKeyId = id.parse().map_err(|_| ApiError::not_found("API key"))?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    if !db::api_keys::revoke(&mut tx, id).await? {
        return Err(ApiError::not_found("API key"));
    }
    db::audit::record(&mut tx, auth.principal.actor(), "api_key.revoked", Some(&id.to_string()), serde_json::json!({}))
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
