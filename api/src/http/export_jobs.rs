//! Background exports (F24, docs/export.md "Background exports"): a selection of conversations
//! of any size up to the plan's limit, written by a job to the object store with progress,
//! cancellable, and downloaded through a short-lived link (a browser can save it straight to
//! disk). Supervisors and up; asking, and downloading, are recorded in the audit log.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use kefu_protocol::{ErrorCode, ExportJobId, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, Auth, FeedRead, OwnerOnly, SupervisorUp};
use super::search::{SearchQuery, audit_details, filter_of};
use crate::archive::{self, Format};
use crate::db::audit::Actor;
use crate::db::{self, NewId, TenantTx};
use crate::domain::secret;
use crate::error::{ApiError, Result};
use crate::state::AppState;

/// Queued or running jobs a workspace may have at once.
pub const MAX_UNFINISHED: i64 = 3;
/// Jobs listed.
const LIST: i64 = 50;
/// How long a download link works.
const LINK_SECS: i64 = 600;
/// Prefix of download link tokens.
const LINK_PREFIX: &str = "kefu_dl";

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_job, list_jobs))
        .routes(routes!(create_tenant_job))
        .routes(routes!(get_job))
        .routes(routes!(cancel_job))
        .routes(routes!(link_job))
        .routes(routes!(download))
}

/// What to export in the background.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportJobRequest {
    /// `json` (default) or `csv`.
    pub format: Option<String>,
    /// The search's filters (the parameters of `GET /api/v1/search`; `order`, `limit` and `after`
    /// do not apply).
    #[serde(default)]
    pub filters: SearchQuery,
}

/// A background export.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportJobView {
    /// `exp_…`.
    pub id: String,
    /// `conversations` (a search's selection) or `tenant` (the whole workspace, the owner's).
    pub kind: String,
    /// `queued`, `running`, `done` (downloadable until `expires_at`), `failed`, `cancelled` or
    /// `expired` (its file was removed).
    pub status: String,
    /// `json`, `csv` or `tar` (the workspace's archive).
    pub format: String,
    /// The search's filters it exports: the parameters of `GET /api/v1/search` it was given, by
    /// name (empty for a workspace's archive).
    pub filters: std::collections::BTreeMap<String, String>,
    /// Conversations that matched when it was asked for (a workspace's archive: its tables and
    /// files, once it has started).
    pub total: i32,
    /// Conversations (tables and files) written so far.
    pub written: i32,
    /// Bytes written so far.
    pub bytes: i64,
    /// Who asked (`usr_…` or `key_…`).
    pub requested_by: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Asked for.
    pub created_at: DateTime<Utc>,
    /// Started.
    pub started_at: Option<DateTime<Utc>>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// When a finished export's file is removed.
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<db::export_jobs::Job> for ExportJobView {
    fn from(job: db::export_jobs::Job) -> Self {
        Self {
            id: job.id.to_string(),
            kind: job.kind,
            status: job.status,
            format: job.format,
            // Stored as the api wrote them (`audit_details`): names and strings only.
            filters: serde_json::from_value(job.filters).unwrap_or_default(),
            total: job.total,
            written: job.written,
            bytes: job.bytes,
            requested_by: job
                .requested_by_user
                .map(|u| u.to_string())
                .or_else(|| job.requested_by_key.map(|k| k.to_string())),
            error: job.error,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            expires_at: job.expires_at,
        }
    }
}

/// The workspace's newest background exports.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportJobList {
    /// Newest first, at most 50.
    pub jobs: Vec<ExportJobView>,
}

/// A download link.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportLink {
    /// Open it (no other credential needed) to download the file.
    pub url: String,
    /// It stops working then (ten minutes).
    pub expires_at: DateTime<Utc>,
}

/// Refuses a new job while the workspace has [`MAX_UNFINISHED`] queued or running.
async fn room_for_another(tx: &mut TenantTx) -> Result<()> {
    if db::export_jobs::unfinished(tx).await? >= MAX_UNFINISHED {
        return Err(ApiError::client(
            ErrorCode::RateLimited,
            format!("{MAX_UNFINISHED} exports are already queued or running: wait for one or cancel it."),
        ));
    }
    Ok(())
}

fn job_id(raw: &str) -> Result<ExportJobId> {
    raw.parse().map_err(|_| ApiError::not_found("export"))
}

/// One of the workspace's jobs the caller may see: a workspace's archive is the owner's alone.
async fn visible_job(
    tx: &mut TenantTx,
    auth: &Auth<SupervisorUp, FeedRead>,
    id: ExportJobId,
) -> Result<db::export_jobs::Job> {
    match db::export_jobs::find(tx, id).await? {
        Some(job) if job.kind != "tenant" || auth.principal.role() == Role::Owner => Ok(job),
        _ => Err(ApiError::not_found("export")),
    }
}

