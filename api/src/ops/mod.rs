//! Durable operations behind the real-time protocol (and, for REST, behind its handlers): storing
//! messages through group commit, claiming, closing, read receipts, ratings, visitors' pages,
//! profiles and context. Each operation commits first and then announces what changed through
//! [`events::Events`], the one publish path after commit.
//!
//! Architecture invariant: nothing here is announced before its transaction committed, and
//! nothing is published inside a transaction.

pub mod conversations;
pub mod events;
pub mod group_commit;
pub mod jobs;
pub mod messages;
pub mod page_views;
pub mod visitors;

use kefu_protocol::ws::WsErrorCode;

use crate::db::{TenantSchema, TenantTx};

/// A refused or failed operation, as an `error` frame tells it.
#[derive(Debug, Clone)]
pub struct OpError {
    /// Code.
    pub code: WsErrorCode,
    /// For people.
    pub message: String,
    /// Whether the same frame may succeed later.
    pub retryable: bool,
    /// Whether the connection must be closed so that the client reconnects (and resends): the
    /// tenant moved to another database while the connection was open, or the visitor's row is
    /// gone (a restore).
    pub reconnect: bool,
}

impl OpError {
    /// A refusal that the same frame will meet again.
    pub fn refused(code: WsErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retryable: false, reconnect: false }
    }

    /// Retry after reconnecting (the connection is closed with 1001).
    fn reconnect() -> Self {
        Self {
            code: WsErrorCode::Unavailable,
            message: "Reconnect and retry.".into(),
            retryable: true,
            reconnect: true,
        }
    }

    /// No such conversation for this caller.
    pub fn conversation_not_found() -> Self {
        Self::refused(WsErrorCode::ConversationNotFound, "No such conversation.")
    }
}

impl From<sqlx::Error> for OpError {
    fn from(error: sqlx::Error) -> Self {
        if crate::error::is_tenant_gone(&error) {
            tracing::info!(%error, "the tenant's schema is gone from this database (moved); the client reconnects");
            Self::reconnect()
        } else if crate::error::is_visitor_gone(&error) {
            tracing::info!(%error, "the visitor's row is gone (restored or erased); the client reconnects");
            Self::reconnect()
        } else if crate::error::is_unavailable(&error) {
            tracing::warn!(%error, "database unavailable during a realtime operation");
            Self {
                code: WsErrorCode::Unavailable,
                message: "The database is unavailable; retry.".into(),
                retryable: true,
                reconnect: false,
            }
        } else {
            tracing::error!(error = ?error, "database error during a realtime operation");
            Self {
                code: WsErrorCode::Internal,
                message: "Unexpected server error.".into(),
                retryable: true,
                reconnect: false,
            }
        }
    }
}

/// Runs `f` in a tenant transaction and commits.
pub async fn in_tenant<T>(
    databases: &crate::db::Databases,
    schema: &TenantSchema,
    f: impl for<'t> FnOnce(&'t mut TenantTx) -> futures_util::future::BoxFuture<'t, sqlx::Result<T>>,
) -> Result<T, OpError> {
    let mut tx = TenantTx::begin(databases, schema).await?;
    let value = f(&mut tx).await?;
    tx.commit().await?;
    Ok(value)
}
