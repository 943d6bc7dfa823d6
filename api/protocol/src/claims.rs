//! Access-token claims. Tokens are JWTs signed by the api with a key id (`kid`) in the header so
//! signing keys can rotate; this module only defines what they carry.

use serde::{Deserialize, Serialize};

use crate::{Role, TenantId, UserId};

/// The `iss` claim of every token Kefu signs.
pub const ISSUER: &str = "kefu";
/// The `aud` claim of agent/console access tokens. Visitor tokens use a different audience so
/// that one can never stand in for the other.
pub const AGENT_AUDIENCE: &str = "agent";

/// Claims of an agent access token (console and REST API on behalf of a member).
///
/// The role is a hint for clients; the api re-reads the membership on every request, so a
/// revoked member or a changed role takes effect at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer, always [`ISSUER`].
    pub iss: String,
    /// Audience, always [`AGENT_AUDIENCE`].
    pub aud: String,
    /// The member's user id.
    pub sub: UserId,
    /// The tenant this token acts in.
    pub tid: TenantId,
    /// The member's role when the token was issued.
    pub role: Role,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// Token id, unique per token.
    pub jti: String,
}
