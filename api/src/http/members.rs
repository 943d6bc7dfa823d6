//! Members of a tenant (F3): list, change role, remove.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use kefu_protocol::{ErrorCode, Role, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AdminUp, AnyMember, ApiJson, Auth, ConversationsRead};
use crate::db::{self, TenantTx};
use crate::error::{ApiError, Result};
use crate::state::AppState;
use chrono::{DateTime, Utc};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members))
        .routes(routes!(update_member, remove_member))
        .routes(routes!(update_profile))
}

/// A member with their tenant profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    /// User id.
    pub user_id: UserId,
    /// Email.
    pub email: String,
    /// Name shown to colleagues and visitors.
    pub display_name: String,
    /// Role in this tenant.
    #[schema(value_type = String)]
    pub role: Role,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Employee number (工号).
    pub employee_no: Option<String>,
    /// Concurrent chat capacity.
    pub max_concurrent_chats: i32,
    /// Routing skills.
    pub skills: Vec<String>,
    /// Signs in with a second step (two-factor sign-in is on).
    pub two_factor: bool,
}

/// Lists the members of the caller's tenant.
#[utoipa::path(get, path = "/api/v1/members", tag = "members", security(("bearer" = [])),
    responses((status = 200, body = [MemberView])))]
async fn list_members(
    State(state): State<AppState>,
    auth: Auth<AnyMember, ConversationsRead>,
) -> Result<axum::Json<Vec<MemberView>>> {
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let members = db::memberships::list(&mut tx).await?;
    let profiles: HashMap<_, _> = db::agents::list_active(&mut tx).await?.into_iter().map(|a| (a.user_id, a)).collect();
    tx.commit().await?;
    members
        .into_iter()
        .map(|m| {
            let profile = profiles.get(&m.user_id);
            Ok(MemberView {
                user_id: m.user_id,
                email: m.email,
                display_name: profile.map_or(m.display_name, |p| p.display_name.clone()),
                role: m.role,
                joined_at: m.created_at,
                avatar_url: profile.and_then(|p| p.avatar_url.clone()),
                employee_no: profile.and_then(|p| p.employee_no.clone()),
                max_concurrent_chats: profile.map_or(5, |p| p.max_concurrent_chats),
                skills: profile.map(|p| p.skills.clone()).unwrap_or_default(),
                two_factor: m.two_factor,
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(axum::Json)
}

/// New role for a member.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberRequest {
    /// `admin`, `supervisor` or `agent`.
    #[schema(value_type = String)]
    pub role: Role,
}

/// Changes a member's role. The owner's role cannot be changed here, nobody can be made owner,
/// and an admin cannot grant more than their own role.
#[utoipa::path(patch, path = "/api/v1/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "usr_…")), request_body = UpdateMemberRequest,
    responses((status = 204, description = "updated"), (status = 403, description = "forbidden or owner_protected"),
              (status = 404, description = "resource_not_found")))]
async fn update_member(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<UpdateMemberRequest>,
) -> Result<StatusCode> {
    let user_id = parse_user_id(&user_id)?;
    if body.role == Role::Owner {
        return Err(ApiError::client(ErrorCode::OwnerProtected, "Ownership cannot be given by changing a role."));
    }
    if !auth.principal.role().includes(body.role) {
        return Err(ApiError::forbidden("You cannot grant a role above your own."));
    }
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let member = db::memberships::find(&mut tx, user_id).await?.ok_or_else(|| ApiError::not_found("member"))?;
    if member.role == Role::Owner {
        return Err(ApiError::client(ErrorCode::OwnerProtected, "The owner's role cannot be changed."));
    }
    db::memberships::set_role(&mut tx, user_id, body.role).await?;
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "member.role_changed",
        Some(&user_id.to_string()),
        serde_json::json!({ "from": member.role, "to": body.role }),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a member: their membership goes, their sessions in this tenant are revoked at once,
/// and their profile is kept inactive for history. The owner cannot be removed.
#[utoipa::path(delete, path = "/api/v1/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "usr_…")),
    responses((status = 204, description = "removed"), (status = 403, description = "forbidden or owner_protected"),
              (status = 404, description = "resource_not_found")))]
async fn remove_member(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    Path(user_id): Path<String>,
) -> Result<StatusCode> {
    let user_id = parse_user_id(&user_id)?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let member = db::memberships::find(&mut tx, user_id).await?.ok_or_else(|| ApiError::not_found("member"))?;
    if member.role == Role::Owner {
        return Err(ApiError::client(ErrorCode::OwnerProtected, "The owner cannot be removed."));
    }
    db::memberships::delete(&mut tx, user_id).await?;
    db::refresh_tokens::revoke_user_in_tenant(&mut tx, user_id).await?;
    db::agents::deactivate(&mut tx, user_id).await?;
    db::teams::remove_user(&mut tx, user_id).await?;
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "member.removed",
        Some(&user_id.to_string()),
        serde_json::json!({ "email": member.email }),
    )
    .await?;
    tx.commit().await?;
    crate::realtime::session_ends::announce(&state.bus, auth.tenant.id, user_id, None);
    if let Some(stripe) = &state.stripe {
        stripe.seats_changed();
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Parses a `usr_…` path segment; a malformed id is simply not found.
pub(crate) fn parse_user_id(raw: &str) -> Result<UserId> {
    raw.parse().map_err(|_| ApiError::not_found("member"))
}

/// Profile changes; absent fields stay, `null` clears an optional field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProfileRequest {
    /// Name shown to colleagues and visitors, 1–80 characters.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `https://` (or `http://`) URL of the avatar, at most 2048 characters; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Option<Option<String>>,
    /// Employee number (工号), at most 40 characters; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub employee_no: Option<Option<String>>,
    /// Concurrent chats the member can take, 1–100.
    #[serde(default)]
    pub max_concurrent_chats: Option<i32>,
    /// Routing skills: at most 20, each 1–40 characters.
    #[serde(default)]
    pub skills: Option<Vec<String>>,
}

