//! Following topics on one connection, with recovery: a conversation's follower replays what the
//! client missed (resume), then forwards live events and makes their delivery exactly-once and in
//! order whatever the bus does — sequence numbers already delivered are skipped, a gap is filled
//! from [`History`] before the message that revealed it, and everything after the last delivered
//! message is read again when the cross-node bus reconnected.
//!
//! [`History`] is the small interface recovery needs; sessions hand it a Postgres one
//! ([`TenantHistory`]).
//!
//! Architecture invariant: no follower is aborted. They are stopped by a cancellation token
//! checked only while they wait for the bus, so a replay or gap fill in progress finishes (its
//! pushes fail once the queue is closed) and its transaction ends.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use kefu_protocol::ConversationId;
use kefu_protocol::ws::{MessageView, ServerFrame, close, limits};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::bus::{Delivered, Topic};
use super::socket::{Outbound, encode};
use crate::db::{self, TenantSchema};
use crate::ops::{OpError, in_tenant};

/// Where a follower reads the messages a client missed.
pub trait History: Send + Sync + 'static {
    /// At most one page ([`limits::REPLAY_PAGE`]) of the conversation's messages after
    /// `after_seq`, oldest first; private notes only when `include_private`.
    fn after(
        &self,
        conversation: ConversationId,
        after_seq: i64,
        include_private: bool,
    ) -> BoxFuture<'_, Result<Vec<MessageView>, OpError>>;
}

/// A tenant's messages in Postgres.
pub struct TenantHistory {
    /// The pool.
    pub databases: crate::db::Databases,
    /// The tenant's schema.
    pub schema: TenantSchema,
}

impl History for TenantHistory {
    fn after(
        &self,
        conversation: ConversationId,
        after_seq: i64,
        include_private: bool,
    ) -> BoxFuture<'_, Result<Vec<MessageView>, OpError>> {
        Box::pin(async move {
            let id = conversation;
            let rows = in_tenant(&self.databases, &self.schema, |tx| {
                Box::pin(
                    async move { db::messages::after(tx, id, after_seq, include_private, limits::REPLAY_PAGE).await },
                )
            })
            .await?;
            Ok(rows.into_iter().map(db::messages::MessageRow::view).collect())
        })
    }
}

/// How a conversation follower recovers what the bus did not bring.
pub struct Recovery {
    /// The conversation.
    pub conversation: ConversationId,
    /// The sequence number the client already has.
    pub after_seq: i64,
    /// Replay from `after_seq` before forwarding live events (false when the conversation is
    /// known to hold nothing after it).
    pub replay: bool,
    /// Where missed messages come from.
    pub history: Arc<dyn History>,
    /// Agents see private notes; visitors do not.
    pub include_private: bool,
    /// Changes whenever the cross-node bus reconnected.
    pub epoch: watch::Receiver<u64>,
}

/// The topics one connection follows.
pub struct Followers {
    out: Outbound,
    visitor: bool,
    tasks: HashMap<Topic, JoinHandle<()>>,
    /// Stops the followers between two steps, never inside one.
    stop: CancellationToken,
}

impl Followers {
    /// No topics yet, for the connection `out` (a visitor's or an agent's).
    pub fn new(out: Outbound, visitor: bool) -> Self {
        Self { out, visitor, tasks: HashMap::new(), stop: CancellationToken::new() }
    }

    /// Whether this connection already follows `topic`.
    pub fn follows(&self, topic: &Topic) -> bool {
        self.tasks.contains_key(topic)
    }

    /// Follows a topic. For a conversation, `recovery` first replays everything stored after the
    /// client's last sequence number (page by page, at the client's pace; this returns once it is
    /// queued). Subscribe (`receiver`) before calling this, so nothing published during the
    /// replay is missed. False when the connection ended during the replay.
    pub async fn follow(
        &mut self,
        topic: Topic,
        receiver: broadcast::Receiver<Arc<Delivered>>,
        recovery: Option<Recovery>,
    ) -> bool {
        if self.follows(&topic) {
            return true;
        }
        let replay = recovery.as_ref().is_some_and(|r| r.replay);
        let last_seq = recovery.as_ref().map_or(0, |r| r.after_seq);
        let mut follower =
            Follower { out: self.out.clone(), visitor: self.visitor, recovery, last_seq, stop: self.stop.clone() };
        if replay && !follower.fill(i64::MAX).await {
            return false;
        }
        let task = tokio::spawn(follower.run(receiver));
        self.tasks.insert(topic, task);
        true
    }
}

