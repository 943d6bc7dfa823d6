//! What the bot does with a question, a "Did this help?" answer, a request for a person, or an
//! agent's message: each in one tenant transaction holding the conversation's row lock, announced
//! after the commit.

use std::sync::Arc;

use kefu_protocol::ws::{BotReply, HandoffReason, NoteEvent, WsErrorCode};
use kefu_protocol::{ConversationId, KbEntryId, MessageId, TenantId, VisitorId};

use super::Shared;
use super::matcher::MatcherKind;
use super::texts::{self, Lang};
use crate::auth::TenantCtx;
use crate::db::bot::Event;
use crate::db::conversations::ConversationRow;
use crate::db::messages::MessageRow;
use crate::db::{self, TenantTx};
use crate::ops::OpError;
use crate::ops::events::{Change, ConversationChange};

/// Why the bot could not do its part.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// Postgres.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What one transaction wrote, announced after its commit.
#[derive(Default)]
struct Written {
    messages: Vec<MessageRow>,
    handed_off: bool,
    conversation: Option<ConversationRow>,
}

impl Written {
    /// Reads the conversation as it now is, commits, and announces what was written.
    async fn commit(
        mut self,
        mut tx: TenantTx,
        shared: &Shared,
        tenant: TenantId,
        conversation: ConversationId,
    ) -> sqlx::Result<()> {
        self.conversation = db::conversations::find(&mut tx, conversation).await?;
        tx.commit().await?;
        self.announce(shared, tenant);
        Ok(())
    }

    fn announce(self, shared: &Shared, tenant: TenantId) {
        let Some(conversation) = self.conversation else { return };
        for message in self.messages {
            shared.events.publish(Change::MessageStored {
                tenant,
                message,
                conversation: Some(conversation.clone()),
                opened: false,
            });
        }
        if self.handed_off {
            shared.events.publish(Change::ConversationChanged {
                tenant,
                conversation,
                cause: ConversationChange::HandedOff,
            });
        }
    }
}

/// What the bot decided about a question.
enum Decision {
    Answer { entry: usize, score: f32, related: Vec<String> },
    AskForQuestion,
    Handoff { reason: HandoffReason, entry: Option<KbEntryId>, score: Option<f32> },
}

/// Answers the visitor's message `seq` of a bot conversation, or hands the conversation off.
pub(super) async fn question(
    shared: &Arc<Shared>,
    tenant: TenantId,
    conversation: ConversationId,
    seq: i64,
    body: &str,
) -> Result<(), BotError> {
    let Some(schema) = db::tenants::active_schema(&shared.databases, tenant).await? else { return Ok(()) };
    // Read the settings and the index, then match outside any transaction: the semantic matcher
    // may wait for its endpoint.
    let mut tx = TenantTx::begin(&shared.databases, &schema).await?;
    let settings = db::bot::settings(&mut tx).await?;
    let index = shared.index(&mut tx, tenant, &settings).await?;
    tx.commit().await?;
    let lang = Lang::of(body);
    let (decision, matcher) = if !settings.enabled {
        (Decision::Handoff { reason: HandoffReason::BotOff, entry: None, score: None }, None)
    } else if texts::asks_for_person(body) {
        (Decision::Handoff { reason: HandoffReason::Requested, entry: None, score: None }, None)
    } else if index.entries.is_empty() {
        (Decision::Handoff { reason: HandoffReason::NoKnowledge, entry: None, score: None }, None)
    } else if !super::lexical::LexicalIndex::has_terms(body) {
        (Decision::AskForQuestion, None)
    } else {
        let ranking = index.rank(body, shared.embeddings_for(&settings)).await;
        let decision = match ranking.best() {
            Some((entry, score)) if score >= settings.threshold => Decision::Answer {
                entry,
                score,
                related: ranking.related().map(|i| index.entries[i].question.clone()).collect(),
            },
            best => Decision::Handoff {
                reason: HandoffReason::LowScore,
                entry: best.map(|(i, _)| index.entries[i].id),
                score: best.map(|(_, score)| score),
            },
        };
        (decision, Some(ranking.matcher))
    };
    let name = bot_name(&settings.name, lang);
    let mut tx = TenantTx::begin(&shared.databases, &schema).await?;
    let Some(row) = db::bot::lock_bot_conversation(&mut tx, conversation).await? else { return Ok(()) };
    if row.last_seq != seq {
        // Something was written after the question: the bot answered it already (a reconnect
        // asked again while the first answer was on its way), or the visitor wrote again and
        // that newer message is answered instead.
        return Ok(());
    }
    let mut written = Written::default();
    match decision {
        Decision::Answer { entry, score, related } => {
            let entry = &index.entries[entry];
            let reply = BotReply { entry_id: Some(entry.id), ask_feedback: true, related, handoff: false };
            written.messages.push(db::bot::insert_message(&mut tx, conversation, &name, &entry.answer, &reply).await?);
            let matcher = matcher.unwrap_or(MatcherKind::Lexical);
            db::bot::record(&mut tx, conversation, Some(seq), Event::Answered { entry: entry.id, score, matcher })
                .await?;
            metrics::counter!("kefu_bot_answered_total", "matcher" => matcher.as_str()).increment(1);
        }
        Decision::AskForQuestion => {
            let reply = BotReply { entry_id: None, ask_feedback: false, related: Vec::new(), handoff: false };
            let text = texts::ask_for_question(lang);
            written.messages.push(db::bot::insert_message(&mut tx, conversation, &name, text, &reply).await?);
        }
        Decision::Handoff { reason, entry, score } => {
            let text = if reason == HandoffReason::LowScore { texts::no_answer(lang) } else { texts::to_people(lang) };
            hand_off(
                &mut tx,
                &mut written,
                conversation,
                &name,
                Some(text),
                HandoffInfo {
                    reason,
                    entry,
                    score,
                    matcher,
                    seq: Some(seq),
                    note: handoff_note(reason, score, settings.threshold, matcher),
                },
            )
            .await?;
        }
    }
    written.commit(tx, shared, tenant, conversation).await?;
    Ok(())
}

