//! Response bodies shared by several resources.

use kefu_protocol::{Role, TenantId, UserId};
use serde::Serialize;
use utoipa::ToSchema;

use axum::http::HeaderMap;

use super::session_cookie::{self, TokenDelivery};
use crate::auth::session::IssuedTokens;

/// A user as shown to themselves and colleagues.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// User id (`usr_…`).
    #[schema(value_type = String, example = "usr_0193a1c4e5f67890abcdef0123456789")]
    pub id: UserId,
    /// Email address.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Whether the email address is verified.
    pub email_verified: bool,
    /// The language they read Kefu in (`en`, `zh-CN`; mails such as reports use it), if set.
    pub language: Option<String>,
}

impl UserView {
    /// The view of a stored user.
    pub fn from_row(id: UserId, user: crate::db::users::UserRow) -> Self {
        Self {
            id,
            email: user.email,
            display_name: user.display_name,
            email_verified: user.email_verified_at.is_some(),
            language: user.language,
        }
    }
}

/// A tenant as shown to its members.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    /// Tenant id (`tnt_…`).
    #[schema(value_type = String, example = "tnt_0193a1c4e5f67890abcdef0123456789")]
    pub id: TenantId,
    /// URL slug.
    pub slug: String,
    /// Company name.
    pub name: String,
}

/// Tokens of a login session plus who and where.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Opaque, single-use refresh token; exchange it at `/api/v1/auth/refresh`. `null` when it
    /// was handed over as the `kefu_rt` cookie instead (`token_delivery: "cookie"`, or a refresh
    /// with the cookie).
    pub refresh_token: Option<String>,
    /// The signed-in user.
    pub user: UserView,
    /// The tenant the session acts in.
    pub tenant: TenantView,
    /// The member's role there.
    #[schema(value_type = String, example = "owner")]
    pub role: Role,
    /// Present once: on the sign-in whose code finished setting up two-factor sign-in, the ten
    /// single-use recovery codes to keep (shown only now); `null` otherwise.
    pub recovery_codes: Option<Vec<String>>,
}

impl SessionResponse {
    /// The response handing the session over as `delivery` asks: the refresh token in the body,
    /// or in the `kefu_rt` cookie (`Set-Cookie`) with `refresh_token: null`.
    pub fn deliver(
        config: &crate::config::Config,
        delivery: TokenDelivery,
        tokens: IssuedTokens,
        user: UserView,
        tenant: TenantView,
        role: Role,
    ) -> (HeaderMap, axum::Json<Self>) {
        let (headers, refresh_token) = match (delivery, tokens.refresh_token) {
            (TokenDelivery::Cookie, Some(token)) => {
                (session_cookie::set(config, &token, tokens.refresh_expires_at), None)
            }
            (TokenDelivery::Cookie, None) => (HeaderMap::new(), None),
            (TokenDelivery::Body, token) => (HeaderMap::new(), token),
        };
        let response = Self {
            access_token: tokens.access_token,
            token_type: "Bearer",
            expires_in: tokens.expires_in,
            refresh_token,
            user,
            tenant,
            role,
            recovery_codes: None,
        };
        (headers, axum::Json(response))
    }
}
