//! The FAQ bot over REST (F20): its settings (admins), the knowledge base (supervisors and up
//! write, every member reads), CSV/JSON import and export, and "test a question" with the
//! scores the bot would see. Every change moves the bot's version, so every node rebuilds its
//! index before the next question.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use kefu_protocol::{ErrorCode, KbEntryId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AdminUp, AnyMember, ApiJson, Auth, ConversationsRead, SupervisorUp};
use crate::bot::kb_file::{self, Format, MAX_IMPORT_BYTES, RawEntry};
use crate::bot::matcher::MatcherKind;
use crate::db::bot::{BotSettings, EntryRow};
use crate::db::{self, TenantTx};
use crate::error::{ApiError, Result};
use crate::state::AppState;

/// Longest question "test a question" accepts, in characters.
pub const MAX_TEST_CHARS: usize = 1000;
/// Scores "test a question" lists.
const TEST_RESULTS: usize = 5;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_bot, put_bot))
        .routes(routes!(test_question))
        .routes(routes!(list_entries, create_entry))
        .routes(routes!(update_entry, delete_entry))
        .routes(routes!(export_entries))
        .routes(routes!(conversation_bot_events))
        .merge(OpenApiRouter::new().routes(routes!(import_entries)).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)))
}

/// The bot's settings and the knowledge base's size.
#[derive(Debug, Serialize, ToSchema)]
pub struct BotView {
    /// New conversations start with the bot.
    pub enabled: bool,
    /// The bot answers at or above this score (0–1).
    pub threshold: f32,
    /// The tenant's matcher.
    pub matcher: MatcherKind,
    /// Whether this server has an embeddings endpoint (without one, `semantic` answers lexically).
    pub semantic_available: bool,
    /// The bot's display name (empty: 智能助手 / Assistant).
    pub name: String,
    /// Entries in the knowledge base.
    pub entries: i64,
    /// Most entries the plan allows.
    pub entry_limit: i32,
    /// Last change of the settings.
    pub updated_at: DateTime<Utc>,
}

/// New settings (all fields).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BotRequest {
    /// Turn the bot on or off.
    pub enabled: bool,
    /// 0–1; the bot answers at or above it (default 0.7).
    pub threshold: f32,
    /// `lexical` or `semantic`.
    pub matcher: MatcherKind,
    /// At most 60 characters; empty for the default.
    #[serde(default)]
    pub name: String,
}

async fn view(state: &AppState, tx: &mut TenantTx, settings: BotSettings) -> Result<BotView> {
    Ok(BotView {
        enabled: settings.enabled,
        threshold: settings.threshold,
        matcher: settings.matcher_kind(),
        semantic_available: state.bot.has_embeddings(),
        name: settings.name,
        entries: db::bot::count(tx).await?,
        entry_limit: db::bot::entry_limit(tx).await?,
        updated_at: settings.updated_at,
    })
}

/// The bot's settings.
#[utoipa::path(get, path = "/api/v1/bot", tag = "bot", security(("bearer" = [])),
    responses((status = 200, body = BotView)))]
async fn get_bot(State(state): State<AppState>, auth: Auth<AnyMember>) -> Result<axum::Json<BotView>> {
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let settings = db::bot::settings(&mut tx).await?;
    let view = view(&state, &mut tx, settings).await?;
    tx.commit().await?;
    Ok(axum::Json(view))
}

/// Replaces the bot's settings (admins).
#[utoipa::path(put, path = "/api/v1/bot", tag = "bot", security(("bearer" = [])), request_body = BotRequest,
    responses((status = 200, body = BotView), (status = 403, description = "forbidden, plan_feature_required"),
        (status = 422, description = "validation_failed")))]
async fn put_bot(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    ApiJson(body): ApiJson<BotRequest>,
) -> Result<axum::Json<BotView>> {
    if !(0.0..=1.0).contains(&body.threshold) {
        return Err(ApiError::field("threshold", "invalid", "The threshold is between 0 and 1."));
    }
    let name = body.name.trim();
    if name.chars().count() > 60 {
        return Err(ApiError::field("name", "invalid", "At most 60 characters."));
    }
    if body.enabled {
        let mut conn = state.db.control().acquire().await?;
        crate::billing::require(&mut conn, auth.tenant.id, crate::billing::Feature::Bot).await?;
    }
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let settings = db::bot::update_settings(&mut tx, body.enabled, body.threshold, body.matcher, name).await?;
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "bot.changed",
        None,
        serde_json::json!({ "enabled": body.enabled, "threshold": body.threshold, "matcher": body.matcher, "name": name }),
    )
    .await?;
    let view = view(&state, &mut tx, settings).await?;
    tx.commit().await?;
    Ok(axum::Json(view))
}

