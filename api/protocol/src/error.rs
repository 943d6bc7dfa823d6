//! Stable error codes and the `application/problem+json` body (RFC 9457) every Kefu HTTP error
//! uses. Clients switch on `code`; `detail` is for people and may change.

use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($($(#[$meta:meta])* $variant:ident = $text:literal,)*) => {
        /// A stable, machine-readable error code. Never renamed once released.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $($(#[$meta])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, for documentation and tests.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The snake_case wire form.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)*
                }
            }
        }
    };
}

error_codes! {
    /// The body is not valid JSON.
    MalformedJson = "malformed_json",
    /// The request is not `application/json` where JSON is required.
    UnsupportedMediaType = "unsupported_media_type",
    /// One or more fields are missing, of the wrong type or out of range; see `errors`.
    ValidationFailed = "validation_failed",
    /// The body is larger than the documented limit.
    PayloadTooLarge = "payload_too_large",
    /// No route matches the path.
    NotFound = "not_found",
    /// The route exists but not for this method.
    MethodNotAllowed = "method_not_allowed",
    /// The request took longer than the server's time limit.
    Timeout = "timeout",
    /// Too many requests; retry after the `Retry-After` header.
    RateLimited = "rate_limited",
    /// No credentials were sent.
    Unauthenticated = "unauthenticated",
    /// The token is malformed, forged, expired or for another audience.
    InvalidToken = "invalid_token",
    /// Email and password do not match an account.
    InvalidCredentials = "invalid_credentials",
    /// The account belongs to several tenants; say which one.
    TenantSelectionRequired = "tenant_selection_required",
    /// The account signs in with a second step: send `two_factor_code` (the authenticator's six
    /// digits or a recovery code) with the email and password.
    TwoFactorRequired = "two_factor_required",
    /// The second-step code is wrong, already used or expired.
    InvalidTwoFactorCode = "invalid_two_factor_code",
    /// Too many wrong second-step codes in a row: the second step is locked for a while (the
    /// detail says until when).
    TwoFactorLocked = "two_factor_locked",
    /// The workspace requires a second step and the account has none: set one up
    /// (`POST /api/v1/auth/two-factor/setup`), then sign in with its first code.
    TwoFactorSetupRequired = "two_factor_setup_required",
    /// The account already has an authenticator; disable it first to set up another.
    TwoFactorAlreadyEnabled = "two_factor_already_enabled",
    /// The account has no authenticator being set up or enabled.
    TwoFactorNotEnabled = "two_factor_not_enabled",
    /// A workspace of the account requires a second step, so it cannot be turned off.
    TwoFactorRequiredByTenant = "two_factor_required_by_tenant",
    /// The refresh token is unknown, expired or revoked.
    InvalidRefreshToken = "invalid_refresh_token",
    /// A refresh token was used twice; its whole session family has been revoked.
    RefreshTokenReused = "refresh_token_reused",
    /// The credentials are valid but the role is not enough for this action.
    Forbidden = "forbidden",
    /// The account's email address must be verified first.
    EmailNotVerified = "email_not_verified",
    /// The email address is already registered.
    EmailTaken = "email_taken",
    /// The person is already a member of this tenant.
    AlreadyMember = "already_member",
    /// A pending invitation for this email already exists.
    InvitationExists = "invitation_exists",
    /// The one-time token (verification, reset, invitation) is unknown, used or expired.
    InvalidOneTimeToken = "invalid_one_time_token",
    /// The plan's seat limit is reached.
    SeatLimitReached = "seat_limit_reached",
    /// A plan limit is reached (attachment storage, knowledge-base entries, …).
    QuotaExceeded = "quota_exceeded",
    /// The workspace's plan does not include this feature (the bot, the API, …); upgrade.
    PlanFeatureRequired = "plan_feature_required",
    /// Someone saved a newer version first; reload and apply the change again.
    VersionConflict = "version_conflict",
    /// (Edge) The page's `Origin` is not among the tenant's allowed origins.
    OriginNotAllowed = "origin_not_allowed",
    /// (Edge) The visitor's identity proof is missing or wrong where the tenant requires it.
    InvalidIdentity = "invalid_identity",
    /// (Edge) The tenant's region could not be reached, or (billing) Stripe did not answer;
    /// retry with backoff.
    UpstreamUnavailable = "upstream_unavailable",
    /// The workspace has no live subscription to change.
    NoSubscription = "no_subscription",
    /// A signed request (a Stripe webhook) whose signature or timestamp does not verify.
    InvalidSignature = "invalid_signature",
    /// (Edge) `/ws` was requested without a WebSocket upgrade.
    UpgradeRequired = "upgrade_required",
    /// The owner cannot be removed or demoted this way.
    OwnerProtected = "owner_protected",
    /// The agent already has `max_concurrent_chats` open conversations assigned.
    CapacityReached = "capacity_reached",
    /// The conversation is closed; reopen it first.
    ConversationClosed = "conversation_closed",
    /// The conversation is already open.
    ConversationOpen = "conversation_open",
    /// The visitor already has a newer open conversation, so this one cannot be reopened.
    VisitorHasOpenConversation = "visitor_has_open_conversation",
    /// The resource does not exist in this tenant.
    ResourceNotFound = "resource_not_found",
    /// The tenant is suspended or being deleted.
    TenantInactive = "tenant_inactive",
    /// The workspace lives in another region: its own region's address serves it.
    WrongRegion = "wrong_region",
    /// A dependency (database, cache) is unavailable; retry later.
    ServiceUnavailable = "service_unavailable",
    /// An unexpected server error; the request id identifies it in the logs.
    Internal = "internal",
}

