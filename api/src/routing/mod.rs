//! Automatic assignment (F19, F20): the engine that gives waiting conversations to online
//! agents with free capacity, reacting to every change that can free or add capacity.
//!
//! [`Router`] is a handle any part of the node wakes with a tenant id: a conversation opened,
//! closed, reopened or transferred (it listens to the after-commit [`Events`] as a
//! [`Subscriber`]), an agent coming online (presence), a capacity change. One task per node
//! runs an assignment pass per woken tenant ([`assign_waiting`]), and every [`SWEEP_EVERY`]
//! for the tenants whose agents are connected to this node, so nothing stays waiting while
//! someone is free even if a wake-up was lost with a node.
//!
//! Architecture invariant: a pass runs in one tenant transaction under the tenant's routing
//! advisory lock (passes of every node serialise), locks the waiting conversations it reads
//! (skipping those a claim holds) and the agents it may choose (claims and transfers lock the
//! same agent rows), so nobody gets more than their capacity and no conversation is assigned
//! twice. Assignments are announced after the commit, like every change. An opening in a tenant
//! whose rules run on openings is left waiting by every pass on its node until its rules ran (or
//! [`RULES_GRACE`] passed), whatever woke the pass.

pub mod estimate;
pub mod plan;
pub mod queue;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kefu_protocol::ws::AgentStatus;
use kefu_protocol::{ConversationId, TenantId, UserId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::db::{self, Databases, TenantTx};
use crate::ops::events::{Change, ConversationChange, Events, Subscriber};
use crate::realtime::presence::Presence;

/// How often the tenants with agents on this node get a pass whether or not anything woke them.
pub const SWEEP_EVERY: Duration = Duration::from_secs(15);
/// Waiting conversations one pass considers; a pass that assigned a full page runs again.
const PAGE: i64 = 200;
/// How long an opening waits for its tenant's opening rules before passes stop leaving it for
/// them (a rules job lost with an overloaded queue must not keep it waiting for ever).
pub const RULES_GRACE: Duration = Duration::from_secs(30);

/// Openings of held tenants whose rules have not run yet on this node, with when they opened: a
/// pass leaves them waiting, so another wake-up (a colleague's conversation, the periodic sweep)
/// cannot assign one before its rules chose a team or an agent.
#[derive(Default)]
struct AwaitingRules(std::sync::Mutex<HashMap<ConversationId, (TenantId, Instant)>>);

impl AwaitingRules {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConversationId, (TenantId, Instant)>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The tenant's openings still waiting for their rules (forgetting those past the grace).
    fn of(&self, tenant: TenantId) -> HashSet<ConversationId> {
        let mut awaiting = self.lock();
        awaiting.retain(|_, (_, since)| since.elapsed() < RULES_GRACE);
        awaiting.iter().filter(|(_, (t, _))| *t == tenant).map(|(id, _)| *id).collect()
    }
}

/// Wakes the assignment engine. Cheap to clone; waking never blocks.
#[derive(Clone)]
pub struct Router {
    wake: mpsc::UnboundedSender<TenantId>,
    /// Tenants whose opening messages the routing rules handle first (they wake the engine).
    held: Arc<std::sync::Mutex<HashSet<TenantId>>>,
    awaiting: Arc<AwaitingRules>,
}

/// The engine's task before it is started (it needs the [`Events`] that the router itself
/// subscribes to).
pub struct Engine {
    woken: mpsc::UnboundedReceiver<TenantId>,
    awaiting: Arc<AwaitingRules>,
}

impl Router {
    /// A router and its not yet started engine.
    pub fn new() -> (Self, Engine) {
        let (wake, woken) = mpsc::unbounded_channel();
        let awaiting = Arc::new(AwaitingRules::default());
        (Self { wake, held: Arc::default(), awaiting: awaiting.clone() }, Engine { woken, awaiting })
    }

    /// The rules ran on an opening (or gave up): passes may assign it now.
    pub fn ruled(&self, conversation: ConversationId) {
        self.awaiting.lock().remove(&conversation);
    }

    /// Whether the routing rules run on `tenant`'s opening messages before the engine sees the
    /// conversations (`crate::rules`): then an opening message does not wake the engine, the
    /// rules' task does once they ran (and the periodic sweep covers a lost wake-up).
    pub fn hold_openings(&self, tenant: TenantId, hold: bool) {
        let mut held = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if hold {
            held.insert(tenant);
        } else {
            held.remove(&tenant);
        }
    }

    fn holds(&self, tenant: TenantId) -> bool {
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(&tenant)
    }

    /// Asks for an assignment pass for `tenant` soon.
    pub fn wake(&self, tenant: TenantId) {
        let _ = self.wake.send(tenant);
    }
}

impl Subscriber for Router {
    fn committed(&self, change: &Change) {
        match change {
            Change::MessageStored { tenant, opened: true, .. } if !self.holds(*tenant) => self.wake(*tenant),
            Change::MessageStored { tenant, opened: true, message, .. } => {
                self.awaiting.lock().insert(message.conversation_id, (*tenant, Instant::now()));
            }
            Change::ConversationChanged {
                tenant,
                cause:
                    ConversationChange::Closed
                    | ConversationChange::Reopened
                    | ConversationChange::Transferred
                    | ConversationChange::TeamRemoved
                    | ConversationChange::HandedOff,
                ..
            } => self.wake(*tenant),
            _ => {}
        }
    }
}

impl Engine {
    /// Runs passes until `shutdown`.
    pub fn start(self, databases: Databases, presence: Presence, events: Events, shutdown: CancellationToken) {
        let context = Context { databases, presence, events, awaiting: self.awaiting };
        tokio::spawn(run(self.woken, Arc::new(context), shutdown));
    }
}

struct Context {
    databases: Databases,
    presence: Presence,
    events: Events,
    awaiting: Arc<AwaitingRules>,
}

async fn run(mut woken: mpsc::UnboundedReceiver<TenantId>, context: Arc<Context>, shutdown: CancellationToken) {
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut due: HashSet<TenantId> = HashSet::new();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            tenant = woken.recv() => match tenant {
                Some(tenant) => { due.insert(tenant); }
                None => return,
            },
            _ = sweep.tick() => due.extend(context.presence.tenants_with_agents_here()),
        }
        // Everything woken meanwhile is served by the same passes.
        while let Ok(tenant) = woken.try_recv() {
            due.insert(tenant);
        }
        for tenant in due {
            // A pass that assigned a full page may have left more behind it.
            loop {
                match assign_waiting(&context, tenant).await {
                    Ok(assigned) if assigned >= PAGE as usize => continue,
                    Ok(_) => {}
                    Err(error) => {
                        metrics::counter!("kefu_routing_pass_failed_total").increment(1);
                        tracing::warn!(%error, %tenant, "assignment pass failed; retried on the next wake-up or sweep");
                    }
                }
                break;
            }
        }
    }
}

