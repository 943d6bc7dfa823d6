//! The caller's tenant (F2): details and plan usage, rename, full export, and deletion.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kefu_protocol::{ErrorCode, Role, TenantId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::verify_password;
use super::extract::{AdminUp, AnyMember, ApiJson, Auth, OwnerOnly};
use crate::db::{self, TenantTx};
use crate::domain::names;
use crate::error::{ApiError, Result};
use crate::state::AppState;
use crate::tenancy::provision;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_tenant, update_tenant, delete_tenant)).routes(routes!(export_tenant))
}

/// Plan limits and what is used of them.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    /// Plan id (`free`, `starter`, `pro`, …).
    pub id: String,
    /// Plan name.
    pub name: String,
    /// Seats included.
    pub seats: i32,
    /// Seats used: members plus pending invitations.
    pub seats_used: i64,
    /// Conversations per month included.
    pub conversations_per_month: i32,
    /// Features included: `bot`, `api`, `regions`, `analytics_export`.
    pub features: Vec<String>,
}

/// A tenant as its members see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantDetails {
    /// Tenant id.
    pub id: TenantId,
    /// URL slug.
    pub slug: String,
    /// Company name.
    pub name: String,
    /// `active`, `suspended` or `deleting`.
    #[schema(value_type = String)]
    pub status: db::tenants::TenantStatus,
    /// Plan and usage.
    pub plan: PlanView,
    /// End of the trial, if on trial: then the workspace moves to Free unless it subscribed.
    pub trial_ends_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Every member must sign in with a second step (two-factor sign-in).
    pub require_two_factor: bool,
    /// The region the workspace's data lives in, chosen at signup (docs/regions.md).
    pub region: String,
}

async fn details(tx: &mut TenantTx) -> Result<TenantDetails> {
    let tenant = db::tenants::current(tx).await?.ok_or_else(|| ApiError::not_found("tenant"))?;
    let usage = db::tenants::plan_usage(tx).await?;
    Ok(TenantDetails {
        id: tenant.access.id,
        slug: tenant.access.slug,
        name: tenant.name,
        status: tenant.access.status,
        plan: PlanView {
            id: usage.plan_id,
            name: usage.plan_name,
            seats: usage.seats,
            seats_used: usage.members + usage.pending_invitations,
            conversations_per_month: usage.conversations_per_month,
            features: usage.features,
        },
        trial_ends_at: tenant.trial_ends_at,
        created_at: tenant.created_at,
        require_two_factor: tenant.require_two_factor,
        region: tenant.access.home_region,
    })
}

/// Returns the caller's tenant with its plan and seat usage.
#[utoipa::path(get, path = "/api/v1/tenant", tag = "tenant", security(("bearer" = [])),
    responses((status = 200, body = TenantDetails)))]
async fn get_tenant(State(state): State<AppState>, auth: Auth<AnyMember>) -> Result<axum::Json<TenantDetails>> {
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let view = details(&mut tx).await?;
    tx.commit().await?;
    Ok(axum::Json(view))
}

/// Tenant changes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenantRequest {
    /// New company name, 1–120 characters.
    #[serde(default)]
    pub name: Option<String>,
    /// Require every member to sign in with a second step. Turning it on needs a signed-in admin
    /// who uses two-factor sign-in; members without it are signed out at once and must set it up
    /// at their next sign-in.
    #[serde(default)]
    pub require_two_factor: Option<bool>,
}

/// Renames the tenant (the slug stays: it is part of URLs already shared) and sets whether every
/// member must use two-factor sign-in.
#[utoipa::path(patch, path = "/api/v1/tenant", tag = "tenant", security(("bearer" = [])), request_body = UpdateTenantRequest,
    responses((status = 200, body = TenantDetails),
              (status = 403, description = "forbidden: an API key cannot require two-factor sign-in"),
              (status = 409, description = "two_factor_not_enabled: turn it on for yourself first"),
              (status = 422, description = "validation_failed")))]
