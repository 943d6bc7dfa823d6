//! Attachment uploads and downloads (F10). Agents use their access token; visitors use their
//! visitor token (through the edge, which forwards `/v1/attachments…` to the tenant's region).
//! An upload is the raw file as the request body, with its name in `?name=`; the content decides
//! what it is (`attachments::sniff`), the plan decides how big it and the tenant's total may be.
//! Sending it is a WebSocket `send` with `attachment_id`. A download is allowed to members of the
//! tenant, and to the visitor whose conversation it was sent in (or who uploaded it).

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kefu_protocol::{AttachmentId, ErrorCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AnyMember, Auth, ConversationsRead, MessagesWrite};
use crate::attachments::{AttachmentStore, sniff};
use crate::db::NewId;
use crate::db::attachments::Uploader;
use crate::db::{self, TenantTx, tenant::TenantSchema};
use crate::error::{ApiError, Result};
use crate::state::AppState;

/// The largest body an upload route reads at all; the plan's limit (10–50 MiB) is checked
/// after.
pub const MAX_UPLOAD_BYTES: usize = 50 * 1024 * 1024;
/// File names are kept to this many characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Expired unsent files an upload removes on its way.
const EXPIRED_PER_UPLOAD: i64 = 100;
/// What an uploader with too many unsent files is told.
const TOO_MANY_UNSENT: &str =
    "Too many files uploaded and not sent; send or discard them first, or try again tomorrow.";
/// How long a node answers an uploader refused for unsent files without looking again (so a
/// flood of refused uploads reads neither its body nor the database).
const UNSENT_REFUSAL_REMEMBERED: std::time::Duration = std::time::Duration::from_secs(10);

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_as_agent))
        .routes(routes!(download_as_agent))
        .routes(routes!(upload_as_visitor))
        .routes(routes!(download_as_visitor))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
}

/// The file's name.
#[derive(Debug, Deserialize, IntoParams)]
pub struct UploadQuery {
    /// File name as the user picked it (kept for display and downloads, ≤ 255 characters).
    pub name: Option<String>,
}

/// A visitor's token, for downloads a browser makes itself (`<img src>`).
#[derive(Debug, Deserialize, IntoParams)]
pub struct VisitorTokenQuery {
    /// The visitor token (else `Authorization: Bearer`).
    pub token: Option<String>,
}

/// An uploaded file.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentView {
    /// `att_…`: send it with a WebSocket `send` frame's `attachment_id`.
    pub id: AttachmentId,
    /// File name.
    pub name: String,
    /// Media type, sniffed from the content.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
}

/// Uploads a file as an agent. The body is the file; its type is sniffed from the content
/// (images, PDF, office documents, zip, UTF-8 text).
#[utoipa::path(post, path = "/api/v1/attachments", tag = "conversations", security(("bearer" = [])),
    params(UploadQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = AttachmentView), (status = 413, description = "payload_too_large"),
        (status = 415, description = "unsupported_media_type"), (status = 403, description = "quota_exceeded")))]
async fn upload_as_agent(
    State(state): State<AppState>,
    auth: Auth<AnyMember, MessagesWrite>,
    Query(query): Query<UploadQuery>,
    body: axum::body::Body,
) -> Result<(StatusCode, axum::Json<AttachmentView>)> {
    let Some(user) = auth.principal.acting_member() else {
        return Err(ApiError::client(ErrorCode::Forbidden, "Attachments are sent by members: use a member's key."));
    };
    let uploader = Uploader::Agent(user);
    upload(&state, auth.tenant.id, &auth.tenant.schema, uploader, query.name, body).await
}

/// Downloads an attachment as a member of the tenant.
#[utoipa::path(get, path = "/api/v1/attachments/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "att_…")),
    responses((status = 200, description = "the file"), (status = 404, description = "resource_not_found")))]
async fn download_as_agent(
    State(state): State<AppState>,
    auth: Auth<AnyMember, ConversationsRead>,
    Path(id): Path<String>,
) -> Result<Response> {
    let id = attachment_id(&id)?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let row = db::attachments::find(&mut tx, id).await?.ok_or_else(|| ApiError::not_found("attachment"))?;
    let details = serde_json::json!({ "name": row.name });
    db::audit::record_read(
        &mut tx,
        auth.principal.actor(),
        "attachment.downloaded",
        &id.to_string(),
        details,
        super::conversations::READ_AUDIT_WINDOW,
    )
    .await?;
    tx.commit().await?;
    serve(&state.attachments, row).await
}

