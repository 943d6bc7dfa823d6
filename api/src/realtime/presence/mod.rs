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

/// Seconds an entry lives without a refresh.
pub const TTL_SECS: i64 = 60;
/// Seconds between refreshes.
pub const REFRESH_SECS: u64 = 20;

/// Where presence is kept.
#[derive(Clone)]
pub enum Presence {
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
    /// Presence kept in this process.
    pub fn local() -> Self {
        Self::Local(Arc::default())
    }
}

fn lock(store: &Mutex<LocalStore>) -> MutexGuard<'_, LocalStore> {
    store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
