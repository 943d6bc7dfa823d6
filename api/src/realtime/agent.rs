//! An agent's connection: the inbox feed, joining conversations (with resume), claiming,
//! replying, private notes, typing, read receipts, closing, presence.

use axum::extract::ws::WebSocket;
use futures_util::StreamExt;
use kefu_protocol::ws::{self, AgentFrame, AgentStatus, ConversationStatus, ServerFrame, WsErrorCode, close, limits};
use kefu_protocol::{AccessClaims, ConversationId};
use tokio::sync::watch;
use tracing::Instrument;

use super::bus::{BusEvent, Topic};
use super::connection::{self, Incoming, Outbox};
use super::service::{self, Author, OpError};
use super::{FrameLimiter, error_frame, next_frame};
use crate::auth::TenantCtx;
use crate::db;
use crate::state::AppState;

/// Serves one agent connection until it ends.
pub async fn run(socket: WebSocket, state: AppState, tenant: TenantCtx, claims: AccessClaims, name: String, id: u64) {
    let (sink, mut stream) = socket.split();
    let (mut out, writer) = connection::start(id, false, sink, state.shutdown.clone(), claims.exp);
    let span = tracing::info_span!("agent_ws", tenant_id = %tenant.id, user_id = %claims.sub, connection = id);
    let (status, _) = watch::channel(None);
    let mut session = Session {
        state,
        tenant,
        claims,
        name,
        limiter: FrameLimiter::new(),
        presence_id: uuid::Uuid::now_v7(),
        status,
    };
    let refresher = session.start_presence_refresh();
    let watcher = session.start_membership_watch(out.kill.clone());
    session.serve(&mut out, &mut stream).instrument(span).await;
    refresher.abort();
    watcher.abort();
    Box::pin(session.leave_presence()).await;
    drop(out);
    let _ = writer.await;
}

struct Session {
    state: AppState,
    tenant: TenantCtx,
    claims: AccessClaims,
    name: String,
    limiter: FrameLimiter,
    /// This connection's id in the presence set.
    presence_id: uuid::Uuid,
    /// This connection's status once announced (`None` before `hello`).
    status: watch::Sender<Option<AgentStatus>>,
}

/// What a claim came to.
enum Claimed {
    NotFound,
    Refused,
    Full,
    Done(db::conversations::ConversationRow),
}

fn not_found() -> OpError {
    OpError::refused(WsErrorCode::ConversationNotFound, "No such conversation in this tenant.")
}

impl Session {
    async fn serve(&mut self, out: &mut Outbox, stream: &mut futures_util::stream::SplitStream<WebSocket>) {
        let Incoming::Text(first) = connection::next_text(stream, &out.kill).await else { return };
        match ws::decode::<AgentFrame>(&first) {
            Ok(AgentFrame::Hello { protocol }) if protocol == ws::PROTOCOL_VERSION => {
                out.send(ServerFrame::Welcome {
                    protocol: ws::PROTOCOL_VERSION,
                    heartbeat_secs: limits::HEARTBEAT_SECS,
                    conversation_id: None,
                });
                self.set_presence(AgentStatus::Online).await;
            }
            Ok(AgentFrame::Hello { .. }) => {
                out.kill.close(close::UNSUPPORTED_VERSION);
                return;
            }
            _ => {
                out.kill.close(close::HELLO_REQUIRED);
                return;
            }
        }
        while let Some(frame) = next_frame::<AgentFrame>(stream, out, &mut self.limiter).await {
            // Boxed: an idle connection holds only the small reading state.
            Box::pin(self.handle(out, frame)).await;
        }
    }

