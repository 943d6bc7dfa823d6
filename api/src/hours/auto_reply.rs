//! Automatic replies (F21): the greeting answers a conversation's first message while the team is
//! there; the away message answers a visitor who writes while the team is offline (outside
//! business hours, or nobody connected), once until an agent writes in the conversation, and a
//! conversation the FAQ bot hands to people while nobody is there.
//!
//! [`AutoReplyHandle`] listens to the after-commit events and hands each candidate to a task of
//! its own, which reads presence (Redis) and the hours and writes the reply under the
//! conversation's row lock. Conversations the bot is answering get none (the bot answers). A reply
//! is best effort: a node dying between the visitor's commit and the reply skips it.

use kefu_protocol::TenantId;
use kefu_protocol::ws::Availability;
use kefu_protocol::{ConversationId, hours::ServiceHours};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::db::auto_replies::AutoReplyKind;
use crate::db::messages::MessageSender;
use crate::db::{self, Databases, TenantTx};
use crate::ops::events::{Change, ConversationChange, Events, Subscriber};
use crate::realtime::presence::Presence;

/// Replies written at once per node.
const CONCURRENCY: usize = 16;
/// How long a node trusts what it read about a tenant's replies being on or off (a save on
/// another node applies within it; on the saving node at once).
pub const CACHE_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// Which tenants have an automatic reply turned on, as recently read: a tenant known to have both
/// off costs a visitor message nothing more than a map lookup.
#[derive(Default)]
pub struct RepliesOn {
    tenants: std::sync::Mutex<std::collections::HashMap<TenantId, (std::time::Instant, bool)>>,
}

impl RepliesOn {
    fn known_off(&self, tenant: TenantId) -> bool {
        let tenants = self.tenants.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tenants.get(&tenant).is_some_and(|(at, on)| !on && at.elapsed() < CACHE_FOR)
    }

    fn store(&self, tenant: TenantId, on: bool) {
        let mut tenants = self.tenants.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if tenants.len() >= 10_000 && !tenants.contains_key(&tenant) {
            tenants.clear();
        }
        tenants.insert(tenant, (std::time::Instant::now(), on));
    }

    /// Forgets what was read about `tenant` (its service hours were just saved on this node).
    pub fn forget(&self, tenant: TenantId) {
        self.tenants.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&tenant);
    }
}

/// A conversation that may need a reply.
#[derive(Debug)]
struct Job {
    tenant: TenantId,
    conversation: ConversationId,
    /// The visitor's message opened the conversation (a greeting is due if the team is there).
    opened: bool,
}

/// The subscription: hands visitor messages (and bot hand-offs) to the replies' task.
pub struct AutoReplyHandle {
    jobs: mpsc::UnboundedSender<Job>,
    on: std::sync::Arc<RepliesOn>,
}

/// The jobs [`AutoReplyHandle`] queues, until [`start`] takes them.
pub struct AutoReplyJobs {
    receiver: mpsc::UnboundedReceiver<Job>,
    on: std::sync::Arc<RepliesOn>,
}

impl AutoReplyHandle {
    /// The subscription and its queue, sharing what is known of tenants' replies.
    pub fn new() -> (Self, AutoReplyJobs, std::sync::Arc<RepliesOn>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let on = std::sync::Arc::new(RepliesOn::default());
        (Self { jobs: sender, on: on.clone() }, AutoReplyJobs { receiver, on: on.clone() }, on)
    }
}

impl Subscriber for AutoReplyHandle {
    fn committed(&self, change: &Change) {
        let job = match change {
            Change::MessageStored { tenant, message, conversation: Some(conversation), opened } => {
                if !matches!(message.sender, MessageSender::Visitor(_)) || message.private || conversation.bot_active {
                    return;
                }
                Job { tenant: *tenant, conversation: conversation.id, opened: *opened }
            }
            Change::ConversationChanged { tenant, conversation, cause: ConversationChange::HandedOff } => {
                Job { tenant: *tenant, conversation: conversation.id, opened: false }
            }
            _ => return,
        };
        if !self.on.known_off(job.tenant) {
            let _ = self.jobs.send(job);
        }
    }
}

/// What the replies' task needs.
struct Shared {
    databases: Databases,
    presence: Presence,
    events: Events,
    on: std::sync::Arc<RepliesOn>,
}

