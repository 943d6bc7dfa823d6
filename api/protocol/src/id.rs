//! Prefixed identifiers (`tnt_…`, `usr_…`): UUIDs inside, a typed prefix on the wire.
//!
//! The prefix makes a leaked or misplaced id obvious (`usr_` where a `tnt_` belongs is rejected
//! at parse time) and keeps the numeric form out of URLs a person reads.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Why a prefixed id did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdParseError {
    /// The string does not start with the expected `prefix_`.
    #[error("expected an id starting with `{expected}_`")]
    WrongPrefix {
        /// The prefix this id type carries.
        expected: &'static str,
    },
    /// The part after the prefix is not 32 lowercase hex digits.
    #[error("malformed id body")]
    MalformedBody,
}

macro_rules! prefixed_id {
    ($(#[doc = $doc:literal])* $name:ident, $prefix:literal) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
        pub struct $name(Uuid);

        impl $name {
            /// The wire prefix of this id type, without the underscore.
            pub const PREFIX: &'static str = $prefix;

            /// Wraps a UUID that is known to identify this kind of entity.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID stored in the database.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// The 32 lowercase hex digits of the UUID, without prefix or dashes.
            pub fn simple(&self) -> String {
                self.0.simple().to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, self.0.simple())
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let body = s
                    .strip_prefix($prefix)
                    .and_then(|rest| rest.strip_prefix('_'))
                    .ok_or(IdParseError::WrongPrefix { expected: $prefix })?;
                if body.len() != 32 || !body.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                    return Err(IdParseError::MalformedBody);
                }
                Uuid::parse_str(body).map(Self).map_err(|_| IdParseError::MalformedBody)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        #[cfg(feature = "sqlx")]
        crate::pg::uuid_newtype!($name);

        /// In OpenAPI a string: the prefix, an underscore and 32 lowercase hex digits.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                id_schema(&[$($doc),*], $prefix)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    };
}

/// The OpenAPI schema of an id type: a string with its prefix as a pattern, its doc comment and
/// the prefix spelled out as the description, and an example.
#[cfg(feature = "openapi")]
fn id_schema(doc: &[&str], prefix: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let doc = doc.iter().map(|line| line.trim()).collect::<Vec<_>>().join(" ");
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(format!("{doc} `{prefix}_` and 32 lowercase hex digits.")))
        .pattern(Some(format!("^{prefix}_[0-9a-f]{{32}}$")))
        .examples([format!("{prefix}_0193a1c4e5f67890abcdef0123456789")])
        .into()
}

prefixed_id!(
    /// A tenant (one business, one Postgres schema).
    TenantId,
    "tnt"
);
prefixed_id!(
    /// A person's account; one user may be a member of several tenants.
    UserId,
    "usr"
);
prefixed_id!(
    /// A pending or settled invitation to join a tenant.
    InvitationId,
    "inv"
);
prefixed_id!(
    /// A tenant API key (the secret itself is never an id).
    ApiKeyId,
    "key"
);

prefixed_id!(
    /// A website visitor (anonymous or identified), stable across visits on one browser.
    VisitorId,
    "vis"
);
prefixed_id!(
    /// A conversation between a visitor and the tenant's team.
    ConversationId,
    "conv"
);
prefixed_id!(
    /// One stored message (or private note) of a conversation.
    MessageId,
    "msg"
);

prefixed_id!(
    /// A public site key: what the tenant's embed snippet names. Not a secret; the edge checks
    /// the page's origin against the tenant's allowed origins.
    SiteKeyId,
    "site"
);
prefixed_id!(
    /// An uploaded file (image or document), sent in at most one message.
    AttachmentId,
    "att"
);
prefixed_id!(
    /// A team of members (sales, support, …): a queue that conversations can be transferred to.
    TeamId,
    "team"
);
prefixed_id!(
    /// A canned response: a reply text agents insert by its shortcut.
    CannedResponseId,
    "canned"
);

prefixed_id!(
    /// A background export of conversations (a selection over the synchronous limit).
    ExportJobId,
    "exp"
);

prefixed_id!(
    /// A knowledge-base entry of the FAQ bot: a question, its phrasings and the answer.
    KbEntryId,
    "kb"
);

prefixed_id!(
    /// An outgoing webhook endpoint of a tenant: a URL that receives signed events.
    WebhookEndpointId,
    "ep"
);
prefixed_id!(
    /// One event sent to webhook endpoints (the `webhook-id` header: the same for every retry
    /// and replay of it).
    WebhookEventId,
    "evt"
);
prefixed_id!(
    /// One event's delivery to one endpoint, with its attempts (a replay is a new delivery).
    WebhookDeliveryId,
    "dlv"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_display_and_serde() {
        let id = TenantId::from_uuid(Uuid::from_u128(0x0190_c8e5_b7a8_7c3e_9f00_0000_0000_00ab));
        let text = id.to_string();
        assert_eq!(text, "tnt_0190c8e5b7a87c3e9f000000000000ab");
        assert_eq!(text.parse::<TenantId>(), Ok(id));
        let json = serde_json::to_string(&id).expect("serialize");
        assert_eq!(serde_json::from_str::<TenantId>(&json).expect("deserialize"), id);
    }

    #[test]
    fn rejects_wrong_prefix_and_bad_bodies() {
        let user = UserId::from_uuid(Uuid::from_u128(7)).to_string();
        assert_eq!(user.parse::<TenantId>(), Err(IdParseError::WrongPrefix { expected: "tnt" }));
        for bad in [
            "tnt_",
            "tnt_123",
            "tnt_0190C8E5B7A87C3E9F000000000000AB",
            "tnt_0190c8e5-b7a8-7c3e-9f00-0000000000ab",
            "tnt0190c8e5b7a87c3e9f000000000000ab",
            "tnt_0190c8e5b7a87c3e9f000000000000ab0",
        ] {
            assert!(bad.parse::<TenantId>().is_err(), "{bad} must not parse");
        }
    }
}
