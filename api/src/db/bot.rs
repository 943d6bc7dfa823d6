//! Tenant-scoped FAQ bot tables (F20): the settings, the knowledge base (`kb_entries`), the
//! bot's messages and what it did (`bot_events`).

use chrono::{DateTime, Utc};
use kefu_protocol::ws::{BotReply, HandoffReason};
use kefu_protocol::{ConversationId, KbEntryId};
use uuid::Uuid;

use super::TenantTx;
use super::conversations::ConversationRow;
use super::messages::MessageRow;
use crate::bot::matcher::MatcherKind;

/// The bot's settings.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct BotSettings {
    /// New conversations start with the bot.
    pub enabled: bool,
    /// Answer at or above this score.
    pub threshold: f32,
    /// `lexical` or `semantic`.
    pub matcher: String,
    /// The bot's display name (empty: a default per language).
    pub name: String,
    /// Moves with every change of the settings or the knowledge base.
    pub version: i64,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl BotSettings {
    /// The matcher as a kind.
    pub fn matcher_kind(&self) -> MatcherKind {
        if self.matcher == "semantic" { MatcherKind::Semantic } else { MatcherKind::Lexical }
    }
}

/// The settings.
pub async fn settings(tx: &mut TenantTx) -> sqlx::Result<BotSettings> {
    sqlx::query_as("select enabled, threshold, matcher, name, version, updated_at from bot_settings")
        .fetch_one(tx.conn())
        .await
}

/// Whether the bot is on.
pub async fn enabled(tx: &mut TenantTx) -> sqlx::Result<bool> {
    sqlx::query_scalar("select enabled from bot_settings").fetch_one(tx.conn()).await
}

/// Replaces the settings (and moves the version).
pub async fn update_settings(
    tx: &mut TenantTx,
    enabled: bool,
    threshold: f32,
    matcher: MatcherKind,
    name: &str,
) -> sqlx::Result<BotSettings> {
    sqlx::query_as(
        "update bot_settings set enabled = $1, threshold = $2, matcher = $3, name = $4, version = version + 1,
                updated_at = now()
         returning enabled, threshold, matcher, name, version, updated_at",
    )
    .bind(enabled)
    .bind(threshold)
    .bind(matcher.as_str())
    .bind(name)
    .fetch_one(tx.conn())
    .await
}

/// Turns the bot off (the plan no longer includes it); false if it was off.
pub async fn turn_off(tx: &mut TenantTx) -> sqlx::Result<bool> {
    let updated =
        sqlx::query("update bot_settings set enabled = false, version = version + 1, updated_at = now() where enabled")
            .execute(tx.conn())
            .await?;
    Ok(updated.rows_affected() == 1)
}

/// Moves the version after a change of the knowledge base, so every node rebuilds its index.
pub async fn bump_version(tx: &mut TenantTx) -> sqlx::Result<()> {
    sqlx::query("update bot_settings set version = version + 1").execute(tx.conn()).await.map(drop)
}

/// A knowledge-base entry as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct EntryRow {
    /// Id.
    pub id: KbEntryId,
    /// Language tag.
    pub language: String,
    /// The main question.
    pub question: String,
    /// Other phrasings.
    pub alternatives: Vec<String>,
    /// The answer.
    pub answer: String,
    /// Whether the bot uses it.
    pub enabled: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// An entry's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    /// Language tag.
    pub language: String,
    /// The main question.
    pub question: String,
    /// Other phrasings.
    pub alternatives: Vec<String>,
    /// The answer.
    pub answer: String,
    /// Whether the bot uses it.
    pub enabled: bool,
}

const ENTRY_COLUMNS: &str = "id, language, question, alternatives, answer, enabled, created_at, updated_at";

/// Entries, optionally of one language, in creation order.
pub async fn entries(tx: &mut TenantTx, language: Option<&str>, enabled_only: bool) -> sqlx::Result<Vec<EntryRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ENTRY_COLUMNS} from kb_entries where ($1::text is null or language = $1) and (enabled or not $2)
         order by created_at, id"
    )))
    .bind(language)
    .bind(enabled_only)
    .fetch_all(tx.conn())
    .await
}

/// One entry.
pub async fn entry(tx: &mut TenantTx, id: KbEntryId) -> sqlx::Result<Option<EntryRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("select {ENTRY_COLUMNS} from kb_entries where id = $1")))
        .bind(id)
        .fetch_optional(tx.conn())
        .await
}

