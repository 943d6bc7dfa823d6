//! Collects field errors so one response reports every invalid field.

use std::fmt::Display;

use kefu_protocol::FieldError;

use crate::error::ApiError;

/// Field errors gathered while validating a request body.
#[derive(Default)]
pub struct Fields(Vec<FieldError>);

impl Fields {
    /// Records `result`'s error under `field`/`code` and returns its value on success.
    pub fn take<T, E: Display>(&mut self, field: &str, code: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.push(FieldError { field: field.into(), code: code.into(), message: error.to_string() });
                None
            }
        }
    }

    /// Ends validation: `Err(validation_failed)` if anything was recorded.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() { Ok(()) } else { Err(ApiError::Validation(self.0)) }
    }
}

/// Unwraps a value that `Fields::finish` has vouched for.
pub fn valid<T>(value: Option<T>) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("validated value missing")))
}

impl Fields {
    /// An optional RFC 3339 instant from a query parameter, recorded as `invalid` under `field`
    /// when it is not one.
    pub fn instant(&mut self, field: &str, raw: Option<&str>) -> Option<chrono::DateTime<chrono::Utc>> {
        let raw = raw?;
        self.take(
            field,
            "invalid",
            chrono::DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|_| "an RFC 3339 instant, e.g. 2026-12-01T00:00:00+08:00"),
        )
    }
}
