//! What a visitor is told while they wait, pushed as it changes (F19): whether the team is there
//! and, while their open conversation has no agent, its place in the queue with a wait estimate
//! (`routing::queue`).
//!
//! Each node keeps, per tenant, the visitor connections it serves ([`Waiting::register`]). One
//! task per such tenant follows the tenant's inbox topic, where every node announces what can
//! move the queue (a conversation opened, taken, closed, transferred or re-tagged; an agent's
//! presence; a priority or the routing settings changed). On such an event, a connection's
//! request, a reconnection of the bus, or every [`REFRESH_EVERY`] (business hours open and
//! close by the clock), it reads the whole queue once and sends each connection a `status` frame
//! when theirs changed. Reads after events are at least [`MIN_GAP`] apart, so a busy queue costs a
//! node one read per tenant per gap however many visitors wait; a connection waiting for its
//! status (it connected, opened a conversation, asked) waits at most [`URGENT_GAP`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kefu_protocol::ws::{QueuePlace, ServerFrame};
use kefu_protocol::{ConversationId, TeamId, TenantId};
use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::bus::{Bus, Topic};
use super::presence::Presence;
use super::socket::Outbound;
use crate::auth::TenantCtx;
use crate::db::Databases;
use crate::routing::queue::{self, TimesCache};

/// The least time between two reads of one tenant's queue on one node, after an event.
pub const MIN_GAP: Duration = Duration::from_millis(500);
/// The least time between two reads when a connection waits for its status (it connected,
/// opened a conversation or asked): short, so nobody waits for a status, while a flood of
/// connections still shares reads.
pub const URGENT_GAP: Duration = Duration::from_millis(25);
/// A read happens at least this often while visitors are connected.
pub const REFRESH_EVERY: Duration = Duration::from_secs(60);
/// How long recent handle and wait times are reused.
const TIMES_MAX_AGE: Duration = Duration::from_secs(60);
/// How long a failed read waits before the next.
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// Longest a read may take (presence in Redis, the queue in Postgres) before it counts as failed.
const READ_PATIENCE: Duration = Duration::from_secs(5);

/// The node's visitor connections by tenant, and their queue watchers. Cheap to clone.
#[derive(Clone)]
pub struct Waiting {
    inner: Arc<Inner>,
}

struct Inner {
    tenants: Mutex<HashMap<TenantId, Watched>>,
    databases: Databases,
    presence: Presence,
    bus: Bus,
    shutdown: CancellationToken,
}

struct Watched {
    /// The latest connection's view of the tenant (its schema).
    tenant: TenantCtx,
    connections: HashMap<u64, Watcher>,
    wake: Arc<Notify>,
    stop: CancellationToken,
}

struct Watcher {
    out: Outbound,
    conversation: Option<ConversationId>,
    /// The last `status` frame sent, so an unchanged one is not sent again.
    sent: Option<ServerFrame>,
}

/// A visitor connection's place among the watched; dropping it stops the watching.
pub struct Registration {
    waiting: Waiting,
    tenant: TenantId,
    connection: u64,
}

impl Waiting {
    /// No connections yet.
    pub fn new(databases: Databases, presence: Presence, bus: Bus, shutdown: CancellationToken) -> Self {
        let inner = Inner { tenants: Mutex::new(HashMap::new()), databases, presence, bus, shutdown };
        Self { inner: Arc::new(inner) }
    }