async fn update_tenant(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    ApiJson(body): ApiJson<UpdateTenantRequest>,
) -> Result<axum::Json<TenantDetails>> {
    let name = body
        .name
        .as_deref()
        .map(|name| names::parse_name(name, 120).map_err(|m| ApiError::field("name", "invalid", m)))
        .transpose()?;
    if name.is_none() && body.require_two_factor.is_none() {
        return Err(ApiError::field("name", "required", "Send `name`, `require_two_factor` or both."));
    }
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    if let Some(name) = name {
        db::tenants::rename(&mut tx, &name).await?;
        db::audit::record(&mut tx, auth.principal.actor(), "tenant.renamed", None, serde_json::json!({ "name": name }))
            .await?;
    }
    let mut signed_out = Vec::new();
    if let Some(required) = body.require_two_factor {
        signed_out = require_two_factor(&mut tx, &auth, required).await?;
    }
    let view = details(&mut tx).await?;
    tx.commit().await?;
    for user in signed_out {
        crate::realtime::session_ends::announce(&state.bus, auth.tenant.id, user, None);
    }
    Ok(axum::Json(view))
}

/// Turns the two-factor requirement on or off; on, it ends the sessions of members without a
/// second step (returned, to close their sockets after commit).
async fn require_two_factor(tx: &mut TenantTx, auth: &Auth<AdminUp>, required: bool) -> Result<Vec<UserId>> {
    let current = db::tenants::current(tx).await?.ok_or_else(|| ApiError::not_found("tenant"))?;
    if current.require_two_factor == required {
        return Ok(Vec::new());
    }
    let mut signed_out = Vec::new();
    if required {
        let caller = auth.principal.user_id().ok_or_else(|| {
            ApiError::forbidden("Only a signed-in admin who uses two-factor sign-in can require it, not an API key.")
        })?;
        let without = db::two_factor::members_without(tx).await?;
        if without.contains(&caller) {
            return Err(ApiError::client(
                ErrorCode::TwoFactorNotEnabled,
                "Turn on two-factor sign-in for your own account first (Settings), then require it.",
            ));
        }
        for user in &without {
            db::refresh_tokens::revoke_user_in_tenant(tx, *user).await?;
        }
        signed_out = without;
    }
    db::two_factor::set_required(tx, required).await?;
    let details = serde_json::json!({ "required": required, "members_signed_out": signed_out.len() });
    db::audit::record(tx, auth.principal.actor(), "tenant.two_factor_requirement_changed", None, details).await?;
    Ok(signed_out)
}

/// Everything the tenant has, as JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantExport {
    /// Format version of this document.
    pub format: &'static str,
    /// When it was made.
    pub exported_at: DateTime<Utc>,
    /// The tenant.
    pub tenant: TenantDetails,
    /// Members with their roles and profiles.
    pub members: Vec<ExportedMember>,
    /// Pending invitations.
    pub invitations: Vec<ExportedInvitation>,
    /// API keys (metadata only; secrets are never stored).
    pub api_keys: Vec<ExportedApiKey>,
    /// The audit log, newest first (up to 10,000 entries).
    pub audit_log: Vec<ExportedAuditEntry>,
}

/// A member in the tenant's export.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedMember {
    /// User id.
    pub user_id: UserId,
    /// Email.
    pub email: String,
    /// Role.
    pub role: Role,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
    /// Name shown to colleagues and visitors.
    pub display_name: String,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Employee number (工号).
    pub employee_no: Option<String>,
    /// Concurrent chat capacity (null without an agent profile).
    pub max_concurrent_chats: Option<i32>,
    /// Routing skills.
    pub skills: Vec<String>,
}

/// A pending invitation in the tenant's export.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedInvitation {
    /// Invitee's email.
    pub email: String,
    /// Role on acceptance.
    pub role: Role,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Expires.
    pub expires_at: DateTime<Utc>,
}

/// An API key in the tenant's export (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedApiKey {
    /// Name.
    pub name: String,
    /// Role it acts with.
    pub role: Role,
    /// The key's visible beginning.
    pub prefix: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last used, if ever.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// An audit entry in the tenant's export.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedAuditEntry {
    /// Sequence number.
    pub id: i64,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// What happened, e.g. `member.invited`.
    pub action: String,
    /// What it happened to.
    pub target: Option<String>,
    /// What the action recorded: free-form JSON, its keys depend on the action (docs/api.md,
    /// "Audit log").
    pub details: serde_json::Value,
}

/// Exports the tenant's data (owner only). Later capabilities (conversations, settings) add
/// their sections here.
#[utoipa::path(get, path = "/api/v1/tenant/export", tag = "tenant", security(("bearer" = [])),
    responses((status = 200, body = TenantExport), (status = 403, description = "forbidden")))]
