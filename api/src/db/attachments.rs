//! Tenant-scoped `attachments`: uploaded files' metadata (the bytes are in the object store).

use chrono::{DateTime, Utc};
use kefu_protocol::{AttachmentId, ConversationId, UserId, VisitorId};
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::TenantTx;

/// An attachment as stored, with the visitor of the conversation it was sent in.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttachmentRow {
    /// Id.
    pub id: AttachmentId,
    /// Who uploaded it.
    #[sqlx(flatten)]
    pub uploader: Uploader,
    /// File name.
    pub name: String,
    /// Sniffed media type.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// Object store key.
    pub storage_key: String,
    /// The conversation it was sent in, once sent.
    pub conversation_id: Option<ConversationId>,
    /// That conversation's visitor.
    pub conversation_visitor: Option<VisitorId>,
    /// Uploaded.
    pub created_at: DateTime<Utc>,
}

text_enum! {
    /// What kind of user uploaded a file (`attachments.uploader_kind`).
    pub enum UploaderKind {
        /// A visitor.
        Visitor => "visitor",
        /// A member of the team.
        Agent => "agent",
    }
}

/// Who uploaded a file: the `uploader_kind` and `uploader_id` columns together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploader {
    /// A visitor, through the edge.
    Visitor(VisitorId),
    /// A member of the team.
    Agent(UserId),
}

impl Uploader {
    /// Its kind.
    pub fn kind(self) -> UploaderKind {
        match self {
            Uploader::Visitor(_) => UploaderKind::Visitor,
            Uploader::Agent(_) => UploaderKind::Agent,
        }
    }

    /// The visitor's or member's id.
    pub fn id(self) -> Uuid {
        match self {
            Uploader::Visitor(id) => id.as_uuid(),
            Uploader::Agent(id) => id.as_uuid(),
        }
    }
}

impl<'r> sqlx::FromRow<'r, PgRow> for Uploader {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        let id: Uuid = row.try_get("uploader_id")?;
        Ok(match row.try_get("uploader_kind")? {
            UploaderKind::Visitor => Uploader::Visitor(VisitorId::from_uuid(id)),
            UploaderKind::Agent => Uploader::Agent(UserId::from_uuid(id)),
        })
    }
}

/// A new upload.
pub struct NewAttachment<'a> {
    /// Id.
    pub id: AttachmentId,
    /// Who uploads it.
    pub uploader: Uploader,
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
    .bind(new.uploader.kind())
    .bind(new.uploader.id())
    .bind(new.name)
    .bind(new.content_type)
    .bind(new.size)
    .bind(new.storage_key)
    .fetch_one(tx.conn())
    .await
}

/// What the tenant stores, for the upload checks (docs/billing.md "Attachment storage").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Stored {
    /// Bytes of sent files: what the plan's `attachment_storage_mb` bounds.
    pub sent_bytes: i64,
    /// Bytes of files uploaded but not (yet) sent, from the last day.
    pub unsent_bytes: i64,
    /// Unsent files of the uploader asking.
    pub uploader_unsent: i64,
}

/// Locks the tenant's attachments against concurrent uploads, so two uploads cannot both squeeze
/// under a limit. An upload takes it first, before anything else touches the table: an upload
/// that deleted expired files (a row-exclusive lock) and then waited for this one would deadlock
/// with another doing the same.
pub async fn lock_for_upload(tx: &mut TenantTx) -> sqlx::Result<()> {
    sqlx::query("lock table attachments in share row exclusive mode").execute(tx.conn()).await?;
    Ok(())
}

/// What the tenant stores and how many unsent files `uploader` has (under
/// [`lock_for_upload`]).
pub async fn measure(tx: &mut TenantTx, uploader: Uploader) -> sqlx::Result<Stored> {
    sqlx::query_as(
        "select coalesce(sum(size) filter (where message_id is not null), 0)::bigint as sent_bytes,
                coalesce(sum(size) filter (where message_id is null), 0)::bigint as unsent_bytes,
                count(*) filter (where message_id is null and uploader_id = $1) as uploader_unsent
         from attachments",
    )
    .bind(uploader.id())
    .fetch_one(tx.conn())
    .await
}

/// Bytes of the tenant's sent files (what the plan's storage bounds).
pub async fn stored(tx: &mut TenantTx) -> sqlx::Result<i64> {
    sqlx::query_scalar("select coalesce(sum(size), 0)::bigint from attachments where message_id is not null")
        .fetch_one(tx.conn())
        .await
}

/// Deletes up to `limit` files uploaded before `cutoff` and never sent; returns their object
/// keys (to delete after commit). A file sent meanwhile is kept (the outer condition is checked
/// again on the row a concurrent send updated).
pub async fn delete_unsent(tx: &mut TenantTx, cutoff: DateTime<Utc>, limit: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "delete from attachments where id in (
             select id from attachments where message_id is null and created_at < $1 limit $2)
           and message_id is null
         returning storage_key",
    )
    .bind(cutoff)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// One attachment.
pub async fn find(tx: &mut TenantTx, id: AttachmentId) -> sqlx::Result<Option<AttachmentRow>> {
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
