//! A visitor's connection: hello/resume, sending into their open conversation, typing, read
//! receipts, page views, their profile and the host page's context, ratings, the team's
//! availability and queue place (`waiting`), leaving.

use axum::extract::ws::WebSocket;
use futures_util::StreamExt;
use kefu_protocol::ws::{self, ServerFrame, VisitorFrame, WsErrorCode, close, limits};
use kefu_protocol::{ConversationId, VisitorClaims};
use tracing::Instrument;

use super::bus::{BusEvent, Topic};
use super::connection::{self, Incoming, Outbox};
use super::presence::visitors::CurrentPage;
use super::service::{self, Author, OpError};
use super::{FrameLimiter, error_frame, next_frame};
use crate::auth::TenantCtx;
use crate::db;
use crate::state::AppState;

/// Serves one visitor connection until it ends.
pub async fn run(
    socket: WebSocket,
    state: AppState,
    tenant: TenantCtx,
    claims: VisitorClaims,
    seen: db::visitors::Seen,
    id: u64,
) {
    let (sink, mut stream) = socket.split();
    let (mut out, writer) = connection::start(id, true, sink, state.shutdown.clone(), claims.exp);
    let span = tracing::info_span!("visitor_ws", tenant_id = %tenant.id, visitor_id = %claims.sub, connection = id);
    let mut session = Session {
        state,
        tenant,
        claims,
        seen,
        conversation: None,
        limiter: FrameLimiter::new(),
        presence_id: uuid::Uuid::now_v7(),
        present: false,
    };
    session.serve(&mut out, &mut stream).instrument(span.clone()).await;
    Box::pin(session.leave_presence()).instrument(span).await;
    drop(out);
    let _ = writer.await;
}

struct Session {
    state: AppState,
    tenant: TenantCtx,
    claims: VisitorClaims,
    /// Device and language from the upgrade request.
    seen: db::visitors::Seen,
    conversation: Option<ConversationId>,
    limiter: FrameLimiter,
    /// This connection's id in the presence sets.
    presence_id: uuid::Uuid,
    /// Whether this connection was recorded in presence (after hello).
    present: bool,
}

impl Session {
    async fn serve(&mut self, out: &mut Outbox, stream: &mut futures_util::stream::SplitStream<WebSocket>) {
        // The first frame must be hello.
        let Incoming::Text(first) = connection::next_text(stream, &out.kill).await else { return };
        match ws::decode::<VisitorFrame>(&first) {
            Ok(VisitorFrame::Hello { protocol, last_seq }) => {
                if protocol != ws::PROTOCOL_VERSION {
                    out.kill.close(close::UNSUPPORTED_VERSION);
                    return;
                }
                if let Err(error) = Box::pin(self.hello(out, last_seq.unwrap_or(0))).await {
                    // Without a welcome the client cannot proceed: tell it why and to retry.
                    out.send(error_frame(error, None));
                    out.kill.close(close::TRY_AGAIN_LATER);
                    return;
                }
            }
            _ => {
                out.kill.close(close::HELLO_REQUIRED);
                return;
            }
        }
        loop {
            let Some(frame) = next_frame::<VisitorFrame>(stream, out, &mut self.limiter).await else { return };
            if matches!(frame, VisitorFrame::Leave) {
                Box::pin(self.leave(out)).await;
                out.kill.close(close::NORMAL);
                return;
            }
            // Boxed: an idle connection holds only the small reading state, not the largest
            // operation's (sqlx futures are kilobytes).
            Box::pin(self.handle(out, frame)).await;
        }
    }

