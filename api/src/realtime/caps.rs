//! Caps on this node's concurrent sockets (docs/api.md "Limits"): in all, of one tenant's
//! visitors, and of one visitor. A socket takes a [`Slot`] before its upgrade and gives it back
//! when it ends (the slot's drop), so counts never leak; entries at zero are removed, so memory
//! follows the sockets open now.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kefu_protocol::{TenantId, VisitorId};

/// The caps.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Sockets of any kind on this node.
    pub per_node: usize,
    /// Visitor sockets of one tenant on this node.
    pub per_tenant: usize,
    /// Sockets of one visitor on this node.
    pub per_visitor: usize,
}

/// Which cap refused a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Full {
    /// The node is full: another node may take it.
    #[error("this node has no room for another connection")]
    Node,
    /// The tenant's visitors fill their share of this node.
    #[error("too many visitor connections for this workspace")]
    Tenant,
    /// The visitor has enough connections open.
    #[error("too many connections for this visitor")]
    Visitor,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    tenants: HashMap<TenantId, usize>,
    visitors: HashMap<(TenantId, VisitorId), usize>,
}

/// The node's counts.
#[derive(Debug)]
pub struct SocketCaps {
    limits: Limits,
    counts: Mutex<Counts>,
}

/// One socket's place in the counts, given back on drop.
#[derive(Debug)]
pub struct Slot {
    caps: Arc<SocketCaps>,
    visitor: Option<(TenantId, VisitorId)>,
}

impl SocketCaps {
    /// Counts under `limits`.
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self { limits, counts: Mutex::new(Counts::default()) })
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        // A panic while holding the lock leaves plain integers: still usable.
        self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A slot for a member's socket (only the node's cap applies).
    pub fn agent(self: &Arc<Self>) -> Result<Slot, Full> {
        let mut counts = self.counts();
        if counts.total >= self.limits.per_node {
            return Err(Full::Node);
        }
        counts.total += 1;
        Ok(Slot { caps: self.clone(), visitor: None })
    }

    /// A slot for a visitor's socket.
    pub fn visitor(self: &Arc<Self>, tenant: TenantId, visitor: VisitorId) -> Result<Slot, Full> {
        let mut counts = self.counts();
        if counts.total >= self.limits.per_node {
            return Err(Full::Node);
        }
        if counts.visitors.get(&(tenant, visitor)).copied().unwrap_or(0) >= self.limits.per_visitor {
            return Err(Full::Visitor);
        }
        if counts.tenants.get(&tenant).copied().unwrap_or(0) >= self.limits.per_tenant {
            return Err(Full::Tenant);
        }
        counts.total += 1;
        *counts.tenants.entry(tenant).or_default() += 1;
        *counts.visitors.entry((tenant, visitor)).or_default() += 1;
        Ok(Slot { caps: self.clone(), visitor: Some((tenant, visitor)) })
    }

    /// Sockets open on this node.
    pub fn open(&self) -> usize {
        self.counts().total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.caps.counts();
        counts.total = counts.total.saturating_sub(1);
        if let Some((tenant, visitor)) = self.visitor {
            if let Some(n) = counts.tenants.get_mut(&tenant) {
                *n -= 1;
                if *n == 0 {
                    counts.tenants.remove(&tenant);
                }
            }
            if let Some(n) = counts.visitors.get_mut(&(tenant, visitor)) {
                *n -= 1;
                if *n == 0 {
                    counts.visitors.remove(&(tenant, visitor));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cap_refuses_its_own_and_slots_come_back_on_drop() {
        let caps = SocketCaps::new(Limits { per_node: 5, per_tenant: 3, per_visitor: 2 });
        let (a, b) = (TenantId::from_uuid(uuid::Uuid::from_u128(1)), TenantId::from_uuid(uuid::Uuid::from_u128(2)));
        let v = |n: u128| VisitorId::from_uuid(uuid::Uuid::from_u128(n));
        let first = caps.visitor(a, v(1)).expect("room");
        let second = caps.visitor(a, v(1)).expect("room");
        assert_eq!(caps.visitor(a, v(1)).err(), Some(Full::Visitor));
        let third = caps.visitor(a, v(2)).expect("room");
        assert_eq!(caps.visitor(a, v(3)).err(), Some(Full::Tenant));
        let other = caps.visitor(b, v(1)).expect("another tenant, the same visitor id: its own");
        let agent = caps.agent().expect("room");
        assert_eq!(caps.agent().err(), Some(Full::Node));
        drop((first, second, third, other, agent));
        assert_eq!(caps.open(), 0);
        assert!(caps.counts().tenants.is_empty() && caps.counts().visitors.is_empty(), "nothing left behind");
        let _again = caps.visitor(a, v(1)).expect("room again");
    }
}
