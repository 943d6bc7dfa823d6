//! Tenant-scoped reads of whole conversations for exports (docs/export.md): a conversation with
//! its visitor, and every message of a set of conversations in order.

use chrono::{DateTime, Utc};
use kefu_protocol::ws::ConversationStatus;
use kefu_protocol::{ConversationId, TeamId, UserId, VisitorId};

use super::TenantTx;
use super::messages::MessageRow;

/// A conversation as an archive holds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ArchivedConversation {
    /// Id.
    pub id: ConversationId,
    /// Open or closed.
    pub status: ConversationStatus,
    /// Assigned agent.
    pub assignee: Option<UserId>,
    /// The assigned agent's display name.
    pub assignee_name: Option<String>,
    /// Team.
    pub team_id: Option<TeamId>,
    /// Tags.
    pub tags: Vec<String>,
    /// Rating 1–5.
    pub rating: Option<i16>,
    /// The rating's comment.
    pub rating_comment: Option<String>,
    /// Opened.
    pub created_at: DateTime<Utc>,
    /// Closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// The visitor.
    pub visitor_id: VisitorId,
    /// The tenant's own id for the visitor (identity verification), if any.
    pub ext_user: Option<String>,
    /// The visitor's name.
    pub visitor_name: Option<String>,
    /// The visitor's email.
    pub visitor_email: Option<String>,
}

/// The conversations with these ids, newest first.
pub async fn conversations(tx: &mut TenantTx, ids: &[ConversationId]) -> sqlx::Result<Vec<ArchivedConversation>> {
    sqlx::query_as(
        "select c.id, c.status, c.assignee, a.display_name as assignee_name, c.team_id, c.tags, c.rating,
                c.rating_comment, c.created_at, c.closed_at, v.id as visitor_id, v.ext_user,
                v.name as visitor_name, v.email as visitor_email
         from conversations c join visitors v on v.id = c.visitor_id
         left join agents a on a.user_id = c.assignee
         where c.id = any($1) order by c.id desc",
    )
    .bind(ids)
    .fetch_all(tx.conn())
    .await
}

/// Every message and note of these conversations, by conversation and sequence number.
pub async fn messages(tx: &mut TenantTx, ids: &[ConversationId]) -> sqlx::Result<Vec<MessageRow>> {
    super::messages::of_conversations(tx, ids).await
}