    async fn hello(&mut self, out: &mut Outbox, last_seq: i64) -> Result<(), OpError> {
        let visitor = self.claims.sub;
        let seen = db::visitors::Seen {
            ext_user: self.claims.ext_user.clone(),
            country: self.claims.country.clone().filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())),
            ..self.seen.clone()
        };
        let conversation = service::in_tenant(&self.state.db, &self.tenant.schema, |tx| {
            Box::pin(async move {
                db::visitors::touch(tx, visitor, &seen).await?;
                db::conversations::open_of_visitor(tx, visitor).await
            })
        })
        .await?;
        let conversation_id = conversation.as_ref().map(|c| c.id);
        out.send(ServerFrame::Welcome {
            protocol: ws::PROTOCOL_VERSION,
            heartbeat_secs: limits::HEARTBEAT_SECS,
            conversation_id,
        });
        match self.state.presence.visitor_connected(self.tenant.id, self.claims.sub, self.presence_id).await {
            Ok(true) => self.announce_presence(true),
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "could not record visitor presence"),
        }
        self.present = true;
        let waiting = conversation.as_ref().filter(|c| c.assignee.is_none()).map(|c| c.id);
        out.send(super::waiting::status(&self.state, &self.tenant, waiting).await?);
        if let Some(row) = &conversation {
            let conversation = row.id;
            self.follow(out, conversation, last_seq).await?;
            // The visitor is back: agents learn it, and their forwarders catch up on anything a
            // dead node committed but never published.
            let frame = ServerFrame::ConversationUpdated(service::summary(row));
            self.publish_conversation(conversation, frame.clone(), Some(out.id));
            self.state
                .bus
                .publish(&Topic::inbox(self.tenant.id), BusEvent { frame, agents_only: true, skip_connection: None });
        }
        Ok(())
    }

    /// Subscribes to the conversation, replaying what the client has not seen.
    async fn follow(&mut self, out: &mut Outbox, conversation: ConversationId, after_seq: i64) -> Result<(), OpError> {
        self.conversation = Some(conversation);
        super::follow_conversation(&self.state, &self.tenant, out, conversation, after_seq, false).await;
        Ok(())
    }

    async fn handle(&mut self, out: &mut Outbox, frame: VisitorFrame) {
        let result = match frame {
            VisitorFrame::Send { client_id, body, attachment_id } => {
                self.send(out, client_id, body, attachment_id).await
            }
            VisitorFrame::Typing { typing } => {
                if let Some(conversation) = self.conversation {
                    self.publish_conversation(
                        conversation,
                        ServerFrame::Typing {
                            conversation_id: conversation,
                            sender: ws::Sender::Visitor { id: self.claims.sub },
                            typing,
                        },
                        Some(out.id),
                    );
                }
                Ok(())
            }
            VisitorFrame::Read { seq } => self.read(seq, out.id).await,
            VisitorFrame::PageView { url, title, referrer } => self.page_view(url, title, referrer).await,
            VisitorFrame::Ping => {
                out.send(ServerFrame::Pong);
                Ok(())
            }
            VisitorFrame::Hello { .. } => Err(OpError::refused(WsErrorCode::InvalidFrame, "hello was already sent")),
            VisitorFrame::Leave => Ok(()),
            VisitorFrame::Profile { name, email, phone, fields } => {
                let saved = self.profile(name, email, phone, fields).await;
                saved.map(|()| out.send(ServerFrame::Saved { what: ws::Saved::Profile }))
            }
            VisitorFrame::Context { data } => {
                let saved = self.context(data).await;
                saved.map(|()| out.send(ServerFrame::Saved { what: ws::Saved::Context }))
            }
            VisitorFrame::Rate { conversation_id, rating, comment } => {
                self.rate(out, conversation_id, rating, comment).await
            }
            VisitorFrame::Status => match super::waiting::status(&self.state, &self.tenant, self.conversation).await {
                Ok(frame) => {
                    out.send(frame);
                    Ok(())
                }
                Err(error) => Err(error),
            },
        };
        if let Err(error) = result {
            out.send(error_frame(error, None));
        }
    }

    async fn send(
        &mut self,
        out: &mut Outbox,
        client_id: String,
        body: String,
        attachment: Option<kefu_protocol::AttachmentId>,
    ) -> Result<(), OpError> {
        let author = Author::Visitor(self.claims.sub);
        let stored =
            match service::send(&self.state.db, &self.tenant.schema, &author, &client_id, &body, attachment).await {
                Ok(stored) => stored,
                Err(error) => {
                    out.send(error_frame(error, Some(client_id)));
                    return Ok(());
                }
            };
        let conversation = stored.conversation.id;
        if stored.opened || self.conversation != Some(conversation) {
            // Follow before acknowledging so the new message itself arrives in order.
            self.follow(out, conversation, stored.message.seq - 1).await?;
        }
        out.send(ServerFrame::Ack {
            client_id,
            message_id: stored.message.id,
            conversation_id: conversation,
            seq: stored.message.seq,
            created_at: stored.message.created_at,
        });
        if stored.fresh && stored.conversation.assignee.is_none() {
            // Still waiting for an agent: where the visitor stands now.
            match super::waiting::status(&self.state, &self.tenant, Some(conversation)).await {
                Ok(frame) => out.send(frame),
                Err(error) => tracing::warn!(?error, "could not compute the queue place"),
            }
        }
        if stored.fresh {
            self.publish_conversation(conversation, ServerFrame::Message(service::message_view(stored.message)), None);
            self.state.bus.publish(
                &Topic::inbox(self.tenant.id),
                BusEvent {
                    frame: ServerFrame::ConversationUpdated(service::summary(&stored.conversation)),
                    agents_only: true,
                    skip_connection: None,
                },
            );
        }
        Ok(())
    }

    async fn read(&mut self, seq: i64, me: u64) -> Result<(), OpError> {
        let Some(conversation) = self.conversation else { return Ok(()) };
        let read = service::in_tenant(&self.state.db, &self.tenant.schema, |tx| {
            Box::pin(async move { db::conversations::mark_read(tx, conversation, true, seq).await })
        })
        .await?;
        if let Some(seq) = read {
            self.publish_conversation(
                conversation,
                ServerFrame::Read {
                    conversation_id: conversation,
                    reader: ws::Sender::Visitor { id: self.claims.sub },
                    seq,
                },
                Some(me),
            );
        }
        Ok(())
    }

    async fn page_view(&mut self, url: String, title: Option<String>, referrer: Option<String>) -> Result<(), OpError> {
        let visitor = self.claims.sub;
        let utm = crate::domain::tracking::utm_of(&url);
        let (page_url, page_title) = (url.clone(), title.clone());
        let viewed_at = service::in_tenant(&self.state.db, &self.tenant.schema, |tx| {
            Box::pin(async move {
                db::visitors::record_page(tx, visitor, &page_url, page_title.as_deref(), referrer.as_deref(), &utm)
                    .await
            })
        })
        .await?;
        let page = CurrentPage { url: url.clone(), title: title.clone(), viewed_at };
        if let Err(error) = self.state.presence.visitor_page(self.tenant.id, self.claims.sub, &page).await {
            tracing::warn!(%error, "could not record the current page");
        }
        // Agents see the visitor's current page live: in the queue and in the conversation.
        let frame = ServerFrame::PageView {
            visitor_id: self.claims.sub,
            conversation_id: self.conversation,
            url,
            title,
            viewed_at,
        };
        if let Some(conversation) = self.conversation {
            self.state.bus.publish(
                &Topic::conversation(self.tenant.id, conversation),
                BusEvent { frame: frame.clone(), agents_only: true, skip_connection: None },
            );
        }
        self.state
            .bus
            .publish(&Topic::inbox(self.tenant.id), BusEvent { frame, agents_only: true, skip_connection: None });
        Ok(())
    }

    async fn profile(
        &mut self,
        name: Option<String>,
        email: Option<String>,
        phone: Option<String>,
        fields: std::collections::BTreeMap<String, String>,
    ) -> Result<(), OpError> {
        let visitor = self.claims.sub;
        service::in_tenant(&self.state.db, &self.tenant.schema, |tx| {
            Box::pin(async move {
                let (name, email, phone) = (name.as_deref().map(str::trim), email.as_deref(), phone.as_deref());
                db::visitors::set_profile(tx, visitor, name, email, phone, &fields).await
            })
        })
        .await?;
        self.announce_visitor_updated();
        Ok(())
    }

    async fn context(&mut self, data: serde_json::Map<String, serde_json::Value>) -> Result<(), OpError> {
        let visitor = self.claims.sub;
        service::in_tenant(&self.state.db, &self.tenant.schema, |tx| {
            Box::pin(async move { db::visitors::set_context(tx, visitor, &data).await })
        })
        .await?;
        self.announce_visitor_updated();
        Ok(())
    }

    async fn rate(
        &mut self,
        out: &mut Outbox,
        conversation: ConversationId,
        rating: u8,
        comment: Option<String>,
    ) -> Result<(), OpError> {
        let visitor = self.claims.sub;
        let stored = service::in_tenant(&self.state.db, &self.tenant.schema, |tx| {
            Box::pin(async move {
                let comment = comment.as_deref().map(str::trim).filter(|c| !c.is_empty());
                db::conversations::rate(tx, conversation, visitor, i16::from(rating), comment).await
            })
        })
        .await?;
        match stored {
            Ok(row) => {
                out.send(ServerFrame::Rated { conversation_id: conversation, rating });
                let frame = ServerFrame::ConversationUpdated(service::summary(&row));
                for topic in [Topic::conversation(self.tenant.id, conversation), Topic::inbox(self.tenant.id)] {
                    self.state
                        .bus
                        .publish(&topic, BusEvent { frame: frame.clone(), agents_only: true, skip_connection: None });
                }
                Ok(())
            }
            Err(db::conversations::RateRefused::NotFound) => {
                Err(OpError::refused(WsErrorCode::ConversationNotFound, "no such conversation"))
            }
            Err(db::conversations::RateRefused::Open) => {
                Err(OpError::refused(WsErrorCode::Forbidden, "a conversation is rated after it closes"))
            }
        }
    }

    /// Agents re-read the visitor (profile, context, ratings).
    fn announce_visitor_updated(&self) {
        self.state.bus.publish(
            &Topic::inbox(self.tenant.id),
            BusEvent {
                frame: ServerFrame::VisitorUpdated { visitor_id: self.claims.sub },
                agents_only: true,
                skip_connection: None,
            },
        );
    }

    fn announce_presence(&self, online: bool) {
        self.state.bus.publish(
            &Topic::inbox(self.tenant.id),
            BusEvent {
                frame: ServerFrame::VisitorPresence { visitor_id: self.claims.sub, online },
                agents_only: true,
                skip_connection: None,
            },
        );
    }

    /// Removes this connection from presence; the visitor's last one announces them offline.
    async fn leave_presence(&mut self) {
        if !std::mem::take(&mut self.present) {
            return;
        }
        match self.state.presence.visitor_disconnected(self.tenant.id, self.claims.sub, self.presence_id).await {
            Ok(true) => self.announce_presence(false),
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "could not clear visitor presence"),
        }
    }

    async fn leave(&mut self, out: &mut Outbox) {
        let Some(conversation) = self.conversation else { return };
        match service::in_tenant(&self.state.db, &self.tenant.schema, |tx| {
            Box::pin(async move { db::conversations::close(tx, conversation).await })
        })
        .await
        {
            Ok(Some(closed)) => {
                let frame = ServerFrame::ConversationUpdated(service::summary(&closed));
                self.publish_conversation(conversation, frame.clone(), None);
                self.state.bus.publish(
                    &Topic::inbox(self.tenant.id),
                    BusEvent { frame, agents_only: true, skip_connection: None },
                );
            }
            Ok(None) => {}
            Err(error) => out.send(error_frame(error, None)),
        }
    }

    fn publish_conversation(&self, conversation: ConversationId, frame: ServerFrame, skip: Option<u64>) {
        self.state.bus.publish(
            &Topic::conversation(self.tenant.id, conversation),
            BusEvent { frame, agents_only: false, skip_connection: skip },
        );
    }
}