/// Uploads a file as a visitor (the edge forwards `POST /v1/attachments` here).
#[utoipa::path(post, path = "/api/v1/visitor/attachments", tag = "conversations",
    params(UploadQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = AttachmentView), (status = 401, description = "invalid_token"),
        (status = 413, description = "payload_too_large"), (status = 415, description = "unsupported_media_type")))]
async fn upload_as_visitor(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<UploadQuery>,
    body: axum::body::Body,
) -> Result<(StatusCode, axum::Json<AttachmentView>)> {
    // The token is checked before a byte of the body is read: a caller without one never gets
    // the api to take in a file.
    let claims = crate::realtime::verify_visitor_token(&state, &bearer(&headers, None)?)?;
    let uploader = Uploader::Visitor(claims.sub);
    // A visitor refused for unsent files a moment ago is refused again before any lookup.
    if let Some(refusal) = state.limits.spent(&unsent_caller(claims.tid, uploader)) {
        return Err(refusal);
    }
    let tenant = crate::realtime::admit_visitor(&state, &claims).await?;
    upload(&state, tenant.id, &tenant.schema, uploader, query.name, body).await
}

/// The key under which a node remembers an uploader refused for unsent files.
fn unsent_caller(tenant: kefu_protocol::TenantId, uploader: Uploader) -> Vec<u8> {
    [b"unsent:".as_slice(), tenant.as_uuid().as_bytes(), uploader.id().as_bytes()].concat()
}

/// Downloads an attachment as the visitor whose conversation it is in (or who uploaded it).
#[utoipa::path(get, path = "/api/v1/visitor/attachments/{id}", tag = "conversations",
    params(("id" = String, Path, description = "att_…"), VisitorTokenQuery),
    responses((status = 200, description = "the file"), (status = 404, description = "resource_not_found")))]
async fn download_as_visitor(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<VisitorTokenQuery>,
    Path(id): Path<String>,
) -> Result<Response> {
    let (claims, tenant) = crate::realtime::authenticate_visitor(&state, &bearer(&headers, query.token)?).await?;
    let id = attachment_id(&id)?;
    let mut tx = TenantTx::begin(&state.db, &tenant.schema).await?;
    let row = db::attachments::find(&mut tx, id).await?.ok_or_else(|| ApiError::not_found("attachment"))?;
    tx.commit().await?;
    let visitor = claims.sub;
    let own_upload = row.uploader == Uploader::Visitor(visitor);
    if !own_upload && row.conversation_visitor != Some(visitor) {
        // Same answer as for a missing one: ids of other visitors' files reveal nothing.
        return Err(ApiError::not_found("attachment"));
    }
    serve(&state.attachments, row).await
}

fn bearer(headers: &HeaderMap, query: Option<String>) -> Result<String> {
    query
        .or_else(|| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned)
        })
        .ok_or_else(|| ApiError::client(ErrorCode::Unauthenticated, "A visitor token is required."))
}

fn attachment_id(raw: &str) -> Result<AttachmentId> {
    raw.parse().map_err(|_| ApiError::not_found("attachment"))
}

/// A file name safe to keep and show: no path, no control characters, at most 255 characters.
fn clean_name(name: Option<&str>) -> String {
    let base = name.unwrap_or_default().rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(MAX_NAME_CHARS).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." { "file".into() } else { cleaned.to_owned() }
}

