//! A visitor's session: hello and resume, sending into their open conversation, typing, read
//! receipts, page views, their profile and the host page's context, ratings, the team's
//! availability and queue place, leaving.
//!
//! The loop is generic over the socket's `Sink`/`Stream`, so a test can drive it with channels.
//! It waits only on Postgres (through `ops`): presence goes to the node's presence writer and the
//! `status` frame comes from the node's queue watch (`waiting`), so a Redis outage never delays an
//! acknowledgement.

use std::fmt::Display;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::Message;
use futures_util::{Sink, Stream};
use kefu_protocol::ws::{self, ServerFrame, VisitorFrame, close, limits};
use kefu_protocol::{ConversationId, VisitorClaims};
use tracing::Instrument;

use super::bus::Topic;
use super::recovery::{Followers, Recovery, TenantHistory};
use super::socket::{self, Incoming, Kind, Outbound, Reader};
use super::{AppState, refusal};
use crate::auth::TenantCtx;
use crate::db;
use crate::ops::messages::Author;
use crate::ops::{self, OpError};

/// Serves one visitor connection until it ends.
pub async fn run<Si, St, E>(
    sink: Si,
    stream: St,
    state: AppState,
    tenant: TenantCtx,
    claims: VisitorClaims,
    seen: db::visitors::Seen,
) where
    Si: Sink<Message> + Send + Unpin + 'static,
    Si::Error: Display,
    St: Stream<Item = Result<Message, E>> + Send + Unpin,
    E: Display,
{
    let (out, writer) = socket::start(Kind::Visitor, sink, state.shutdown.clone(), claims.exp);
    let mut reader = Reader::new(Kind::Visitor, stream, out.kill().clone());
    let span =
        tracing::info_span!("visitor_ws", tenant_id = %tenant.id, visitor_id = %claims.sub, connection = %out.id);
    let history = Arc::new(TenantHistory { databases: state.db.clone(), schema: tenant.schema.clone() });
    let per_minute =
        std::num::NonZeroU32::new(state.config.realtime.page_views_per_minute).unwrap_or(std::num::NonZeroU32::MIN);
    let page_views =
        governor::RateLimiter::direct(governor::Quota::per_minute(per_minute).allow_burst(PAGE_VIEW_BURST));
    let mut session = Session {
        page_views,
        followers: Followers::new(out.clone(), true),
        out,
        state,
        tenant,
        claims,
        seen,
        history,
        conversation: None,
        presence_id: uuid::Uuid::now_v7(),
        present: false,
        waiting: None,
    };
    session.serve(&mut reader).instrument(span).await;
    session.leave_presence();
    session.out.queue.close(false);
    drop(session);
    let _ = writer.await;
}

/// Page views one socket may record at once before its per-minute rate applies.
const PAGE_VIEW_BURST: std::num::NonZeroU32 = std::num::NonZeroU32::new(10).expect("ten");

struct Session {
    /// This socket's page-view budget (each is a Postgres write and an agent push).
    page_views: governor::DefaultDirectRateLimiter,
    state: AppState,
    tenant: TenantCtx,
    claims: VisitorClaims,
    /// Device and language from the upgrade request.
    seen: db::visitors::Seen,
    out: Outbound,
    followers: Followers,
    history: Arc<TenantHistory>,
    conversation: Option<ConversationId>,
    /// This connection's id in the presence sets.
    presence_id: uuid::Uuid,
    /// Whether this connection was recorded in presence (after hello).
    present: bool,
    /// Where the live queue sends this connection its `status` (after hello).
    waiting: Option<super::waiting::Registration>,
}

impl Session {
    async fn serve<St, E>(&mut self, reader: &mut Reader<St>)
    where
        St: Stream<Item = Result<Message, E>> + Unpin,
        E: Display,
    {
        // The first frame must be hello.
        let Incoming::Text(first) = reader.next_text().await else { return };
        match ws::decode::<VisitorFrame>(&first) {
            Ok(VisitorFrame::Hello { protocol, last_seq }) => {
                if protocol != ws::PROTOCOL_VERSION {
                    self.out.kill().close(close::UNSUPPORTED_VERSION);
                    return;
                }
                if let Err(error) = Box::pin(self.hello(last_seq.unwrap_or(0))).await {
                    // Without a welcome the client cannot proceed: tell it why and to retry.
                    self.out.refuse(refusal(error, None, None));
                    self.out.kill().close(close::TRY_AGAIN_LATER);
                    return;
                }
            }
            _ => {
                self.out.kill().close(close::HELLO_REQUIRED);
                return;
            }
        }
        while let Some(frame) = reader.next_frame::<VisitorFrame>(&self.out).await {
            if matches!(frame, VisitorFrame::Leave) {
                Box::pin(self.leave()).await;
                self.out.kill().close(close::NORMAL);
                return;
            }
            // Boxed: an idle connection holds only the small reading state, not the largest
            // operation's (sqlx futures are kilobytes).
            Box::pin(self.handle(frame)).await;
        }
    }