impl Drop for Followers {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

struct Follower {
    out: Outbound,
    visitor: bool,
    recovery: Option<Recovery>,
    last_seq: i64,
    stop: CancellationToken,
}

impl Follower {
    async fn run(mut self, mut receiver: broadcast::Receiver<Arc<Delivered>>) {
        let stop = self.stop.clone();
        loop {
            let epoch_changed = async {
                match self.recovery.as_mut() {
                    Some(recovery) => recovery.epoch.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                // Checked only while waiting: a replay or gap fill in progress runs to its end
                // (its pushes fail once the queue is closed), so its transaction is finished.
                () = stop.cancelled() => return,
                event = receiver.recv() => match event {
                    Ok(event) => {
                        if !self.forward(&event).await {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) if self.recovery.is_some() => {
                        // Missed events: messages come back from Postgres; the rest is ephemeral.
                        if !self.fill(i64::MAX).await {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        self.out.kill().close(close::SLOW_CONSUMER);
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                changed = epoch_changed => {
                    if !changed || !self.fill(i64::MAX).await {
                        return;
                    }
                }
            }
        }
    }

    async fn forward(&mut self, delivered: &Delivered) -> bool {
        let event = &delivered.event;
        if event.skip_connection == Some(self.out.id.get()) || (self.visitor && event.agents_only) {
            return true;
        }
        if let (Some(recovery), ServerFrame::Message(m)) = (&self.recovery, &event.frame)
            && m.conversation_id == recovery.conversation
        {
            if m.seq <= self.last_seq {
                return true;
            }
            if m.seq > self.last_seq + 1 && !self.fill(m.seq - 1).await {
                return false;
            }
            self.last_seq = m.seq;
            delivered.observe_fanout();
        }
        // A conversation update names the conversation's last sequence number: anything beyond
        // what this client got was lost on the way (a node died before publishing it).
        if let (Some(recovery), ServerFrame::ConversationUpdated(summary)) = (&self.recovery, &event.frame)
            && summary.conversation_id == recovery.conversation
            && summary.last_seq > self.last_seq
            && !self.fill(summary.last_seq).await
        {
            return false;
        }
        // Visitors never see the team's internal fields of a conversation (tags, team,
        // participants): their copy of an update is re-encoded without them.
        if self.visitor
            && let ServerFrame::ConversationUpdated(summary) = &event.frame
            && summary.has_internal_fields()
        {
            return self.out.queue.push(encode(&ServerFrame::ConversationUpdated(summary.for_visitor())));
        }
        self.out.queue.push(delivered.text.clone())
    }

    /// Queues every stored message after the last delivered one, up to `up_to`, page by page.
    /// False when the connection ends; a database failure closes it with `try_again_later`, so
    /// the client resumes rather than silently missing messages.
    async fn fill(&mut self, up_to: i64) -> bool {
        let Some(recovery) = &self.recovery else { return true };
        loop {
            let page = recovery.history.after(recovery.conversation, self.last_seq, recovery.include_private).await;
            let messages = match page {
                Ok(messages) => messages,
                Err(error) => {
                    tracing::warn!(code = ?error.code, "could not replay messages; closing so the client resumes");
                    self.out.kill().close(close::TRY_AGAIN_LATER);
                    return false;
                }
            };
            let complete = i64::try_from(messages.len()).unwrap_or(i64::MAX) < limits::REPLAY_PAGE;
            for message in messages {
                if message.seq > up_to {
                    return true;
                }
                self.last_seq = message.seq;
                if !self.out.queue.push_replayed(encode(&ServerFrame::Message(message))).await {
                    return false;
                }
            }
            if complete || self.last_seq >= up_to {
                break;
            }
        }
        if up_to != i64::MAX {
            // Sequence numbers up to `up_to` that are not visible here (private notes) are not gaps.
            self.last_seq = self.last_seq.max(up_to);
        }
        true
    }
}
