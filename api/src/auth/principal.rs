//! Who is making a request and in which tenant: the values the auth extractors (and the
//! WebSocket upgrades) produce. [`TenantCtx::admit`] is the one place that decides whether a
//! tenant may be acted in.

use kefu_protocol::{ApiKeyId, ErrorCode, Role, TenantId, UserId};

use crate::db::TenantSchema;
use crate::db::audit::Actor;
use crate::db::tenants::{TenantAccess, TenantStatus};
use crate::error::ApiError;

/// The tenant a request or a WebSocket connection acts in, resolved and checked active by
/// [`TenantCtx::admit`].
#[derive(Debug, Clone)]
pub struct TenantCtx {
    /// Tenant id.
    pub id: TenantId,
    /// Tenant slug.
    pub slug: String,
    /// The tenant's schema: the only way to open a `TenantTx`.
    pub schema: TenantSchema,
    /// When the tenant's data was last restored from an archive, as admitted: a long-lived
    /// connection that sees a later value reconnects (`realtime::agent`).
    pub restored_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl TenantCtx {
    /// Turns a tenant's control row, as the credential's lookup found it (a membership, an API
    /// key, a site key, or the tenant a visitor token names), into the context to act in, giving
    /// the row back. `None` (an unknown credential or tenant) is `invalid_token`; a suspended
    /// tenant or one being deleted is `tenant_inactive`. Every extractor, WebSocket upgrade and
    /// visitor attachment endpoint admits through here; the schema name was already checked
    /// against the id when the row was read (`db::tenants::TenantAccess`).
    pub fn admit<T: AsRef<TenantAccess>>(found: Option<T>) -> Result<(Self, T), ApiError> {
        let found = found.ok_or_else(invalid_token)?;
        let tenant = found.as_ref();
        if tenant.status != TenantStatus::Active {
            return Err(ApiError::client(ErrorCode::TenantInactive, "This account is suspended or being deleted."));
        }
        let ctx = Self {
            id: tenant.id,
            slug: tenant.slug.clone(),
            schema: tenant.schema.clone(),
            restored_at: tenant.restored_at,
        };
        Ok((ctx, found))
    }

    /// [`TenantCtx::admit`] on a node of `region`: a tenant whose home is another region is
    /// `421 wrong_region` (its data is not here; that region's nodes serve it). Every member,
    /// API-key and visitor path admits through here; only the edge's site lookup, which any
    /// region's edge makes against the global control plane, uses `admit` alone.
    pub fn admit_here<T: AsRef<TenantAccess>>(found: Option<T>, region: &str) -> Result<(Self, T), ApiError> {
        let (ctx, found) = Self::admit(found)?;
        let home = &found.as_ref().home_region;
        if home != region {
            return Err(ApiError::client(
                ErrorCode::WrongRegion,
                format!("This workspace lives in region `{home}`; use that region's address."),
            ));
        }
        Ok((ctx, found))
    }
}

/// `invalid_token`: a bearer, WebSocket or visitor token that is malformed, expired, or names a
/// member or tenant that does not exist.
pub fn invalid_token() -> ApiError {
    ApiError::client(ErrorCode::InvalidToken, "The token is invalid or expired.")
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A signed-in member.
    Member {
        /// User id.
        user_id: UserId,
        /// Current role (read from the membership, not the token).
        role: Role,
        /// Whether the member's email is verified.
        email_verified: bool,
    },
    /// A tenant API key.
    ApiKey {
        /// Key id.
        key_id: ApiKeyId,
        /// Role the key acts with (a member's key: never above the member's current role).
        role: Role,
        /// What it may touch.
        scopes: super::Scopes,
        /// The member a member's key acts as; `None` for the workspace's keys.
        member: Option<UserId>,
    },
}

impl Principal {
    /// The effective role.
    pub fn role(&self) -> Role {
        match self {
            Principal::Member { role, .. } | Principal::ApiKey { role, .. } => *role,
        }
    }

    /// The user, when a person is acting (signed in, not through a key): for what only the
    /// person may do to their own account.
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Principal::Member { user_id, .. } => Some(*user_id),
            Principal::ApiKey { .. } => None,
        }
    }

    /// The member on whose behalf a conversation is acted on: the signed-in member, or the member
    /// a member's key acts as (the workspace's keys act as nobody).
    pub fn acting_member(&self) -> Option<UserId> {
        match self {
            Principal::Member { user_id, .. } => Some(*user_id),
            Principal::ApiKey { member, .. } => *member,
        }
    }

    /// The audit actor.
    pub fn actor(&self) -> Actor {
        match self {
            Principal::Member { user_id, .. } => Actor::User(*user_id),
            Principal::ApiKey { key_id, .. } => Actor::ApiKey(*key_id),
        }
    }
}
