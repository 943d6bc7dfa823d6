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

    fn id(self) -> Uuid {
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

/// Bytes stored by the tenant (the plan's `attachment_storage_mb` bounds it). Locks the table
/// against concurrent uploads of the same tenant, so two uploads cannot both squeeze under it.
pub async fn lock_and_measure(tx: &mut TenantTx) -> sqlx::Result<i64> {
    sqlx::query("lock table attachments in share row exclusive mode").execute(tx.conn()).await?;
    sqlx::query_scalar("select coalesce(sum(size), 0)::bigint from attachments").fetch_one(tx.conn()).await
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
