//! Tenant-scoped `attachments`: uploaded files' metadata (the bytes are in the object store).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::TenantTx;

/// An attachment as stored, with the visitor of the conversation it was sent in.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttachmentRow {
    /// Id.
    pub id: Uuid,
    /// `visitor` or `agent`.
    pub uploader_kind: String,
    /// Visitor id or agent user id.
    pub uploader_id: Uuid,
    /// File name.
    pub name: String,
    /// Sniffed media type.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// Object store key.
    pub storage_key: String,
    /// The conversation it was sent in, once sent.
    pub conversation_id: Option<Uuid>,
    /// That conversation's visitor.
    pub conversation_visitor: Option<Uuid>,
    /// Uploaded.
    pub created_at: DateTime<Utc>,
}

/// A new upload.
pub struct NewAttachment<'a> {
    /// Id.
    pub id: Uuid,
    /// `visitor` or `agent`.
    pub uploader_kind: &'a str,
    /// Visitor id or agent user id.
    pub uploader_id: Uuid,
    /// File name.
    pub name: &'a str,
    /// Sniffed media type.
    pub content_type: &'a str,
    /// Bytes.
    pub size: i64,
    /// Object store key.
    pub storage_key: &'a str,
}

/// Records an upload (not yet sent).
pub async fn insert(tx: &mut TenantTx, new: &NewAttachment<'_>) -> sqlx::Result<DateTime<Utc>> {
    sqlx::query_scalar(
        "insert into attachments (id, uploader_kind, uploader_id, name, content_type, size, storage_key)
         values ($1, $2, $3, $4, $5, $6, $7) returning created_at",
    )
    .bind(new.id)
    .bind(new.uploader_kind)
    .bind(new.uploader_id)
    .bind(new.name)
    .bind(new.content_type)
    .bind(new.size)
    .bind(new.storage_key)
    .fetch_one(tx.conn())
    .await
}

/// Bytes stored by the tenant (the plan's `attachment_storage_mb` bounds it). Locks the table
/// against concurrent uploads of the same tenant, so two uploads cannot both squeeze under it.
pub async fn lock_and_measure(tx: &mut TenantTx) -> sqlx::Result<i64> {
    sqlx::query("lock table attachments in share row exclusive mode").execute(tx.conn()).await?;
    sqlx::query_scalar("select coalesce(sum(size), 0)::bigint from attachments").fetch_one(tx.conn()).await
}

/// One attachment.
pub async fn find(tx: &mut TenantTx, id: Uuid) -> sqlx::Result<Option<AttachmentRow>> {
    sqlx::query_as(
        "select a.id, a.uploader_kind, a.uploader_id, a.name, a.content_type, a.size, a.storage_key,
                a.conversation_id, c.visitor_id as conversation_visitor, a.created_at
         from attachments a left join conversations c on c.id = a.conversation_id
         where a.id = $1",
    )
    .bind(id)
    .fetch_optional(tx.conn())
    .await
}
