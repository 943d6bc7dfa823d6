//! Request extractors: JSON bodies with problem-shaped rejections, the client IP, and `Auth<R, S>`,
//! which authenticates the caller, resolves the tenant and enforces a minimum role `R` and, for
//! API keys, the scope `S` (`admin` unless the handler names a narrower one). A handler that takes
//! `Auth<AdminUp>` cannot run for an agent, nor for a key without the `admin` scope; its signature
//! documents its permission.

use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use kefu_protocol::{ErrorCode, Role, UserId};

use crate::auth::{Principal, Scope, TenantCtx, invalid_token};
use crate::db;
use crate::domain::secret;
use crate::error::{ApiError, Policy};
use crate::state::AppState;

/// A JSON body whose rejections are problem responses (`malformed_json`, `validation_failed`,
/// `unsupported_media_type`, `payload_too_large`).
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// The client's address: the connection's peer, or, when the peer is a trusted proxy
/// (`http.trusted_proxies`), the address it forwards (`CF-Connecting-IP`, else the rightmost
/// `X-Forwarded-For` entry that is not itself a trusted proxy). Forwarding headers from anyone
/// else are ignored, so a client cannot pick its own address.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        Ok(ClientIp(client_address(peer, &parts.headers, &state.trusted_proxies)))
    }
}

/// The client's address as [`ClientIp`] reads it.
pub fn client_address(peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ip) = header("cf-connecting-ip").and_then(|v| v.trim().parse::<IpAddr>().ok()) {
        return ip;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
        .collect();
    forwarded.into_iter().rev().find(|ip| !is_trusted(ip)).unwrap_or(peer)
}

impl ClientIp {
    /// Applies the per-IP limit of unauthenticated auth endpoints.
    pub fn check_auth_rate(self, state: &AppState) -> Result<(), ApiError> {
        let policy = Policy { limit: state.config.auth.auth_rate_per_minute, window_secs: 60 };
        state.auth_limiter.check_key(&self.0).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
            ApiError::over(policy, wait.as_secs())
        })
    }
}

/// Whether the request's `Authorization: Bearer …` is `secret` (compared in constant time): the
/// operator's own secrets, the edge's (`/internal/edge/…`) and Prometheus's (`/metrics`).
pub fn bearer_is(headers: &axum::http::HeaderMap, secret: &secrecy::SecretString) -> bool {
    use secrecy::ExposeSecret;
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    aws_lc_rs::constant_time::verify_slices_are_equal(presented.as_bytes(), secret.expose_secret().as_bytes()).is_ok()
}

/// Applies the per-account limit of sign-in attempts (whatever address they come from).
pub fn check_account_rate(state: &AppState, email: &str) -> Result<(), ApiError> {
    let key = email.trim().to_lowercase();
    let policy = Policy { limit: state.config.auth.login_rate_per_account_per_minute, window_secs: 60 };
    state.login_limiter.check_key(&key).map_err(|not_until| {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
        ApiError::over(policy, wait.as_secs())
    })
}

/// The lowest role an endpoint accepts.
pub trait MinRole: Send + Sync + 'static {
    /// The role.
    const ROLE: Role;
}

/// Any member (agents and up).
pub struct AnyMember;
/// Supervisors and up.
pub struct SupervisorUp;
/// Admins and the owner.
pub struct AdminUp;
/// Only the owner.
pub struct OwnerOnly;

impl MinRole for AnyMember {
    const ROLE: Role = Role::Agent;
}
impl MinRole for SupervisorUp {
    const ROLE: Role = Role::Supervisor;
}
impl MinRole for AdminUp {
    const ROLE: Role = Role::Admin;
}
impl MinRole for OwnerOnly {
    const ROLE: Role = Role::Owner;
}

/// The scope an API key needs for an endpoint (member tokens are not scoped).
pub trait KeyScope: Send + Sync + 'static {
    /// The scope; `None`: any key (`GET /me`).
    const SCOPE: Option<Scope>;
}

/// Any key, whatever its scopes.
pub struct AnyKey;

/// `conversations:read`.
pub struct ConversationsRead;
/// `conversations:write`.
pub struct ConversationsWrite;
/// `messages:write`.
pub struct MessagesWrite;
/// `analytics:read`.
pub struct AnalyticsRead;
/// `feed:read`.
pub struct FeedRead;
/// `admin`: what an endpoint needs unless it names a narrower scope.
pub struct AdminScope;

impl KeyScope for AnyKey {
    const SCOPE: Option<Scope> = None;
}
impl KeyScope for ConversationsRead {
    const SCOPE: Option<Scope> = Some(Scope::ConversationsRead);
}
impl KeyScope for ConversationsWrite {
    const SCOPE: Option<Scope> = Some(Scope::ConversationsWrite);
}
impl KeyScope for MessagesWrite {
    const SCOPE: Option<Scope> = Some(Scope::MessagesWrite);
}
impl KeyScope for AnalyticsRead {
    const SCOPE: Option<Scope> = Some(Scope::AnalyticsRead);
}
impl KeyScope for FeedRead {
    const SCOPE: Option<Scope> = Some(Scope::FeedRead);
}
impl KeyScope for AdminScope {
    const SCOPE: Option<Scope> = Some(Scope::Admin);
}

