//! Account endpoints (F1): signup, email verification, login, refresh, logout, password reset,
//! and `me`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use kefu_protocol::{ErrorCode, Role, TenantId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AnyKey, AnyMember, ApiJson, Auth, ClientIp};
use super::session_cookie::{self, TokenDelivery};
use super::two_factor::{self, SecondStepOutcome};
use super::validate::{Fields, valid};
use super::views::{SessionResponse, TenantView, UserView};
use crate::auth::session::{self, IssuedTokens, REFRESH_PREFIX};
use crate::auth::{Principal, TenantCtx};
use crate::db::NewId;
use crate::db::audit::Actor;
use crate::db::user_tokens::Purpose;
use crate::db::{self, TenantTx};
use crate::domain::email::Email;
use crate::domain::{names, password, secret};
use crate::error::{ApiError, Result, ResultExt};
use crate::mail::{self, templates};
use crate::realtime::session_ends;
use crate::state::AppState;
use crate::tenancy::provision::{self, NewTenant};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(verify_email))
        .routes(routes!(resend_verification))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(request_password_reset))
        .routes(routes!(confirm_password_reset))
        .routes(routes!(get_me))
        .routes(routes!(set_language))
}

const VERIFY_PREFIX: &str = "kefu_ve";
const RESET_PREFIX: &str = "kefu_pr";

/// Signup body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// Company or team name, 1–120 characters.
    pub company_name: String,
    /// The owner's email address.
    pub email: String,
    /// 10–128 characters, not a common password.
    pub password: String,
    /// The owner's name; defaults to the part of the email before `@`.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Wanted URL slug; derived from the company name when absent.
    #[serde(default)]
    pub slug: Option<String>,
    /// `body` (default): the refresh token in the response. `cookie`: in the `kefu_rt` cookie.
    #[serde(default)]
    pub token_delivery: TokenDelivery,
    /// The region to home the workspace in (`GET /api/v1/auth/regions`); it must be this
    /// server's (`421 wrong_region` names the console of the one asked for). Absent: this one.
    #[serde(default)]
    pub region: Option<String>,
}

/// Creates a tenant with its own schema, a trial plan and its owner; mails a verification link.
#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "auth", request_body = SignupRequest,
    responses((status = 201, body = SessionResponse), (status = 409, description = "email_taken"),
              (status = 421, description = "wrong_region: the region asked for is served elsewhere"),
              (status = 422, description = "validation_failed"), (status = 429, description = "rate_limited")))]