async fn export_tenant(State(state): State<AppState>, auth: Auth<OwnerOnly>) -> Result<axum::Json<TenantExport>> {
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let tenant = details(&mut tx).await?;
    let members = db::memberships::list(&mut tx).await?;
    let profiles = db::agents::list_all(&mut tx).await?;
    let invitations = db::invitations::list_pending(&mut tx).await?;
    let keys = db::api_keys::list(&mut tx).await?;
    let audit = db::audit::latest(&mut tx, 10_000).await?;
    tx.commit().await?;
    db::audit::record_detached(&state.db, &auth.tenant.schema, auth.principal.actor(), "tenant.exported").await?;
    let members = members
        .into_iter()
        .map(|m| {
            let profile = profiles.iter().find(|p| p.user_id == m.user_id);
            ExportedMember {
                user_id: m.user_id,
                email: m.email,
                role: m.role,
                joined_at: m.created_at,
                display_name: profile.map_or(m.display_name, |p| p.display_name.clone()),
                avatar_url: profile.and_then(|p| p.avatar_url.clone()),
                employee_no: profile.and_then(|p| p.employee_no.clone()),
                max_concurrent_chats: profile.map(|p| p.max_concurrent_chats),
                skills: profile.map(|p| p.skills.clone()).unwrap_or_default(),
            }
        })
        .collect();
    Ok(axum::Json(TenantExport {
        format: "kefu.tenant-export.v1",
        exported_at: Utc::now(),
        tenant,
        members,
        invitations: invitations
            .into_iter()
            .map(|i| ExportedInvitation {
                email: i.email,
                role: i.role,
                created_at: i.created_at,
                expires_at: i.expires_at,
            })
            .collect(),
        api_keys: keys
            .into_iter()
            .map(|k| ExportedApiKey {
                name: k.name,
                role: k.role,
                prefix: k.prefix,
                created_at: k.created_at,
                last_used_at: k.last_used_at,
            })
            .collect(),
        audit_log: audit
            .into_iter()
            .map(|a| ExportedAuditEntry {
                id: a.id,
                occurred_at: a.occurred_at,
                action: a.action,
                target: a.target,
                details: a.details,
            })
            .collect(),
    }))
}

/// Deleting the tenant needs the owner's password and the slug typed out.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteTenantRequest {
    /// The tenant's slug, as confirmation.
    pub confirm_slug: String,
    /// The owner's password.
    pub password: String,
}

/// Deletes the tenant and all its data at once (owner only): its schema is dropped and every
/// membership, invitation, key and session goes with it. Accounts of members stay.
#[utoipa::path(delete, path = "/api/v1/tenant", tag = "tenant", security(("bearer" = [])), request_body = DeleteTenantRequest,
    responses((status = 204, description = "deleted"), (status = 401, description = "invalid_credentials"),
              (status = 403, description = "forbidden"), (status = 422, description = "validation_failed")))]
async fn delete_tenant(
    State(state): State<AppState>,
    auth: Auth<OwnerOnly>,
    ApiJson(body): ApiJson<DeleteTenantRequest>,
) -> Result<StatusCode> {
    if body.confirm_slug != auth.tenant.slug {
        return Err(ApiError::field("confirm_slug", "mismatch", "Type the team's address exactly to confirm."));
    }
    let user_id = auth.require_user()?;
    let mut conn = state.db.control().acquire().await?;
    let user = db::users::find(&mut conn, user_id).await?.ok_or_else(|| ApiError::not_found("user"))?;
    drop(conn);
    if !verify_password(body.password, user.password_hash).await? {
        return Err(ApiError::client(ErrorCode::InvalidCredentials, "The password is wrong."));
    }
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    provision::delete_tenant(&mut tx).await?;
    tx.commit().await?;
    tracing::warn!(tenant_id = %auth.tenant.id, user_id = %user_id, "tenant deleted by its owner");
    // Its files go with it (after the commit: a failure here leaves bytes nothing can serve,
    // logged for the operator, never a half-deleted tenant).
    match state.attachments.delete_tenant(auth.tenant.id).await {
        Ok(files) => tracing::info!(tenant_id = %auth.tenant.id, files, "the deleted tenant's files were removed"),
        Err(error) => {
            tracing::error!(tenant_id = %auth.tenant.id, %error, "the deleted tenant's files could not all be removed")
        }
    }
    Ok(StatusCode::NO_CONTENT)
}
