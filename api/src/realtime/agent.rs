//! An agent's session: the inbox feed, joining conversations (one, or many at once to resume,
//! each acknowledged with `joined`), claiming, replying, private notes, typing, read receipts,
//! closing, presence.
//!
//! The loop is generic over the socket's `Sink`/`Stream`, so a test can drive it with channels.
//! It waits only on Postgres (through `ops`): presence goes to the node's presence writer.

use std::fmt::Display;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::ws::Message;
use futures_util::{Sink, Stream};
use kefu_protocol::ws::{self, AgentFrame, AgentStatus, JoinEntry, ServerFrame, WsErrorCode, close, limits};
use kefu_protocol::{AccessClaims, ConversationId, Role};
use tracing::Instrument;

use super::bus::{Delivered, Topic};
use super::recovery::{Followers, Recovery, TenantHistory};
use super::socket::{self, Incoming, Kind, Outbound, Reader};
use super::{AppState, refusal};
use crate::auth::TenantCtx;
use crate::db;
use crate::ops::messages::Author;
use crate::ops::{self, OpError};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

/// Serves one agent connection until it ends. `role` is the membership's at the upgrade; the
/// membership watch keeps what it allows current.
pub async fn run<Si, St, E>(
    sink: Si,
    stream: St,
    state: AppState,
    tenant: TenantCtx,
    claims: AccessClaims,
    name: String,
    role: Role,
) where
    Si: Sink<Message> + Send + Unpin + 'static,
    Si::Error: Display,
    St: Stream<Item = Result<Message, E>> + Send + Unpin,
    E: Display,
{
    let (out, writer) = socket::start(Kind::Agent, sink, state.shutdown.clone(), claims.exp);
    let mut reader = Reader::new(Kind::Agent, stream, out.kill().clone());
    let span = tracing::info_span!("agent_ws", tenant_id = %tenant.id, user_id = %claims.sub, connection = %out.id);
    let history = Arc::new(TenantHistory { databases: state.db.clone(), schema: tenant.schema.clone() });
    let directs = Arc::new(AtomicBool::new(directs_any(role)));
    // Subscribed before serving: a session ended from now on closes this socket.
    let ends = (
        state.bus.subscribe(&Topic::member(tenant.id, claims.sub)).await,
        match claims.sid {
            Some(session) => Some(state.bus.subscribe(&Topic::login(tenant.id, session)).await),
            None => None,
        },
    );
    let watcher = start_membership_watch(&state, &tenant, &claims, out.clone(), directs.clone(), ends);
    let mut session = Session {
        followers: Followers::new(out.clone(), false),
        out,
        state,
        tenant,
        claims,
        name,
        history,
        presence_id: uuid::Uuid::now_v7(),
        directs,
    };
    session.serve(&mut reader).instrument(span).await;
    watcher.abort();
    session.state.presence_writer.agent_gone(session.tenant.id, session.claims.sub, session.presence_id);
    session.out.queue.close(false);
    drop(session);
    let _ = writer.await;
}

/// Whether a member with `role` may reply in any conversation, a colleague's too (docs/decisions.md
/// "Who may act in a colleague's conversation").
fn directs_any(role: Role) -> bool {
    role.includes(Role::Supervisor)
}

/// The bus receivers of a member's and a login session's end.
type SessionEnds = (Receiver<Arc<Delivered>>, Option<Receiver<Arc<Delivered>>>);