async fn signup(
    State(state): State<AppState>,
    ip: ClientIp,
    ApiJson(body): ApiJson<SignupRequest>,
) -> Result<(StatusCode, HeaderMap, axum::Json<SessionResponse>)> {
    ip.check_auth_rate(&state)?;
    super::regions::check_signup_region(&state, body.region.as_deref())?;
    let mut fields = Fields::default();
    let company = fields.take("company_name", "invalid", names::parse_name(&body.company_name, 120));
    let email = fields.take("email", "invalid_email", Email::parse(&body.email));
    let default_name = body.email.trim().split('@').next().unwrap_or_default().to_owned();
    let display_name = fields.take(
        "display_name",
        "invalid",
        names::parse_name(body.display_name.as_deref().unwrap_or(&default_name), 80),
    );
    let wanted_slug = match &body.slug {
        Some(slug) => fields.take("slug", "invalid_slug", check_slug(slug)).map(Some),
        None => Some(names::slugify(&body.company_name)),
    };
    let email_for_policy = email.as_ref().map_or(body.email.as_str(), |e| e.as_str());
    fields.take("password", "weak_password", password::check_policy(&body.password, email_for_policy));
    fields.finish()?;
    let (company, email, display_name, wanted_slug) =
        (valid(company)?, valid(email)?, valid(display_name)?, valid(wanted_slug)?);

    let password_hash = hash_password(body.password).await?;
    let mut tx = state.db.control().begin().await?;
    if db::users::find_by_email(&mut tx, email.as_str()).await?.is_some() {
        return Err(email_taken());
    }
    let user_id = UserId::new_v7();
    db::users::insert(&mut tx, user_id, email.as_str(), &password_hash, &display_name, false)
        .await
        .on_constraint("users_email_key", email_taken)?;
    let slug = if body.slug.is_some() {
        let slug = wanted_slug.unwrap_or_default();
        if !db::tenants::claim_slug(&mut tx, &slug).await? {
            return Err(ApiError::field("slug", "slug_taken", "This address is taken; choose another."));
        }
        slug
    } else {
        provision::free_slug(&mut tx, wanted_slug).await?
    };
    let tenant = provision::create_tenant(
        &mut tx,
        NewTenant { name: &company, slug: &slug, owner: user_id, region: &state.config.region },
    )
    .await
    .map_err(|error| match error.downcast::<provision::NoCapacity>() {
        Ok(full) => {
            tracing::error!(error = %full, "a signup was refused: add a tenant database (`kefu databases add`)");
            ApiError::client(
                ErrorCode::ServiceUnavailable,
                "Sign-ups are paused while we add capacity; try again later.",
            )
        }
        Err(other) => ApiError::Internal(other),
    })?;
    let tenant_id = tenant.id;
    queue_verification(&state, &mut tx, Some(tenant_id), user_id, email.as_str(), &display_name).await?;
    let tokens = session::start(&mut tx, &state.jwt, &state.config.auth, user_id, tenant_id, Role::Owner).await?;
    // The same transaction goes on in the new tenant's schema, so everything commits together.
    let mut tx = TenantTx::enter_new(&state.db, tx, &tenant).await?;
    db::agents::upsert(&mut tx, user_id, &display_name).await?;
    db::audit::record(
        &mut tx,
        Actor::User(user_id),
        "tenant.created",
        Some(&tenant_id.to_string()),
        serde_json::json!({ "slug": slug }),
    )
    .await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    tracing::info!(tenant_id = %tenant_id, user_id = %user_id, "tenant signed up");
    let (headers, response) = SessionResponse::deliver(
        &state.config,
        body.token_delivery,
        tokens,
        UserView { id: user_id, email: email.to_string(), display_name, email_verified: false, language: None },
        TenantView { id: tenant_id, slug, name: company },
        Role::Owner,
    );
    Ok((StatusCode::CREATED, headers, response))
}

fn email_taken() -> ApiError {
    ApiError::client(ErrorCode::EmailTaken, "An account with this email already exists; log in instead.")
}

fn check_slug(slug: &str) -> std::result::Result<String, &'static str> {
    let ok = (1..=40).contains(&slug.len())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if !ok {
        return Err("Use 1–40 lowercase letters, digits and inner dashes.");
    }
    if provision::RESERVED.contains(&slug) {
        return Err("This address is reserved; choose another.");
    }
    Ok(slug.to_owned())
}

/// Password hashes computed at once on a node, at most (each takes one core for tens of
/// milliseconds and 19 MiB): a flood of sign-ins waits here instead of exhausting the node.
const CONCURRENT_HASHES: usize = 4;
/// How long a sign-in waits for a hashing slot before it is told to retry.
const HASH_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CONCURRENT_HASHES);

/// Runs a password hash or verification off the async executor, within the node's cap.
async fn hashing<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let permit = tokio::time::timeout(HASH_WAIT, HASHING.acquire())
        .await
        .map_err(|_| ApiError::busy(2))?
        .map_err(|e| ApiError::Internal(e.into()))?;
    let done = tokio::task::spawn_blocking(work).await.map_err(|e| ApiError::Internal(e.into()));
    drop(permit);
    done
}

/// Hashes off the async executor.
pub(crate) async fn hash_password(password: String) -> Result<String> {
    hashing(move || password::hash(&password)).await?.map_err(ApiError::Internal)
}

/// Verifies off the async executor.
pub(crate) async fn verify_password(password: String, hash: String) -> Result<bool> {
    hashing(move || password::verify(&password, &hash)).await
}