/// Distinguishes an explicit `null` (clear) from an absent field (keep).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A member's tenant profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileView {
    /// User id.
    pub user_id: UserId,
    /// Display name.
    pub display_name: String,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Employee number.
    pub employee_no: Option<String>,
    /// Capacity.
    pub max_concurrent_chats: i32,
    /// Skills.
    pub skills: Vec<String>,
}

fn validate_profile(body: UpdateProfileRequest) -> Result<db::agents::ProfileChange> {
    use super::validate::Fields;
    let mut fields = Fields::default();
    let display_name = match &body.display_name {
        Some(name) => fields.take("display_name", "invalid", crate::domain::names::parse_name(name, 80)).map(Some),
        None => Some(None),
    };
    if let Some(Some(url)) = &body.avatar_url {
        let ok = (url.starts_with("https://") || url.starts_with("http://"))
            && url.len() <= 2048
            && !url.contains(char::is_whitespace);
        fields.take(
            "avatar_url",
            "invalid_url",
            if ok { Ok(()) } else { Err("Use an http(s) URL of at most 2048 characters.") },
        );
    }
    if let Some(Some(no)) = &body.employee_no {
        let ok = !no.trim().is_empty() && no.chars().count() <= 40 && !no.chars().any(char::is_control);
        fields.take("employee_no", "invalid", if ok { Ok(()) } else { Err("Use 1–40 characters.") });
    }
    if let Some(n) = body.max_concurrent_chats {
        fields.take(
            "max_concurrent_chats",
            "out_of_range",
            if (1..=100).contains(&n) { Ok(()) } else { Err("Use 1–100.") },
        );
    }
    let skills = match body.skills {
        None => Some(None),
        Some(list) => {
            let mut clean: Vec<String> = Vec::new();
            for skill in &list {
                if let Some(skill) = fields.take("skills", "invalid", crate::domain::names::parse_name(skill, 40))
                    && !clean.contains(&skill)
                {
                    clean.push(skill);
                }
            }
            if clean.len() > 20 {
                fields.take::<(), _>("skills", "too_many", Err("At most 20 skills."));
            }
            Some(Some(clean))
        }
    };
    fields.finish()?;
    Ok(db::agents::ProfileChange {
        display_name: super::validate::valid(display_name)?,
        avatar_url: body.avatar_url.map(|v| v.map(|s| s.trim().to_owned())),
        employee_no: body.employee_no.map(|v| v.map(|s| s.trim().to_owned())),
        max_concurrent_chats: body.max_concurrent_chats,
        skills: super::validate::valid(skills)?,
    })
}

/// Edits a member's tenant profile: admins edit anyone's, members their own name and avatar
/// (capacity, skills and employee number are the admins' to set).
#[utoipa::path(patch, path = "/api/v1/members/{user_id}/profile", tag = "members", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "usr_…")), request_body = UpdateProfileRequest,
    responses((status = 200, body = ProfileView), (status = 403, description = "forbidden"),
              (status = 404, description = "resource_not_found"), (status = 422, description = "validation_failed")))]
async fn update_profile(
    State(state): State<AppState>,
    auth: Auth<AnyMember>,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<UpdateProfileRequest>,
) -> Result<axum::Json<ProfileView>> {
    let user_id = parse_user_id(&user_id)?;
    let is_self = auth.principal.user_id() == Some(user_id);
    let is_admin = auth.principal.role().includes(Role::Admin);
    if !is_self && !is_admin {
        return Err(ApiError::forbidden("Only admins can edit other members' profiles."));
    }
    // Routing relies on capacity and skills, and the employee number identifies the agent to the
    // business: members keep only their name and avatar.
    if !is_admin && (body.max_concurrent_chats.is_some() || body.skills.is_some() || body.employee_no.is_some()) {
        return Err(ApiError::forbidden(
            "Only admins can change capacity, skills and employee numbers; you can change your name and avatar.",
        ));
    }
    let change = validate_profile(body)?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let profile =
        db::agents::update_profile(&mut tx, user_id, &change).await?.ok_or_else(|| ApiError::not_found("member"))?;
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "member.profile_changed",
        Some(&user_id.to_string()),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    if change.max_concurrent_chats.is_some() {
        // More room may take waiting conversations.
        state.router.wake(auth.tenant.id);
    }
    Ok(axum::Json(ProfileView {
        user_id,
        display_name: profile.display_name,
        avatar_url: profile.avatar_url,
        employee_no: profile.employee_no,
        max_concurrent_chats: profile.max_concurrent_chats,
        skills: profile.skills,
    }))
}