/// A question to try.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// What a visitor might write, 1–1000 characters.
    pub question: String,
}

/// One entry's score.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScoredEntry {
    /// `kb_…`.
    pub entry_id: KbEntryId,
    /// Its language.
    pub language: String,
    /// Its main question.
    pub question: String,
    /// Its answer.
    pub answer: String,
    /// 0–1.
    pub score: f32,
}

/// What the bot would do with a question.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    /// The matcher that scored it (`lexical` when the embeddings endpoint is down).
    pub matcher: MatcherKind,
    /// The tenant's threshold.
    pub threshold: f32,
    /// Whether the bot would answer with the first result (else it hands off).
    pub answers: bool,
    /// The best entries, best first (at most 5).
    pub results: Vec<ScoredEntry>,
}

/// Scores a question against the knowledge base as the bot would (enabled entries only).
#[utoipa::path(post, path = "/api/v1/bot/test", tag = "bot", security(("bearer" = [])), request_body = TestRequest,
    responses((status = 200, body = TestResult), (status = 422, description = "validation_failed")))]
async fn test_question(
    State(state): State<AppState>,
    auth: Auth<AnyMember>,
    ApiJson(body): ApiJson<TestRequest>,
) -> Result<axum::Json<TestResult>> {
    let question = body.question.trim();
    let chars = question.chars().count();
    if chars == 0 || chars > MAX_TEST_CHARS {
        return Err(ApiError::field("question", "invalid", format!("Write 1–{MAX_TEST_CHARS} characters.")));
    }
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let (index, ranking, settings) = state.bot.test(&mut tx, auth.tenant.id, question).await?;
    tx.commit().await?;
    let results: Vec<ScoredEntry> = ranking
        .ranked
        .iter()
        .take(TEST_RESULTS)
        .map(|(i, score)| {
            let e = &index.entries[*i];
            ScoredEntry {
                entry_id: e.id,
                language: e.language.clone(),
                question: e.question.clone(),
                answer: e.answer.clone(),
                score: *score,
            }
        })
        .collect();
    let answers = results.first().is_some_and(|r| r.score >= settings.threshold);
    Ok(axum::Json(TestResult { matcher: ranking.matcher, threshold: settings.threshold, answers, results }))
}

/// A knowledge-base entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryView {
    /// `kb_…`.
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

impl From<EntryRow> for EntryView {
    fn from(row: EntryRow) -> Self {
        Self {
            id: row.id,
            language: row.language,
            question: row.question,
            alternatives: row.alternatives,
            answer: row.answer,
            enabled: row.enabled,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Filter.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EntriesQuery {
    /// Only entries of this language tag.
    pub language: Option<String>,
}

/// The knowledge base, in creation order.
#[utoipa::path(get, path = "/api/v1/kb/entries", tag = "bot", security(("bearer" = [])), params(EntriesQuery),
    responses((status = 200, body = Vec<EntryView>)))]
async fn list_entries(
    State(state): State<AppState>,
    auth: Auth<AnyMember>,
    Query(query): Query<EntriesQuery>,
) -> Result<axum::Json<Vec<EntryView>>> {
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let rows = db::bot::entries(&mut tx, query.language.as_deref(), false).await?;
    tx.commit().await?;
    Ok(axum::Json(rows.into_iter().map(EntryView::from).collect()))
}

fn quota(limit: i32) -> ApiError {
    ApiError::client(
        ErrorCode::QuotaExceeded,
        format!("Your plan's knowledge base holds at most {limit} entries; delete some or upgrade."),
    )
}

/// Adds an entry (supervisors and up), within the plan's limit.
#[utoipa::path(post, path = "/api/v1/kb/entries", tag = "bot", security(("bearer" = [])), request_body = RawEntry,
    responses((status = 201, body = EntryView),
        (status = 403, description = "forbidden, or quota_exceeded (the plan's entry limit)"),
        (status = 422, description = "validation_failed")))]