/// How many entries there are.
pub async fn count(tx: &mut TenantTx) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from kb_entries").fetch_one(tx.conn()).await
}

/// The most entries the tenant's plan allows.
pub async fn entry_limit(tx: &mut TenantTx) -> sqlx::Result<i32> {
    let tenant_id = tx.tenant_id();
    sqlx::query_scalar(
        "select p.kb_entries from control.tenants t join control.plans p on p.id = t.plan_id where t.id = $1",
    )
    .bind(tenant_id)
    .fetch_one(tx.control().await?)
    .await
}

/// Deletes every entry (an import that replaces the knowledge base).
pub async fn delete_all(tx: &mut TenantTx) -> sqlx::Result<u64> {
    Ok(sqlx::query("delete from kb_entries").execute(tx.conn()).await?.rows_affected())
}

/// Serialises changes of the knowledge base's size (the plan's limit is checked under it).
pub async fn lock_entries(tx: &mut TenantTx) -> sqlx::Result<()> {
    sqlx::query("select pg_advisory_xact_lock(hashtext(current_schema() || '.kb_entries'))")
        .execute(tx.conn())
        .await
        .map(drop)
}

/// Stores new entries.
pub async fn insert(tx: &mut TenantTx, entries: &[NewEntry]) -> sqlx::Result<Vec<EntryRow>> {
    let mut rows = Vec::with_capacity(entries.len());
    for e in entries {
        rows.push(
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "insert into kb_entries (id, language, question, alternatives, answer, enabled)
                 values ($1, $2, $3, $4, $5, $6) returning {ENTRY_COLUMNS}"
            )))
            .bind(Uuid::now_v7())
            .bind(&e.language)
            .bind(&e.question)
            .bind(&e.alternatives)
            .bind(&e.answer)
            .bind(e.enabled)
            .fetch_one(tx.conn())
            .await?,
        );
    }
    Ok(rows)
}

/// Replaces an entry's fields; `None` when there is no such entry.
pub async fn update(tx: &mut TenantTx, id: KbEntryId, e: &NewEntry) -> sqlx::Result<Option<EntryRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update kb_entries set language = $2, question = $3, alternatives = $4, answer = $5, enabled = $6
         where id = $1 returning {ENTRY_COLUMNS}"
    )))
    .bind(id)
    .bind(&e.language)
    .bind(&e.question)
    .bind(&e.alternatives)
    .bind(&e.answer)
    .bind(e.enabled)
    .fetch_optional(tx.conn())
    .await
}

/// Deletes an entry; whether it existed.
pub async fn delete(tx: &mut TenantTx, id: KbEntryId) -> sqlx::Result<bool> {
    Ok(sqlx::query("delete from kb_entries where id = $1").bind(id).execute(tx.conn()).await?.rows_affected() == 1)
}

/// Locks an open conversation the bot is answering; `None` when it is closed, with people, or
/// missing.
pub async fn lock_bot_conversation(tx: &mut TenantTx, id: ConversationId) -> sqlx::Result<Option<ConversationRow>> {
    match super::conversations::lock(tx, id).await? {
        Some(row) if row.bot_active && row.status == kefu_protocol::ws::ConversationStatus::Open => Ok(Some(row)),
        _ => Ok(None),
    }
}

/// Stores a bot message (visible to the visitor) with the conversation's next sequence number;
/// the caller holds the conversation's row lock. Returns the message and the conversation after.
pub async fn insert_message(
    tx: &mut TenantTx,
    conversation_id: ConversationId,
    name: &str,
    body: &str,
    reply: &BotReply,
) -> sqlx::Result<MessageRow> {
    super::messages::insert_automated(tx, conversation_id, name, body, super::messages::Automated::Bot(reply)).await
}

/// A bot message as the visitor's feedback refers to it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BotMessage {
    /// Its sequence number.
    pub seq: i64,
    /// Its text.
    pub body: String,
    /// What it offered.
    pub bot: Option<sqlx::types::Json<BotReply>>,
}

/// The bot's message `message_id` in the conversation, if it is one.
pub async fn bot_message(
    tx: &mut TenantTx,
    conversation_id: ConversationId,
    message_id: kefu_protocol::MessageId,
) -> sqlx::Result<Option<BotMessage>> {
    sqlx::query_as("select seq, body, bot from messages where id = $1 and conversation_id = $2 and sender_kind = 'bot'")
        .bind(message_id)
        .bind(conversation_id)
        .fetch_optional(tx.conn())
        .await
}