/// Closes the socket with 4005 (after a `session_ended` frame) as soon as its login session ends
/// on any node (`realtime::session_ends`), and re-reads the membership and the session every
/// `auth.session_recheck_secs` (pub/sub is best effort): a member removed from the tenant (or a
/// suspended tenant) loses the open socket too, not only new requests; a changed role changes
/// what the socket may do (`directs`); a tenant moved to another database or restored from an
/// archive since the socket was admitted closes it with 1001, so the console reconnects.
fn start_membership_watch(
    state: &AppState,
    tenant: &TenantCtx,
    claims: &AccessClaims,
    out: Outbound,
    directs: Arc<AtomicBool>,
    (mut member_ends, mut login_ends): SessionEnds,
) -> tokio::task::JoinHandle<()> {
    let (db, database, restored_at) = (state.db.clone(), tenant.schema.database().clone(), tenant.restored_at);
    let (tenant, user) = (tenant.id, claims.sub);
    let session = claims.sid;
    let region = state.config.region.clone();
    let every = std::time::Duration::from_secs(state.config.auth.session_recheck_secs);
    let kill = out.kill().clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let ended = |out: &Outbound| {
            out.send(&ServerFrame::SessionEnded);
            out.kill().close(close::ACCESS_REVOKED);
        };
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                received = member_ends.recv() => {
                    if ended_by(received) {
                        ended(&out);
                        return;
                    }
                    continue;
                }
                received = async {
                    match login_ends.as_mut() {
                        Some(receiver) => receiver.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if ended_by(received) {
                        ended(&out);
                        return;
                    }
                    continue;
                }
            }
            let found = match db.control().acquire().await {
                Ok(mut conn) => db::memberships::find_auth_in_session(&mut conn, tenant, user, session).await,
                Err(error) => Err(error),
            };
            match found {
                // The tenant moved to another database: reconnect, to be served from there. Or its
                // data was replaced from an archive: reconnect, so the console reads it again.
                Ok(Some(member))
                    if member.as_ref().schema.database() != &database || member.as_ref().restored_at != restored_at =>
                {
                    kill.close(close::GOING_AWAY);
                    return;
                }
                // Still a member of a tenant that may be used (the upgrade's own check).
                Ok(Some(member)) if TenantCtx::admit_here(Some(&member), &region).is_ok() => {
                    directs.store(directs_any(member.role), Ordering::Relaxed);
                }
                Ok(_) => {
                    ended(&out);
                    return;
                }
                Err(error) => tracing::debug!(%error, "membership re-check skipped; database unavailable"),
            }
        }
    })
}

/// Whether what a session-end receiver got ends the socket: an announcement, or a receiver that
/// lagged or closed (announcements may have been missed: end, and let the client reconnect).
fn ended_by(received: Result<Arc<Delivered>, RecvError>) -> bool {
    match received {
        Ok(delivered) => matches!(delivered.event.frame, ServerFrame::SessionEnded),
        Err(RecvError::Lagged(_) | RecvError::Closed) => true,
    }
}

struct Session {
    state: AppState,
    tenant: TenantCtx,
    claims: AccessClaims,
    name: String,
    out: Outbound,
    followers: Followers,
    history: Arc<TenantHistory>,
    /// This connection's id in the presence set.
    presence_id: uuid::Uuid,
    /// The member may reply in colleagues' conversations (their role, as last read).
    directs: Arc<AtomicBool>,
}

impl Session {
    async fn serve<St, E>(&mut self, reader: &mut Reader<St>)
    where
        St: Stream<Item = Result<Message, E>> + Unpin,
        E: Display,
    {
        let Incoming::Text(first) = reader.next_text().await else { return };
        match ws::decode::<AgentFrame>(&first) {
            Ok(AgentFrame::Hello { protocol }) if protocol == ws::PROTOCOL_VERSION => {
                self.out.send(&ServerFrame::Welcome {
                    protocol: ws::PROTOCOL_VERSION,
                    heartbeat_secs: limits::HEARTBEAT_SECS,
                    conversation_id: None,
                    bot: false,
                });
                self.set_presence(AgentStatus::Online);
            }
            Ok(AgentFrame::Hello { .. }) => {
                self.out.kill().close(close::UNSUPPORTED_VERSION);
                return;
            }
            _ => {
                self.out.kill().close(close::HELLO_REQUIRED);
                return;
            }
        }
        while let Some(frame) = reader.next_frame::<AgentFrame>(&self.out).await {
            // Boxed: an idle connection holds only the small reading state.
            Box::pin(self.handle(frame)).await;
        }
    }