async fn create_entry(
    State(state): State<AppState>,
    auth: Auth<SupervisorUp>,
    ApiJson(body): ApiJson<RawEntry>,
) -> Result<(StatusCode, axum::Json<EntryView>)> {
    let entry = kb_file::validate(body, "").map_err(ApiError::Validation)?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    db::bot::lock_entries(&mut tx).await?;
    let limit = db::bot::entry_limit(&mut tx).await?;
    if db::bot::count(&mut tx).await? >= i64::from(limit) {
        return Err(quota(limit));
    }
    let mut rows = db::bot::insert(&mut tx, std::slice::from_ref(&entry)).await?;
    db::bot::bump_version(&mut tx).await?;
    let row = rows.pop().ok_or_else(|| ApiError::Internal(anyhow::anyhow!("insert returned nothing")))?;
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "kb.entry_created",
        Some(&row.id.to_string()),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(row.into())))
}

/// Replaces an entry's fields (supervisors and up).
#[utoipa::path(put, path = "/api/v1/kb/entries/{id}", tag = "bot", security(("bearer" = [])), request_body = RawEntry,
    params(("id" = String, Path, description = "`kb_…`")),
    responses((status = 200, body = EntryView), (status = 404, description = "resource_not_found"),
        (status = 422, description = "validation_failed")))]
async fn update_entry(
    State(state): State<AppState>,
    auth: Auth<SupervisorUp>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RawEntry>,
) -> Result<axum::Json<EntryView>> {
    let id: KbEntryId = id.parse().map_err(|_| ApiError::not_found("entry"))?;
    let entry = kb_file::validate(body, "").map_err(ApiError::Validation)?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let row = db::bot::update(&mut tx, id, &entry).await?.ok_or_else(|| ApiError::not_found("entry"))?;
    db::bot::bump_version(&mut tx).await?;
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "kb.entry_changed",
        Some(&id.to_string()),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(row.into()))
}

/// Deletes an entry (supervisors and up).
#[utoipa::path(delete, path = "/api/v1/kb/entries/{id}", tag = "bot", security(("bearer" = [])),
    params(("id" = String, Path, description = "`kb_…`")),
    responses((status = 204, description = "deleted"), (status = 404, description = "resource_not_found")))]
async fn delete_entry(
    State(state): State<AppState>,
    auth: Auth<SupervisorUp>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id: KbEntryId = id.parse().map_err(|_| ApiError::not_found("entry"))?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    if !db::bot::delete(&mut tx, id).await? {
        return Err(ApiError::not_found("entry"));
    }
    db::bot::bump_version(&mut tx).await?;
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "kb.entry_deleted",
        Some(&id.to_string()),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How an import treats the entries already there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImportMode {
    /// Keep them and add the file's.
    #[default]
    Append,
    /// Delete them; the file becomes the knowledge base.
    Replace,
}

/// Import options.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ImportQuery {
    /// `csv` or `json`.
    #[param(inline)]
    pub format: Format,
    /// `append` (default) or `replace`.
    #[serde(default)]
    #[param(inline)]
    pub mode: ImportMode,
}

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    /// Entries added.
    pub imported: usize,
    /// Entries deleted first (`replace`).
    pub replaced: u64,
}

/// Imports a CSV or JSON file of entries (supervisors and up; at most 5 MiB). All or nothing:
/// any invalid row refuses the file, with every error and its line (`errors[].field` is
/// `lines[N].field`).
#[utoipa::path(post, path = "/api/v1/kb/import", tag = "bot", security(("bearer" = [])), params(ImportQuery),
    request_body(content = String, description = "The file's text (UTF-8)", content_type = "text/plain"),
    responses((status = 200, body = ImportResult), (status = 403, description = "forbidden, or quota_exceeded (the plan's entry limit)"),
        (status = 413, description = "payload_too_large"), (status = 422, description = "validation_failed")))]
