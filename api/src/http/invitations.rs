//! Invitations (F3): admins invite people by email; the invitee accepts with the mailed token and
//! becomes a member (creating an account if they have none).

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use kefu_protocol::{ErrorCode, InvitationId, Role, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{hash_password, verify_password};
use super::extract::{AdminUp, ApiJson, Auth, ClientIp};
use super::session_cookie::TokenDelivery;
use super::two_factor::{self, Account, SecondStepOutcome};
use super::views::{SessionResponse, TenantView, UserView};
use crate::auth::{TenantCtx, session};
use crate::db::NewId;
use crate::db::audit::Actor;
use crate::db::{self, TenantTx};
use crate::domain::email::Email;
use crate::domain::{names, password, secret};
use crate::error::{ApiError, Result, ResultExt};
use crate::mail::{self, templates};
use crate::state::AppState;

const INVITE_PREFIX: &str = "kefu_iv";

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_invitation, list_invitations))
        .routes(routes!(revoke_invitation))
        .routes(routes!(lookup_invitation))
        .routes(routes!(accept_invitation))
}

/// Invitation body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    /// The invitee's email.
    pub email: String,
    /// `admin`, `supervisor` or `agent` (default).
    #[serde(default = "default_role")]
    #[schema(value_type = String)]
    pub role: Role,
}

fn default_role() -> Role {
    Role::Agent
}

/// A pending invitation.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    /// Invitation id (`inv_…`).
    pub id: InvitationId,
    /// Invitee's email.
    pub email: String,
    /// Role on acceptance.
    #[schema(value_type = String)]
    pub role: Role,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Expires.
    pub expires_at: DateTime<Utc>,
    /// Whether it has expired (then revoke it and invite again).
    pub expired: bool,
}

impl TryFrom<db::invitations::InvitationRow> for InvitationView {
    type Error = ApiError;
    fn try_from(row: db::invitations::InvitationRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            email: row.email,
            role: row.role,
            created_at: row.created_at,
            expired: row.expires_at <= Utc::now(),
            expires_at: row.expires_at,
        })
    }
}

/// Invites someone by email. Needs a verified email (for members), a free seat on the plan, and a
/// role no higher than the inviter's.
#[utoipa::path(post, path = "/api/v1/invitations", tag = "members", security(("bearer" = [])),
    request_body = CreateInvitationRequest,
    responses((status = 201, body = InvitationView), (status = 409, description = "already_member, invitation_exists or seat_limit_reached"),
              (status = 403, description = "forbidden or email_not_verified"), (status = 422, description = "validation_failed")))]
async fn create_invitation(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    ApiJson(body): ApiJson<CreateInvitationRequest>,
) -> Result<(StatusCode, axum::Json<InvitationView>)> {
    let email = Email::parse(&body.email).map_err(|m| ApiError::field("email", "invalid_email", m))?;
    if body.role == Role::Owner {
        return Err(ApiError::field("role", "invalid_role", "Nobody can be invited as owner."));
    }
    if !auth.principal.role().includes(body.role) {
        return Err(ApiError::forbidden("You cannot invite someone with a role above your own."));
    }
    if let crate::auth::Principal::Member { email_verified: false, .. } = auth.principal {
        return Err(ApiError::client(ErrorCode::EmailNotVerified, "Verify your email address before inviting people."));
    }
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    db::memberships::lock_seats(&mut tx).await?;
    if db::memberships::email_is_member(&mut tx, email.as_str()).await? {
        return Err(ApiError::client(ErrorCode::AlreadyMember, "This person is already a member."));
    }
    db::invitations::expire_stale(&mut tx, email.as_str()).await?;
    let (used, limit) = (db::memberships::seats_used(&mut tx).await?, db::memberships::seat_limit(&mut tx).await?);
    if used >= i64::from(limit) {
        return Err(ApiError::client(
            ErrorCode::SeatLimitReached,
            format!("All {limit} seats of your plan are taken (members and pending invitations)."),
        ));
    }
    let token = secret::generate(INVITE_PREFIX)?;
    let id = InvitationId::new_v7();
    let inviter = match auth.principal.user_id() {
        // The inviting member's account name (the extractor has just read their membership).
        Some(user) => db::memberships::find(&mut tx, user).await?.map(|m| m.display_name),
        None => None,
    };
    let expires_at = Utc::now() + Duration::days(7);
    db::invitations::insert(
        &mut tx,
        id,
        email.as_str(),
        body.role,
        &secret::digest(&token),
        auth.principal.user_id(),
        expires_at,
    )
    .await
    .on_constraint("invitations_pending_email_key", || {
        ApiError::client(ErrorCode::InvitationExists, "A pending invitation for this email already exists.")
    })?;
    let company = db::tenants::current(&mut tx).await?.map(|t| t.name).unwrap_or_default();
    let link = format!("{}/accept-invite?token={token}", state.config.app_url());
    let mail = templates::invitation(inviter.as_deref().unwrap_or(&company), &company, body.role.as_str(), &link);
    mail::enqueue_for_tenant(&mut tx, email.as_str(), &mail).await?;
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "member.invited",
        Some(&id.to_string()),
        serde_json::json!({ "email": email.as_str(), "role": body.role }),
    )
    .await?;
    let row = db::invitations::list_pending(&mut tx)
        .await?
        .into_iter()
        .find(|i| i.id == id)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("invitation vanished")))?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    Ok((StatusCode::CREATED, axum::Json(row.try_into()?)))
}

