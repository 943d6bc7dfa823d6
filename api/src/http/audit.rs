//! The tenant's audit log (F26), readable by admins: every admin change and every access to
//! conversations (searches, transcripts read, exports, attachment downloads), filtered by actor,
//! action, target and time, newest first in keyset pages, and as CSV (docs/api.md, "Audit log").

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use kefu_protocol::{ApiKeyId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AdminUp, Auth};
use super::validate::Fields;
use crate::db::audit::{ActorFilter, Filter, NamedRow};
use crate::db::{self, Databases, TenantSchema, TenantTx};
use crate::error::Result;
use crate::state::AppState;

/// Most entries one page returns.
pub const MAX_PAGE: i64 = 200;
/// Most entries one CSV export holds (narrow the filters for more).
pub const MAX_EXPORT: i64 = 100_000;
/// Entries read per round trip while a CSV export streams.
const EXPORT_BATCH: i64 = 1_000;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_log)).routes(routes!(export_audit_log))
}

/// Which entries.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Whose: a member (`usr_…`) or an API key (`key_…`).
    pub actor: Option<String>,
    /// What: an action (`transcript.read`), or a kind of action ending with a dot (`member.`).
    pub action: Option<String>,
    /// What it happened to (an id, e.g. `conv_…`).
    pub target: Option<String>,
    /// At or after this instant (RFC 3339).
    pub from: Option<String>,
    /// Before this instant (RFC 3339).
    pub to: Option<String>,
    /// Entries per page, 1–200 (default 50); ignored by the CSV export.
    pub limit: Option<i64>,
    /// The previous page's `next_before`.
    pub before: Option<i64>,
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    /// Sequence number.
    pub id: i64,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Acting user (`usr_…`), if a person.
    pub actor_user_id: Option<String>,
    /// Their display name, while they are a member.
    pub actor_name: Option<String>,
    /// Acting API key (`key_…`), if a key.
    pub actor_api_key_id: Option<String>,
    /// What happened, e.g. `member.invited`, `transcript.read`.
    pub action: String,
    /// What it happened to.
    pub target: Option<String>,
    /// What the action recorded: free-form JSON whose keys depend on the action (docs/api.md,
    /// "Audit log").
    pub details: serde_json::Value,
}

impl From<NamedRow> for AuditEntry {
    fn from(named: NamedRow) -> Self {
        let r = named.row;
        Self {
            id: r.id,
            occurred_at: r.occurred_at,
            actor_user_id: r.actor_user_id.map(|u| u.to_string()),
            actor_name: named.actor_name,
            actor_api_key_id: r.actor_api_key_id.map(|k| k.to_string()),
            action: r.action,
            target: r.target,
            details: r.details,
        }
    }
}

/// One page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next page; absent on the last one.
    pub next_before: Option<i64>,
}

/// The filter a query asks for; every invalid field at once.
fn filter_of(query: &AuditQuery, limit: i64) -> Result<Filter> {
    let mut fields = Fields::default();
    let actor = match query.actor.as_deref() {
        None => None,
        Some(raw) => {
            if let Ok(user) = raw.parse::<UserId>() {
                Some(ActorFilter::User(user))
            } else if let Ok(key) = raw.parse::<ApiKeyId>() {
                Some(ActorFilter::ApiKey(key))
            } else {
                fields.take::<(), _>("actor", "invalid", Err("a usr_… or key_… id"));
                None
            }
        }
    };
    let valid_action =
        |a: &str| (1..=64).contains(&a.len()) && a.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '.');
    let action = match query.action.as_deref() {
        None => None,
        Some(action) if valid_action(action) => Some(action.to_owned()),
        Some(_) => {
            fields.take("action", "invalid", Err("an action such as transcript.read, or a kind such as member."))
        }
    };
    let target = match query.target.as_deref() {
        None => None,
        Some(target) if (1..=100).contains(&target.len()) => Some(target.to_owned()),
        Some(_) => fields.take("target", "invalid", Err("1 to 100 characters")),
    };
    let from = fields.instant("from", query.from.as_deref());
    let to = fields.instant("to", query.to.as_deref());
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        fields.take::<(), _>("to", "out_of_range", Err("after `from`"));
    }
    if !(1..=MAX_PAGE).contains(&limit) {
        fields.take::<(), _>("limit", "out_of_range", Err(format!("1 to {MAX_PAGE}")));
    }
    fields.finish()?;
    Ok(Filter { actor, action, target, from, to, before: query.before, limit })
}

