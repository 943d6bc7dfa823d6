//! Presence across all nodes of a region: which agents are connected and how available
//! ([`agents`]), which visitors are online and on which page ([`visitors`]).
//!
//! Every entry is scored by its expiry time and refreshed by its connection every
//! [`REFRESH_SECS`], so the connections of a node that died vanish within [`TTL_SECS`] without
//! anyone cleaning up. Keys live under `kefu:v1:<tenant>:presence:…` in Redis; without Redis the
//! same structures live in this process (single node).

pub mod agents;
pub mod visitors;
pub mod writer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use kefu_protocol::ws::AgentStatus;
use kefu_protocol::{TenantId, UserId, VisitorId};
use uuid::Uuid;

/// Seconds an entry lives without a refresh.
pub const TTL_SECS: i64 = 60;
/// Seconds between refreshes.
pub const REFRESH_SECS: u64 = 20;

/// Presence: where it is kept, and this node's connections (refreshed together by the node's
/// [`writer::PresenceWriter`] rather than by a task per connection, which matters at tens of
/// thousands of idle sockets).
#[derive(Clone)]
pub struct Presence {
    store: Store,
    visitors_here: Arc<Mutex<HashMap<Uuid, (TenantId, VisitorId)>>>,
    agents_here: Arc<Mutex<AgentsHere>>,
}

/// This node's agent connections: tenant, agent and the connection's status.
type AgentsHere = HashMap<Uuid, (TenantId, UserId, AgentStatus)>;

/// Where presence is kept.
#[derive(Clone)]
enum Store {
    /// In this process (single node).
    Local(Arc<Mutex<LocalStore>>),
    /// In Redis (any number of nodes).
    Redis(crate::redis_link::RedisLink),
}

/// The in-process stand-in for the Redis keys: sorted sets scored by expiry, and expiring values.
#[derive(Default)]
pub struct LocalStore {
    sets: HashMap<String, HashMap<String, i64>>,
    values: HashMap<String, (String, i64)>,
}

impl LocalStore {
    fn set(&mut self, key: &str) -> &mut HashMap<String, i64> {
        self.sets.entry(key.to_owned()).or_default()
    }

    /// Live members of a set.
    fn live(&self, key: &str) -> Vec<String> {
        let now = now();
        self.sets
            .get(key)
            .map(|set| set.iter().filter(|(_, expires)| **expires > now).map(|(m, _)| m.clone()).collect())
            .unwrap_or_default()
    }

    fn value(&self, key: &str) -> Option<String> {
        self.values.get(key).filter(|(_, expires)| *expires > now()).map(|(v, _)| v.clone())
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Presence {
    /// Presence kept in this process (single node).
    pub fn local() -> Self {
        Self::with_store(Store::Local(Arc::default()))
    }

    /// Presence kept in Redis (any number of nodes).
    pub fn redis(conn: crate::redis_link::RedisLink) -> Self {
        Self::with_store(Store::Redis(conn))
    }

    fn with_store(store: Store) -> Self {
        Self { store, visitors_here: Arc::default(), agents_here: Arc::default() }
    }

    /// Keeps every connection of this node alive in the store (called every [`REFRESH_SECS`]).
    pub(super) async fn refresh_here(&self) {
        let visitors: Vec<(TenantId, VisitorId, Uuid)> =
            lock(&self.visitors_here).iter().map(|(connection, (t, v))| (*t, *v, *connection)).collect();
        if let Err(error) = visitors::refresh(&self.store, &visitors).await {
            tracing::warn!(%error, "could not refresh visitor presence");
        }
        let agents: Vec<(TenantId, UserId, Uuid, AgentStatus)> =
            lock(&self.agents_here).iter().map(|(connection, (t, u, s))| (*t, *u, *connection, *s)).collect();
        for (tenant, user, connection, status) in agents {
            if let Err(error) = self.set(tenant, user, connection, Some(status), status).await {
                tracing::warn!(%error, "could not refresh agent presence");
                return;
            }
        }
    }

    /// The tenants with an agent connected to this node and taking conversations (the
    /// assignment engine's sweep).
    pub fn tenants_with_agents_here(&self) -> std::collections::HashSet<TenantId> {
        lock(&self.agents_here)
            .values()
            .filter(|(_, _, status)| *status == AgentStatus::Online)
            .map(|(tenant, _, _)| *tenant)
            .collect()
    }

    /// Tracks a visitor connection of this node (refreshed until [`Presence::untrack_visitor`]).
    pub(super) fn track_visitor(&self, connection: Uuid, tenant: TenantId, visitor: VisitorId) {
        lock(&self.visitors_here).insert(connection, (tenant, visitor));
    }

    /// Stops refreshing a visitor connection.
    pub(super) fn untrack_visitor(&self, connection: Uuid) {
        lock(&self.visitors_here).remove(&connection);
    }

    /// Tracks an agent connection's status; returns its previous one.
    pub(super) fn track_agent(
        &self,
        connection: Uuid,
        tenant: TenantId,
        user: UserId,
        status: AgentStatus,
    ) -> Option<AgentStatus> {
        lock(&self.agents_here).insert(connection, (tenant, user, status)).map(|(_, _, previous)| previous)
    }

    /// Stops refreshing an agent connection; returns its last status.
    pub(super) fn untrack_agent(&self, connection: Uuid) -> Option<AgentStatus> {
        lock(&self.agents_here).remove(&connection).map(|(_, _, status)| status)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