/// An authenticated caller acting in one tenant with at least role `R` (and, for a key, scope
/// `S`).
pub struct Auth<R: MinRole = AnyMember, S: KeyScope = AdminScope> {
    /// The tenant.
    pub tenant: TenantCtx,
    /// The caller.
    pub principal: Principal,
    _role: PhantomData<(R, S)>,
}

/// Prefix of tenant API keys.
pub const API_KEY_PREFIX: &str = "kefu_sk";

impl<R: MinRole, S: KeyScope> FromRequestParts<AppState> for Auth<R, S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| ApiError::client(ErrorCode::Unauthenticated, "Send `Authorization: Bearer <token>`."))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::client(ErrorCode::InvalidToken, "The Authorization header must be `Bearer <token>`.")
            })?;

        let (tenant, principal) = if token.starts_with(API_KEY_PREFIX) {
            authenticate_api_key(state, token).await?
        } else {
            authenticate_member(state, token).await?
        };
        let span = tracing::Span::current();
        span.record("tenant_id", tracing::field::display(tenant.id));
        if let Some(user) = principal.user_id() {
            span.record("user_id", tracing::field::display(user));
        }
        if let (Principal::ApiKey { scopes, .. }, Some(needed)) = (&principal, S::SCOPE)
            && !scopes.contains(needed)
        {
            return Err(ApiError::forbidden(format!("This key lacks the `{needed}` scope.")));
        }
        if !principal.role().includes(R::ROLE) {
            return Err(ApiError::forbidden(format!("This action needs the {} role or higher.", R::ROLE)));
        }
        Ok(Auth { tenant, principal, _role: PhantomData })
    }
}

async fn authenticate_member(state: &AppState, token: &str) -> Result<(TenantCtx, Principal), ApiError> {
    let claims = state.jwt.verify_access(token).map_err(|error| {
        tracing::debug!(%error, "access token rejected");
        invalid_token()
    })?;
    let mut conn = state.db.control().acquire().await?;
    // The membership and the login session are re-read on every request so that removal, a role
    // change, logout or a password reset take effect at once; the token only proves who the
    // caller is.
    let (tenant, member) = TenantCtx::admit_here(
        db::memberships::find_auth_in_session(&mut conn, claims.tid, claims.sub, claims.sid).await?,
        &state.config.region,
    )?;
    drop(conn);
    // The workspace's members together, on every node: one workspace's burst cannot take the
    // region's capacity from the others.
    state.limits.check(&format!("members:{}", tenant.id), state.config.http.tenant_requests_per_minute).await?;
    Ok((tenant, Principal::Member { user_id: claims.sub, role: member.role, email_verified: member.email_verified }))
}

async fn authenticate_api_key(state: &AppState, token: &str) -> Result<(TenantCtx, Principal), ApiError> {
    if !secret::looks_like(token, API_KEY_PREFIX) {
        return Err(invalid_token());
    }
    let digest = secret::digest(token);
    // A key refused here in this window is refused again without a lookup (a flood stays cheap).
    if let Some(refusal) = state.limits.spent(&digest) {
        return Err(refusal);
    }
    let mut conn = state.db.control().acquire().await?;
    let (tenant, key) =
        TenantCtx::admit_here(db::api_keys::authenticate(&mut conn, &digest).await?, &state.config.region)?;
    // Keys stay, but stop working while the plan does not include the API (docs/billing.md);
    // the workspace's keys together get the plan's requests a minute, on every node at once.
    let Some(per_minute) = db::plans::api_allowance(&mut conn, tenant.id).await? else {
        return Err(crate::billing::missing(crate::billing::Feature::Api));
    };
    drop(conn);
    let spent = state.limits.check(&format!("api:{}", tenant.id), u32::try_from(per_minute).unwrap_or(0)).await;
    if let Err(refusal) = spent {
        state.limits.remember(&digest, &refusal);
        return Err(refusal);
    }
    Ok((tenant, Principal::ApiKey { key_id: key.id, role: key.role, scopes: key.scopes, member: key.member }))
}

impl<R: MinRole, S: KeyScope> Auth<R, S> {
    /// The signed-in member's user id, or `forbidden` for API keys on person-only endpoints
    /// (their own account, password, language).
    pub fn require_user(&self) -> Result<UserId, ApiError> {
        self.principal
            .user_id()
            .ok_or_else(|| ApiError::forbidden("This action needs a signed-in member, not an API key."))
    }

    /// The member a conversation is acted on for: the signed-in member or a member's key's member;
    /// `forbidden` for the workspace's keys, which act as nobody.
    pub fn require_member(&self) -> Result<UserId, ApiError> {
        self.principal.acting_member().ok_or_else(|| {
            ApiError::forbidden("A workspace key acts as nobody: use a member's key (or a member's token) for this.")
        })
    }
}