async fn queue_verification(
    state: &AppState,
    conn: &mut sqlx::PgConnection,
    tenant: Option<TenantId>,
    user: UserId,
    email: &str,
    name: &str,
) -> Result<()> {
    let token = secret::generate(VERIFY_PREFIX)?;
    db::user_tokens::insert(
        conn,
        &secret::digest(&token),
        user,
        Purpose::VerifyEmail,
        Utc::now() + Duration::hours(48),
    )
    .await?;
    let link = format!("{}/verify-email?token={token}", state.config.app_url());
    mail::enqueue(conn, tenant, email, &templates::verify_email(name, &link)).await?;
    Ok(())
}

/// A one-time token from a mailed link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The `token` query parameter of the link.
    pub token: String,
}

/// Result of verifying an email.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifiedResponse {
    /// Always true.
    pub email_verified: bool,
}

/// Confirms an email address with the token from the verification mail.
#[utoipa::path(post, path = "/api/v1/auth/verify-email", tag = "auth", request_body = TokenRequest,
    responses((status = 200, body = VerifiedResponse), (status = 400, description = "invalid_one_time_token")))]
async fn verify_email(
    State(state): State<AppState>,
    ip: ClientIp,
    ApiJson(body): ApiJson<TokenRequest>,
) -> Result<axum::Json<VerifiedResponse>> {
    ip.check_auth_rate(&state)?;
    if !secret::looks_like(&body.token, VERIFY_PREFIX) {
        return Err(invalid_one_time());
    }
    let mut tx = state.db.control().begin().await?;
    let user = db::user_tokens::consume(&mut tx, &secret::digest(&body.token), Purpose::VerifyEmail)
        .await?
        .ok_or_else(invalid_one_time)?;
    db::users::mark_verified(&mut tx, user).await?;
    tx.commit().await?;
    Ok(axum::Json(VerifiedResponse { email_verified: true }))
}

fn invalid_one_time() -> ApiError {
    ApiError::client(ErrorCode::InvalidOneTimeToken, "This link is invalid, already used or expired.")
}

/// Mails a new verification link to the signed-in member (no-op when already verified).
#[utoipa::path(post, path = "/api/v1/auth/resend-verification", tag = "auth", security(("bearer" = [])),
    responses((status = 202, description = "queued or already verified")))]
async fn resend_verification(State(state): State<AppState>, ip: ClientIp, auth: Auth) -> Result<StatusCode> {
    ip.check_auth_rate(&state)?;
    let user_id = auth.require_user()?;
    let mut tx = state.db.control().begin().await?;
    let user = db::users::find(&mut tx, user_id).await?.ok_or_else(|| ApiError::not_found("user"))?;
    if user.email_verified_at.is_none() {
        queue_verification(&state, &mut tx, Some(auth.tenant.id), user_id, &user.email, &user.display_name).await?;
    }
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    Ok(StatusCode::ACCEPTED)
}

/// Login body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
    /// Tenant slug; required when the account belongs to several tenants.
    #[serde(default)]
    pub tenant: Option<String>,
    /// `body` (default): the refresh token in the response. `cookie`: in the `kefu_rt` cookie
    /// (`HttpOnly; Secure; SameSite=Strict; Path=/api/v1/auth`), for browsers.
    #[serde(default)]
    pub token_delivery: TokenDelivery,
    /// The second step, for accounts with two-factor sign-in: six digits from the authenticator
    /// app, or a recovery code. Also the first code of an authenticator being set up.
    #[serde(default)]
    pub two_factor_code: Option<String>,
}

/// Exchanges email and password (and, with two-factor sign-in, a code) for a session in one
/// tenant.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = SessionResponse),
              (status = 401, description = "invalid_credentials, two_factor_required or invalid_two_factor_code"),
              (status = 403, description = "two_factor_setup_required: the workspace requires two-factor sign-in"),
              (status = 409, description = "tenant_selection_required"),
              (status = 429, description = "rate_limited or two_factor_locked")))]
