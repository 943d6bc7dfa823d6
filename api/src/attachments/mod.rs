//! Attachments: files visitors and agents send in a conversation. The bytes live in an object
//! store (`store`: a local directory or an S3-compatible bucket) under `<tenant>/<attachment>`;
//! the metadata lives in the tenant's `attachments` table (`db::attachments`); what a file may
//! be is decided from its content (`sniff`), never from its name or declared type. Uploading
//! and downloading are HTTP (`http::attachments`); sending is the WebSocket `send` with an
//! `attachment_id`, which links the upload to its message once.

pub mod sniff;
pub mod store;

pub use store::AttachmentStore;
