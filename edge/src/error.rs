//! The edge's one error type, answered as `application/problem+json` with the same codes and
//! statuses as the api (`kefu_protocol::ErrorCode`).

use kefu_protocol::{ErrorCode, Problem};

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {detail}")]
pub struct EdgeError {
    /// Stable code; decides the status.
    pub code: ErrorCode,
    /// For people.
    pub detail: String,
    /// Seconds to wait, for `rate_limited` and `upstream_unavailable`.
    pub retry_after: Option<u64>,
}

impl EdgeError {
    /// An error with a code and a sentence.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self { code, detail: detail.into(), retry_after: None }
    }

    /// With a `Retry-After`.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.code.http_status()
    }

    /// The problem body.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        Problem {
            kind: Problem::type_uri(self.code),
            title: http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Error")
                .to_owned(),
            status,
            detail: self.detail.clone(),
            code: self.code,
            errors: Vec::new(),
        }
    }

    /// Unknown or revoked site key.
    pub fn unknown_site() -> Self {
        Self::new(ErrorCode::ResourceNotFound, "No such site key.")
    }

    /// The region could not answer.
    pub fn upstream() -> Self {
        Self::new(ErrorCode::UpstreamUnavailable, "The chat service is unreachable right now; retry shortly.")
            .retry_after(2)
    }
}
