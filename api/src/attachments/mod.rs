//! Attachments: files visitors and agents send in a conversation. The bytes live in an object
//! store (`store`: a local directory or an S3-compatible bucket) under `<tenant>/<attachment>`;
//! the metadata lives in the tenant's `attachments` table (`db::attachments`); what a file may
//! be is decided from its content (`sniff`), never from its name or declared type. Uploading
//! and downloading are HTTP (`http::attachments`); sending is the WebSocket `send` with an
//! `attachment_id`, which links the upload to its message once. A file never sent expires after
//! a day and does not count against the plan's storage (docs/billing.md).

pub mod sniff;
pub mod store;

pub use store::AttachmentStore;

/// How long a file uploaded and never sent is kept (counted apart from the plan's storage; the
/// upload path and the daily retention run delete it after that).
pub const UNSENT_KEPT_HOURS: i64 = 24;
/// Unsent files one uploader (a visitor or a member) may have at once.
pub const MAX_UNSENT_PER_UPLOADER: i64 = 20;