/// The text of the visitor's last message in the conversation.
pub async fn last_visitor_text(tx: &mut TenantTx, conversation_id: ConversationId) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "select body from messages where conversation_id = $1 and sender_kind = 'visitor' order by seq desc limit 1",
    )
    .bind(conversation_id)
    .fetch_optional(tx.conn())
    .await
}

/// Gives the conversation to people (the caller holds its row lock).
pub async fn end(tx: &mut TenantTx, id: ConversationId) -> sqlx::Result<ConversationRow> {
    sqlx::query("update conversations set bot_active = false, updated_at = now() where id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    super::conversations::find(tx, id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// What the bot did.
#[derive(Debug, Clone, Copy)]
pub enum Event {
    /// Answered a question with an entry.
    Answered {
        /// The entry.
        entry: KbEntryId,
        /// Its score.
        score: f32,
        /// Which matcher.
        matcher: MatcherKind,
    },
    /// The visitor said an answer helped.
    Helpful {
        /// The entry, if the answer still names one.
        entry: Option<KbEntryId>,
    },
    /// Handed the conversation to people.
    Handoff {
        /// Why.
        reason: HandoffReason,
        /// The best entry (or the answer that did not help).
        entry: Option<KbEntryId>,
        /// The best entry's score, when a question was scored.
        score: Option<f32>,
        /// Which matcher scored it.
        matcher: Option<MatcherKind>,
    },
}

/// Records what the bot did about the visitor's message `message_seq`.
pub async fn record(
    tx: &mut TenantTx,
    conversation: ConversationId,
    message_seq: Option<i64>,
    event: Event,
) -> sqlx::Result<()> {
    let (kind, reason, entry, score, matcher) = match event {
        Event::Answered { entry, score, matcher } => ("answered", None, Some(entry), Some(score), Some(matcher)),
        Event::Helpful { entry } => ("helpful", None, entry, None, None),
        Event::Handoff { reason, entry, score, matcher } => ("handoff", Some(reason.as_str()), entry, score, matcher),
    };
    sqlx::query(
        "insert into bot_events (id, conversation_id, message_seq, kind, reason, entry_id, score, matcher)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(Uuid::now_v7())
    .bind(conversation)
    .bind(message_seq)
    .bind(kind)
    .bind(reason)
    .bind(entry)
    .bind(score)
    .bind(matcher.map(MatcherKind::as_str))
    .execute(tx.conn())
    .await
    .map(drop)
}

/// Whether the visitor already said the answer at `message_seq` helped.
pub async fn helpful_recorded(tx: &mut TenantTx, conversation: ConversationId, message_seq: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists(select 1 from bot_events where conversation_id = $1 and message_seq = $2 and kind = 'helpful')",
    )
    .bind(conversation)
    .bind(message_seq)
    .fetch_one(tx.conn())
    .await
}

/// A bot event as listed for a conversation.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    /// `answered`, `helpful` or `handoff`.
    pub kind: String,
    /// For hand-offs.
    pub reason: Option<String>,
    /// The entry.
    pub entry_id: Option<KbEntryId>,
    /// The score.
    pub score: Option<f32>,
    /// The matcher.
    pub matcher: Option<String>,
    /// The visitor's message it was about.
    pub message_seq: Option<i64>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A conversation's bot events, oldest first.
pub async fn events(tx: &mut TenantTx, conversation: ConversationId) -> sqlx::Result<Vec<EventRow>> {
    sqlx::query_as(
        "select kind, reason, entry_id, score, matcher, message_seq, created_at from bot_events
         where conversation_id = $1 order by created_at, id",
    )
    .bind(conversation)
    .fetch_all(tx.conn())
    .await
}

/// The visitor's messages after the bot's last message, when the conversation is the bot's and
/// the visitor wrote last (a question the bot has not answered: a node died in between).
pub async fn unanswered(tx: &mut TenantTx, conversation: ConversationId) -> sqlx::Result<Option<(i64, String)>> {
    sqlx::query_as(
        "select m.seq, m.body from messages m join conversations c on c.id = m.conversation_id
         where m.conversation_id = $1 and c.bot_active and c.status = 'open' and m.seq = c.last_seq
           and m.sender_kind = 'visitor'",
    )
    .bind(conversation)
    .fetch_optional(tx.conn())
    .await
}
