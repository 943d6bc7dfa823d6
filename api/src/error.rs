//! The api's one error type and its mapping to `application/problem+json` responses.
//!
//! Every handler returns `Result<T, ApiError>`. Client errors carry a stable [`ErrorCode`];
//! the HTTP status is derived from the code in one place (`status_of`). Database and internal
//! errors become opaque 5xx responses and are logged once, here, with their full chain.

use std::borrow::Cow;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kefu_protocol::{ErrorCode, FieldError, Problem};

/// `Result` with [`ApiError`] as the default error.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A client error with a stable code and a human detail.
    #[error("{code:?}: {detail}")]
    Client {
        /// The stable code; decides the status.
        code: ErrorCode,
        /// What went wrong, for people.
        detail: Cow<'static, str>,
    },
    /// One or more invalid fields.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// Too many requests.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until a retry may succeed.
        retry_after_secs: u64,
        /// The budget that ran out, for the `RateLimit-Policy` header (`None`: not a simple
        /// budget, e.g. a cap on concurrent work).
        policy: Option<Policy>,
    },
    /// Postgres could not be reached in time; the client may retry.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// Any other database error.
    #[error(transparent)]
    Database(sqlx::Error),
    /// Anything else unexpected.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// A request budget: `limit` requests per `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Requests allowed in a window.
    pub limit: u32,
    /// The window's length.
    pub window_secs: u32,
}

impl ApiError {
    /// `429` for a spent budget.
    pub fn over(policy: Policy, retry_after_secs: u64) -> Self {
        Self::RateLimited { retry_after_secs: retry_after_secs.max(1), policy: Some(policy) }
    }

    /// `429` without a budget to name (a cap on concurrent work or connections).
    pub fn busy(retry_after_secs: u64) -> Self {
        Self::RateLimited { retry_after_secs, policy: None }
    }

    /// A client error.
    pub fn client(code: ErrorCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::Client { code, detail: detail.into() }
    }

    /// A single-field validation error.
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError { field: field.to_owned(), code: code.to_owned(), message: message.into() }])
    }

    /// `resource_not_found` for a named kind of thing.
    pub fn not_found(what: &str) -> Self {
        Self::client(ErrorCode::ResourceNotFound, format!("No such {what} in this tenant."))
    }

    /// `forbidden`.
    pub fn forbidden(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::client(ErrorCode::Forbidden, detail)
    }

    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Client { code, .. } => *code,
            Self::Validation(_) => ErrorCode::ValidationFailed,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Unavailable(_) => ErrorCode::ServiceUnavailable,
            Self::Database(_) | Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

/// A refused real-time operation answered over REST (the same operations serve both): each
/// frame error code becomes its problem code.
impl From<crate::ops::OpError> for ApiError {
    fn from(error: crate::ops::OpError) -> Self {
        use kefu_protocol::ws::WsErrorCode as Ws;
        let detail = error.message;
        match error.code {
            Ws::InvalidBody => Self::field("body", "invalid", detail),
            Ws::InvalidClientId => Self::field("Idempotency-Key", "invalid", detail),
            Ws::InvalidJson | Ws::UnknownType | Ws::InvalidFrame => Self::client(ErrorCode::ValidationFailed, detail),
            Ws::ConversationNotFound => Self::not_found("conversation"),
            Ws::ConversationClosed => Self::client(ErrorCode::ConversationClosed, detail),
            Ws::RateLimited => Self::busy(1),
            Ws::Forbidden => Self::forbidden(detail),
            Ws::CapacityReached => Self::client(ErrorCode::CapacityReached, detail),
            Ws::Unavailable => Self::client(ErrorCode::ServiceUnavailable, detail),
            Ws::Internal => Self::Internal(anyhow::anyhow!("operation failed: {detail}")),
        }
    }
}

/// The HTTP status of each code (the mapping lives with the codes, in `kefu-protocol`, so the
/// edge answers with the same statuses).
pub fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A short title per status, used as the problem's `title`.
fn title_of(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

/// Builds a problem response; also used by the fallback for errors produced by tower layers.
pub fn problem_response(code: ErrorCode, detail: String, errors: Vec<FieldError>) -> Response {
    let status = status_of(code);
    let problem = Problem {
        kind: Problem::type_uri(code),
        title: title_of(status).to_owned(),
        status: status.as_u16(),
        detail,
        code,
        errors,
    };
    let mut response = (status, Json(problem)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        match self {
            ApiError::Client { detail, .. } => {
                tracing::debug!(code = code.as_str(), %detail, "client error");
                problem_response(code, detail.into_owned(), Vec::new())
            }
            ApiError::Validation(errors) => {
                tracing::debug!(fields = errors.len(), "validation failed");
                let detail = match errors.as_slice() {
                    [one] => one.message.clone(),
                    _ => format!("{} fields are invalid.", errors.len()),
                };
                problem_response(code, detail, errors)
            }
            ApiError::RateLimited { retry_after_secs, policy } => {
                let mut response =
                    problem_response(code, format!("Too many requests; retry in {retry_after_secs} s."), Vec::new());
                let headers = response.headers_mut();
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                // The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers).
                if let Some(Policy { limit, window_secs }) = policy {
                    headers.insert("ratelimit-limit", HeaderValue::from(limit));
                    headers.insert("ratelimit-remaining", HeaderValue::from(0));
                    headers.insert("ratelimit-reset", HeaderValue::from(retry_after_secs));
                    if let Ok(value) = HeaderValue::from_str(&format!("{limit};w={window_secs}")) {
                        headers.insert("ratelimit-policy", value);
                    }
                }
                response
            }
            ApiError::Unavailable(error) => {
                tracing::warn!(error = %error, "database unavailable");
                let mut response =
                    problem_response(code, "The database is unavailable; retry shortly.".into(), Vec::new());
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1));
                response
            }
            ApiError::Database(error) => {
                tracing::error!(error = ?error, "database error");
                problem_response(code, "An unexpected error occurred.".into(), Vec::new())
            }
            ApiError::Internal(error) => {
                tracing::error!(error = ?error, "internal error");
                problem_response(code, "An unexpected error occurred.".into(), Vec::new())
            }
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if is_unavailable(&error) || is_tenant_gone(&error) { Self::Unavailable(error) } else { Self::Database(error) }
    }
}

