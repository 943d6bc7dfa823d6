//! Two-factor sign-in (F31): setting up an authenticator app, the second step of signing in
//! (a code or a recovery code, counted, locked after too many wrong ones, audited, mailed), the
//! member's own status, new recovery codes, and turning it off. The tenant-wide requirement is
//! set with the tenant (`http::tenant`). Decisions: docs/security.md "Two-factor sign-in".

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use kefu_protocol::{ErrorCode, TenantId, UserId};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AnyKey, AnyMember, ApiJson, Auth, ClientIp};
use crate::auth::two_factor::{self, SecondStep};
use crate::db::audit::Actor;
use crate::db::users::UserRow;
use crate::db::{self, TenantTx};
use crate::error::{ApiError, Result};
use crate::mail::{self, Mail, templates};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(setup))
        .routes(routes!(status))
        .routes(routes!(confirm))
        .routes(routes!(new_recovery_codes))
        .routes(routes!(disable))
}

/// Email and password, to start setting up an authenticator (signed in or not: a workspace that
/// requires two-factor sends its members here from the sign-in page).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwoFactorSetupRequest {
    /// The account's email.
    pub email: String,
    /// Its password.
    pub password: String,
}

/// What to put into an authenticator app.
#[derive(Debug, Serialize, ToSchema)]
pub struct TwoFactorSetup {
    /// `otpauth://totp/Kefu:<email>?secret=…&issuer=Kefu` (SHA-1, six digits, 30 seconds: the
    /// format's defaults), for a QR code.
    pub otpauth_uri: String,
    /// The same secret in base32, to type in by hand.
    pub secret: String,
}

/// Starts (or restarts) setting up an authenticator: its first code, at sign-in
/// (`two_factor_code`) or at `POST /api/v1/me/two-factor/confirm`, turns it on.
#[utoipa::path(post, path = "/api/v1/auth/two-factor/setup", tag = "auth", request_body = TwoFactorSetupRequest,
    responses((status = 200, body = TwoFactorSetup), (status = 401, description = "invalid_credentials"),
              (status = 409, description = "two_factor_already_enabled"), (status = 429, description = "rate_limited")))]
async fn setup(
    State(state): State<AppState>,
    ip: ClientIp,
    ApiJson(body): ApiJson<TwoFactorSetupRequest>,
) -> Result<axum::Json<TwoFactorSetup>> {
    ip.check_auth_rate(&state)?;
    let user = super::auth::authenticate(&state, &body.email, body.password).await?;
    let secret = two_factor::new_secret()?;
    let sealed = state.two_factor.seal(user.id, &secret)?;
    let mut conn = state.db.control().acquire().await?;
    if !db::two_factor::start_setup(&mut conn, user.id, &sealed).await? {
        return Err(already_enabled());
    }
    let (otpauth_uri, secret) = two_factor::enrolment(&secret, &user.email)?;
    Ok(axum::Json(TwoFactorSetup { otpauth_uri, secret }))
}

fn already_enabled() -> ApiError {
    ApiError::client(ErrorCode::TwoFactorAlreadyEnabled, "Two-factor sign-in is already on; turn it off first.")
}

fn not_enabled() -> ApiError {
    ApiError::client(ErrorCode::TwoFactorNotEnabled, "Two-factor sign-in is not set up for this account.")
}

/// The member's two-factor sign-in.
#[derive(Debug, Serialize, ToSchema)]
pub struct TwoFactorStatus {
    /// Sign-in asks for a code.
    pub enabled: bool,
    /// An authenticator was scanned but no code has proven it yet.
    pub pending: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
    /// Slugs of the member's workspaces that require it (it cannot be turned off while any does).
    pub required_by: Vec<String>,
}

/// The signed-in member's two-factor status.
#[utoipa::path(get, path = "/api/v1/me/two-factor", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = TwoFactorStatus), (status = 403, description = "forbidden: API keys")))]
async fn status(State(state): State<AppState>, auth: Auth<AnyMember, AnyKey>) -> Result<axum::Json<TwoFactorStatus>> {
    let user = auth.require_user()?;
    let mut conn = state.db.control().acquire().await?;
    let row = db::two_factor::find(&mut conn, user).await?;
    let status = TwoFactorStatus {
        enabled: row.as_ref().is_some_and(db::two_factor::TotpRow::is_enabled),
        pending: row.as_ref().is_some_and(|r| !r.is_enabled()),
        recovery_codes_left: db::two_factor::recovery_codes_left(&mut conn, user).await?,
        required_by: db::two_factor::tenants_requiring(&mut conn, user).await?,
    };
    Ok(axum::Json(status))
}

/// The authenticator's first code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwoFactorConfirmRequest {
    /// Six digits from the authenticator app.
    pub code: String,
}