    async fn handle(&mut self, out: &mut Outbox, frame: AgentFrame) {
        let (result, client_id) = match frame {
            AgentFrame::SubscribeInbox => {
                let topic = Topic::inbox(self.tenant.id);
                let receiver = self.state.bus.subscribe(&topic);
                out.follow(topic, receiver, None).await;
                (Ok(()), None)
            }
            AgentFrame::Join { conversation_id, last_seq } => {
                (self.join(out, conversation_id, last_seq.unwrap_or(0)).await, None)
            }
            AgentFrame::Claim { conversation_id } => (self.claim(conversation_id).await, None),
            AgentFrame::Send { conversation_id, client_id, body, attachment_id } => {
                let result = self.send(out, conversation_id, &client_id, &body, false, attachment_id).await;
                (result, Some(client_id))
            }
            AgentFrame::Note { conversation_id, client_id, body } => {
                let result = self.send(out, conversation_id, &client_id, &body, true, None).await;
                (result, Some(client_id))
            }
            AgentFrame::Typing { conversation_id, typing } => {
                self.publish(
                    conversation_id,
                    ServerFrame::Typing { conversation_id, sender: self.me(), typing },
                    Some(out.id),
                );
                (Ok(()), None)
            }
            AgentFrame::Read { conversation_id, seq } => (self.read(conversation_id, seq, out.id).await, None),
            AgentFrame::Close { conversation_id } => (self.close(conversation_id).await, None),
            AgentFrame::SetPresence { status } => {
                self.set_presence(status).await;
                (Ok(()), None)
            }
            AgentFrame::Ping => {
                out.send(ServerFrame::Pong);
                (Ok(()), None)
            }
            AgentFrame::Hello { .. } => {
                (Err(OpError::refused(WsErrorCode::InvalidFrame, "hello was already sent")), None)
            }
        };
        if let Err(error) = result {
            out.send(error_frame(error, client_id));
        }
    }

    /// Records this connection's status and announces the agent's resulting status.
    async fn set_presence(&mut self, status: AgentStatus) {
        let previous = *self.status.borrow();
        let result = self.state.presence.set(self.tenant.id, self.claims.sub, self.presence_id, previous, status).await;
        if let Err(error) = result {
            tracing::warn!(%error, "could not record presence");
        }
        self.status.send_replace(Some(status));
        self.announce_presence().await;
    }

    async fn announce_presence(&self) {
        let status = self.state.presence.status_of(self.tenant.id, self.claims.sub).await;
        self.publish_inbox(ServerFrame::Presence { agent_id: self.claims.sub, status });
    }