async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<(HeaderMap, axum::Json<SessionResponse>)> {
    ip.check_auth_rate(&state)?;
    let user = authenticate(&state, &body.email, body.password).await?;
    let invalid = || ApiError::client(ErrorCode::InvalidCredentials, "Email or password is wrong.");
    let mut tx = state.db.control().begin().await?;
    let tenants = db::memberships::tenants_of(&mut tx, user.id).await?;
    let chosen = match (&body.tenant, tenants.as_slice()) {
        (Some(slug), _) => tenants.iter().find(|t| &t.slug == slug).ok_or_else(invalid)?,
        (None, [only]) => only,
        (None, []) => return Err(ApiError::forbidden("This account is not a member of any team.")),
        (None, many) => {
            let slugs: Vec<&str> = many.iter().map(|t| t.slug.as_str()).collect();
            return Err(ApiError::client(
                ErrorCode::TenantSelectionRequired,
                format!("This account belongs to several teams; send `tenant` as one of: {}.", slugs.join(", ")),
            ));
        }
    };
    let role: Role = chosen.role;
    let (user_id, tenant_id) = (user.id, chosen.tenant_id);
    let code = body.two_factor_code.as_deref();
    let (outcome, notes) = two_factor::second_step(&state, &mut tx, (&user).into(), tenant_id, code).await?;
    let recovery_codes = match outcome {
        SecondStepOutcome::Passed { recovery_codes } => recovery_codes,
        SecondStepOutcome::Refused(error) => {
            tx.commit().await?;
            state.mail_wakeup.notify_one();
            two_factor::record(&state, tenant_id, user_id, notes).await;
            return Err(error);
        }
    };
    let tokens = session::start(&mut tx, &state.jwt, &state.config.auth, user_id, tenant_id, role).await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    two_factor::record(&state, tenant_id, user_id, notes).await;
    let (headers, mut answer) = SessionResponse::deliver(
        &state.config,
        body.token_delivery,
        tokens,
        UserView::from_row(user_id, user),
        TenantView { id: tenant_id, slug: chosen.slug.clone(), name: chosen.name.clone() },
        role,
    );
    answer.recovery_codes = recovery_codes;
    Ok((headers, answer))
}

/// The account these email and password belong to, or `invalid_credentials` (the same answer and
/// the same work for an unknown address). Counts against the account's sign-in budget.
pub(crate) async fn authenticate(state: &AppState, email: &str, password: String) -> Result<db::users::UserRow> {
    let invalid = || ApiError::client(ErrorCode::InvalidCredentials, "Email or password is wrong.");
    if password.chars().count() > password::MAX_LEN || email.len() > 254 {
        return Err(invalid());
    }
    super::extract::check_account_rate(state, email)?;
    let mut conn = state.db.control().acquire().await?;
    let user = db::users::find_by_email(&mut conn, email.trim()).await?;
    drop(conn);
    let stored = user.as_ref().map_or_else(|| password::dummy_hash().to_owned(), |u| u.password_hash.clone());
    let ok = verify_password(password, stored).await?;
    match user {
        Some(user) if ok => Ok(user),
        _ => Err(invalid()),
    }
}

/// A refresh token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    pub refresh_token: String,
}

/// Where the refresh token came from: the body (answered in the body) or the `kefu_rt` cookie
/// (answered with a new cookie). An empty body means the cookie.
fn presented_refresh_token(headers: &HeaderMap, body: &[u8]) -> Result<(String, TokenDelivery)> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return session_cookie::read(headers).map(|token| (token, TokenDelivery::Cookie)).ok_or_else(|| {
            ApiError::client(
                ErrorCode::InvalidRefreshToken,
                "Send the refresh token in the body or the kefu_rt cookie.",
            )
        });
    }
    let request: RefreshRequest = serde_json::from_slice(body).map_err(|error| {
        ApiError::client(ErrorCode::MalformedJson, format!("The body is not a refresh request: {error}"))
    })?;
    Ok((request.refresh_token, TokenDelivery::Body))
}