/// The visitor's "Did this help?" on the bot's `message`.
pub(super) async fn feedback(
    shared: &Arc<Shared>,
    tenant: &TenantCtx,
    visitor: VisitorId,
    conversation: ConversationId,
    message: MessageId,
    helpful: bool,
) -> Result<(), OpError> {
    let mut tx = TenantTx::begin(&shared.databases, &tenant.schema).await?;
    let row = owned_bot_conversation(&mut tx, conversation, visitor).await?;
    let Some(row) = row else {
        // Already with people (or closed): nothing left for the bot to do.
        return Ok(());
    };
    let Some(answer) = db::bot::bot_message(&mut tx, row.id, message).await? else {
        return Err(OpError::refused(WsErrorCode::InvalidFrame, "That message is not one of the bot's answers."));
    };
    let (seq, entry, lang) = (answer.seq, answer.bot.and_then(|r| r.0.entry_id), Lang::of(&answer.body));
    let settings = db::bot::settings(&mut tx).await?;
    let name = bot_name(&settings.name, lang);
    let mut written = Written::default();
    if helpful {
        if db::bot::helpful_recorded(&mut tx, row.id, seq).await? {
            return Ok(());
        }
        db::bot::record(&mut tx, row.id, Some(seq), Event::Helpful { entry }).await?;
        let reply = BotReply { entry_id: None, ask_feedback: false, related: Vec::new(), handoff: false };
        written.messages.push(db::bot::insert_message(&mut tx, row.id, &name, texts::glad(lang), &reply).await?);
        metrics::counter!("kefu_bot_helpful_total").increment(1);
    } else {
        let reason = HandoffReason::NotHelpful;
        hand_off(
            &mut tx,
            &mut written,
            row.id,
            &name,
            Some(texts::to_people(lang)),
            HandoffInfo {
                reason,
                entry,
                score: None,
                matcher: None,
                seq: Some(seq),
                note: handoff_note(reason, None, settings.threshold, None),
            },
        )
        .await?;
    }
    written.commit(tx, shared, tenant.id, row.id).await?;
    Ok(())
}

/// The visitor asked for a person.
pub(super) async fn human(
    shared: &Arc<Shared>,
    tenant: &TenantCtx,
    visitor: VisitorId,
    conversation: ConversationId,
) -> Result<(), OpError> {
    let mut tx = TenantTx::begin(&shared.databases, &tenant.schema).await?;
    let Some(row) = owned_bot_conversation(&mut tx, conversation, visitor).await? else { return Ok(()) };
    let settings = db::bot::settings(&mut tx).await?;
    let last = db::bot::last_visitor_text(&mut tx, row.id).await?;
    let lang = last.as_deref().map_or(Lang::Zh, Lang::of);
    let name = bot_name(&settings.name, lang);
    let mut written = Written::default();
    let reason = HandoffReason::Requested;
    hand_off(
        &mut tx,
        &mut written,
        row.id,
        &name,
        Some(texts::to_people(lang)),
        HandoffInfo {
            reason,
            entry: None,
            score: None,
            matcher: None,
            seq: None,
            note: handoff_note(reason, None, settings.threshold, None),
        },
    )
    .await?;
    written.commit(tx, shared, tenant.id, row.id).await?;
    Ok(())
}

