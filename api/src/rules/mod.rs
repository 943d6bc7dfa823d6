//! Routing rules at run time (F19): each visitor message (the opening one included) is checked
//! against the tenant's enabled rules; a rule whose conditions all hold fires once per
//! conversation: it tags the conversation, puts it in a team's queue, raises its priority, or
//! gives it to an agent within their capacity, and leaves a private note saying what it did and
//! what it could not (`NoteEvent::RuleFired`).
//!
//! [`RulesHandle`] listens to the after-commit events and hands visitor messages to a task of its
//! own (nothing on the message path waits for rules). For tenants with rules on the opening
//! message, the assignment engine is not woken by the opening message itself: the rules' task
//! wakes it once they ran, so a team or an agent a rule chooses is what the engine sees
//! ([`crate::routing::Router::hold_openings`]). A tenant's rules are cached per node for
//! [`CACHE_FOR`] (a save applies on other nodes within it; at once on the node that saved).

pub mod matcher;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kefu_protocol::rules::{Action, Rule};
use kefu_protocol::ws::{ConversationStatus, NoteEvent};
use kefu_protocol::{ConversationId, TenantId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::db::conversations::Transfer;
use crate::db::messages::MessageSender;
use crate::db::{self, Databases, TenantTx};
use crate::ops::events::{Change, ConversationChange, Events, Subscriber};
use crate::routing::Router;
use matcher::{CompiledRules, Facts};

/// How long a node uses a tenant's rules before reading them again.
pub const CACHE_FOR: Duration = Duration::from_secs(5);
/// Messages checked at once per node.
const CONCURRENCY: usize = 16;
/// Tenants whose rules a node keeps.
const CACHED_TENANTS: usize = 5_000;

#[derive(Debug)]
struct Job {
    tenant: TenantId,
    conversation: ConversationId,
    opened: bool,
    body: String,
}

/// The subscription: hands visitor messages to the rules' task.
pub struct RulesHandle {
    jobs: mpsc::UnboundedSender<Job>,
    cache: Arc<RulesCache>,
}

/// The jobs [`RulesHandle`] queues, until [`Rules::start`] takes them.
pub struct RulesJobs {
    receiver: mpsc::UnboundedReceiver<Job>,
    cache: Arc<RulesCache>,
}

/// Each tenant's compiled rules, as recently read.
#[derive(Default)]
pub struct RulesCache {
    tenants: Mutex<HashMap<TenantId, (Instant, Arc<CompiledRules>)>>,
}

impl RulesCache {
    fn fresh(&self, tenant: TenantId) -> Option<Arc<CompiledRules>> {
        let tenants = self.tenants.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tenants.get(&tenant).filter(|(at, _)| at.elapsed() < CACHE_FOR).map(|(_, rules)| rules.clone())
    }

    fn store(&self, tenant: TenantId, rules: Arc<CompiledRules>) {
        let mut tenants = self.tenants.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if tenants.len() >= CACHED_TENANTS && !tenants.contains_key(&tenant) {
            tenants.clear();
        }
        tenants.insert(tenant, (Instant::now(), rules));
    }

    /// Forgets a tenant's rules (they were just saved on this node).
    pub fn forget(&self, tenant: TenantId) {
        self.tenants.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&tenant);
    }
}

impl RulesHandle {
    /// The subscription and its queue, sharing the cache.
    pub fn new() -> (Self, RulesJobs) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let cache = Arc::new(RulesCache::default());
        (Self { jobs: sender, cache: cache.clone() }, RulesJobs { receiver, cache })
    }
}