/// Exchanges a refresh token for a new pair: the token in the body (answered in the body), or,
/// with an empty body, the `kefu_rt` cookie (answered with a new cookie and `refresh_token: null`).
/// Each refresh token works once: presenting a used one again revokes the whole session
/// (`refresh_token_reused`), which stops a stolen token — except within 10 s of its use, which is
/// two tabs refreshing at once (answered with an access token and `refresh_token: null`, no new
/// cookie: the other answer carried the next one). A session also ends at its absolute
/// lifetime (`auth.session_max_days`), however often it is refreshed.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body(content = Option<RefreshRequest>),
    responses((status = 200, body = SessionResponse), (status = 401, description = "invalid_refresh_token or refresh_token_reused")))]
async fn refresh(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response> {
    let (presented, delivery) = presented_refresh_token(&headers, &body)?;
    match refresh_session(&state, &presented).await {
        Ok((tokens, user, tenant, role)) => {
            Ok(SessionResponse::deliver(&state.config, delivery, tokens, user, tenant, role).into_response())
        }
        Err(error) if delivery == TokenDelivery::Cookie && error.code() == ErrorCode::InvalidRefreshToken => {
            Ok((session_cookie::clear(&state.config), error).into_response())
        }
        Err(error) => Err(error),
    }
}

fn invalid_refresh() -> ApiError {
    ApiError::client(ErrorCode::InvalidRefreshToken, "The refresh token is invalid or expired; log in again.")
}

/// Checks `presented` and issues the session's next pair.
async fn refresh_session(state: &AppState, presented: &str) -> Result<(IssuedTokens, UserView, TenantView, Role)> {
    if !secret::looks_like(presented, REFRESH_PREFIX) {
        return Err(invalid_refresh());
    }
    let mut tx = state.db.control().begin().await?;
    let Some(token) = db::refresh_tokens::find_for_update(&mut tx, &secret::digest(presented)).await? else {
        tracing::debug!("refresh refused: unknown token");
        return Err(invalid_refresh());
    };
    if token.revoked_at.is_some() || token.expires_at <= Utc::now() {
        tracing::debug!(family = %token.family_id, revoked = token.revoked_at.is_some(), "refresh refused: token ended");
        return Err(invalid_refresh());
    }
    let concurrent = token.replaced_at.is_some_and(|at| Utc::now() - at < session::CONCURRENT_REFRESH_GRACE);
    if token.replaced_at.is_some() && !concurrent {
        db::refresh_tokens::revoke_family(&mut tx, token.family_id).await?;
        tx.commit().await?;
        session_ends::announce(&state.bus, token.tenant_id, token.user_id, Some(token.family_id));
        tracing::warn!(user_id = %token.user_id, family = %token.family_id, "refresh token reused; session revoked");
        return Err(ApiError::client(
            ErrorCode::RefreshTokenReused,
            "This refresh token was already used; the session has been signed out for safety.",
        ));
    }
    let live = db::sessions::find(&mut tx, token.family_id).await?.filter(|s| s.is_live(Utc::now()));
    let Some(session_row) = live else {
        tracing::debug!(family = %token.family_id, "refresh refused: the session ended");
        return Err(invalid_refresh());
    };
    let member =
        db::memberships::find_auth(&mut tx, token.tenant_id, token.user_id).await?.ok_or_else(invalid_refresh)?;
    let (_, member) = TenantCtx::admit_here(Some(member), &state.config.region)?;
    let role: Role = member.role;
    let user = db::users::find(&mut tx, token.user_id).await?.ok_or_else(invalid_refresh)?;
    let tenant = db::tenants::find(&mut tx, token.tenant_id).await?.ok_or_else(invalid_refresh)?;
    let (user_id, tenant_id) = (user.id, tenant.access.id);
    let tokens = if concurrent {
        // Another tab's refresh has just issued the next refresh token (and cookie): this one gets
        // an access token only.
        session::access_only(&state.jwt, &session_row, user_id, tenant_id, role).map_err(ApiError::Internal)?
    } else {
        db::refresh_tokens::mark_replaced(&mut tx, token.id).await?;
        session::continue_session(&mut tx, &state.jwt, &state.config.auth, &session_row, user_id, tenant_id, role)
            .await
            .map_err(ApiError::Internal)?
    };
    tx.commit().await?;
    let tenant = TenantView { id: tenant_id, slug: tenant.access.slug, name: tenant.name };
    Ok((tokens, UserView::from_row(user_id, user), tenant, role))
}

/// Ends the session the refresh token (in the body, or the `kefu_rt` cookie with an empty body)
/// belongs to, at once: its access tokens stop working and its sockets close. Idempotent: unknown
/// tokens also return 204. Clears the cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body(content = Option<RefreshRequest>),
    responses((status = 204, description = "signed out")))]
