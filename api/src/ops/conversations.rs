//! Conversation operations of the real-time protocol: claiming (within the agent's capacity),
//! closing, read receipts, ratings, and the checks and positions a `join` needs.

use std::collections::HashMap;

use kefu_protocol::ws::{ConversationStatus, NoteEvent, Sender, WsErrorCode};
use kefu_protocol::{ConversationId, UserId, VisitorId};

use super::events::{Change, ConversationChange, Events};
use super::{OpError, in_tenant};
use crate::auth::TenantCtx;
use crate::db::{self, TenantTx};

/// What a claim came to inside its transaction.
enum Claimed {
    NotFound,
    Refused,
    Full,
    Done(db::conversations::ConversationRow),
}

/// Assigns an open, unassigned conversation to `agent`, within their `max_concurrent_chats`
/// (supervisors and up may exceed it). Locks the conversation first, then reads the agent's
/// load: the order transfers use too.
pub async fn claim(
    databases: &crate::db::Databases,
    events: &Events,
    tenant: &TenantCtx,
    agent: UserId,
    conversation: ConversationId,
) -> Result<db::conversations::ConversationRow, OpError> {
    let (id, user) = (conversation, agent);
    let claimed = in_tenant(databases, &tenant.schema, |tx| {
        Box::pin(async move {
            let Some(row) = db::conversations::lock(tx, id).await? else { return Ok(Claimed::NotFound) };
            if row.status == ConversationStatus::Open
                && row.assignee.is_none()
                && !may_exceed_capacity(tx, user).await?
            {
                let capacity = db::agents::capacity(tx, user).await?.map_or(i64::MAX, |(_, max)| i64::from(max));
                if db::conversations::open_assigned(tx, user).await? >= capacity {
                    return Ok(Claimed::Full);
                }
            }
            let claimed = db::conversations::claim(tx, id, user).await?;
            if claimed.is_some() && row.bot_active {
                crate::bot::record_takeover(tx, id).await?;
            }
            Ok(claimed.map_or(Claimed::Refused, Claimed::Done))
        })
    })
    .await?;
    match claimed {
        Claimed::NotFound => Err(OpError::conversation_not_found()),
        Claimed::Refused => {
            Err(OpError::refused(WsErrorCode::Forbidden, "The conversation is closed or assigned to someone else."))
        }
        Claimed::Full => Err(OpError::refused(
            WsErrorCode::CapacityReached,
            "You already have as many open conversations as your max_concurrent_chats allows.",
        )),
        Claimed::Done(row) => {
            events.publish(Change::ConversationChanged {
                tenant: tenant.id,
                conversation: row.clone(),
                cause: ConversationChange::Claimed,
            });
            Ok(row)
        }
    }
}

/// Whether a member may take conversations beyond their `max_concurrent_chats`: supervisors and
/// up may (they step in when the team is overloaded). Reads the membership, not the token's role.
pub async fn may_exceed_capacity(tx: &mut TenantTx, user: UserId) -> sqlx::Result<bool> {
    is_supervisor(tx, user).await
}

/// Whether `user` is a supervisor or more in the transaction's tenant (the membership as it is
/// now, not the token's role).
async fn is_supervisor(tx: &mut TenantTx, user: UserId) -> sqlx::Result<bool> {
    let role = db::memberships::role(tx, user).await?;
    Ok(role.is_some_and(|role| role.includes(kefu_protocol::Role::Supervisor)))
}

/// Who closes a conversation.
#[derive(Debug, Clone, Copy)]
pub enum Closer {
    /// A member on the socket: a conversation that is theirs or nobody's, or any as a supervisor
    /// and up (docs/decisions.md "Who may act in a colleague's conversation"), by the membership
    /// as it is now.
    Agent(UserId),
    /// A REST caller whose role the request already read: the member acted for (none for a
    /// workspace key) and whether they may direct any conversation.
    Api {
        /// The member (a member's token or key).
        member: Option<UserId>,
        /// Supervisor and up (a key: by its role).
        directs: bool,
    },
    /// The visitor leaving: only their own.
    Visitor(VisitorId),
}

/// What closing found.
enum Closing {
    NotFound,
    NotTheirs,
    AlreadyClosed,
    Closed(db::conversations::ConversationRow),
}

