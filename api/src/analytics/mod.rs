//! Analytics (F25, docs/analytics.md): facts per conversation and visit, rollups per hour and
//! day, kept current incrementally ([`refresh`]) and read as a dashboard ([`report`]).
//! [`AnalyticsHandle`] hears of committed changes and this node refreshes those tenants every
//! `analytics.refresh_secs`; a dashboard refreshes its tenant first, so nothing depends on the
//! node that saw a change staying alive.

pub mod chart;
pub mod refresh;
pub mod report;
pub mod reports;

use std::collections::HashSet;
use std::time::Duration;

use kefu_protocol::TenantId;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::db::{self, Databases};
use crate::ops::events::{Change, Subscriber};

/// Chunks a background refresh does per tenant and round (the rest waits for the next round).
const BACKGROUND_CHUNKS: u32 = 50;

/// The analytics' subscription to committed changes: marks the tenant for the next round.
#[derive(Clone)]
pub struct AnalyticsHandle {
    wake: mpsc::UnboundedSender<TenantId>,
}

impl AnalyticsHandle {
    /// Marks `tenant` for the next round (a request left part of its refresh undone).
    pub fn poke(&self, tenant: TenantId) {
        let _ = self.wake.send(tenant);
    }
}

impl Subscriber for AnalyticsHandle {
    fn committed(&self, change: &Change) {
        let tenant = match change {
            Change::MessageStored { tenant, .. }
            | Change::ConversationChanged { tenant, .. }
            | Change::PageViewed { tenant, .. } => *tenant,
            _ => return,
        };
        let _ = self.wake.send(tenant);
    }
}

/// Creates the subscription and the queue [`start`] consumes.
pub fn handle() -> (AnalyticsHandle, mpsc::UnboundedReceiver<TenantId>) {
    let (wake, receiver) = mpsc::unbounded_channel();
    (AnalyticsHandle { wake }, receiver)
}

/// Every `every`, refreshes the tenants that changed since the last round, one at a time.
pub fn start(
    databases: Databases,
    mut changed: mpsc::UnboundedReceiver<TenantId>,
    every: Duration,
    shutdown: CancellationToken,
) {
    tokio::spawn(async move {
        let mut due: HashSet<TenantId> = HashSet::new();
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                woken = changed.recv() => match woken {
                    Some(tenant) => { due.insert(tenant); }
                    None => return,
                },
                _ = tick.tick() => {
                    for tenant in std::mem::take(&mut due) {
                        if shutdown.is_cancelled() {
                            return;
                        }
                        match refresh_tenant(&databases, tenant).await {
                            Ok(true) => {}
                            // A backlog left: again next round.
                            Ok(false) => { due.insert(tenant); }
                            Err(error) => tracing::warn!(%error, %tenant, "analytics refresh failed; the next change retries"),
                        }
                    }
                }
            }
        }
    });
}

async fn refresh_tenant(databases: &Databases, tenant: TenantId) -> sqlx::Result<bool> {
    let Some(schema) = db::tenants::active_schema(databases, tenant).await? else {
        return Ok(true);
    };
    Ok(refresh::refresh(databases, &schema, Some(BACKGROUND_CHUNKS)).await?.complete)
}
