//! Database access: the pools ([`Databases`]: the control database and every tenant database), the
//! one way into a tenant's schema ([`tenant::TenantTx`]), and query functions per entity.
//!
//! Architecture invariant: tenant-scoped query functions (`agents`, `audit`, `visitors`,
//! `conversations`, `messages`, `teams`, `canned_responses`, `attachments`, `widget`) take
//! `&mut TenantTx` first and use unqualified table names. Control-plane functions always use
//! `control.`-qualified names: those about a tenant's own control rows that run inside its
//! transaction (members, invitations, API keys, site keys, its plan and name, its mail) take
//! `&mut TenantTx` and use the transaction's tenant id, so they commit with its tenant writes and
//! cannot name another tenant (for a tenant outside the control database they run in a second
//! transaction, committed atomically with the first: [`two_phase`]); the others take
//! `&mut PgConnection` and an explicit id.
//! Every pooled connection's session `search_path` is empty, so an unqualified query outside a
//! `TenantTx` fails instead of reading some schema by accident. Only this module reaches a
//! `TenantTx`'s connection (`TenantTx::control`), derives a schema from a bare id
//! (`TenantSchema::of`) or pins a transaction to a schema (`TenantTx::pin`).
//!
//! Query functions and rows speak typed ids (`kefu_protocol::TenantId`, …, bound as `uuid`) and
//! enums for closed sets of names stored in `text` columns (`kefu_protocol::Role`,
//! `kefu_protocol::ws::ConversationStatus`, and those declared next to their table with
//! `text_enum!`), so nothing outside this module compares or builds those strings by hand.

/// Declares a closed set of names stored in a `text` column: the enum, its `as_str` and
/// `FromStr` (the stored names), `Display`, and the sqlx mapping (bound as `text`, decoded
/// through `FromStr`; see `kefu_protocol::pg_text_enum!`).
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident => $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$variant_meta])* $variant),+
        }

        impl $name {
            /// The name stored in the database.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::db::UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::db::UnknownName { kind: stringify!($name), name: other.to_owned() }),
                }
            }
        }

        kefu_protocol::pg_text_enum!($name);
    };
}

pub mod agents;
pub mod analytics;
pub mod analytics_read;
pub mod api_keys;
pub mod archive;
pub mod attachments;
pub mod audit;
pub mod auto_close;
pub mod auto_replies;
pub mod bot;
pub mod canned_responses;
pub mod conversations;
pub mod databases;
pub mod erasure;
pub mod export_jobs;
pub mod feed;
pub mod invitations;
pub mod memberships;
pub mod message_batch;
pub mod messages;
pub mod moves;
pub mod outbox;
pub mod plans;
pub mod queue;
pub mod quotas;
pub mod refresh_tokens;
pub mod reply_mail;
pub mod reports;
pub mod restore;
pub mod retention;
pub mod routing;
pub mod rules;
pub mod search;
pub mod service_hours;
pub mod sessions;
pub mod site_keys;
pub mod subscriptions;
pub mod teams;
pub mod tenant;
pub mod tenant_dump;
pub mod tenants;
pub mod two_factor;
pub mod two_phase;
pub mod user_tokens;
pub mod users;
pub mod visitors;
pub mod webhooks;
pub mod widget;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgPool};

pub use databases::{DatabaseId, Databases};
pub use tenant::{TenantSchema, TenantTx};

/// A stored name outside its closed set (a bug or a newer schema, never a client error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{name}`")]
pub struct UnknownName {
    /// The enum it should have been.
    pub kind: &'static str,
    /// What was stored.
    pub name: String,
}

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
    kefu_protocol::ExportJobId,
);

/// How many times, on average, a pooled connection is lent before it is closed and replaced
/// (`database.recycle_after_uses`). A Postgres backend keeps the catalog entries of every
/// relation it touched until it exits, about 0.14 MB per tenant schema the storing path touched
/// (docs/benchmarks.md, "Tenants per database"): a connection lent forever across thousands of
/// tenants would grow without bound.
pub const RECYCLE_AFTER_USES: u32 = 1_000;

/// Opens the pool lazily (the first query connects), recycling connections after
/// [`RECYCLE_AFTER_USES`] uses on average. See [`connect_recycling`].
pub fn connect(url: &str, max_connections: u32, acquire_timeout: Duration) -> sqlx::Result<PgPool> {
    connect_recycling(url, max_connections, acquire_timeout, RECYCLE_AFTER_USES)
}

/// Opens the pool lazily (the first query connects). Each new connection gets an empty session
/// `search_path` (fail-closed), and a transaction left idle for 10 s is ended by Postgres: a
/// transaction abandoned by a cancelled task (a forwarder aborted mid-replay) must not hold a
/// conversation's row lock and stall its senders indefinitely.
///
/// Each time a connection comes back, it is closed instead with probability 1/`recycle_after_uses`
/// (0: never), so a backend serves that many uses on average and its catalog cache stays bounded.
/// The choice hashes a pool-wide release counter: no random generator on the path, and no
/// connection is favoured.
pub fn connect_recycling(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
    recycle_after_uses: u32,
) -> sqlx::Result<PgPool> {
    let options = PgConnectOptions::from_str(url)?.application_name("kefu");
    let releases = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute("set search_path to ''; set idle_in_transaction_session_timeout = '10s'").await?;
                Ok(())
            })
        })
        .after_release(move |_conn, _meta| {
            let release = releases.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let keep = recycle_after_uses == 0 || !mix(release).is_multiple_of(u64::from(recycle_after_uses));
            if !keep {
                metrics::counter!("kefu_db_connections_recycled_total").increment(1);
            }
            Box::pin(async move { Ok(keep) })
        })
        .connect_lazy_with(options))
}

/// splitmix64's finaliser: consecutive counters map to well-spread values.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::attachments::UploaderKind;
    use super::messages::SenderKind;
    use super::tenants::TenantStatus;
    use super::user_tokens::Purpose;

    #[test]
    fn text_enums_are_stored_by_their_names() {
        fn round_trip<T>(all: &[T], names: &[&str])
        where
            T: Copy + PartialEq + std::fmt::Debug + std::str::FromStr,
            T: std::fmt::Display,
        {
            for (value, name) in all.iter().zip(names) {
                assert_eq!(value.to_string(), *name);
                assert!(name.parse::<T>().ok() == Some(*value), "{name} parses back");
            }
            assert!("unknown".parse::<T>().is_err());
        }
        round_trip(
            &[TenantStatus::Active, TenantStatus::Suspended, TenantStatus::Deleting],
            &["active", "suspended", "deleting"],
        );
        round_trip(&[SenderKind::Visitor, SenderKind::Agent, SenderKind::System], &["visitor", "agent", "system"]);
        round_trip(&[UploaderKind::Visitor, UploaderKind::Agent], &["visitor", "agent"]);
        round_trip(&[Purpose::VerifyEmail, Purpose::ResetPassword], &["verify_email", "reset_password"]);
    }
}