/// Recovery codes, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten single-use codes (`abcd-efgh-ijkl-mnop`); each signs in once instead of a code.
    pub codes: Vec<String>,
}

/// Turns two-factor sign-in on with the authenticator's first code; answers the recovery codes.
#[utoipa::path(post, path = "/api/v1/me/two-factor/confirm", tag = "auth", security(("bearer" = [])),
    request_body = TwoFactorConfirmRequest,
    responses((status = 200, body = RecoveryCodes), (status = 401, description = "invalid_two_factor_code"),
              (status = 409, description = "two_factor_not_enabled (nothing being set up) or two_factor_already_enabled"),
              (status = 429, description = "two_factor_locked")))]
async fn confirm(
    State(state): State<AppState>,
    auth: Auth<AnyMember, AnyKey>,
    ApiJson(body): ApiJson<TwoFactorConfirmRequest>,
) -> Result<axum::Json<RecoveryCodes>> {
    let user_id = auth.require_user()?;
    let mut tx = state.db.control().begin().await?;
    let user = db::users::find(&mut tx, user_id).await?.ok_or_else(crate::auth::invalid_token)?;
    let row = db::two_factor::find_for_update(&mut tx, user_id).await?.ok_or_else(not_enabled)?;
    if row.is_enabled() {
        return Err(already_enabled());
    }
    let typed = match SecondStep::parse(&body.code) {
        Some(SecondStep::Code(code)) => Some(code),
        _ => None,
    };
    let checked = check(&state, &mut tx, Account::from(&user), auth.tenant.id, &row, typed.as_deref()).await?;
    let Checked::Accepted = checked else {
        let (error, notes) = refusal(checked);
        tx.commit().await?;
        state.mail_wakeup.notify_one();
        record(&state, auth.tenant.id, user_id, notes).await;
        return Err(error);
    };
    let codes = issue_recovery_codes(&mut tx, user_id).await?;
    tx.commit().await?;
    record_everywhere(&state, user_id, "member.two_factor_enabled").await;
    Ok(axum::Json(RecoveryCodes { codes }))
}

/// The password again, for changes to the second step.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordConfirmation {
    /// The account's password.
    pub password: String,
}

/// Replaces the recovery codes (the old ones stop working).
#[utoipa::path(post, path = "/api/v1/me/two-factor/recovery-codes", tag = "auth", security(("bearer" = [])),
    request_body = PasswordConfirmation,
    responses((status = 200, body = RecoveryCodes), (status = 401, description = "invalid_credentials"),
              (status = 409, description = "two_factor_not_enabled")))]
async fn new_recovery_codes(
    State(state): State<AppState>,
    auth: Auth<AnyMember, AnyKey>,
    ApiJson(body): ApiJson<PasswordConfirmation>,
) -> Result<axum::Json<RecoveryCodes>> {
    let user_id = auth.require_user()?;
    reconfirm_password(&state, user_id, body.password).await?;
    let mut tx = state.db.control().begin().await?;
    let row = db::two_factor::find_for_update(&mut tx, user_id).await?;
    if !row.as_ref().is_some_and(db::two_factor::TotpRow::is_enabled) {
        return Err(not_enabled());
    }
    let codes = issue_recovery_codes(&mut tx, user_id).await?;
    tx.commit().await?;
    record_everywhere(&state, user_id, "member.recovery_codes_replaced").await;
    Ok(axum::Json(RecoveryCodes { codes }))
}

/// Turns two-factor sign-in off (refused while a workspace of the member requires it).
#[utoipa::path(post, path = "/api/v1/me/two-factor/disable", tag = "auth", security(("bearer" = [])),
    request_body = PasswordConfirmation,
    responses((status = 204, description = "turned off"), (status = 401, description = "invalid_credentials"),
              (status = 403, description = "two_factor_required_by_tenant"), (status = 409, description = "two_factor_not_enabled")))]
async fn disable(
    State(state): State<AppState>,
    auth: Auth<AnyMember, AnyKey>,
    ApiJson(body): ApiJson<PasswordConfirmation>,
) -> Result<StatusCode> {
    let user_id = auth.require_user()?;
    reconfirm_password(&state, user_id, body.password).await?;
    let mut tx = state.db.control().begin().await?;
    let requiring = db::two_factor::tenants_requiring(&mut tx, user_id).await?;
    if !requiring.is_empty() {
        return Err(ApiError::client(
            ErrorCode::TwoFactorRequiredByTenant,
            format!("These workspaces require two-factor sign-in: {}.", requiring.join(", ")),
        ));
    }
    if !db::two_factor::remove(&mut tx, user_id).await? {
        return Err(not_enabled());
    }
    tx.commit().await?;
    record_everywhere(&state, user_id, "member.two_factor_disabled").await;
    Ok(StatusCode::NO_CONTENT)
}

