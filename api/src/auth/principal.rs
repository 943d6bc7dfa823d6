//! Who is making a request and in which tenant: the values the auth extractors produce.

use kefu_protocol::{ApiKeyId, Role, TenantId, UserId};

use crate::db::TenantSchema;
use crate::db::audit::Actor;

/// The tenant a request acts in, resolved and checked active by the extractor.
#[derive(Debug, Clone)]
pub struct TenantCtx {
    /// Tenant id.
    pub id: TenantId,
    /// Tenant slug.
    pub slug: String,
    /// The tenant's schema: the only way to open a `TenantTx`.
    pub schema: TenantSchema,
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
        /// Role the key acts with.
        role: Role,
    },
}

impl Principal {
    /// The effective role.
    pub fn role(&self) -> Role {
        match self {
            Principal::Member { role, .. } | Principal::ApiKey { role, .. } => *role,
        }
    }

    /// The user, when a person is acting.
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Principal::Member { user_id, .. } => Some(*user_id),
            Principal::ApiKey { .. } => None,
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