/// Lists the caller's tenant's audit entries, newest first.
#[utoipa::path(get, path = "/api/v1/audit-log", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 422, description = "validation_failed")))]
async fn list_audit_log(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    Query(query): Query<AuditQuery>,
) -> Result<axum::Json<AuditPage>> {
    let filter = filter_of(&query, query.limit.unwrap_or(50))?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let rows = db::audit::page(&mut tx, &filter).await?;
    tx.commit().await?;
    let next_before = (i64::try_from(rows.len()).unwrap_or(i64::MAX) == filter.limit)
        .then(|| rows.last().map(|r| r.row.id))
        .flatten();
    Ok(axum::Json(AuditPage { entries: rows.into_iter().map(AuditEntry::from).collect(), next_before }))
}

/// The matching entries as CSV (newest first, at most 100,000), streamed; the export itself is
/// recorded first.
#[utoipa::path(get, path = "/api/v1/audit-log/export", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = String, content_type = "text/csv", description = "id, occurred_at, actor_user_id, actor_name, actor_api_key_id, action, target, details"),
        (status = 422, description = "validation_failed")))]
async fn export_audit_log(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    Query(query): Query<AuditQuery>,
) -> Result<Response> {
    // The page size is the stream's (`limit` is ignored here).
    let filter = Filter { limit: EXPORT_BATCH, ..filter_of(&query, MAX_PAGE)? };
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let details = serde_json::json!({
        "actor": query.actor, "action": query.action, "target": query.target, "from": query.from, "to": query.to,
    });
    db::audit::record(&mut tx, auth.principal.actor(), "audit.exported", None, details).await?;
    tx.commit().await?;
    let body = Body::from_stream(csv_rows(state.db.clone(), auth.tenant.schema.clone(), filter));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"audit-log.csv\""),
        ],
        body,
    )
        .into_response())
}

/// The CSV, a batch of entries per chunk (the header first), read page by page: never the whole
/// log in memory.
fn csv_rows(
    databases: Databases,
    schema: TenantSchema,
    filter: Filter,
) -> impl futures_util::Stream<Item = std::result::Result<Vec<u8>, std::io::Error>> {
    struct State {
        databases: Databases,
        schema: TenantSchema,
        filter: Filter,
        sent: i64,
        header: bool,
        done: bool,
    }
    let start = State { databases, schema, filter, sent: 0, header: false, done: false };
    futures_util::stream::unfold(start, |mut state| async move {
        if state.done {
            return None;
        }
        let mut out = csv::Writer::from_writer(Vec::new());
        if !state.header {
            state.header = true;
            // A byte-order mark, so spreadsheet programs read the UTF-8 (names in Chinese).
            let _ = out.write_record([
                "id",
                "occurred_at",
                "actor_user_id",
                "actor_name",
                "actor_api_key_id",
                "action",
                "target",
                "details",
            ]);
            let bytes = [b"\xEF\xBB\xBF".as_slice(), &out.into_inner().unwrap_or_default()].concat();
            return Some((Ok(bytes), state));
        }
        state.filter.limit = EXPORT_BATCH.min(MAX_EXPORT - state.sent);
        let rows = async {
            let mut tx = TenantTx::begin(&state.databases, &state.schema).await?;
            let rows = db::audit::page(&mut tx, &state.filter).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(rows)
        }
        .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "audit log export failed mid-stream");
                state.done = true;
                return Some((Err(std::io::Error::other("the audit log could not be read")), state));
            }
        };
        let count = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        state.sent += count;
        state.done = count < state.filter.limit || state.sent >= MAX_EXPORT;
        state.filter.before = rows.last().map(|r| r.row.id);
        for named in rows {
            let entry = AuditEntry::from(named);
            let _ = out.write_record([
                entry.id.to_string(),
                entry.occurred_at.to_rfc3339(),
                entry.actor_user_id.unwrap_or_default(),
                spreadsheet_safe(&entry.actor_name.unwrap_or_default()),
                entry.actor_api_key_id.unwrap_or_default(),
                entry.action,
                spreadsheet_safe(&entry.target.unwrap_or_default()),
                spreadsheet_safe(&entry.details.to_string()),
            ]);
        }
        Some((Ok(out.into_inner().unwrap_or_default()), state))
    })
}

/// A CSV cell that a spreadsheet will not run as a formula: text starting with `=`, `+`, `-`,
/// `@` or a tab gets a leading apostrophe (OWASP's advice for CSV exports).
pub fn spreadsheet_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::spreadsheet_safe;

    #[test]
    fn cells_that_a_spreadsheet_would_run_are_quoted() {
        assert_eq!(spreadsheet_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(spreadsheet_safe("+1"), "'+1");
        assert_eq!(spreadsheet_safe("@SUM"), "'@SUM");
        assert_eq!(spreadsheet_safe("王小明"), "王小明");
        assert_eq!(spreadsheet_safe(""), "");
    }
}