/// Checks a signed-in member's password (changes to the second step ask for it again).
async fn reconfirm_password(state: &AppState, user: UserId, password: String) -> Result<()> {
    let mut conn = state.db.control().acquire().await?;
    let row = db::users::find(&mut conn, user).await?.ok_or_else(crate::auth::invalid_token)?;
    drop(conn);
    super::auth::authenticate(state, &row.email, password).await.map(drop)
}

async fn issue_recovery_codes(conn: &mut PgConnection, user: UserId) -> Result<Vec<String>> {
    let codes = two_factor::new_recovery_codes()?;
    let digests: Vec<Vec<u8>> = codes.iter().map(|c| two_factor::recovery_digest(c)).collect();
    db::two_factor::replace_recovery_codes(conn, user, &digests).await?;
    Ok(codes)
}

/// The account signing in, as the second step needs it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Account<'a> {
    /// The user.
    pub id: UserId,
    /// Where mails about it go.
    pub email: &'a str,
    /// How mails greet them.
    pub name: &'a str,
}

impl<'a> From<&'a UserRow> for Account<'a> {
    fn from(user: &'a UserRow) -> Self {
        Self { id: user.id, email: &user.email, name: &user.display_name }
    }
}

/// How sign-in's second step went.
pub(crate) enum SecondStepOutcome {
    /// Signed in; `recovery_codes` when this code finished setting up the authenticator.
    Passed {
        /// The new recovery codes, shown once.
        recovery_codes: Option<Vec<String>>,
    },
    /// Refused: commit the transaction (the count of wrong codes, the lock, a mail), record the
    /// audit notes, then answer the error.
    Refused(ApiError),
}

/// An audit entry to write in the tenant once the control transaction committed.
pub(crate) struct AuditNote {
    action: &'static str,
    details: serde_json::Value,
}

/// The second step of signing in to `tenant`, in the sign-in's control transaction: asks for a
/// code when the account has an authenticator (or is setting one up and typed a code), or when
/// the tenant requires one (`two_factor_setup_required` without an authenticator).
pub(crate) async fn second_step(
    state: &AppState,
    tx: &mut PgConnection,
    user: Account<'_>,
    tenant: TenantId,
    typed: Option<&str>,
) -> Result<(SecondStepOutcome, Vec<AuditNote>)> {
    let row = db::two_factor::find_for_update(tx, user.id).await?;
    let required = db::two_factor::required_by(tx, tenant).await?;
    let Some(row) = row else {
        if required {
            return Ok((SecondStepOutcome::Refused(setup_required()), Vec::new()));
        }
        return Ok((SecondStepOutcome::Passed { recovery_codes: None }, Vec::new()));
    };
    if !row.is_enabled() && typed.is_none() {
        // Scanned but never proven: it does not guard sign-in yet.
        if required {
            return Ok((SecondStepOutcome::Refused(setup_required()), Vec::new()));
        }
        return Ok((SecondStepOutcome::Passed { recovery_codes: None }, Vec::new()));
    }
    let Some(typed) = typed else {
        return Ok((
            SecondStepOutcome::Refused(ApiError::client(
                ErrorCode::TwoFactorRequired,
                "Enter the code from your authenticator app (or a recovery code).",
            )),
            Vec::new(),
        ));
    };
    let parsed = SecondStep::parse(typed);
    let checked = match parsed {
        Some(SecondStep::Recovery(code)) if row.is_enabled() && !row.is_locked(Utc::now()) => {
            if db::two_factor::use_recovery_code(tx, user.id, &two_factor::recovery_digest(&code)).await? {
                let left = db::two_factor::recovery_codes_left(tx, user.id).await?;
                mail::enqueue(tx, Some(tenant), user.email, &templates::recovery_code_used(user.name, left)).await?;
                let note = AuditNote {
                    action: "auth.recovery_code_used",
                    details: serde_json::json!({ "recovery_codes_left": left }),
                };
                return Ok((SecondStepOutcome::Passed { recovery_codes: None }, vec![note]));
            }
            failure(state, tx, user, tenant).await?
        }
        Some(SecondStep::Recovery(_)) | None => check(state, tx, user, tenant, &row, None).await?,
        Some(SecondStep::Code(code)) => check(state, tx, user, tenant, &row, Some(&code)).await?,
    };
    match checked {
        Checked::Accepted if row.is_enabled() => Ok((SecondStepOutcome::Passed { recovery_codes: None }, Vec::new())),
        Checked::Accepted => {
            let codes = issue_recovery_codes(tx, user.id).await?;
            let note = AuditNote { action: "member.two_factor_enabled", details: serde_json::json!({}) };
            Ok((SecondStepOutcome::Passed { recovery_codes: Some(codes) }, vec![note]))
        }
        refused => {
            let (error, notes) = refusal(refused);
            Ok((SecondStepOutcome::Refused(error), notes))
        }
    }
}