    /// Keeps this connection's presence alive while it lasts.
    fn start_presence_refresh(&self) -> tokio::task::JoinHandle<()> {
        let (presence, tenant, user, id) =
            (self.state.presence.clone(), self.tenant.id, self.claims.sub, self.presence_id);
        let status = self.status.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(super::presence::REFRESH_SECS));
            loop {
                tick.tick().await;
                let current = *status.borrow();
                if let Some(current) = current
                    && let Err(error) = presence.set(tenant, user, id, Some(current), current).await
                {
                    tracing::warn!(%error, "could not refresh presence");
                }
            }
        })
    }

    /// Re-reads the membership every `auth.session_recheck_secs`: a member removed from the
    /// tenant (or a suspended tenant) loses the open socket too, not only new requests.
    fn start_membership_watch(&self, kill: connection::Kill) -> tokio::task::JoinHandle<()> {
        let (db, tenant, user) = (self.state.db.clone(), self.tenant.id, self.claims.sub);
        let every = std::time::Duration::from_secs(self.state.config.auth.session_recheck_secs);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                let found = match db.acquire().await {
                    Ok(mut conn) => db::memberships::find_auth(&mut conn, tenant, user).await,
                    Err(error) => Err(error),
                };
                match found {
                    // Still a member of a tenant that may be used (the upgrade's own check).
                    Ok(member) if TenantCtx::admit(member.as_ref()).is_ok() => {}
                    Ok(_) => {
                        kill.close(close::ACCESS_REVOKED);
                        return;
                    }
                    Err(error) => tracing::debug!(%error, "membership re-check skipped; database unavailable"),
                }
            }
        })
    }

    /// Removes this connection from the presence set and announces the agent's new status.
    async fn leave_presence(&self) {
        let current = *self.status.borrow();
        if let Some(current) = current {
            if let Err(error) =
                self.state.presence.clear(self.tenant.id, self.claims.sub, self.presence_id, current).await
            {
                tracing::warn!(%error, "could not clear presence");
            }
            self.announce_presence().await;
        }
    }

    fn me(&self) -> ws::Sender {
        ws::Sender::Agent { id: self.claims.sub, name: self.name.clone() }
    }

    async fn join(&mut self, out: &mut Outbox, conversation: ConversationId, after_seq: i64) -> Result<(), OpError> {
        let found = service::in_tenant(&self.state.db, &self.tenant.schema, |tx| {
            Box::pin(async move { db::conversations::find(tx, conversation).await })
        })
        .await?;
        if found.is_none() {
            return Err(not_found());
        }
        super::follow_conversation(&self.state, &self.tenant, out, conversation, after_seq, true).await;
        Ok(())
    }

    async fn send(
        &mut self,
        out: &mut Outbox,
        conversation: ConversationId,
        client_id: &str,
        body: &str,
        private: bool,
        attachment: Option<kefu_protocol::AttachmentId>,
    ) -> Result<(), OpError> {
        let author = Author::Agent { id: self.claims.sub, name: self.name.clone(), conversation, private };
        let stored = service::send(&self.state.db, &self.tenant.schema, &author, client_id, body, attachment).await?;
        out.send(ServerFrame::Ack {
            client_id: client_id.to_owned(),
            message_id: stored.message.id,
            conversation_id: conversation,
            seq: stored.message.seq,
            created_at: stored.message.created_at,
        });
        if stored.fresh {
            let private = stored.message.private;
            self.state.bus.publish(
                &Topic::conversation(self.tenant.id, conversation),
                BusEvent {
                    frame: ServerFrame::Message(service::message_view(stored.message)),
                    agents_only: private,
                    skip_connection: None,
                },
            );
            self.publish_inbox(ServerFrame::ConversationUpdated(service::summary(&stored.conversation)));
        }
        Ok(())
    }

    async fn claim(&mut self, conversation: ConversationId) -> Result<(), OpError> {
        let (id, agent) = (conversation, self.claims.sub);
        let claimed = service::in_tenant(&self.state.db, &self.tenant.schema, |tx| {
            Box::pin(async move {
                // The conversation's lock first, then the agent's (the order transfers use).
                let Some(row) = db::conversations::lock(tx, id).await? else { return Ok(Claimed::NotFound) };
                if row.status == ConversationStatus::Open
                    && row.assignee.is_none()
                    && !service::may_exceed_capacity(tx, agent).await?
                {
                    let capacity = db::agents::capacity(tx, agent).await?.map_or(i64::MAX, |(_, max)| i64::from(max));
                    if db::conversations::open_assigned(tx, agent).await? >= capacity {
                        return Ok(Claimed::Full);
                    }
                }
                Ok(db::conversations::claim(tx, id, agent).await?.map_or(Claimed::Refused, Claimed::Done))
            })
        })
        .await?;
        match claimed {
            Claimed::NotFound => Err(not_found()),
            Claimed::Refused => {
                Err(OpError::refused(WsErrorCode::Forbidden, "The conversation is closed or assigned to someone else."))
            }
            Claimed::Full => Err(OpError::refused(
                WsErrorCode::CapacityReached,
                "You already have as many open conversations as your max_concurrent_chats allows.",
            )),
            Claimed::Done(row) => {
                let frame = ServerFrame::ConversationUpdated(service::summary(&row));
                self.publish(conversation, frame.clone(), None);
                self.publish_inbox(frame);
                Ok(())
            }
        }
    }

    async fn read(&mut self, conversation: ConversationId, seq: i64, me: u64) -> Result<(), OpError> {
        let read = service::in_tenant(&self.state.db, &self.tenant.schema, |tx| {
            Box::pin(async move { db::conversations::mark_read(tx, conversation, false, seq).await })
        })
        .await?
        .ok_or_else(not_found)?;
        self.publish(
            conversation,
            ServerFrame::Read { conversation_id: conversation, reader: self.me(), seq: read },
            Some(me),
        );
        Ok(())
    }

    async fn close(&mut self, conversation: ConversationId) -> Result<(), OpError> {
        let closed = service::in_tenant(&self.state.db, &self.tenant.schema, |tx| {
            Box::pin(async move {
                if db::conversations::find(tx, conversation).await?.is_none() {
                    return Ok(None);
                }
                db::conversations::close(tx, conversation).await.map(Some)
            })
        })
        .await?;
        match closed {
            None => Err(not_found()),
            Some(None) => Err(OpError::refused(WsErrorCode::ConversationClosed, "The conversation is already closed.")),
            Some(Some(row)) => {
                let frame = ServerFrame::ConversationUpdated(service::summary(&row));
                self.publish(conversation, frame.clone(), None);
                self.publish_inbox(frame);
                Ok(())
            }
        }
    }

    fn publish(&self, conversation: ConversationId, frame: ServerFrame, skip: Option<u64>) {
        self.state.bus.publish(
            &Topic::conversation(self.tenant.id, conversation),
            BusEvent { frame, agents_only: false, skip_connection: skip },
        );
    }

    fn publish_inbox(&self, frame: ServerFrame) {
        self.state
            .bus
            .publish(&Topic::inbox(self.tenant.id), BusEvent { frame, agents_only: true, skip_connection: None });
    }
}