/// Whether a database error means "Postgres is not reachable right now" (retryable) rather
/// than a bug.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        // TLS refused by the server (the handshake's own failures arrive as `Io` above): the
        // database cannot be reached from here, whatever the request; the warning logged says why.
        sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 08xxx connection exceptions.
            db.code().is_some_and(|c| c.starts_with("57P0") || c.starts_with("08"))
        }
        _ => false,
    }
}

/// Whether a database error means the tenant's schema is no longer in the database the caller
/// used: it was moved to another tenant database (and dropped here) after the caller read its
/// placement. Retrying with the placement read again succeeds. (42P01 `undefined_table`, 3F000
/// `invalid_schema_name`: with schema names derived from ids and every table created by
/// migrations, nothing else produces them in a tenant transaction.)
pub fn is_tenant_gone(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => db.code().is_some_and(|c| c == "42P01" || c == "3F000"),
        _ => false,
    }
}

/// Whether a database error means the visitor a connection acts for no longer exists: their row
/// was removed while they were connected (the workspace was restored from an archive taken before
/// their first visit, or they were erased), so a conversation or page view of theirs cannot be
/// stored. Reconnecting records them again (`ops::visitors::arrive`). (23503
/// `foreign_key_violation` on the visitor references.)
pub fn is_visitor_gone(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            db.code().is_some_and(|c| c == "23503")
                && db
                    .constraint()
                    .is_some_and(|c| c == "conversations_visitor_id_fkey" || c == "page_views_visitor_id_fkey")
        }
        _ => false,
    }
}

/// Maps a named unique/foreign-key constraint violation to a client error.
pub trait ResultExt<T> {
    /// If the error is a violation of `constraint`, return `map()` instead.
    fn on_constraint(self, constraint: &str, map: impl FnOnce() -> ApiError) -> Result<T, ApiError>;
}

impl<T> ResultExt<T> for std::result::Result<T, sqlx::Error> {
    fn on_constraint(self, constraint: &str, map: impl FnOnce() -> ApiError) -> Result<T, ApiError> {
        self.map_err(|error| match &error {
            sqlx::Error::Database(db) if db.constraint() == Some(constraint) => map(),
            _ => ApiError::from(error),
        })
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::client(
                ErrorCode::UnsupportedMediaType,
                "Send the body as JSON with `Content-Type: application/json`.",
            ),
            JsonRejection::JsonSyntaxError(e) => {
                ApiError::client(ErrorCode::MalformedJson, format!("The body is not valid JSON: {}", e.body_text()))
            }
            JsonRejection::JsonDataError(e) => ApiError::Validation(vec![FieldError {
                field: data_error_field(&e.body_text()),
                code: "invalid".into(),
                message: e.body_text(),
            }]),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::client(ErrorCode::PayloadTooLarge, "The body is larger than the limit.")
            }
            other => ApiError::client(ErrorCode::MalformedJson, other.body_text()),
        }
    }
}

/// Pulls the field path out of serde's "…: missing field `x` at line…" / "x: invalid type…".
fn data_error_field(text: &str) -> String {
    if let Some(start) = text.find("missing field `") {
        let rest = &text[start + "missing field `".len()..];
        if let Some(end) = rest.find('`') {
            return rest[..end].to_owned();
        }
    }
    // serde_path_to_error style: "Failed to deserialize the JSON body into the target type: field: message"
    text.split(": ").nth(1).filter(|f| !f.contains(' ')).unwrap_or("body").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_client_or_server_status() {
        for code in ErrorCode::ALL {
            let status = status_of(*code);
            assert!(status.is_client_error() || status.is_server_error(), "{code:?}");
        }
    }

    #[test]
    fn field_names_are_extracted() {
        assert_eq!(
            data_error_field(
                "Failed to deserialize the JSON body into the target type: missing field `email` at line 1 column 2"
            ),
            "email"
        );
        assert_eq!(
            data_error_field(
                "Failed to deserialize the JSON body into the target type: password: invalid type: integer `5`, expected a string at line 1 column 14"
            ),
            "password"
        );
    }
}