    async fn handle(&mut self, frame: AgentFrame) {
        let (db, events) = (&self.state.db, &self.state.events);
        let (result, client_id, conversation) = match frame {
            AgentFrame::SubscribeInbox => {
                let topic = Topic::inbox(self.tenant.id);
                let receiver = self.state.bus.subscribe(&topic).await;
                self.followers.follow(topic, receiver, None).await;
                (Ok(()), None, None)
            }
            AgentFrame::Join { conversation_id, last_seq } => {
                let entry = JoinEntry { conversation_id, last_seq };
                return self.join(std::slice::from_ref(&entry)).await;
            }
            AgentFrame::JoinMany { conversations } => return self.join(&conversations).await,
            AgentFrame::Claim { conversation_id } => {
                let claimed =
                    ops::conversations::claim(db, events, &self.tenant, self.claims.sub, conversation_id).await;
                (claimed.map(drop), None, Some(conversation_id))
            }
            AgentFrame::Send { conversation_id, client_id, body, attachment_id } => {
                let sent = self.send(conversation_id, &client_id, body, false, attachment_id).await;
                (sent, Some(client_id), Some(conversation_id))
            }
            AgentFrame::Note { conversation_id, client_id, body } => {
                let sent = self.send(conversation_id, &client_id, body, true, None).await;
                (sent, Some(client_id), Some(conversation_id))
            }
            AgentFrame::Typing { conversation_id, typing } => {
                self.state.fanout.typing(self.tenant.id, conversation_id, self.me(), typing, self.out.id.get());
                (Ok(()), None, None)
            }
            AgentFrame::Read { conversation_id, seq } => {
                let origin = Some(self.out.id.get());
                let read =
                    ops::conversations::mark_read(db, events, &self.tenant, self.me(), conversation_id, seq, origin)
                        .await;
                (read.map(drop), None, Some(conversation_id))
            }
            AgentFrame::Close { conversation_id } => {
                let closer = ops::conversations::Closer::Agent(self.claims.sub);
                let closed = ops::conversations::close(db, events, &self.tenant, closer, conversation_id).await;
                (closed.map(drop), None, Some(conversation_id))
            }
            AgentFrame::SetPresence { status } => {
                self.set_presence(status);
                (Ok(()), None, None)
            }
            AgentFrame::Ping => {
                self.out.send(&ServerFrame::Pong);
                (Ok(()), None, None)
            }
            AgentFrame::Hello { .. } => {
                (Err(OpError::refused(WsErrorCode::InvalidFrame, "hello was already sent")), None, None)
            }
        };
        if let Err(error) = result {
            self.out.refuse(refusal(error, client_id, conversation));
        }
    }

    /// Records this connection's status; the agent's resulting status is announced.
    fn set_presence(&self, status: AgentStatus) {
        self.state.presence_writer.agent_status(self.tenant.id, self.claims.sub, self.presence_id, status);
    }

    fn me(&self) -> ws::Sender {
        ws::Sender::Agent { id: self.claims.sub, name: self.name.clone() }
    }

    /// Follows conversations, in order: each is answered with `joined` once what the client
    /// missed is queued, or with an error naming it. One query finds them all; only those with
    /// messages after the client's `last_seq` are replayed.
    async fn join(&mut self, entries: &[JoinEntry]) {
        // Subscribe first, so nothing published while the positions are read is missed.
        let topics: Vec<Topic> =
            entries.iter().map(|entry| Topic::conversation(self.tenant.id, entry.conversation_id)).collect();
        let bus = &self.state.bus;
        let subscribing = topics.iter().map(|topic| {
            let new = !self.followers.follows(topic);
            async move {
                match new {
                    true => Some(bus.subscribe(topic).await),
                    false => None,
                }
            }
        });
        let receivers: Vec<_> = topics.iter().cloned().zip(futures_util::future::join_all(subscribing).await).collect();
        let ids: Vec<ConversationId> = entries.iter().map(|entry| entry.conversation_id).collect();
        let positions = match ops::conversations::last_seqs(&self.state.db, &self.tenant, &ids).await {
            Ok(positions) => positions,
            Err(error) => {
                for entry in entries {
                    self.out.refuse(refusal(error.clone(), None, Some(entry.conversation_id)));
                }
                return;
            }
        };
        for (entry, (topic, receiver)) in entries.iter().zip(receivers) {
            let conversation = entry.conversation_id;
            let Some(&last_seq) = positions.get(&conversation) else {
                self.out.refuse(refusal(OpError::conversation_not_found(), None, Some(conversation)));
                continue;
            };
            if let Some(receiver) = receiver {
                let after_seq = entry.last_seq.unwrap_or(0);
                let recovery = Recovery {
                    conversation,
                    after_seq,
                    replay: last_seq > after_seq,
                    history: self.history.clone(),
                    include_private: true,
                    epoch: self.state.bus.epoch(),
                };
                if !self.followers.follow(topic, receiver, Some(recovery)).await {
                    return;
                }
            }
            self.out.send(&ServerFrame::Joined { conversation_id: conversation, last_seq });
        }
    }

    async fn send(
        &mut self,
        conversation: ConversationId,
        client_id: &str,
        body: String,
        private: bool,
        attachment: Option<kefu_protocol::AttachmentId>,
    ) -> Result<(), OpError> {
        let started = std::time::Instant::now();
        let directs = self.directs.load(Ordering::Relaxed);
        let author = Author::Agent { id: self.claims.sub, name: self.name.clone(), conversation, private, directs };
        let (store, events) = (&self.state.store, &self.state.events);
        let sent =
            ops::messages::send(store, events, &self.tenant, author, client_id.to_owned(), body, attachment).await?;
        self.out.send(&ServerFrame::Ack {
            client_id: client_id.to_owned(),
            message_id: sent.message_id,
            conversation_id: conversation,
            seq: sent.seq,
            created_at: sent.created_at,
        });
        super::observe_ack(started);
        Ok(())
    }
}