impl ErrorCode {
    /// The HTTP status of each code: the one place this mapping lives (api and edge).
    pub const fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            MalformedJson => 400,
            UnsupportedMediaType => 415,
            ValidationFailed => 422,
            PayloadTooLarge => 413,
            NotFound | ResourceNotFound => 404,
            MethodNotAllowed => 405,
            Timeout => 408,
            RateLimited => 429,
            Unauthenticated | InvalidToken | InvalidCredentials | InvalidRefreshToken | RefreshTokenReused
            | TwoFactorRequired | InvalidTwoFactorCode => 401,
            TwoFactorLocked => 429,
            Forbidden
            | TwoFactorSetupRequired
            | TwoFactorRequiredByTenant
            | EmailNotVerified
            | TenantInactive
            | OwnerProtected
            | OriginNotAllowed
            | InvalidIdentity
            | QuotaExceeded
            | PlanFeatureRequired => 403,
            UpstreamUnavailable => 502,
            UpgradeRequired => 426,
            WrongRegion => 421,
            TenantSelectionRequired
            | TwoFactorAlreadyEnabled
            | TwoFactorNotEnabled
            | EmailTaken
            | AlreadyMember
            | InvitationExists
            | SeatLimitReached
            | VersionConflict
            | CapacityReached
            | ConversationClosed
            | ConversationOpen
            | VisitorHasOpenConversation
            | NoSubscription => 409,
            InvalidOneTimeToken | InvalidSignature => 400,
            ServiceUnavailable => 503,
            Internal => 500,
        }
    }
}

/// One invalid field in a `validation_failed` problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FieldError {
    /// The JSON field name (dotted for nested fields).
    pub field: String,
    /// A short machine-readable reason, e.g. `required`, `too_long`, `invalid_email`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

/// An `application/problem+json` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Problem {
    /// `urn:kefu:error:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, for people.
    pub detail: String,
    /// The stable error code.
    pub code: ErrorCode,
    /// Field errors, present for `validation_failed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Problem {
    /// The `type` URI for a code.
    pub fn type_uri(code: ErrorCode) -> String {
        format!("urn:kefu:error:{}", code.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_match_serde() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(code).expect("serialize");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }
}