impl Subscriber for RulesHandle {
    fn committed(&self, change: &Change) {
        let Change::MessageStored { tenant, message, conversation: Some(conversation), opened } = change else {
            return;
        };
        if !matches!(message.sender, MessageSender::Visitor(_))
            || message.private
            || conversation.status != ConversationStatus::Open
        {
            return;
        }
        // A tenant known to have no rules costs nothing more.
        if !*opened && self.cache.fresh(*tenant).is_some_and(|rules| rules.is_empty()) {
            return;
        }
        let _ = self.jobs.send(Job {
            tenant: *tenant,
            conversation: conversation.id,
            opened: *opened,
            body: message.body.clone(),
        });
    }
}

/// The rules' task. Cheap to clone.
#[derive(Clone)]
pub struct Rules {
    cache: Arc<RulesCache>,
}

struct Shared {
    databases: Databases,
    events: Events,
    router: Router,
    cache: Arc<RulesCache>,
}

impl Rules {
    /// Starts the task on the jobs [`RulesHandle`] queues; it runs until `shutdown`.
    pub fn start(
        jobs: RulesJobs,
        databases: Databases,
        events: Events,
        router: Router,
        shutdown: CancellationToken,
    ) -> Self {
        let cache = jobs.cache.clone();
        let shared = Arc::new(Shared { databases, events, router, cache: cache.clone() });
        crate::ops::jobs::run_concurrently(jobs.receiver, CONCURRENCY, shutdown, move |job: Job| {
            let shared = shared.clone();
            async move {
                if let Err(error) = run(&shared, &job).await {
                    metrics::counter!("kefu_rules_failed_total").increment(1);
                    tracing::warn!(%error, conversation = %job.conversation, "rules did not run");
                }
                if job.opened {
                    // The engine was held for this opening (or woken already): wake it now.
                    shared.router.ruled(job.conversation);
                    shared.router.wake(job.tenant);
                }
            }
        });
        Self { cache }
    }

    /// Forgets a tenant's cached rules (after a save on this node).
    pub fn forget(&self, tenant: TenantId) {
        self.cache.forget(tenant);
    }
}

/// What one conversation's rules changed, announced after the commit.
#[derive(Default)]
struct Changed {
    notes: Vec<db::messages::MessageRow>,
    cause: Option<ConversationChange>,
    reordered: bool,
}

async fn run(shared: &Shared, job: &Job) -> sqlx::Result<()> {
    let cached = shared.cache.fresh(job.tenant);
    if cached.as_ref().is_some_and(|rules| rules.is_empty()) {
        return Ok(());
    }
    let Some(schema) = db::tenants::active_schema(&shared.databases, job.tenant).await? else {
        return Ok(());
    };
    let mut tx = TenantTx::begin(&shared.databases, &schema).await?;
    let rules = match cached {
        Some(rules) => rules,
        None => {
            let rules = Arc::new(CompiledRules::new(db::rules::get(&mut tx).await?.rules.0));
            shared.router.hold_openings(job.tenant, rules.has_opening_rules());
            shared.cache.store(job.tenant, rules.clone());
            rules
        }
    };
    if rules.is_empty() {
        return Ok(());
    }
    let Some(conversation) = db::conversations::lock(&mut tx, job.conversation).await? else { return Ok(()) };
    if conversation.status != ConversationStatus::Open {
        return Ok(());
    }
    let facts = db::rules::visitor_facts(&mut tx, job.conversation).await?;
    let fired = db::rules::fired(&mut tx, job.conversation).await?;
    let attributes = facts.attributes.as_ref().map(|a| &a.0);
    let matching = rules.matching(
        job.opened,
        &Facts {
            message: &job.body,
            page_url: facts.page_url.as_deref(),
            language: facts.language.as_deref(),
            attributes,
        },
        &fired,
    );
    if matching.is_empty() {
        return Ok(());
    }
    let mut changed = Changed::default();
    let mut tags = conversation.tags.clone();
    for rule in &matching {
        let (applied, skipped) = apply(&mut tx, job.conversation, rule, &mut tags, &mut changed).await?;
        let note = describe(rule, &applied, &skipped);
        let event = NoteEvent::RuleFired { rule_id: rule.id.clone(), name: rule.name.clone(), applied, skipped };
        changed.notes.push(db::messages::insert_system_note(&mut tx, job.conversation, &note, &event).await?);
    }
    if tags != conversation.tags {
        db::conversations::set_tags(&mut tx, job.conversation, &tags).await?;
        changed.cause.get_or_insert(ConversationChange::Tagged);
    }
    let ids: Vec<String> = matching.iter().map(|r| r.id.clone()).collect();
    db::rules::mark_fired(&mut tx, job.conversation, &ids).await?;
    let after = db::conversations::find(&mut tx, job.conversation).await?;
    tx.commit().await?;
    metrics::counter!("kefu_rules_fired_total").increment(matching.len() as u64);
    let Some(after) = after else { return Ok(()) };
    for note in changed.notes {
        shared.events.publish(Change::MessageStored {
            tenant: job.tenant,
            message: note,
            conversation: Some(after.clone()),
            opened: false,
        });
    }
    if let Some(cause) = changed.cause {
        shared.events.publish(Change::ConversationChanged { tenant: job.tenant, conversation: after, cause });
    }
    if changed.reordered {
        shared.events.publish(Change::QueueReordered { tenant: job.tenant });
    }
    Ok(())
}

