//! Conversations as archives (F24, docs/export.md): the seed's JSON shape
//! `{session_id, user_id, messages: [{sender, content, timestamp}]}`, extended with ids, the
//! visitor, attachments and agent names without breaking it (`format`), and CSV with a row per
//! message; a filtered selection streamed page by page, never held in memory (`stream`); selections
//! over the synchronous limit written by background jobs to the object store (`jobs`); content older
//! than the workspace's retention period deleted in batches (`retention`); the whole workspace as
//! one tar archive, written by the same jobs (`tenant_export`), and read back for a restore
//! (`tenant_archive`).

pub mod format;
pub mod jobs;
pub mod retention;
pub mod stream;
pub mod tenant_archive;
pub mod tenant_export;

pub use format::Format;
