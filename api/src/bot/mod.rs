//! The FAQ bot (F20): a conversation opened while the tenant's bot is on starts with the bot
//! (`conversations.bot_active`, set by the tenant schema's insert trigger), outside the queue.
//! Each visitor message in it is matched against the knowledge base; at or above the tenant's
//! threshold the bot answers with the entry (asking "Did this help?" and offering related
//! questions), below it, on "Talk to a human", on "this did not help", or when an agent claims or
//! writes, the conversation goes to people (the queue and the assignment engine). Every answer,
//! "helpful" and hand-off is recorded with its reason and score (`bot_events`).
//!
//! [`Bot`] listens to the after-commit [`Events`] as a [`Subscriber`] and hands each visitor
//! message of a bot conversation to a task of its own (matching may call an embeddings endpoint,
//! which must never delay anyone's message). A node can die between a message's commit and the
//! bot's answer: the visitor's reconnection answers what is left unanswered
//! ([`Bot::answer_unanswered`]).
//!
//! Architecture invariant: the bot writes only while holding the conversation's row lock and only
//! while `bot_active` is set, so it never writes after a hand-off or a claim.

pub mod embeddings;
pub mod eval;
pub mod kb_file;
pub mod lexical;
pub mod matcher;
mod respond;
pub mod texts;

pub use respond::record_takeover;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kefu_protocol::{ConversationId, MessageId, TenantId, VisitorId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::auth::TenantCtx;
use crate::db::messages::MessageSender;
use crate::db::{self, Databases, TenantTx};
use crate::ops::OpError;
use crate::ops::events::{Change, Events, Subscriber};
use embeddings::Embeddings;
use matcher::{IndexedEntry, KnowledgeIndex, MatcherKind};

/// Questions answered at once per node.
const CONCURRENCY: usize = 32;
/// Tenants whose index a node keeps (an evicted one is rebuilt on its next question).
const CACHED_TENANTS: usize = 2_000;

/// What the bot is asked to do.
#[derive(Debug)]
enum Job {
    /// Answer (or hand off) the visitor's message.
    Question { tenant: TenantId, conversation: ConversationId, seq: i64, body: String },
    /// An agent wrote in a bot conversation: people have it now.
    AgentWrote { tenant: TenantId, conversation: ConversationId },
}

/// The bot's subscription to committed changes: hands visitor messages of bot conversations to
/// the bot's task. Registered with [`Events`] before the bot itself exists (the bot publishes
/// through them).
pub struct BotHandle {
    jobs: mpsc::UnboundedSender<Job>,
}

/// The jobs [`BotHandle`] queues, until [`Bot::start`] takes them.
pub struct BotJobs {
    sender: mpsc::UnboundedSender<Job>,
    receiver: mpsc::UnboundedReceiver<Job>,
}

impl BotHandle {
    /// The subscription and its queue.
    pub fn new() -> (Self, BotJobs) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Self { jobs: sender.clone() }, BotJobs { sender, receiver })
    }
}

/// The bot: answers committed visitor messages (through [`BotHandle`]) and the visitor's
/// buttons. Cheap to clone.
#[derive(Clone)]
pub struct Bot {
    jobs: mpsc::UnboundedSender<Job>,
    shared: Arc<Shared>,
}

struct Shared {
    databases: Databases,
    events: Events,
    embeddings: Option<Embeddings>,
    indexes: Mutex<HashMap<TenantId, Cached>>,
}

#[derive(Clone)]
struct Cached {
    version: i64,
    index: Arc<KnowledgeIndex>,
    /// When embeddings were last asked for this version (retried after [`EMBED_RETRY`]).
    embedding_since: Option<std::time::Instant>,
}

/// How long an index without the embeddings it wants waits before they are asked for again.
const EMBED_RETRY: std::time::Duration = std::time::Duration::from_secs(60);

impl Bot {
    /// Starts the bot's task on the jobs [`BotHandle`] queues; it runs until `shutdown`.
    pub fn start(
        jobs: BotJobs,
        databases: Databases,
        events: Events,
        embeddings: Option<Embeddings>,
        shutdown: CancellationToken,
    ) -> Self {
        let shared = Arc::new(Shared { databases, events, embeddings, indexes: Mutex::new(HashMap::new()) });
        run(jobs.receiver, shared.clone(), shutdown);
        Self { jobs: jobs.sender, shared }
    }

    /// The visitor answered "Did this help?" on the bot's `message`.
    pub async fn feedback(
        &self,
        tenant: &TenantCtx,
        visitor: VisitorId,
        conversation: Option<ConversationId>,
        message: MessageId,
        helpful: bool,
    ) -> Result<(), OpError> {
        let conversation = conversation.ok_or_else(OpError::conversation_not_found)?;
        respond::feedback(&self.shared, tenant, visitor, conversation, message, helpful).await
    }

    /// The visitor asked for a person.
    pub async fn human(
        &self,
        tenant: &TenantCtx,
        visitor: VisitorId,
        conversation: Option<ConversationId>,
    ) -> Result<(), OpError> {
        let conversation = conversation.ok_or_else(OpError::conversation_not_found)?;
        respond::human(&self.shared, tenant, visitor, conversation).await
    }

