//! The Kefu wire contract, shared by the api, the edge (also compiled to wasm32) and the tests.
//!
//! It owns the shapes that cross a process boundary: prefixed identifiers, roles, access-token
//! claims and the stable error codes of problem responses. It must stay free of tokio and crypto
//! crates so that every runtime can depend on it; signing and verifying live with the services
//! that hold the keys. sqlx comes in only with the optional `sqlx` feature (how ids and wire enums
//! are stored, `pg`), which the api enables and the edge never does; so does utoipa with the
//! optional `openapi` feature: the OpenAPI schemas of the wire types the REST api answers with
//! (ids are strings with their prefix as a pattern). A field that is always written is `required`
//! there even when a request may leave it out (it has a default), so the schemas describe answers
//! as the TypeScript declarations (`ts`) do.

pub mod claims;
pub mod error;
pub mod hours;
pub mod id;
pub mod origin;
#[cfg(feature = "sqlx")]
pub mod pg;
pub mod role;
pub mod rules;
#[cfg(feature = "jwt")]
pub mod token;
#[cfg(feature = "ts")]
pub mod typescript;
pub mod widget;
pub mod ws;

pub use claims::{
    AGENT_AUDIENCE, AccessClaims, CHAT_LINK_AUDIENCE, CHAT_LINK_TTL_SECS, ChatLinkClaims, ISSUER, VISITOR_AUDIENCE,
    VisitorClaims,
};
pub use error::{ErrorCode, FieldError, Problem};
pub use id::{
    ApiKeyId, AttachmentId, CannedResponseId, ConversationId, ExportJobId, IdParseError, InvitationId, KbEntryId,
    MessageId, SiteKeyId, TeamId, TenantId, UserId, VisitorId, WebhookDeliveryId, WebhookEndpointId, WebhookEventId,
};
pub use role::Role;