/// Starts the replies' task on the jobs [`AutoReplyHandle`] queues; it runs until `shutdown`.
pub fn start(
    jobs: AutoReplyJobs,
    databases: Databases,
    presence: Presence,
    events: Events,
    shutdown: CancellationToken,
) {
    let shared = std::sync::Arc::new(Shared { databases, presence, events, on: jobs.on });
    crate::ops::jobs::run_concurrently(jobs.receiver, CONCURRENCY, shutdown, move |job: Job| {
        let shared = shared.clone();
        async move {
            if let Err(error) = reply(&shared, &job).await {
                metrics::counter!("kefu_auto_replies_failed_total").increment(1);
                tracing::warn!(%error, conversation = %job.conversation, "automatic reply not sent");
            }
        }
    });
}

/// Sends the reply `job` calls for, if any.
async fn reply(shared: &Shared, job: &Job) -> sqlx::Result<()> {
    let Some(schema) = db::tenants::active_schema(&shared.databases, job.tenant).await? else {
        return Ok(());
    };
    let mut tx = TenantTx::begin(&shared.databases, &schema).await?;
    let doc = db::service_hours::current(&mut tx).await?;
    let on = doc.auto_replies.greeting.enabled || doc.auto_replies.away.enabled;
    shared.on.store(job.tenant, on);
    if !on {
        return Ok(());
    }
    // Presence is read before the transaction holds the row lock (Redis must not hold it).
    tx.commit().await?;
    let (agents, _) = crate::routing::queue::team(&shared.presence, job.tenant).await;
    let mut tx = TenantTx::begin(&shared.databases, &schema).await?;
    let (availability, _) = super::availability(&mut tx, &doc, agents).await?;
    let Some(kind) = wanted(&doc, availability, job.opened) else { return Ok(()) };
    let Some(conversation) = db::conversations::lock(&mut tx, job.conversation).await? else { return Ok(()) };
    if conversation.status != kefu_protocol::ws::ConversationStatus::Open
        || conversation.bot_active
        || !db::auto_replies::due(&mut tx, job.conversation, kind).await?
    {
        return Ok(());
    }
    let reply = match kind {
        AutoReplyKind::Greeting => &doc.auto_replies.greeting,
        AutoReplyKind::Away => &doc.auto_replies.away,
        AutoReplyKind::Closing => return Ok(()),
    };
    let widget = db::widget::get(&mut tx).await?.settings.0;
    let language = db::auto_replies::visitor_language(&mut tx, job.conversation).await?;
    let Some((language, text)) = reply.text_for(language.as_deref(), &widget.default_language) else {
        return Ok(());
    };
    let name = widget
        .texts
        .get(language)
        .or_else(|| widget.texts.get(&widget.default_language))
        .map_or("", |t| t.title.as_str());
    let message = db::auto_replies::insert(&mut tx, job.conversation, kind, name, text).await?;
    let conversation = db::conversations::find(&mut tx, job.conversation).await?;
    tx.commit().await?;
    metrics::counter!("kefu_auto_replies_total", "kind" => kind.as_str()).increment(1);
    shared.events.publish(Change::MessageStored { tenant: job.tenant, message, conversation, opened: false });
    Ok(())
}

/// Which reply the team's availability calls for.
fn wanted(doc: &ServiceHours, availability: Availability, opened: bool) -> Option<AutoReplyKind> {
    match availability {
        Availability::Offline => doc.auto_replies.away.enabled.then_some(AutoReplyKind::Away),
        Availability::Online | Availability::Busy => {
            (opened && doc.auto_replies.greeting.enabled).then_some(AutoReplyKind::Greeting)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_greeting_is_for_a_first_message_and_the_away_message_for_an_absent_team() {
        let mut doc = ServiceHours::default();
        assert_eq!(wanted(&doc, Availability::Offline, true), None, "both off by default");
        doc.auto_replies.greeting.enabled = true;
        doc.auto_replies.away.enabled = true;
        assert_eq!(wanted(&doc, Availability::Online, true), Some(AutoReplyKind::Greeting));
        assert_eq!(wanted(&doc, Availability::Busy, true), Some(AutoReplyKind::Greeting));
        assert_eq!(wanted(&doc, Availability::Online, false), None, "only the first message is greeted");
        assert_eq!(wanted(&doc, Availability::Offline, false), Some(AutoReplyKind::Away));
        assert_eq!(wanted(&doc, Availability::Offline, true), Some(AutoReplyKind::Away));
    }
}