    /// Answers the visitor's last message if the bot has not (its node died before it could):
    /// called when the visitor (re)connects.
    pub fn answer_unanswered(&self, tenant: &TenantCtx, conversation: ConversationId) {
        let (shared, schema, id, jobs) = (self.shared.clone(), tenant.schema.clone(), tenant.id, self.jobs.clone());
        tokio::spawn(async move {
            let found = async {
                let mut tx = TenantTx::begin(&shared.databases, &schema).await?;
                let found = db::bot::unanswered(&mut tx, conversation).await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(found)
            };
            match found.await {
                Ok(Some((seq, body))) => {
                    let _ = jobs.send(Job::Question { tenant: id, conversation, seq, body });
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "could not look for an unanswered question"),
            }
        });
    }

    /// How entries score for `question` with the tenant's matcher, best first (the console's
    /// "test a question"): the index is the one the bot answers with.
    pub async fn test(
        &self,
        tx: &mut TenantTx,
        tenant: TenantId,
        question: &str,
    ) -> sqlx::Result<(Arc<KnowledgeIndex>, matcher::Ranking, db::bot::BotSettings)> {
        let settings = db::bot::settings(tx).await?;
        let index = self.shared.index(tx, tenant, &settings).await?;
        let ranking = index.rank(question, self.shared.embeddings_for(&settings)).await;
        Ok((index, ranking, settings))
    }

    /// Whether a semantic matcher is configured on this node.
    pub fn has_embeddings(&self) -> bool {
        self.shared.embeddings.is_some()
    }
}

impl Subscriber for BotHandle {
    fn committed(&self, change: &Change) {
        let Change::MessageStored { tenant, message, conversation: Some(conversation), .. } = change else { return };
        if !conversation.bot_active || message.private {
            return;
        }
        let job = match message.sender {
            MessageSender::Visitor(_) => Job::Question {
                tenant: *tenant,
                conversation: conversation.id,
                seq: message.seq,
                body: message.body.clone(),
            },
            MessageSender::Agent(_) => Job::AgentWrote { tenant: *tenant, conversation: conversation.id },
            MessageSender::System | MessageSender::Bot | MessageSender::Auto => return,
        };
        let _ = self.jobs.send(job);
    }
}

fn run(jobs: mpsc::UnboundedReceiver<Job>, shared: Arc<Shared>, shutdown: CancellationToken) {
    crate::ops::jobs::run_concurrently(jobs, CONCURRENCY, shutdown, move |job: Job| {
        let shared = shared.clone();
        async move {
            let result = match job {
                Job::Question { tenant, conversation, seq, body } => {
                    respond::question(&shared, tenant, conversation, seq, &body).await
                }
                Job::AgentWrote { tenant, conversation } => respond::agent_wrote(&shared, tenant, conversation).await,
            };
            if let Err(error) = result {
                metrics::counter!("kefu_bot_failed_total").increment(1);
                tracing::warn!(%error, "the bot could not answer; the visitor's reconnection retries");
            }
        }
    });
}

impl Shared {
    /// The embeddings endpoint when the tenant chose the semantic matcher and one is configured.
    fn embeddings_for(&self, settings: &db::bot::BotSettings) -> Option<&Embeddings> {
        match settings.matcher_kind() {
            MatcherKind::Semantic => self.embeddings.as_ref(),
            MatcherKind::Lexical => None,
        }
    }

    /// The tenant's index at the settings' version: cached, else built from the enabled entries
    /// (lexically at once; with embeddings in the background when the tenant chose them).
    async fn index(
        self: &Arc<Self>,
        tx: &mut TenantTx,
        tenant: TenantId,
        settings: &db::bot::BotSettings,
    ) -> sqlx::Result<Arc<KnowledgeIndex>> {
        let wants_embeddings = self.embeddings_for(settings).is_some();
        let cached = self.cached(tenant).filter(|c| c.version == settings.version);
        let index = match &cached {
            Some(cached) => {
                let retry = wants_embeddings
                    && !cached.index.has_embeddings()
                    && cached.embedding_since.is_none_or(|since| since.elapsed() >= EMBED_RETRY);
                if !retry {
                    return Ok(cached.index.clone());
                }
                cached.index.clone()
            }
            None => {
                let entries: Vec<IndexedEntry> = db::bot::entries(tx, None, true)
                    .await?
                    .into_iter()
                    .map(|e| IndexedEntry {
                        id: e.id,
                        phrasings: std::iter::once(e.question.clone()).chain(e.alternatives).collect(),
                        question: e.question,
                        language: e.language,
                        answer: e.answer,
                    })
                    .collect();
                Arc::new(KnowledgeIndex::new(entries))
            }
        };
        let embed = wants_embeddings && !index.entries.is_empty();
        let since = embed.then(std::time::Instant::now);
        self.store(tenant, Cached { version: settings.version, index: index.clone(), embedding_since: since });
        if embed {
            let (shared, version, entries) = (self.clone(), settings.version, index.entries.clone());
            tokio::spawn(async move {
                let Some(embeddings) = shared.embeddings.clone() else { return };
                match KnowledgeIndex::with_embeddings(entries, &embeddings).await {
                    Ok(index) => {
                        if shared.cached(tenant).is_some_and(|c| c.version == version) {
                            shared.store(tenant, Cached { version, index: Arc::new(index), embedding_since: since });
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, %tenant, "knowledge base embeddings failed; the lexical matcher answers")
                    }
                }
            });
        }
        Ok(index)
    }

    fn cached(&self, tenant: TenantId) -> Option<Cached> {
        self.indexes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&tenant).cloned()
    }

    fn store(&self, tenant: TenantId, cached: Cached) {
        let mut indexes = self.indexes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if indexes.len() >= CACHED_TENANTS && !indexes.contains_key(&tenant) {
            indexes.clear();
        }
        indexes.insert(tenant, cached);
    }
}
