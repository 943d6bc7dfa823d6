//! Database access: the pool, the one way into a tenant's schema ([`tenant::TenantTx`]), and query
//! functions per entity.
//!
//! Architecture invariant: tenant-scoped query functions (`agents`, `audit`, `visitors`,
//! `conversations`, `messages`, `teams`, `canned_responses`) take
//! `&mut TenantTx` first and use unqualified table names; control-plane functions take
//! `&mut PgConnection` and always use `control.`-qualified names plus an explicit tenant id.
//! Every pooled connection's session `search_path` is empty, so an unqualified query outside a
//! `TenantTx` fails instead of reading some schema by accident.

pub mod agents;
pub mod api_keys;
pub mod attachments;
pub mod audit;
pub mod canned_responses;
pub mod conversations;
pub mod invitations;
pub mod memberships;
pub mod messages;
pub mod outbox;
pub mod refresh_tokens;
pub mod site_keys;
pub mod teams;
pub mod tenant;
pub mod tenants;
pub mod user_tokens;
pub mod users;
pub mod visitors;
pub mod widget;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgPool};

pub use tenant::{TenantSchema, TenantTx};

/// Fresh ids for new rows: UUIDv7, so rows sort by creation time. The one place outside query
/// functions where an id is made from a bare UUID.
pub trait NewId: Sized {
    /// A new, time-ordered id.
    fn new_v7() -> Self;
}

macro_rules! new_id {
    ($($id:ty),* $(,)?) => {
        $(impl NewId for $id {
            fn new_v7() -> Self {
                <$id>::from_uuid(uuid::Uuid::now_v7())
            }
        })*
    };
}

new_id!(
    kefu_protocol::TenantId,
    kefu_protocol::UserId,
    kefu_protocol::InvitationId,
    kefu_protocol::ApiKeyId,
    kefu_protocol::VisitorId,
    kefu_protocol::ConversationId,
    kefu_protocol::MessageId,
    kefu_protocol::SiteKeyId,
    kefu_protocol::AttachmentId,
    kefu_protocol::TeamId,
    kefu_protocol::CannedResponseId,
);

/// Opens the pool lazily (the first query connects). Each new connection gets an empty session
/// `search_path` (fail-closed), and a transaction left idle for 10 s is ended by Postgres: a
/// transaction abandoned by a cancelled task (a forwarder aborted mid-replay) must not hold a
/// conversation's row lock and stall its senders indefinitely.
pub fn connect(url: &str, max_connections: u32, acquire_timeout: Duration) -> sqlx::Result<PgPool> {
    let options = PgConnectOptions::from_str(url)?.application_name("kefu");
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute("set search_path to ''; set idle_in_transaction_session_timeout = '10s'").await?;
                Ok(())
            })
        })
        .connect_lazy_with(options))
}