/// Why a pass failed.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    /// Postgres.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Presence (Redis).
    #[error("presence unavailable: {0}")]
    Presence(#[from] redis::RedisError),
}

/// One assignment pass for `tenant`: the waiting conversations, in queue order, to its online
/// agents with free capacity. Returns how many were assigned.
async fn assign_waiting(context: &Context, tenant: TenantId) -> Result<usize, PassError> {
    let online: Vec<UserId> = context
        .presence
        .agents(tenant)
        .await?
        .into_iter()
        .filter(|(_, status)| *status == AgentStatus::Online)
        .map(|(user, _)| user)
        .collect();
    if online.is_empty() {
        return Ok(0);
    }
    let mut control = context.databases.control().acquire().await?;
    let Some(access) = db::tenants::find_access(&mut control, tenant).await? else { return Ok(0) };
    drop(control);
    if access.status != db::tenants::TenantStatus::Active {
        return Ok(0);
    }
    let mut tx = TenantTx::begin(&context.databases, &access.schema).await?;
    db::routing::lock_passes(&mut tx).await?;
    let settings = db::routing::settings(&mut tx).await?;
    if !settings.auto_assign {
        return Ok(0);
    }
    let mut waiting = db::routing::lock_waiting(&mut tx, PAGE).await?;
    let awaiting = context.awaiting.of(tenant);
    waiting.retain(|w| !awaiting.contains(&w.id));
    if waiting.is_empty() {
        return Ok(0);
    }
    let mut candidates = db::routing::lock_candidates(&mut tx, &online).await?;
    let chosen = plan::plan(&waiting, &mut candidates, &settings, chrono::Utc::now());
    let mut assigned = Vec::with_capacity(chosen.len());
    for (conversation, agent) in chosen {
        if let Some(row) = db::routing::assign(&mut tx, conversation, agent).await? {
            assigned.push(row);
        }
    }
    tx.commit().await?;
    metrics::counter!("kefu_routing_assigned_total").increment(assigned.len() as u64);
    let count = assigned.len();
    for row in assigned {
        context.events.publish(Change::ConversationChanged {
            tenant,
            conversation: row,
            cause: ConversationChange::Assigned,
        });
    }
    Ok(count)
}