/// Applies one rule's actions: what it did and what it could not.
async fn apply(
    tx: &mut TenantTx,
    conversation: ConversationId,
    rule: &Rule,
    tags: &mut Vec<String>,
    changed: &mut Changed,
) -> sqlx::Result<(Vec<Action>, Vec<Action>)> {
    let (mut applied, mut skipped) = (Vec::new(), Vec::new());
    for action in &rule.actions {
        let done = match action {
            Action::Tag { tag } => match crate::domain::tags::parse_tag(tag) {
                Ok(tag) if tags.contains(&tag) => true,
                Ok(tag) if tags.len() < crate::domain::tags::MAX_TAGS => {
                    tags.push(tag);
                    true
                }
                _ => false,
            },
            Action::Team { team_id } => {
                let done = db::rules::set_team(tx, conversation, *team_id).await?;
                if done {
                    changed.cause = Some(ConversationChange::Transferred);
                }
                done
            }
            Action::Priority { priority } => {
                db::rules::raise_priority(tx, conversation, i16::from(*priority)).await?;
                changed.reordered = true;
                true
            }
            Action::Assign { user_id } => {
                let row = db::conversations::find(tx, conversation).await?;
                let free = match db::agents::capacity(tx, *user_id).await? {
                    Some((_, max)) => db::conversations::open_assigned(tx, *user_id).await? < i64::from(max),
                    None => false,
                };
                let bot_active = row.as_ref().is_some_and(|r| r.bot_active);
                let done = free && row.is_some_and(|r| r.assignee.is_none());
                if done {
                    if bot_active {
                        crate::bot::record_takeover(tx, conversation).await?;
                    }
                    db::conversations::transfer(tx, conversation, Transfer::Agent(*user_id)).await?;
                    changed.cause = Some(ConversationChange::Assigned);
                }
                done
            }
        };
        if done { applied.push(action.clone()) } else { skipped.push(action.clone()) }
    }
    Ok((applied, skipped))
}

/// The note's text (the console renders the event; this is for exports and other readers).
fn describe(rule: &Rule, applied: &[Action], skipped: &[Action]) -> String {
    let list = |actions: &[Action]| -> String {
        actions
            .iter()
            .map(|a| match a {
                Action::Tag { tag } => format!("tag {tag}"),
                Action::Team { team_id } => format!("team {team_id}"),
                Action::Priority { priority } => format!("priority {priority}"),
                Action::Assign { user_id } => format!("assign {user_id}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = format!("Rule “{}” fired: {}", rule.name, list(applied));
    if !skipped.is_empty() {
        text.push_str(&format!(" (not done: {})", list(skipped)));
    }
    text
}