/// Closes an open conversation. A visitor closing one that is not theirs gets `not found`; an
/// agent closing a colleague's gets `forbidden`.
pub async fn close(
    databases: &crate::db::Databases,
    events: &Events,
    tenant: &TenantCtx,
    closer: Closer,
    conversation: ConversationId,
) -> Result<db::conversations::ConversationRow, OpError> {
    let id = conversation;
    let closed = in_tenant(databases, &tenant.schema, |tx| {
        Box::pin(async move {
            let Some(row) = db::conversations::find(tx, id).await? else { return Ok(Closing::NotFound) };
            match closer {
                Closer::Visitor(visitor) if row.visitor_id != visitor => return Ok(Closing::NotFound),
                Closer::Agent(user)
                    if row.assignee.is_some_and(|assignee| assignee != user) && !is_supervisor(tx, user).await? =>
                {
                    return Ok(Closing::NotTheirs);
                }
                Closer::Api { member, directs: false } if row.assignee.is_some() && row.assignee != member => {
                    return Ok(Closing::NotTheirs);
                }
                _ => {}
            }
            Ok(match db::conversations::close(tx, id).await? {
                Some(row) => Closing::Closed(row),
                None => Closing::AlreadyClosed,
            })
        })
    })
    .await?;
    match closed {
        Closing::NotFound => Err(OpError::conversation_not_found()),
        Closing::NotTheirs => Err(OpError::refused(
            WsErrorCode::Forbidden,
            "Only its assignee or a supervisor can close a colleague's conversation.",
        )),
        Closing::AlreadyClosed => {
            Err(OpError::refused(WsErrorCode::ConversationClosed, "The conversation is already closed."))
        }
        Closing::Closed(row) => {
            events.publish(Change::ConversationChanged {
                tenant: tenant.id,
                conversation: row.clone(),
                cause: ConversationChange::Closed,
            });
            Ok(row)
        }
    }
}

/// Records how far `reader` read (never backwards, never past the last message) and announces
/// it to the conversation's other connections (`origin`: the connection it came from, which is
/// not told; none over REST). A visitor may only mark their own conversation. Returns the
/// position recorded.
pub async fn mark_read(
    databases: &crate::db::Databases,
    events: &Events,
    tenant: &TenantCtx,
    reader: Sender,
    conversation: ConversationId,
    seq: i64,
    origin: Option<u64>,
) -> Result<i64, OpError> {
    let id = conversation;
    let by_visitor = matches!(reader, Sender::Visitor { .. });
    let read = in_tenant(databases, &tenant.schema, |tx| {
        Box::pin(async move { db::conversations::mark_read(tx, id, by_visitor, seq).await })
    })
    .await?
    .ok_or_else(OpError::conversation_not_found)?;
    events.publish(Change::Read { tenant: tenant.id, conversation, reader, seq: read, origin });
    Ok(read)
}

/// Stores a visitor's rating of their own closed conversation (a later one replaces it).
pub async fn rate(
    databases: &crate::db::Databases,
    events: &Events,
    tenant: &TenantCtx,
    visitor: VisitorId,
    conversation: ConversationId,
    rating: u8,
    comment: Option<String>,
) -> Result<(), OpError> {
    let id = conversation;
    let stored = in_tenant(databases, &tenant.schema, |tx| {
        Box::pin(async move {
            let comment = comment.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned);
            let rated = db::conversations::rate(tx, id, visitor, i16::from(rating), comment.as_deref()).await?;
            if rated.is_err() {
                return Ok(rated.map(|row| (row, None)));
            }
            // The team sees the rating and the comment in the transcript, where it is searched
            // and exported with the conversation (a note: the visitor is not sent it back).
            let body = match &comment {
                Some(comment) => format!("The visitor rated the conversation {rating}/5: {comment}"),
                None => format!("The visitor rated the conversation {rating}/5."),
            };
            let note = db::messages::insert_system_note(tx, id, &body, &NoteEvent::Rated { rating, comment }).await?;
            let row = db::conversations::find(tx, id).await?;
            Ok(row.map(|row| (row, Some(note))).ok_or(db::conversations::RateRefused::NotFound))
        })
    })
    .await?;
    match stored {
        Ok((row, note)) => {
            if let Some(note) = note {
                events.publish(Change::MessageStored {
                    tenant: tenant.id,
                    message: note,
                    conversation: None,
                    opened: false,
                });
            }
            events.publish(Change::ConversationChanged {
                tenant: tenant.id,
                conversation: row,
                cause: ConversationChange::Rated,
            });
            Ok(())
        }
        Err(db::conversations::RateRefused::NotFound) => Err(OpError::conversation_not_found()),
        Err(db::conversations::RateRefused::Open) => {
            Err(OpError::refused(WsErrorCode::Forbidden, "A conversation is rated after it closes."))
        }
    }
}

/// The last sequence number of each of `conversations` that exists in the tenant (one query, for
/// `join` and `join_many`); missing ones are absent.
pub async fn last_seqs(
    databases: &crate::db::Databases,
    tenant: &TenantCtx,
    conversations: &[ConversationId],
) -> Result<HashMap<ConversationId, i64>, OpError> {
    let ids = conversations.to_vec();
    let rows = in_tenant(databases, &tenant.schema, |tx| {
        Box::pin(async move { db::conversations::last_seqs(tx, &ids).await })
    })
    .await?;
    Ok(rows.into_iter().collect())
}
