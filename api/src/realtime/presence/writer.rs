//! Presence updates off the sessions' path: sessions hand every presence change to one task per
//! node, which applies them to the store in order and announces the resulting statuses. A session
//! never waits on Redis, so an outage delays presence, never an acknowledgement.
//!
//! Updates wait in a bounded queue; if Redis stays away long enough to fill it, new updates are
//! dropped (`kefu_presence_updates_dropped_total`). Nothing is lost for long: connections are
//! refreshed every [`super::REFRESH_SECS`] and entries expire after [`super::TTL_SECS`].

use std::time::Duration;

use kefu_protocol::ws::AgentStatus;
use kefu_protocol::{TenantId, UserId, VisitorId};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::visitors::CurrentPage;
use super::{Presence, REFRESH_SECS};
use crate::realtime::fanout::Fanout;

/// Updates waiting for the store.
const QUEUE: usize = 16 * 1024;
/// Longest one update may take before it is given up (the store is unreachable).
const PATIENCE: Duration = Duration::from_secs(2);

/// One presence change.
#[derive(Debug)]
enum Update {
    VisitorConnected { tenant: TenantId, visitor: VisitorId, connection: Uuid },
    VisitorPage { tenant: TenantId, visitor: VisitorId, page: CurrentPage },
    VisitorDisconnected { tenant: TenantId, visitor: VisitorId, connection: Uuid },
    Agent { tenant: TenantId, user: UserId, connection: Uuid, previous: Option<AgentStatus>, status: AgentStatus },
    AgentGone { tenant: TenantId, user: UserId, connection: Uuid, status: AgentStatus },
}

/// Where sessions send presence changes. Cheap to clone.
#[derive(Clone)]
pub struct PresenceWriter {
    presence: Presence,
    queue: mpsc::Sender<Update>,
}

impl PresenceWriter {
    /// Starts the node's writer (which also refreshes this node's connections every
    /// [`REFRESH_SECS`]). Call inside the runtime; it ends when the last handle is dropped.
    pub fn start(presence: Presence, fanout: Fanout, router: crate::routing::Router) -> Self {
        let (queue, updates) = mpsc::channel(QUEUE);
        tokio::spawn(apply(presence.clone(), fanout, router, updates));
        Self { presence, queue }
    }

    fn send(&self, update: Update) {
        if self.queue.try_send(update).is_err() {
            metrics::counter!("kefu_presence_updates_dropped_total").increment(1);
        }
    }

    /// A visitor connection started (after `hello`); announced when it is the visitor's first.
    pub fn visitor_connected(&self, tenant: TenantId, visitor: VisitorId, connection: Uuid) {
        self.presence.track_visitor(connection, tenant, visitor);
        self.send(Update::VisitorConnected { tenant, visitor, connection });
    }

    /// A visitor opened a page.
    pub fn visitor_page(&self, tenant: TenantId, visitor: VisitorId, page: CurrentPage) {
        self.send(Update::VisitorPage { tenant, visitor, page });
    }

    /// A visitor connection ended; announced when it was the visitor's last.
    pub fn visitor_disconnected(&self, tenant: TenantId, visitor: VisitorId, connection: Uuid) {
        self.presence.untrack_visitor(connection);
        self.send(Update::VisitorDisconnected { tenant, visitor, connection });
    }

    /// An agent connection's status is now `status`; the agent's resulting status is announced.
    pub fn agent_status(&self, tenant: TenantId, user: UserId, connection: Uuid, status: AgentStatus) {
        let previous = self.presence.track_agent(connection, tenant, user, status);
        self.send(Update::Agent { tenant, user, connection, previous, status });
    }

    /// An agent connection ended; the agent's resulting status is announced.
    pub fn agent_gone(&self, tenant: TenantId, user: UserId, connection: Uuid) {
        if let Some(status) = self.presence.untrack_agent(connection) {
            self.send(Update::AgentGone { tenant, user, connection, status });
        }
    }
}

async fn apply(
    presence: Presence,
    fanout: Fanout,
    router: crate::routing::Router,
    mut updates: mpsc::Receiver<Update>,
) {
    let every = Duration::from_secs(REFRESH_SECS);
    let mut refresh = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        let work = tokio::select! {
            update = updates.recv() => match update {
                Some(update) => Work::Update(update),
                None => return,
            },
            _ = refresh.tick() => Work::Refresh,
        };
        let applied = match work {
            Work::Update(update) => {
                tokio::time::timeout(PATIENCE, apply_one(&presence, &fanout, &router, update)).await
            }
            Work::Refresh => tokio::time::timeout(PATIENCE * 5, presence.refresh_here()).await,
        };
        if applied.is_err() {
            tracing::warn!("presence store unreachable; update skipped (entries refresh and expire)");
        }
    }
}

enum Work {
    Update(Update),
    Refresh,
}

async fn apply_one(presence: &Presence, fanout: &Fanout, router: &crate::routing::Router, update: Update) {
    match update {
        Update::VisitorConnected { tenant, visitor, connection } => {
            match presence.visitor_connected(tenant, visitor, connection).await {
                Ok(true) => fanout.visitor_presence(tenant, visitor, true),
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "could not record visitor presence"),
            }
        }
        Update::VisitorPage { tenant, visitor, page } => {
            if let Err(error) = presence.visitor_page(tenant, visitor, &page).await {
                tracing::warn!(%error, "could not record the current page");
            }
        }
        Update::VisitorDisconnected { tenant, visitor, connection } => {
            match presence.visitor_disconnected(tenant, visitor, connection).await {
                Ok(true) => fanout.visitor_presence(tenant, visitor, false),
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "could not clear visitor presence"),
            }
        }
        Update::Agent { tenant, user, connection, previous, status } => {
            if let Err(error) = presence.set(tenant, user, connection, previous, status).await {
                tracing::warn!(%error, "could not record presence");
            }
            let now = presence.status_of(tenant, user).await;
            fanout.agent_presence(tenant, user, now);
            // An agent who takes conversations again may be given the waiting ones.
            if now == AgentStatus::Online {
                router.wake(tenant);
            }
        }
        Update::AgentGone { tenant, user, connection, status } => {
            if let Err(error) = presence.clear(tenant, user, connection, status).await {
                tracing::warn!(%error, "could not clear presence");
            }
            fanout.agent_presence(tenant, user, presence.status_of(tenant, user).await);
        }
    }
}
