//! Presence across all nodes of a region: which agents are connected and how available
//! ([`agents`]), which visitors are online and on which page ([`visitors`]).
//!
//! Every entry is scored by its expiry time and refreshed by its connection every
//! [`REFRESH_SECS`], so the connections of a node that died vanish within [`TTL_SECS`] without
//! anyone cleaning up. Keys live under `kefu:v1:<tenant>:presence:…` in Redis; without Redis the
//! same structures live in this process (single node).

pub mod agents;
pub mod visitors;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kefu_protocol::{TenantId, VisitorId};
use uuid::Uuid;

/// Seconds an entry lives without a refresh.
pub const TTL_SECS: i64 = 60;
/// Seconds between refreshes.
pub const REFRESH_SECS: u64 = 20;

/// Presence: where it is kept, and this node's visitor connections (refreshed together by one
/// task rather than one task per connection, which matters at tens of thousands of idle sockets).
#[derive(Clone)]
pub struct Presence {
    store: Store,
    visitors_here: Arc<Mutex<HashMap<Uuid, (TenantId, VisitorId)>>>,
}

/// Where presence is kept.
#[derive(Clone)]
enum Store {
    /// In this process (single node).
    Local(Arc<Mutex<LocalStore>>),
    /// In Redis (any number of nodes).
    Redis(redis::aio::ConnectionManager),
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
    /// Presence kept in this process (single node). Call inside the runtime.
    pub fn local() -> Self {
        Self::start(Store::Local(Arc::default()))
    }

    /// Presence kept in Redis (any number of nodes). Call inside the runtime.
    pub fn redis(conn: redis::aio::ConnectionManager) -> Self {
        Self::start(Store::Redis(conn))
    }

    fn start(store: Store) -> Self {
        let presence = Self { store, visitors_here: Arc::default() };
        let (store, registry) = (presence.store.clone(), Arc::downgrade(&presence.visitors_here));
        tokio::spawn(async move {
            let every = Duration::from_secs(REFRESH_SECS);
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                // Ends when the last handle on this presence is dropped.
                let Some(registry) = registry.upgrade() else { return };
                let here: Vec<(TenantId, VisitorId, Uuid)> =
                    lock(&registry).iter().map(|(connection, (t, v))| (*t, *v, *connection)).collect();
                drop(registry);
                if let Err(error) = visitors::refresh(&store, &here).await {
                    tracing::warn!(%error, "could not refresh visitor presence");
                }
            }
        });
        presence
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