/// Lists pending invitations, newest first.
#[utoipa::path(get, path = "/api/v1/invitations", tag = "members", security(("bearer" = [])),
    responses((status = 200, body = [InvitationView])))]
async fn list_invitations(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
) -> Result<axum::Json<Vec<InvitationView>>> {
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let rows = db::invitations::list_pending(&mut tx).await?;
    tx.commit().await?;
    rows.into_iter().map(InvitationView::try_from).collect::<Result<Vec<_>>>().map(axum::Json)
}

/// Revokes a pending invitation; its link stops working.
#[utoipa::path(delete, path = "/api/v1/invitations/{id}", tag = "members", security(("bearer" = [])),
    params(("id" = String, Path, description = "inv_…")),
    responses((status = 204, description = "revoked"), (status = 404, description = "resource_not_found")))]
async fn revoke_invitation(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id: InvitationId = id.parse().map_err(|_| ApiError::not_found("invitation"))?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    if !db::invitations::revoke(&mut tx, id).await? {
        return Err(ApiError::not_found("invitation"));
    }
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "invitation.revoked",
        Some(&id.to_string()),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The `token` query parameter.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct TokenQuery {
    /// The invitation token from the mailed link.
    pub token: String,
}

/// What an invitation link is for, shown before accepting.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationLookup {
    /// The inviting company.
    pub company_name: String,
    /// Its slug (to sign in there afterwards, e.g. after setting up two-factor sign-in).
    pub tenant_slug: String,
    /// The invited address.
    pub email: String,
    /// Role on acceptance.
    #[schema(value_type = String)]
    pub role: Role,
    /// Whether an account with this email exists (then accept with its password).
    pub account_exists: bool,
}

/// Describes an invitation by its token, so the accept page can say what joining means.
#[utoipa::path(get, path = "/api/v1/invitations/lookup", tag = "members", params(TokenQuery),
    responses((status = 200, body = InvitationLookup), (status = 400, description = "invalid_one_time_token")))]
async fn lookup_invitation(
    State(state): State<AppState>,
    ip: ClientIp,
    Query(query): Query<TokenQuery>,
) -> Result<axum::Json<InvitationLookup>> {
    ip.check_auth_rate(&state)?;
    if !secret::looks_like(&query.token, INVITE_PREFIX) {
        return Err(invalid_invitation());
    }
    let mut tx = state.db.control().begin().await?;
    let invitation = db::invitations::find_usable_for_update(&mut tx, &secret::digest(&query.token))
        .await?
        .ok_or_else(invalid_invitation)?;
    let company = db::tenants::find(&mut tx, invitation.tenant_id).await?.ok_or_else(invalid_invitation)?;
    let account_exists = db::users::find_by_email(&mut tx, &invitation.email).await?.is_some();
    tx.rollback().await?;
    Ok(axum::Json(InvitationLookup {
        tenant_slug: company.access.slug,
        company_name: company.name,
        email: invitation.email,
        role: invitation.role,
        account_exists,
    }))
}

fn invalid_invitation() -> ApiError {
    ApiError::client(ErrorCode::InvalidOneTimeToken, "This invitation is invalid, already used, revoked or expired.")
}

/// Accepting an invitation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// The invitation token.
    pub token: String,
    /// For a new account: the password to set. For an existing account: its password.
    pub password: String,
    /// For a new account: the name colleagues see; defaults to the email's local part.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `body` (default): the refresh token in the response. `cookie`: in the `kefu_rt` cookie.
    #[serde(default)]
    pub token_delivery: TokenDelivery,
    /// For an existing account with two-factor sign-in: its code (as at login).
    #[serde(default)]
    pub two_factor_code: Option<String>,
}

/// Accepts an invitation: joins the tenant (creating the account if needed; the mailed token
/// proves the address, so it is verified) and starts a session there. An account with two-factor
/// sign-in sends its code too (else `two_factor_required`, nothing joined); in a workspace that
/// requires two-factor sign-in, an account without it joins but gets no session
/// (`two_factor_setup_required`): it sets up an authenticator and signs in.
#[utoipa::path(post, path = "/api/v1/invitations/accept", tag = "members", request_body = AcceptInvitationRequest,
    responses((status = 200, body = SessionResponse), (status = 400, description = "invalid_one_time_token"),
              (status = 401, description = "invalid_credentials, two_factor_required or invalid_two_factor_code"),
              (status = 403, description = "two_factor_setup_required (joined, no session)"),
              (status = 409, description = "already_member"),
              (status = 422, description = "validation_failed"), (status = 429, description = "two_factor_locked")))]
