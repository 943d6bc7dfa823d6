//! Access-token claims. Tokens are JWTs signed by the api with a key id (`kid`) in the header so
//! signing keys can rotate; this module only defines what they carry.

use serde::{Deserialize, Serialize};

use crate::{Role, SiteKeyId, TenantId, UserId, VisitorId};

/// The `iss` claim of every token Kefu signs.
pub const ISSUER: &str = "kefu";
/// The `aud` claim of agent/console access tokens. Visitor tokens use a different audience so
/// that one can never stand in for the other.
pub const AGENT_AUDIENCE: &str = "agent";
/// The `aud` claim of visitor tokens minted by the edge.
pub const VISITOR_AUDIENCE: &str = "visitor";
/// The `aud` claim of the links mailed to visitors, which open their chat on the edge's hosted
/// page. A link is not a visitor token: the edge exchanges it for one.
pub const CHAT_LINK_AUDIENCE: &str = "chat_link";
/// How long a mailed chat link works, in seconds (30 days).
pub const CHAT_LINK_TTL_SECS: i64 = 30 * 24 * 3600;

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
    /// The login session the token belongs to: the api refuses the token as soon as that session
    /// ends (logout, password reset, removal). Absent only in tokens issued before sessions were
    /// checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<uuid::Uuid>,
}

/// Claims of a visitor token, minted by the edge after checking the site key and origin, and
/// verified by the api's visitor WebSocket endpoint. Short-lived (minutes): the widget asks the
/// edge for a new one on every (re)connect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorClaims {
    /// Issuer, always [`ISSUER`].
    pub iss: String,
    /// Audience, always [`VISITOR_AUDIENCE`].
    pub aud: String,
    /// The visitor.
    pub sub: VisitorId,
    /// The tenant whose widget the visitor uses.
    pub tid: TenantId,
    /// The tenant's home region; a node of another region refuses the token.
    pub region: String,
    /// The tenant's own id for a signed-in customer, when identity verification passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_user: Option<String>,
    /// The signed-in customer's VIP level (1–10) as the tenant's backend signed it; absent for
    /// level 0 and anonymous visitors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vip: Option<u8>,
    /// ISO 3166-1 alpha-2 country of the visitor's IP, as the edge saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// Token id.
    pub jti: String,
}

/// Claims of a chat link: signed by the api (with the region's keys) into the mails that carry
/// agents' replies, and exchanged at the edge (`POST /v1/sessions` with `link`) for a visitor
/// token of the same visitor, so the hosted chat page (`GET /c/{link}`) continues their
/// conversation from any device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatLinkClaims {
    /// Issuer, always [`ISSUER`].
    pub iss: String,
    /// Audience, always [`CHAT_LINK_AUDIENCE`].
    pub aud: String,
    /// The visitor.
    pub sub: VisitorId,
    /// Their tenant.
    pub tid: TenantId,
    /// The tenant's home region (whose keys signed the link).
    pub region: String,
    /// The site key whose widget settings the hosted page uses. (No customer id: the visitor's
    /// token is anonymous, and their stored identity and VIP level stay as they are.)
    pub site: SiteKeyId,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// Link id.
    pub jti: String,
}