/// An agent wrote in a bot conversation: people have it now (no bot message).
pub(super) async fn agent_wrote(
    shared: &Arc<Shared>,
    tenant: TenantId,
    conversation: ConversationId,
) -> Result<(), BotError> {
    let Some(schema) = db::tenants::active_schema(&shared.databases, tenant).await? else { return Ok(()) };
    let mut tx = TenantTx::begin(&shared.databases, &schema).await?;
    if db::bot::lock_bot_conversation(&mut tx, conversation).await?.is_none() {
        return Ok(());
    }
    let reason = HandoffReason::AgentTookOver;
    let mut written = Written::default();
    hand_off(
        &mut tx,
        &mut written,
        conversation,
        "",
        None,
        HandoffInfo {
            reason,
            entry: None,
            score: None,
            matcher: None,
            seq: None,
            note: handoff_note(reason, None, 0.0, None),
        },
    )
    .await?;
    written.commit(tx, shared, tenant, conversation).await?;
    Ok(())
}

/// Records that a claim or a transfer took a bot conversation (the caller holds its lock and
/// has cleared `bot_active`).
pub async fn record_takeover(tx: &mut TenantTx, conversation: ConversationId) -> sqlx::Result<()> {
    let event = Event::Handoff { reason: HandoffReason::AgentTookOver, entry: None, score: None, matcher: None };
    db::bot::record(tx, conversation, None, event).await
}

struct HandoffInfo {
    reason: HandoffReason,
    entry: Option<KbEntryId>,
    score: Option<f32>,
    matcher: Option<MatcherKind>,
    seq: Option<i64>,
    note: String,
}

/// Gives the conversation to people: the bot's words to the visitor (if any), a private note
/// for agents with the reason and score, the record, and `bot_active` cleared.
async fn hand_off(
    tx: &mut TenantTx,
    written: &mut Written,
    conversation: ConversationId,
    name: &str,
    text: Option<&str>,
    info: HandoffInfo,
) -> sqlx::Result<()> {
    if let Some(text) = text {
        let reply = BotReply { entry_id: None, ask_feedback: false, related: Vec::new(), handoff: true };
        written.messages.push(db::bot::insert_message(tx, conversation, name, text, &reply).await?);
    }
    let event = NoteEvent::BotHandoff { reason: info.reason };
    written.messages.push(db::messages::insert_system_note(tx, conversation, &info.note, &event).await?);
    db::bot::record(
        tx,
        conversation,
        info.seq,
        Event::Handoff { reason: info.reason, entry: info.entry, score: info.score, matcher: info.matcher },
    )
    .await?;
    db::bot::end(tx, conversation).await?;
    written.handed_off = true;
    metrics::counter!("kefu_bot_handoff_total", "reason" => info.reason.as_str()).increment(1);
    Ok(())
}

/// The agents' note of a hand-off.
fn handoff_note(reason: HandoffReason, score: Option<f32>, threshold: f32, matcher: Option<MatcherKind>) -> String {
    match reason {
        HandoffReason::LowScore => match (score, matcher) {
            (Some(score), Some(matcher)) => format!(
                "The bot handed this over: its best match scored {score:.2}, under the threshold {threshold:.2} ({} matcher).",
                matcher.as_str()
            ),
            _ => "The bot handed this over: nothing matched.".to_owned(),
        },
        HandoffReason::Requested => "The visitor asked for a person.".to_owned(),
        HandoffReason::NotHelpful => "The visitor said the bot's answer did not help.".to_owned(),
        HandoffReason::AgentTookOver => "An agent took over from the bot.".to_owned(),
        HandoffReason::NoKnowledge => "The bot handed this over: the knowledge base is empty.".to_owned(),
        HandoffReason::BotOff => "The bot was turned off.".to_owned(),
    }
}

fn bot_name(name: &str, lang: Lang) -> String {
    if name.trim().is_empty() { texts::default_name(lang).to_owned() } else { name.to_owned() }
}

/// The visitor's own open bot conversation, locked; `None` when it is with people or closed,
/// an error when it is not theirs.
async fn owned_bot_conversation(
    tx: &mut TenantTx,
    conversation: ConversationId,
    visitor: VisitorId,
) -> Result<Option<ConversationRow>, OpError> {
    let Some(row) = db::conversations::lock(tx, conversation).await? else {
        return Err(OpError::conversation_not_found());
    };
    if row.visitor_id != visitor {
        return Err(OpError::conversation_not_found());
    }
    Ok(row.bot_active.then_some(row).filter(|r| r.status == kefu_protocol::ws::ConversationStatus::Open))
}