    async fn hello(&mut self, last_seq: i64) -> Result<(), OpError> {
        let seen = db::visitors::Seen {
            ext_user: self.claims.ext_user.clone(),
            vip: i16::from(self.claims.vip.unwrap_or(0)),
            country: self.claims.country.clone().filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())),
            ..self.seen.clone()
        };
        let open = ops::visitors::arrive(&self.state.db, &self.tenant, self.claims.sub, seen).await?;
        let conversation_id = open.as_ref().map(|c| c.id);
        self.out.send(&ServerFrame::Welcome {
            protocol: ws::PROTOCOL_VERSION,
            heartbeat_secs: limits::HEARTBEAT_SECS,
            conversation_id,
            bot: open.as_ref().is_some_and(|c| c.bot_active),
        });
        self.state.presence_writer.visitor_connected(self.tenant.id, self.claims.sub, self.presence_id);
        self.present = true;
        self.conversation = conversation_id;
        self.send_status();
        if let Some(row) = &open {
            self.follow(row.id, last_seq).await;
            // The visitor is back: agents learn it, and their followers catch up on anything a
            // dead node committed but never published.
            self.state.fanout.visitor_returned(self.tenant.id, row, self.out.id.get());
            if row.bot_active {
                // A question the bot never answered (its node died) is answered now.
                self.state.bot.answer_unanswered(&self.tenant, row.id);
            }
        }
        Ok(())
    }

    /// Follows the conversation, replaying what the client has not seen.
    async fn follow(&mut self, conversation: ConversationId, after_seq: i64) {
        self.conversation = Some(conversation);
        let topic = Topic::conversation(self.tenant.id, conversation);
        if self.followers.follows(&topic) {
            return;
        }
        let receiver = self.state.bus.subscribe(&topic).await;
        let recovery = Recovery {
            conversation,
            after_seq,
            replay: true,
            history: self.history.clone(),
            include_private: false,
            epoch: self.state.bus.epoch(),
        };
        self.followers.follow(topic, receiver, Some(recovery)).await;
    }

    async fn handle(&mut self, frame: VisitorFrame) {
        let result = match frame {
            VisitorFrame::Send { client_id, body, attachment_id } => {
                return self.send(client_id, body, attachment_id).await;
            }
            VisitorFrame::Typing { typing } => {
                if let Some(conversation) = self.conversation {
                    let me = ws::Sender::Visitor { id: self.claims.sub };
                    self.state.fanout.typing(self.tenant.id, conversation, me, typing, self.out.id.get());
                }
                Ok(())
            }
            VisitorFrame::Read { seq } => match self.conversation {
                Some(conversation) => {
                    let me = ws::Sender::Visitor { id: self.claims.sub };
                    let events = &self.state.events;
                    ops::conversations::mark_read(
                        &self.state.db,
                        events,
                        &self.tenant,
                        me,
                        conversation,
                        seq,
                        Some(self.out.id.get()),
                    )
                    .await
                    .map(drop)
                }
                None => Ok(()),
            },
            VisitorFrame::PageView { url, title, referrer } => self.page_view(url, title, referrer),
            VisitorFrame::Ping => {
                self.out.send(&ServerFrame::Pong);
                Ok(())
            }
            VisitorFrame::Hello { .. } => {
                Err(OpError::refused(ws::WsErrorCode::InvalidFrame, "hello was already sent"))
            }
            VisitorFrame::Leave => Ok(()),
            VisitorFrame::Profile { name, email, phone, fields } => {
                let profile = ops::visitors::Profile { name, email, phone, fields };
                let (db, events) = (&self.state.db, &self.state.events);
                ops::visitors::set_profile(db, events, &self.tenant, self.claims.sub, profile)
                    .await
                    .map(|()| self.out.send(&ServerFrame::Saved { what: ws::Saved::Profile }))
            }
            VisitorFrame::Context { data } => {
                let (db, events) = (&self.state.db, &self.state.events);
                ops::visitors::set_context(db, events, &self.tenant, self.claims.sub, data)
                    .await
                    .map(|()| self.out.send(&ServerFrame::Saved { what: ws::Saved::Context }))
            }
            VisitorFrame::Rate { conversation_id, rating, comment } => {
                let (db, events) = (&self.state.db, &self.state.events);
                ops::conversations::rate(db, events, &self.tenant, self.claims.sub, conversation_id, rating, comment)
                    .await
                    .map(|()| self.out.send(&ServerFrame::Rated { conversation_id, rating }))
            }
            VisitorFrame::Status => {
                self.send_status();
                Ok(())
            }
            VisitorFrame::BotFeedback { message_id, helpful } => {
                self.state.bot.feedback(&self.tenant, self.claims.sub, self.conversation, message_id, helpful).await
            }
            VisitorFrame::Human => self.state.bot.human(&self.tenant, self.claims.sub, self.conversation).await,
        };
        if let Err(error) = result {
            self.out.refuse(refusal(error, None, None));
        }
    }

    async fn send(&mut self, client_id: String, body: String, attachment: Option<kefu_protocol::AttachmentId>) {
        let started = Instant::now();
        let author = Author::Visitor(self.claims.sub);
        let (store, events) = (&self.state.store, &self.state.events);
        let sent =
            match ops::messages::send(store, events, &self.tenant, author, client_id.clone(), body, attachment).await {
                Ok(sent) => sent,
                Err(error) => {
                    self.out.refuse(refusal(error, Some(client_id), None));
                    return;
                }
            };
        if self.conversation != Some(sent.conversation_id) {
            // A new conversation: follow it before acknowledging, so this message (already
            // announced) is replayed to this connection in order.
            self.follow(sent.conversation_id, sent.seq - 1).await;
        }
        self.out.send(&ServerFrame::Ack {
            client_id,
            message_id: sent.message_id,
            conversation_id: sent.conversation_id,
            seq: sent.seq,
            created_at: sent.created_at,
        });
        super::observe_ack(started);
        if sent.fresh && sent.opened {
            // The visitor now waits for an agent: where they stand. The node's queue watch
            // pushes every later move.
            self.send_status();
        }
    }

    fn page_view(&mut self, url: String, title: Option<String>, referrer: Option<String>) -> Result<(), OpError> {
        if self.page_views.check().is_err() {
            return Err(OpError::refused(
                ws::WsErrorCode::RateLimited,
                "Too many page views from this connection; this one was not recorded.",
            ));
        }
        let page = ops::page_views::PageView { url: url.clone(), title: title.clone(), referrer };
        if self.state.page_views.record(&self.tenant, self.claims.sub, self.conversation, page).is_err() {
            return Err(OpError::refused(
                ws::WsErrorCode::RateLimited,
                "This server is busy recording page views; this one was not recorded.",
            ));
        }
        let viewed_at = chrono::Utc::now();
        let current = super::presence::visitors::CurrentPage { url, title, viewed_at };
        self.state.presence_writer.visitor_page(self.tenant.id, self.claims.sub, current);
        Ok(())
    }

    /// Has the `status` frame (the team's availability and the queue place) sent again soon, for
    /// the conversation as it is now; later changes are pushed by the node's queue watch.
    fn send_status(&mut self) {
        match &self.waiting {
            Some(waiting) => waiting.follow(self.conversation),
            None => {
                let waiting = self.state.waiting.register(&self.tenant, self.out.clone());
                waiting.follow(self.conversation);
                self.waiting = Some(waiting);
            }
        }
    }

    /// Removes this connection from presence; the visitor's last one announces them offline.
    fn leave_presence(&mut self) {
        if std::mem::take(&mut self.present) {
            self.state.presence_writer.visitor_disconnected(self.tenant.id, self.claims.sub, self.presence_id);
        }
    }

    async fn leave(&mut self) {
        let Some(conversation) = self.conversation else { return };
        let closer = ops::conversations::Closer::Visitor(self.claims.sub);
        match ops::conversations::close(&self.state.db, &self.state.events, &self.tenant, closer, conversation).await {
            Ok(_) => {}
            // Already closed (by an agent): leaving is done.
            Err(error) if error.code == ws::WsErrorCode::ConversationClosed => {}
            Err(error) => self.out.refuse(refusal(error, None, Some(conversation))),
        }
    }
}