    fn tenants(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, Watched>> {
        self.inner.tenants.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Watches the queue for a visitor connection; it gets its first `status` soon.
    pub fn register(&self, tenant: &TenantCtx, out: Outbound) -> Registration {
        let connection = out.id.get();
        let mut tenants = self.tenants();
        let watched = tenants.entry(tenant.id).or_insert_with(|| {
            let (wake, stop) = (Arc::new(Notify::new()), CancellationToken::new());
            tokio::spawn(watch(self.inner.clone(), tenant.id, wake.clone(), stop.clone()));
            Watched { tenant: tenant.clone(), connections: HashMap::new(), wake, stop }
        });
        watched.tenant = tenant.clone();
        watched.connections.insert(connection, Watcher { out, conversation: None, sent: None });
        watched.wake.notify_one();
        Registration { waiting: self.clone(), tenant: tenant.id, connection }
    }
}

impl Registration {
    /// The connection's open conversation changed, or the client asked: its status is sent
    /// again soon, changed or not.
    pub fn follow(&self, conversation: Option<ConversationId>) {
        let mut tenants = self.waiting.tenants();
        if let Some(watched) = tenants.get_mut(&self.tenant)
            && let Some(watcher) = watched.connections.get_mut(&self.connection)
        {
            watcher.conversation = conversation;
            watcher.sent = None;
            watched.wake.notify_one();
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut tenants = self.waiting.tenants();
        if let Some(watched) = tenants.get_mut(&self.tenant) {
            watched.connections.remove(&self.connection);
            if watched.connections.is_empty() {
                watched.stop.cancel();
                tenants.remove(&self.tenant);
            }
        }
    }
}

/// What the watcher last read of each waiting conversation, to tell which events move the queue.
type Known = HashMap<ConversationId, (Option<TeamId>, Vec<String>)>;

async fn watch(inner: Arc<Inner>, tenant: TenantId, wake: Arc<Notify>, stop: CancellationToken) {
    let topic = Topic::inbox(tenant);
    let mut inbox = inner.bus.subscribe(&topic).await;
    let mut epoch = inner.bus.epoch();
    let mut refresh = tokio::time::interval(REFRESH_EVERY);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut times = TimesCache::new(TIMES_MAX_AGE);
    let mut known = Known::new();
    // When the next read is due (`None`: nothing asked for one), and when the last one started.
    let mut due = Some(Instant::now());
    let mut last_read = Instant::now();
    let after = |due: Option<Instant>, at: Instant| Some(due.map_or(at, |due| due.min(at)));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = inner.shutdown.cancelled() => return,
            _ = tokio::time::sleep_until(due.unwrap_or(last_read)), if due.is_some() => {
                due = None;
                last_read = Instant::now();
                match tokio::time::timeout(READ_PATIENCE, push(&inner, tenant, &mut times)).await {
                    Ok(Ok(read)) => known = read,
                    Ok(Err(error)) => {
                        tracing::warn!(%error, %tenant, "could not read the queue; visitors' places are sent later");
                        due = Some(Instant::now() + RETRY_AFTER);
                    }
                    Err(_) => {
                        tracing::warn!(%tenant, "reading the queue timed out; visitors' places are sent later");
                        due = Some(Instant::now() + RETRY_AFTER);
                    }
                }
            }
            _ = wake.notified() => due = after(due, last_read + URGENT_GAP),
            event = inbox.recv() => match event {
                Ok(delivered) => if moves_queue(&delivered.event.frame, &known) {
                    due = after(due, last_read + MIN_GAP);
                },
                Err(broadcast::error::RecvError::Lagged(_)) => due = after(due, last_read + MIN_GAP),
                Err(broadcast::error::RecvError::Closed) => {
                    inbox = inner.bus.subscribe(&topic).await;
                    due = after(due, last_read + MIN_GAP);
                }
            },
            _ = epoch.changed() => due = after(due, last_read + MIN_GAP),
            _ = refresh.tick() => due = after(due, last_read + MIN_GAP),
        }
    }
}

/// Whether an inbox event can change a waiting visitor's place, estimate or the availability.
fn moves_queue(frame: &ServerFrame, known: &Known) -> bool {
    match frame {
        ServerFrame::ConversationUpdated(summary) => {
            let waiting = summary.status == kefu_protocol::ws::ConversationStatus::Open && summary.assignee.is_none();
            match known.get(&summary.conversation_id) {
                // Joined the queue.
                None => waiting,
                // Left it, or moved within it (another team's queue, tags with a priority).
                Some((team, tags)) => !waiting || *team != summary.team_id || *tags != summary.tags,
            }
        }
        ServerFrame::Presence { .. } | ServerFrame::QueueChanged => true,
        _ => false,
    }
}

/// Reads the queue and sends each connection its status if it changed; returns what is waiting.
async fn push(inner: &Inner, tenant: TenantId, times: &mut TimesCache) -> sqlx::Result<Known> {
    let ctx = match inner.tenants.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&tenant) {
        Some(watched) => watched.tenant.clone(),
        None => return Ok(Known::new()),
    };
    let view = queue::read(&inner.databases, &inner.presence, &ctx, crate::db::queue::MAX_READ, times).await?;
    let places: HashMap<ConversationId, QueuePlace> = view
        .entries
        .iter()
        .map(|entry| {
            let place = QueuePlace {
                position: u32::try_from(entry.place.position).unwrap_or(u32::MAX),
                estimated_wait_secs: entry.estimated_wait_secs,
            };
            (entry.place.id, place)
        })
        .collect();
    let mut tenants = inner.tenants.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(watched) = tenants.get_mut(&tenant) {
        for watcher in watched.connections.values_mut() {
            let queue = watcher.conversation.and_then(|conversation| places.get(&conversation).cloned());
            let frame = ServerFrame::Status {
                agents: view.availability,
                queue,
                bot: view.bot,
                opens_at: view.opens_at,
                quota_reached: view.quota_reached,
            };
            if watcher.sent.as_ref() != Some(&frame) {
                watcher.out.send(&frame);
                watcher.sent = Some(frame);
            }
        }
    }
    Ok(view.entries.into_iter().map(|entry| (entry.place.id, (entry.place.own_team_id, entry.place.tags))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_protocol::ws::{ConversationStatus, ConversationSummary};
    use kefu_protocol::{UserId, VisitorId};

    fn summary(id: ConversationId, assignee: Option<UserId>, tags: &[&str]) -> ServerFrame {
        ServerFrame::ConversationUpdated(ConversationSummary {
            conversation_id: id,
            visitor_id: VisitorId::from_uuid(uuid::Uuid::from_u128(9)),
            status: ConversationStatus::Open,
            assignee,
            last_seq: 1,
            updated_at: chrono::Utc::now(),
            rating: None,
            team_id: None,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            participants: Vec::new(),
            bot: false,
        })
    }

    #[test]
    fn only_changes_of_the_queue_wake_the_watcher() {
        let (waiting, other) =
            (ConversationId::from_uuid(uuid::Uuid::from_u128(1)), ConversationId::from_uuid(uuid::Uuid::from_u128(2)));
        let known: Known = [(waiting, (None, vec![]))].into();
        let agent = Some(UserId::from_uuid(uuid::Uuid::from_u128(3)));
        assert!(!moves_queue(&summary(waiting, None, &[]), &known), "another message while waiting");
        assert!(!moves_queue(&summary(other, agent, &[]), &known), "a message in an assigned conversation");
        assert!(moves_queue(&summary(other, None, &[]), &known), "a new conversation waits");
        assert!(moves_queue(&summary(waiting, agent, &[]), &known), "taken");
        assert!(moves_queue(&summary(waiting, None, &["vip"]), &known), "tagged (a tag may carry a priority)");
        assert!(moves_queue(&ServerFrame::QueueChanged, &known));
    }
}