fn setup_required() -> ApiError {
    ApiError::client(
        ErrorCode::TwoFactorSetupRequired,
        "This workspace requires two-factor sign-in: set up an authenticator app, then sign in with its code.",
    )
}

/// A code checked against the authenticator.
enum Checked {
    Accepted,
    Wrong,
    /// Wrong, and the account's second step is now locked until then.
    NowLocked(chrono::DateTime<Utc>),
    /// Locked before this code was looked at.
    Locked(chrono::DateTime<Utc>),
}

fn refusal(checked: Checked) -> (ApiError, Vec<AuditNote>) {
    let locked = |until: chrono::DateTime<Utc>| {
        ApiError::client(
            ErrorCode::TwoFactorLocked,
            format!("Too many wrong codes: two-factor sign-in is locked until {}.", until.format("%Y-%m-%d %H:%M UTC")),
        )
    };
    match checked {
        Checked::Accepted | Checked::Wrong => (
            ApiError::client(ErrorCode::InvalidTwoFactorCode, "The code is wrong or was already used."),
            vec![AuditNote { action: "auth.two_factor_failed", details: serde_json::json!({}) }],
        ),
        Checked::NowLocked(until) => (
            locked(until),
            vec![
                AuditNote { action: "auth.two_factor_failed", details: serde_json::json!({}) },
                AuditNote { action: "auth.two_factor_locked", details: serde_json::json!({ "until": until }) },
            ],
        ),
        Checked::Locked(until) => (locked(until), Vec::new()),
    }
}

/// Checks a six-digit code (`None`: nothing usable was typed) against the authenticator; a right
/// one is remembered (never accepted again), a wrong one counted.
async fn check(
    state: &AppState,
    tx: &mut PgConnection,
    user: Account<'_>,
    tenant: TenantId,
    row: &db::two_factor::TotpRow,
    code: Option<&str>,
) -> Result<Checked> {
    if let Some(until) = row.locked_until.filter(|until| *until > Utc::now()) {
        return Ok(Checked::Locked(until));
    }
    let opened = state.two_factor.open(user.id, &row.secret_sealed)?;
    let now = u64::try_from(Utc::now().timestamp()).unwrap_or_default();
    let step = match code {
        Some(code) => two_factor::check_code(&opened.secret, code, now, row.last_step)?,
        None => None,
    };
    let Some(step) = step else {
        return failure(state, tx, user, tenant).await;
    };
    let resealed = if opened.stale { Some(state.two_factor.seal(user.id, &opened.secret)?) } else { None };
    db::two_factor::accept(tx, user.id, step, resealed.as_deref()).await?;
    Ok(Checked::Accepted)
}

async fn failure(state: &AppState, tx: &mut PgConnection, user: Account<'_>, tenant: TenantId) -> Result<Checked> {
    let auth = &state.config.auth;
    let locked =
        db::two_factor::record_failure(tx, user.id, auth.two_factor_max_failures, auth.two_factor_lockout_secs).await?;
    let Some(until) = locked else { return Ok(Checked::Wrong) };
    let mail: Mail = templates::two_factor_locked(user.name, auth.two_factor_lockout_secs.div_ceil(60));
    // Sent when the caller commits (the refusal is answered after the commit).
    mail::enqueue(tx, Some(tenant), user.email, &mail).await?;
    Ok(Checked::NowLocked(until))
}

/// Writes audit entries in `tenant` after the control transaction committed. An entry that
/// cannot be written is logged (the change it describes already happened).
pub(crate) async fn record(state: &AppState, tenant: TenantId, user: UserId, notes: Vec<AuditNote>) {
    if notes.is_empty() {
        return;
    }
    let written = async {
        let Some(schema) = db::tenants::active_schema(&state.db, tenant).await? else { return Ok(()) };
        let mut tx = TenantTx::begin(&state.db, &schema).await?;
        for note in notes {
            db::audit::record(&mut tx, Actor::User(user), note.action, Some(&user.to_string()), note.details).await?;
        }
        tx.commit().await
    }
    .await;
    if let Err(error) = written {
        tracing::warn!(%tenant, %user, error = %error, "two-factor audit entry not written");
    }
}

/// An account-wide change, recorded in every workspace the member belongs to.
async fn record_everywhere(state: &AppState, user: UserId, action: &'static str) {
    let tenants = match state.db.control().acquire().await {
        Ok(mut conn) => db::memberships::tenants_of(&mut conn, user).await,
        Err(error) => Err(error),
    };
    match tenants {
        Ok(tenants) => {
            for tenant in tenants {
                let note = AuditNote { action, details: serde_json::json!({}) };
                record(state, tenant.tenant_id, user, vec![note]).await;
            }
        }
        Err(error) => tracing::warn!(%user, error = %error, "two-factor audit entries not written"),
    }
}