async fn accept_invitation(
    State(state): State<AppState>,
    ip: ClientIp,
    ApiJson(body): ApiJson<AcceptInvitationRequest>,
) -> Result<(HeaderMap, axum::Json<SessionResponse>)> {
    ip.check_auth_rate(&state)?;
    if !secret::looks_like(&body.token, INVITE_PREFIX) {
        return Err(invalid_invitation());
    }
    let mut tx = state.db.control().begin().await?;
    let invitation = db::invitations::find_usable_for_update(&mut tx, &secret::digest(&body.token))
        .await?
        .ok_or_else(invalid_invitation)?;
    let role: Role = invitation.role;
    let existing = db::users::find_by_email(&mut tx, &invitation.email).await?;
    let (user_id, email, display_name) = match existing {
        Some(user) => {
            if !verify_password(body.password, user.password_hash).await? {
                return Err(ApiError::client(
                    ErrorCode::InvalidCredentials,
                    "Password is wrong for this existing account.",
                ));
            }
            db::users::mark_verified(&mut tx, user.id).await?;
            (user.id, user.email, user.display_name)
        }
        None => {
            let default_name = invitation.email.split('@').next().unwrap_or_default().to_owned();
            let name = names::parse_name(body.display_name.as_deref().unwrap_or(&default_name), 80)
                .map_err(|m| ApiError::field("display_name", "invalid", m))?;
            password::check_policy(&body.password, &invitation.email)
                .map_err(|m| ApiError::field("password", "weak_password", m))?;
            let hash = hash_password(body.password).await?;
            let id = UserId::new_v7();
            db::users::insert(&mut tx, id, &invitation.email, &hash, &name, true).await?;
            (id, invitation.email.clone(), name)
        }
    };
    // An account with its own second step proves it before joining (refused: nothing joined but
    // the count of wrong codes); one without it in a workspace that requires it joins without a
    // session.
    let account = Account { id: user_id, email: &email, name: &display_name };
    let code = body.two_factor_code.as_deref();
    let (outcome, notes) = two_factor::second_step(&state, &mut tx, account, invitation.tenant_id, code).await?;
    let second_step = match outcome {
        // Codes when this sign-in's code finished setting up an authenticator: shown with the
        // session, as at login.
        SecondStepOutcome::Passed { recovery_codes } => Ok(recovery_codes),
        SecondStepOutcome::Refused(error) if error.code() != ErrorCode::TwoFactorSetupRequired => {
            tx.commit().await?;
            state.mail_wakeup.notify_one();
            two_factor::record(&state, invitation.tenant_id, user_id, notes).await;
            return Err(error);
        }
        SecondStepOutcome::Refused(error) => Err(error),
    };
    db::memberships::insert(&mut tx, invitation.tenant_id, user_id, role)
        .await
        .on_constraint("memberships_pkey", || {
            ApiError::client(ErrorCode::AlreadyMember, "You are already a member.")
        })?;
    db::invitations::mark_accepted(&mut tx, invitation.id).await?;
    let tenant = db::tenants::find(&mut tx, invitation.tenant_id).await?.ok_or_else(invalid_invitation)?;
    let (ctx, tenant) = TenantCtx::admit_here(Some(tenant), &state.config.region)?;
    let tenant_id = ctx.id;
    let tokens = match &second_step {
        Ok(_) => Some(session::start(&mut tx, &state.jwt, &state.config.auth, user_id, tenant_id, role).await?),
        Err(_) => None,
    };
    // The same transaction goes on in the tenant's schema, so everything commits together.
    let mut tx = TenantTx::enter(&state.db, tx, &tenant.access).await?;
    db::agents::upsert(&mut tx, user_id, &display_name).await?;
    db::audit::record(
        &mut tx,
        Actor::User(user_id),
        "member.joined",
        Some(&user_id.to_string()),
        serde_json::json!({ "role": role }),
    )
    .await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    two_factor::record(&state, tenant_id, user_id, notes).await;
    if let Some(stripe) = &state.stripe {
        stripe.seats_changed();
    }
    // Joined without a session: the workspace requires a second step the account does not have.
    let recovery_codes = second_step?;
    let Some(tokens) = tokens else {
        return Err(anyhow::anyhow!("a session was started but not kept").into());
    };
    let (headers, mut answer) = SessionResponse::deliver(
        &state.config,
        body.token_delivery,
        tokens,
        UserView { id: user_id, email, display_name, email_verified: true, language: None },
        TenantView { id: tenant_id, slug: ctx.slug, name: tenant.name },
        role,
    );
    answer.recovery_codes = recovery_codes;
    Ok((headers, answer))
}