/// Queues a background export of the conversations a search finds. The synchronous
/// `GET /api/v1/export/conversations` holds at most 1,000; a job holds up to the plan's limit.
#[utoipa::path(post, path = "/api/v1/export/jobs", tag = "search", security(("bearer" = [])),
    request_body = ExportJobRequest,
    responses((status = 202, body = ExportJobView), (status = 403, description = "forbidden: supervisors and up"),
        (status = 422, description = "validation_failed: a filter, or `too_many_conversations` over the plan's limit"),
        (status = 429, description = "rate_limited: three exports are already queued or running")))]
async fn create_job(
    State(state): State<AppState>,
    auth: Auth<SupervisorUp, FeedRead>,
    ApiJson(request): ApiJson<ExportJobRequest>,
) -> Result<(StatusCode, Json<ExportJobView>)> {
    let format = match request.format.as_deref() {
        None => Format::Json,
        Some(raw) => Format::parse(raw).ok_or_else(|| ApiError::field("format", "invalid", "json or csv"))?,
    };
    let (filter, _) = filter_of(&request.filters)?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    room_for_another(&mut tx).await?;
    let limit = db::export_jobs::plan_limit(&mut tx).await?;
    tx.commit().await?;
    let total = archive::stream::count_up_to(&state.db, &auth.tenant.schema, &filter, limit).await?;
    if total > limit {
        return Err(ApiError::field(
            "filters",
            "too_many_conversations",
            format!("More than {limit} conversations match, the most your plan exports at once: narrow the dates."),
        ));
    }
    let filters = audit_details(&request.filters);
    let id = ExportJobId::new_v7();
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let job = db::export_jobs::create(
        &mut tx,
        db::export_jobs::NewJob {
            id,
            actor: auth.principal.actor(),
            kind: "conversations",
            format: format.extension(),
            filters: &filters,
            total: i32::try_from(total).unwrap_or(i32::MAX),
        },
    )
    .await?;
    let mut details = filters.clone();
    details["format"] = format.extension().into();
    details["conversations"] = total.into();
    details["job"] = id.to_string().into();
    let target = request.filters.conversation.as_deref();
    db::audit::record(&mut tx, auth.principal.actor(), "conversations.exported", target, details).await?;
    tx.commit().await?;
    state.export_jobs.poke();
    Ok((StatusCode::ACCEPTED, Json(job.into())))
}

/// Queues the workspace's archive (the owner only): one tar file with every table of the
/// workspace, its control-plane rows without secrets and every attachment's file, from one
/// snapshot (docs/export.md, "The workspace's archive"). Download it like any export.
#[utoipa::path(post, path = "/api/v1/tenant/export/jobs", tag = "tenant", security(("bearer" = [])),
    responses((status = 202, body = ExportJobView), (status = 403, description = "forbidden: the owner"),
        (status = 429, description = "rate_limited: three exports are already queued or running")))]
async fn create_tenant_job(
    State(state): State<AppState>,
    auth: Auth<OwnerOnly>,
) -> Result<(StatusCode, Json<ExportJobView>)> {
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    room_for_another(&mut tx).await?;
    let id = ExportJobId::new_v7();
    let filters = serde_json::json!({});
    let job = db::export_jobs::create(
        &mut tx,
        db::export_jobs::NewJob {
            id,
            actor: auth.principal.actor(),
            kind: "tenant",
            format: "tar",
            filters: &filters,
            total: 0,
        },
    )
    .await?;
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "tenant.exported",
        None,
        serde_json::json!({ "job": id.to_string() }),
    )
    .await?;
    tx.commit().await?;
    state.export_jobs.poke();
    Ok((StatusCode::ACCEPTED, Json(job.into())))
}

/// Which exports to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// `conversations` (default) or `tenant` (the workspace's archives; the owner only).
    pub kind: Option<String>,
}

/// The workspace's newest background exports, with their progress.
#[utoipa::path(get, path = "/api/v1/export/jobs", tag = "search", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = ExportJobList), (status = 403, description = "forbidden: supervisors and up; `kind=tenant`, the owner")))]
async fn list_jobs(
    State(state): State<AppState>,
    auth: Auth<SupervisorUp, FeedRead>,
    Query(query): Query<ListQuery>,
) -> Result<Json<ExportJobList>> {
    let kind = match query.kind.as_deref() {
        None | Some("conversations") => "conversations",
        Some("tenant") if auth.principal.role() == Role::Owner => "tenant",
        Some("tenant") => return Err(ApiError::forbidden("The workspace's archives are the owner's.")),
        Some(_) => return Err(ApiError::field("kind", "invalid", "conversations or tenant")),
    };
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let jobs = db::export_jobs::list(&mut tx, &[kind], LIST).await?;
    tx.commit().await?;
    Ok(Json(ExportJobList { jobs: jobs.into_iter().map(Into::into).collect() }))
}

/// One background export.
#[utoipa::path(get, path = "/api/v1/export/jobs/{id}", tag = "search", security(("bearer" = [])),
    params(("id" = String, Path, description = "exp_…")),
    responses((status = 200, body = ExportJobView), (status = 404, description = "resource_not_found")))]