async fn logout(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<(StatusCode, HeaderMap)> {
    let cleared = session_cookie::clear(&state.config);
    let Ok((presented, _)) = presented_refresh_token(&headers, &body) else {
        return Ok((StatusCode::NO_CONTENT, cleared));
    };
    if secret::looks_like(&presented, REFRESH_PREFIX) {
        let mut tx = state.db.control().begin().await?;
        let found = db::refresh_tokens::find_for_update(&mut tx, &secret::digest(&presented)).await?;
        if let Some(token) = &found {
            db::refresh_tokens::revoke_family(&mut tx, token.family_id).await?;
        }
        tx.commit().await?;
        if let Some(token) = found {
            session_ends::announce(&state.bus, token.tenant_id, token.user_id, Some(token.family_id));
        }
    }
    Ok((StatusCode::NO_CONTENT, cleared))
}

/// Password reset request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The account's email address.
    pub email: String,
}

/// Mails a reset link if the address has an account. Always 202, so it reveals nothing.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", request_body = ResetRequest,
    responses((status = 202, description = "a mail is sent if the account exists"), (status = 429, description = "rate_limited")))]
async fn request_password_reset(
    State(state): State<AppState>,
    ip: ClientIp,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Result<StatusCode> {
    ip.check_auth_rate(&state)?;
    let email = Email::parse(&body.email).map_err(|m| ApiError::field("email", "invalid_email", m))?;
    let mut tx = state.db.control().begin().await?;
    if let Some(user) = db::users::find_by_email(&mut tx, email.as_str()).await? {
        let token = secret::generate(RESET_PREFIX)?;
        db::user_tokens::insert(
            &mut tx,
            &secret::digest(&token),
            user.id,
            Purpose::ResetPassword,
            Utc::now() + Duration::hours(1),
        )
        .await?;
        let link = format!("{}/reset-password?token={token}", state.config.app_url());
        mail::enqueue(&mut tx, None, &user.email, &templates::reset_password(&user.display_name, &link)).await?;
    }
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    Ok(StatusCode::ACCEPTED)
}

/// New password with the token from the reset mail.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirmRequest {
    /// The `token` query parameter of the link.
    pub token: String,
    /// The new password.
    pub password: String,
}

/// Sets a new password, signs out every session of the account and marks the email verified.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth", request_body = ResetConfirmRequest,
    responses((status = 204, description = "password changed"), (status = 400, description = "invalid_one_time_token"),
              (status = 422, description = "validation_failed")))]
