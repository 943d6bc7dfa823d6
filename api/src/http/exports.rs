//! Exporting conversations (F24, docs/export.md): the conversations matching a search's filters
//! (one conversation with `conversation=conv_…`), as the seed's JSON archive or as CSV, streamed
//! a page at a time; supervisors and up; every export recorded in the audit log.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Auth, FeedRead, SupervisorUp};
use super::search::{SearchQuery, audit_details, filter_of};
use crate::archive::{self, Format};
use crate::db::{self, TenantTx};
use crate::error::{ApiError, Result};
use crate::state::AppState;

/// Most conversations one export holds (narrow the filters for more).
pub const MAX_CONVERSATIONS: i64 = 1_000;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_conversations))
}

/// The archive's format.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FormatQuery {
    /// `json` (default: a JSON array of `{session_id, user_id, messages: [{sender, content,
    /// timestamp, …}], …}`) or `csv` (a row per message).
    pub format: Option<String>,
}

/// Exports the conversations with a message matching the search's keywords and filters (the
/// parameters of `GET /api/v1/search`; `order`, `limit` and `after` do not apply), newest first,
/// with every message and note of each.
#[utoipa::path(get, path = "/api/v1/export/conversations", tag = "search", security(("bearer" = [])),
    params(FormatQuery, SearchQuery),
    responses((status = 200, description = "the archive (application/json or text/csv), streamed"),
        (status = 403, description = "forbidden: supervisors and up"),
        (status = 422, description = "validation_failed (`too_many_conversations` over 1,000)")))]
async fn export_conversations(
    State(state): State<AppState>,
    auth: Auth<SupervisorUp, FeedRead>,
    Query(format): Query<FormatQuery>,
    Query(query): Query<SearchQuery>,
) -> Result<Response> {
    let format = match format.format.as_deref() {
        None => Format::Json,
        Some(raw) => Format::parse(raw).ok_or_else(|| ApiError::field("format", "invalid", "json or csv"))?,
    };
    let (filter, _) = filter_of(&query)?;
    let count = archive::stream::count_up_to(&state.db, &auth.tenant.schema, &filter, MAX_CONVERSATIONS).await?;
    if count > MAX_CONVERSATIONS {
        return Err(ApiError::field(
            "filters",
            "too_many_conversations",
            format!(
                "More than {MAX_CONVERSATIONS} conversations match: narrow the filters, or export them in the background \
                 (POST /api/v1/export/jobs)."
            ),
        ));
    }
    let mut details = audit_details(&query);
    details["format"] = format.extension().into();
    details["conversations"] = count.into();
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let target = query.conversation.as_deref();
    db::audit::record(&mut tx, auth.principal.actor(), "conversations.exported", target, details).await?;
    tx.commit().await?;
    let name = format!("conversations-{}.{}", chrono::Utc::now().format("%Y%m%d-%H%M%S"), format.extension());
    let body =
        Body::from_stream(archive::stream::archive(state.db.clone(), auth.tenant.schema.clone(), filter, format));
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response())
}