async fn get_job(
    State(state): State<AppState>,
    auth: Auth<SupervisorUp, FeedRead>,
    Path(id): Path<String>,
) -> Result<Json<ExportJobView>> {
    let id = job_id(&id)?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let job = visible_job(&mut tx, &auth, id).await?;
    tx.commit().await?;
    Ok(Json(job.into()))
}

/// Cancels a queued or running export (its worker stops after the part it is writing and its
/// files are removed); a finished one is returned as it is.
#[utoipa::path(post, path = "/api/v1/export/jobs/{id}/cancel", tag = "search", security(("bearer" = [])),
    params(("id" = String, Path, description = "exp_…")),
    responses((status = 200, body = ExportJobView), (status = 404, description = "resource_not_found")))]
async fn cancel_job(
    State(state): State<AppState>,
    auth: Auth<SupervisorUp, FeedRead>,
    Path(id): Path<String>,
) -> Result<Json<ExportJobView>> {
    let id = job_id(&id)?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    visible_job(&mut tx, &auth, id).await?;
    let job = db::export_jobs::cancel(&mut tx, id).await?.ok_or_else(|| ApiError::not_found("export"))?;
    tx.commit().await?;
    Ok(Json(job.into()))
}

/// A link that downloads a finished export for the next ten minutes (a browser saves it to disk
/// as it arrives). A new link replaces the previous one.
#[utoipa::path(post, path = "/api/v1/export/jobs/{id}/link", tag = "search", security(("bearer" = [])),
    params(("id" = String, Path, description = "exp_…")),
    responses((status = 200, body = ExportLink), (status = 404, description = "resource_not_found"),
        (status = 409, description = "version_conflict: the export is not finished (or its file expired)")))]
async fn link_job(
    State(state): State<AppState>,
    auth: Auth<SupervisorUp, FeedRead>,
    Path(id): Path<String>,
) -> Result<Json<ExportLink>> {
    let id = job_id(&id)?;
    let token = secret::generate(LINK_PREFIX)?;
    let expires_at = Utc::now() + chrono::Duration::seconds(LINK_SECS);
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    visible_job(&mut tx, &auth, id).await?;
    if !db::export_jobs::set_link(&mut tx, id, &secret::digest(&token), expires_at, auth.principal.actor()).await? {
        return Err(ApiError::client(ErrorCode::VersionConflict, "The export is not finished, or its file expired."));
    }
    tx.commit().await?;
    let url = format!("{}/api/v1/export/download?token={token}", state.config.public_url.trim_end_matches('/'));
    Ok(Json(ExportLink { url, expires_at }))
}

/// A download link's token.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DownloadQuery {
    /// From `POST /api/v1/export/jobs/{id}/link`.
    pub token: String,
}

/// Downloads a finished export through a link (the token is the credential; it works for ten
/// minutes). Every download is recorded in the audit log under who made the link.
#[utoipa::path(get, path = "/api/v1/export/download", tag = "search", params(DownloadQuery),
    responses((status = 200, description = "the archive (application/json or text/csv), streamed"),
        (status = 404, description = "resource_not_found: unknown or expired link")))]
async fn download(State(state): State<AppState>, Query(query): Query<DownloadQuery>) -> Result<Response> {
    if !secret::looks_like(&query.token, LINK_PREFIX) {
        return Err(ApiError::not_found("export"));
    }
    let linked = {
        let mut conn = state.db.control().acquire().await?;
        db::export_jobs::by_link(&mut conn, &secret::digest(&query.token)).await?
    };
    let linked = linked.ok_or_else(|| ApiError::not_found("export"))?;
    let schema =
        db::tenants::active_schema(&state.db, linked.tenant_id).await?.ok_or_else(|| ApiError::not_found("export"))?;
    let tenant_archive = linked.kind == "tenant";
    let format = Format::parse(&linked.format).unwrap_or(Format::Json);
    let actor = match (linked.link_user, linked.link_key) {
        (Some(user), _) => Actor::User(user),
        (None, Some(key)) => Actor::ApiKey(key),
        (None, None) => Actor::System,
    };
    let mut tx = TenantTx::begin(&state.db, &schema).await?;
    let details =
        serde_json::json!({ "conversations": linked.written, "bytes": linked.bytes, "format": linked.format });
    db::audit::record(&mut tx, actor, "export.downloaded", Some(&linked.id.to_string()), details).await?;
    tx.commit().await?;
    let (content_type, name) = if tenant_archive {
        ("application/x-tar".to_owned(), archive::tenant_export::file_name(linked.tenant_id, linked.created_at))
    } else {
        (
            format.content_type().to_owned(),
            format!("conversations-{}.{}", linked.created_at.format("%Y%m%d-%H%M%S"), format.extension()),
        )
    };
    let run = tenant_archive.then_some(linked.attempts);
    let body = Body::from_stream(archive::jobs::download(
        state.attachments.clone(),
        linked.tenant_id,
        linked.id,
        run,
        linked.parts,
    ));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            (header::CONTENT_LENGTH, linked.bytes.to_string()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}