async fn confirm_password_reset(
    State(state): State<AppState>,
    ip: ClientIp,
    ApiJson(body): ApiJson<ResetConfirmRequest>,
) -> Result<StatusCode> {
    ip.check_auth_rate(&state)?;
    if !secret::looks_like(&body.token, RESET_PREFIX) {
        return Err(invalid_one_time());
    }
    let mut tx = state.db.control().begin().await?;
    let user_id = db::user_tokens::consume(&mut tx, &secret::digest(&body.token), Purpose::ResetPassword)
        .await?
        .ok_or_else(invalid_one_time)?;
    let user = db::users::find(&mut tx, user_id).await?.ok_or_else(invalid_one_time)?;
    // A weak password returns before commit, so the token stays usable for another try.
    password::check_policy(&body.password, &user.email).map_err(|m| ApiError::field("password", "weak_password", m))?;
    let hash = hash_password(body.password).await?;
    db::users::set_password(&mut tx, user_id, &hash).await?;
    db::users::mark_verified(&mut tx, user_id).await?;
    db::user_tokens::invalidate_all(&mut tx, user_id, Purpose::ResetPassword).await?;
    db::refresh_tokens::revoke_user(&mut tx, user_id).await?;
    let tenants = db::memberships::tenants_of(&mut tx, user_id).await?;
    tx.commit().await?;
    for tenant in tenants {
        session_ends::announce(&state.bus, tenant.tenant_id, user_id, None);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Who the caller is.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// The member, absent for API keys.
    pub user: Option<UserView>,
    /// The API key id, for API keys.
    pub api_key_id: Option<String>,
    /// The tenant.
    pub tenant: TenantView,
    /// Effective role.
    #[schema(value_type = String)]
    pub role: Role,
}

/// The language a member reads Kefu in.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LanguageRequest {
    /// `en` or `zh-CN`.
    pub language: String,
}

/// Records the language the member reads Kefu in (the console sends it when they choose one);
/// mails such as the analytics reports are written in it.
#[utoipa::path(put, path = "/api/v1/me/language", tag = "auth", security(("bearer" = [])), request_body = LanguageRequest,
    responses((status = 204, description = "Saved"), (status = 403, description = "forbidden: API keys"),
        (status = 422, description = "validation_failed")))]
async fn set_language(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<LanguageRequest>,
) -> Result<StatusCode> {
    let user = auth.require_user()?;
    if !["en", "zh-CN"].contains(&body.language.as_str()) {
        let mut fields = Fields::default();
        fields.take::<(), _>("language", "invalid", Err("en or zh-CN"));
        fields.finish()?;
    }
    let mut conn = state.db.control().acquire().await?;
    db::users::set_language(&mut conn, user, &body.language).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Returns the caller, their tenant and role.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = MeResponse), (status = 401, description = "unauthenticated or invalid_token")))]
async fn get_me(State(state): State<AppState>, auth: Auth<AnyMember, AnyKey>) -> Result<axum::Json<MeResponse>> {
    let mut conn = state.db.control().acquire().await?;
    let tenant = db::tenants::find(&mut conn, auth.tenant.id).await?.ok_or_else(|| ApiError::not_found("tenant"))?;
    let tenant = TenantView { id: auth.tenant.id, slug: tenant.access.slug, name: tenant.name };
    let (user, api_key_id) = match &auth.principal {
        Principal::Member { user_id, .. } => {
            let user = db::users::find(&mut conn, *user_id).await?.ok_or_else(|| ApiError::not_found("user"))?;
            let view = UserView::from_row(*user_id, user);
            (Some(view), None)
        }
        Principal::ApiKey { key_id, .. } => (None, Some(key_id.to_string())),
    };
    Ok(axum::Json(MeResponse { user, api_key_id, tenant, role: auth.principal.role() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With every hashing slot taken, a sign-in waits its five seconds and is told to retry,
    /// rather than queueing without bound. (Each test runs in its own process under nextest, so
    /// the node-wide semaphore is this test's alone.)
    #[tokio::test]
    async fn hashing_beyond_the_cap_waits_then_is_refused_with_a_retry() {
        let held = HASHING.acquire_many(CONCURRENT_HASHES as u32).await.expect("every slot");
        let started = std::time::Instant::now();
        let refused = verify_password("correct horse".into(), password::dummy_hash().to_owned()).await;
        assert!(matches!(refused, Err(ApiError::RateLimited { retry_after_secs: 2, policy: None })), "{refused:?}");
        assert!(started.elapsed() >= HASH_WAIT);
        drop(held);
        assert!(verify_password("correct horse".into(), password::dummy_hash().to_owned()).await.is_ok());
    }
}