async fn upload(
    state: &AppState,
    tenant: kefu_protocol::TenantId,
    schema: &TenantSchema,
    uploader: Uploader,
    name: Option<String>,
    body: axum::body::Body,
) -> Result<(StatusCode, axum::Json<AttachmentView>)> {
    const MIB: i64 = 1024 * 1024;
    let caller = unsent_caller(tenant, uploader);
    if let Some(refusal) = state.limits.spent(&caller) {
        return Err(refusal);
    }
    let (max_mb, storage_mb) = {
        let mut conn = state.db.control().acquire().await?;
        db::tenants::attachment_limits(&mut conn, tenant).await?
    };
    // Read only now, the caller known, and at most the plan's largest file.
    let limit = usize::try_from(i64::from(max_mb) * MIB).unwrap_or(MAX_UPLOAD_BYTES).min(MAX_UPLOAD_BYTES);
    let too_large =
        || ApiError::client(ErrorCode::PayloadTooLarge, format!("Files are at most {max_mb} MiB on this plan."));
    let body = axum::body::to_bytes(body, limit).await.map_err(|_| too_large())?;
    if body.is_empty() {
        return Err(ApiError::field("body", "empty", "The file is empty."));
    }
    let size = i64::try_from(body.len()).unwrap_or(i64::MAX);
    let Some(kind) = sniff::classify(&body) else {
        return Err(ApiError::client(
            ErrorCode::UnsupportedMediaType,
            "This kind of file cannot be sent: images (PNG, JPEG, GIF, WebP), PDF, office documents, zip and plain text can.",
        ));
    };
    let name = clean_name(name.as_deref());
    let id = AttachmentId::new_v7();
    let key = AttachmentStore::key_of(tenant, id);
    // The bytes go to the store first, outside any transaction: the quota check below holds a
    // table lock, and must not hold it for the length of an upload.
    state.attachments.put(&key, body).await.map_err(|error| {
        tracing::error!(%error, "attachment store write failed");
        ApiError::client(ErrorCode::ServiceUnavailable, "The file store is unavailable; retry shortly.")
    })?;
    let new = db::attachments::NewAttachment {
        id,
        uploader,
        name: &name,
        content_type: kind.content_type,
        size,
        storage_key: &key,
    };
    let recorded = async {
        let mut tx = TenantTx::begin(&state.db, schema).await?;
        // The quota lock before anything else on the table (see `lock_for_upload`).
        db::attachments::lock_for_upload(&mut tx).await?;
        // Files never sent expire after a day: the oldest go now (their objects after commit),
        // and the daily retention run takes the rest.
        let cutoff = chrono::Utc::now() - chrono::Duration::hours(crate::attachments::UNSENT_KEPT_HOURS);
        let expired = db::attachments::delete_unsent(&mut tx, cutoff, EXPIRED_PER_UPLOAD).await?;
        let stored = db::attachments::measure(&mut tx, uploader).await?;
        let storage = i64::from(storage_mb) * MIB;
        if stored.sent_bytes + size > storage {
            return Err(ApiError::client(
                ErrorCode::QuotaExceeded,
                format!("The plan's {storage_mb} MiB of attachment storage is full."),
            ));
        }
        // Unsent files do not count against storage, but are bounded on their own: per uploader,
        // and for the whole workspace by the plan's storage again (docs/billing.md).
        if stored.uploader_unsent >= crate::attachments::MAX_UNSENT_PER_UPLOADER || stored.unsent_bytes + size > storage
        {
            state.limits.remember_refusal(
                &caller,
                ErrorCode::QuotaExceeded,
                TOO_MANY_UNSENT,
                UNSENT_REFUSAL_REMEMBERED,
            );
            return Err(ApiError::client(ErrorCode::QuotaExceeded, TOO_MANY_UNSENT));
        }
        db::attachments::insert(&mut tx, &new).await?;
        tx.commit().await?;
        Ok(expired)
    }
    .await;
    match recorded {
        Ok(expired) => {
            for key in expired {
                if let Err(error) = state.attachments.delete(&key).await {
                    tracing::warn!(%error, key, "an expired unsent attachment's file was not removed");
                }
            }
        }
        Err(error) => {
            // An object without a row would be unreachable: remove it.
            if let Err(cleanup) = state.attachments.delete(&key).await {
                tracing::warn!(%cleanup, key, "could not remove an unrecorded attachment");
            }
            return Err(error);
        }
    }
    let view = AttachmentView { id, name, content_type: kind.content_type.into(), size };
    Ok((StatusCode::CREATED, axum::Json(view)))
}

/// The file, with headers that keep a browser from running it: the sniffed type, `nosniff`, a
/// sandboxing CSP, and `attachment` disposition for everything but images.
async fn serve(store: &AttachmentStore, row: db::attachments::AttachmentRow) -> Result<Response> {
    let bytes = store.get(&row.storage_key).await.map_err(|error| {
        tracing::error!(%error, key = %row.storage_key, "attachment store read failed");
        ApiError::client(ErrorCode::ServiceUnavailable, "The file store is unavailable; retry shortly.")
    })?;
    let inline = row.content_type.starts_with("image/");
    let encoded: String =
        url::form_urlencoded::byte_serialize(row.name.as_bytes()).collect::<String>().replace('+', "%20");
    let disposition = format!("{}; filename*=UTF-8''{encoded}", if inline { "inline" } else { "attachment" });
    let value = |v: &str| HeaderValue::from_str(v).map_err(|_| ApiError::client(ErrorCode::Internal, "bad header"));
    Ok((
        [
            (header::CONTENT_TYPE, value(&row.content_type)?),
            (header::CONTENT_DISPOSITION, value(&disposition)?),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=86400, immutable")),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(clean_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_name(Some("C:\\\\Users\\\\发票.pdf")), "发票.pdf");
        assert_eq!(clean_name(Some("a\u{0}b\r\n.png")), "ab.png");
        assert_eq!(clean_name(Some("..")), "file");
        assert_eq!(clean_name(None), "file");
        assert_eq!(clean_name(Some(&"x".repeat(300))).chars().count(), 255);
    }
}
