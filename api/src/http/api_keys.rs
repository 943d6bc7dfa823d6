//! Tenant API keys (F4, issue 17): created by verified admins, shown once, stored hashed,
//! revocable, optionally expiring. A key has a role (never owner, never above its creator's) and
//! scopes (what it may touch, `auth::scope`); a member's key acts as its creator and ends when they
//! leave, a workspace key acts as nobody and outlives them (docs/api.md "API keys").

use axum::extract::{Path, State};
use axum::http::StatusCode;
use kefu_protocol::{ApiKeyId, ErrorCode, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{API_KEY_PREFIX, AdminUp, ApiJson, Auth};
use crate::auth::{Principal, Scope, Scopes};
use crate::db::NewId;
use crate::db::api_keys::{KeyOwner, NewKey};
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
    /// What the key may touch; every scope when left out (its role still limits it).
    #[serde(default)]
    pub scopes: Option<Vec<Scope>>,
    /// When the key stops working (in the future); never when left out.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// `member` (default): the key acts as you and ends when you leave the workspace. `tenant`:
    /// it acts as nobody with its own role and stays when you leave.
    #[serde(default = "default_owner")]
    pub owner: KeyOwner,
}

fn default_role() -> Role {
    Role::Agent
}

fn default_owner() -> KeyOwner {
    KeyOwner::Member
}

/// A key as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    /// Key id (`key_…`).
    pub id: ApiKeyId,
    /// Name.
    pub name: String,
    /// Role the key acts with.
    #[schema(value_type = String)]
    pub role: Role,
    /// What it may touch.
    pub scopes: Vec<Scope>,
    /// When it stops working; `null`: never.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whose it is: a `member`'s (acts as them, ends when they leave) or the `tenant`'s.
    pub owner: KeyOwner,
    /// Who created it (`usr_…`); `null` once their account is gone.
    pub created_by: Option<kefu_protocol::UserId>,
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

impl From<db::api_keys::ApiKeyRow> for ApiKeyView {
    fn from(row: db::api_keys::ApiKeyRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            role: row.role,
            scopes: row.scopes.to_vec(),
            expires_at: row.expires_at,
            owner: row.owner,
            created_by: row.created_by,
            prefix: row.prefix,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}

/// Creates a key: only a signed-in admin (or the owner) whose email is verified — not another
/// key. At most 50 active keys per tenant.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", security(("bearer" = [])),
    request_body = CreateApiKeyRequest,
    responses((status = 201, body = CreatedApiKey),
        (status = 403, description = "forbidden, email_not_verified, plan_feature_required"),
        (status = 422, description = "validation_failed")))]
async fn create_api_key(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    ApiJson(body): ApiJson<CreateApiKeyRequest>,
) -> Result<(StatusCode, axum::Json<CreatedApiKey>)> {
    let creator = match auth.principal {
        Principal::Member { user_id, email_verified: true, .. } => user_id,
        Principal::Member { .. } => {
            return Err(ApiError::client(ErrorCode::EmailNotVerified, "Verify your email before creating API keys."));
        }
        Principal::ApiKey { .. } => return Err(ApiError::forbidden("Keys are created by a signed-in member.")),
    };
    let name = names::parse_name(&body.name, 80).map_err(|m| ApiError::field("name", "invalid", m))?;
    if body.role == Role::Owner {
        return Err(ApiError::field("role", "invalid_role", "A key cannot act as owner."));
    }
    if !auth.principal.role().includes(body.role) {
        return Err(ApiError::forbidden("You cannot create a key with a role above your own."));
    }
    let scopes = match &body.scopes {
        None => Scopes::all(),
        Some(listed) => listed.iter().copied().collect(),
    };
    if scopes.is_empty() {
        return Err(ApiError::field("scopes", "invalid", "Give the key at least one scope."));
    }
    if body.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::field("expires_at", "invalid", "Must be in the future."));
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
    let digest = secret::digest(&secret);
    let key = NewKey {
        id,
        name: &name,
        role: body.role,
        scopes,
        expires_at: body.expires_at,
        owner: body.owner,
        prefix: &prefix,
        key_hash: &digest,
        created_by: creator,
    };
    let row = db::api_keys::insert(&mut tx, key).await?;
    let details = serde_json::json!({
        "name": name, "role": body.role, "scopes": scopes.names(), "owner": body.owner, "expires_at": body.expires_at,
    });
    db::audit::record(&mut tx, auth.principal.actor(), "api_key.created", Some(&id.to_string()), details).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(CreatedApiKey { key: row.into(), secret })))
}

/// Lists active keys (never their secrets).
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys", security(("bearer" = [])),
    responses((status = 200, body = [ApiKeyView])))]
async fn list_api_keys(State(state): State<AppState>, auth: Auth<AdminUp>) -> Result<axum::Json<Vec<ApiKeyView>>> {
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let rows = db::api_keys::list(&mut tx).await?;
    tx.commit().await?;
    Ok(axum::Json(rows.into_iter().map(ApiKeyView::from).collect()))
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