async fn import_entries(
    State(state): State<AppState>,
    auth: Auth<SupervisorUp>,
    Query(query): Query<ImportQuery>,
    body: Bytes,
) -> Result<axum::Json<ImportResult>> {
    let text = std::str::from_utf8(&body).map_err(|e| {
        ApiError::field("file", "invalid", format!("The file is not UTF-8 text (byte {}).", e.valid_up_to()))
    })?;
    let entries = kb_file::parse(query.format, text).map_err(ApiError::Validation)?;
    if entries.is_empty() {
        return Err(ApiError::field("file", "invalid", "The file holds no entries."));
    }
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    db::bot::lock_entries(&mut tx).await?;
    let replaced = match query.mode {
        ImportMode::Replace => db::bot::delete_all(&mut tx).await?,
        ImportMode::Append => 0,
    };
    let limit = db::bot::entry_limit(&mut tx).await?;
    if db::bot::count(&mut tx).await? + entries.len() as i64 > i64::from(limit) {
        return Err(quota(limit));
    }
    db::bot::insert(&mut tx, &entries).await?;
    db::bot::bump_version(&mut tx).await?;
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "kb.imported",
        None,
        serde_json::json!({ "imported": entries.len(), "replaced": replaced }),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(ImportResult { imported: entries.len(), replaced }))
}

/// Export options.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    /// `csv` or `json`.
    #[param(inline)]
    pub format: Format,
}

/// The whole knowledge base as a CSV or JSON file (the import's format).
#[utoipa::path(get, path = "/api/v1/kb/export", tag = "bot", security(("bearer" = [])), params(ExportQuery),
    responses((status = 200, description = "The file: text/csv for `format=csv`, application/json (the import's entries) for `format=json`",
        content((String = "text/csv"), (Vec<crate::bot::kb_file::RawEntry> = "application/json")))))]
async fn export_entries(
    State(state): State<AppState>,
    auth: Auth<AnyMember>,
    Query(query): Query<ExportQuery>,
) -> Result<impl IntoResponse> {
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let rows = db::bot::entries(&mut tx, None, false).await?;
    tx.commit().await?;
    let (text, content_type, name) = match query.format {
        Format::Csv => {
            (kb_file::to_csv(rows).map_err(anyhow::Error::from)?, "text/csv; charset=utf-8", "knowledge-base.csv")
        }
        Format::Json => {
            (kb_file::to_json(rows).map_err(anyhow::Error::from)?, "application/json", "knowledge-base.json")
        }
    };
    let disposition = format!("attachment; filename=\"{name}\"");
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).map_err(|e| ApiError::Internal(e.into()))?,
            ),
        ],
        text,
    ))
}

/// Something the bot did in a conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct BotEventView {
    /// `answered`, `helpful` or `handoff`.
    pub kind: String,
    /// For hand-offs: `low_score`, `requested`, `not_helpful`, `agent_took_over`,
    /// `no_knowledge`, `bot_off`.
    pub reason: Option<String>,
    /// The entry answered with (or the best one, or the answer that did not help).
    pub entry_id: Option<KbEntryId>,
    /// The entry's score (0–1), when a question was scored.
    pub score: Option<f32>,
    /// `lexical` or `semantic`.
    pub matcher: Option<String>,
    /// The visitor's message it was about.
    pub message_seq: Option<i64>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// What the bot did in a conversation, oldest first.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/bot-events", tag = "bot", security(("bearer" = [])),
    params(("id" = String, Path, description = "`conv_…`")),
    responses((status = 200, body = Vec<BotEventView>), (status = 404, description = "resource_not_found")))]
async fn conversation_bot_events(
    State(state): State<AppState>,
    auth: Auth<AnyMember, ConversationsRead>,
    Path(id): Path<String>,
) -> Result<axum::Json<Vec<BotEventView>>> {
    let id: kefu_protocol::ConversationId = id.parse().map_err(|_| ApiError::not_found("conversation"))?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    if db::conversations::find(&mut tx, id).await?.is_none() {
        return Err(ApiError::not_found("conversation"));
    }
    let rows = db::bot::events(&mut tx, id).await?;
    tx.commit().await?;
    Ok(axum::Json(
        rows.into_iter()
            .map(|r| BotEventView {
                kind: r.kind,
                reason: r.reason,
                entry_id: r.entry_id,
                score: r.score,
                matcher: r.matcher,
                message_seq: r.message_seq,
                created_at: r.created_at,
            })
            .collect(),
    ))
}
