//! Visitor profiles for agents (F13): device, language, country, campaign, current page, page
//! history and earlier conversations; and erasing a visitor's data on request (F25).

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use kefu_protocol::VisitorId;
use kefu_protocol::ws::ConversationSummary;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AdminUp, AnyMember, Auth, ConversationsRead};
use crate::db::{self, TenantTx};
use crate::error::{ApiError, Result};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_visitor, erase_visitor))
}

/// One page view.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageView {
    /// URL.
    pub url: String,
    /// Title.
    pub title: Option<String>,
    /// Referrer.
    pub referrer: Option<String>,
    /// `utm_*` parameters of the URL.
    pub utm: Utm,
    /// When.
    pub viewed_at: DateTime<Utc>,
}

/// The `utm_*` parameters of a URL, without the prefix (those it has).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct Utm {
    /// `utm_source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `utm_medium`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<String>,
    /// `utm_campaign`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// `utm_term`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    /// `utm_content`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// What Kefu keeps about a visitor besides their columns (`visitors.attributes`).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct VisitorAttributes {
    /// The page of their latest page view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_page: Option<LastPage>,
    /// Their phone number, from a form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Their answers to the tenant's custom form fields, by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// What the host page attached (`Kefu('setContext', …)`): free-form JSON, the tenant's own
    /// keys and values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, serde_json::Value>>)]
    pub context: Option<serde_json::Map<String, serde_json::Value>>,
    /// When the host page last set the context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_at: Option<DateTime<Utc>>,
}

/// The page of a visitor's latest page view, as their profile keeps it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LastPage {
    /// URL.
    pub url: String,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// Reads a document the api wrote (`attributes`, `utm`) into its type; a shape it never writes
/// reads as empty (and is logged) rather than failing the profile.
fn document<T: Default + serde::de::DeserializeOwned>(what: &str, value: serde_json::Value) -> T {
    serde_json::from_value(value).unwrap_or_else(|error| {
        tracing::warn!(what, %error, "a visitor document has an unexpected shape");
        T::default()
    })
}

/// A visitor as agents see them.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitorProfile {
    /// Visitor id.
    pub id: VisitorId,
    /// The tenant's own id for a signed-in customer (identity verification).
    pub ext_user: Option<String>,
    /// Name, if known.
    pub name: Option<String>,
    /// Email, if known.
    pub email: Option<String>,
    /// Browser.
    pub browser: Option<String>,
    /// Operating system.
    pub os: Option<String>,
    /// `pc`, `smartphone`, …
    pub device: Option<String>,
    /// Preferred language.
    pub language: Option<String>,
    /// Country (ISO 3166-1 alpha-2) from the edge.
    pub country: Option<String>,
    /// The referrer of the first page seen.
    pub first_referrer: Option<String>,
    /// The campaign of the first page seen.
    pub first_utm: Utm,
    /// Current page, form answers and the host page's context.
    pub attributes: VisitorAttributes,
    /// First seen.
    pub first_seen_at: DateTime<Utc>,
    /// Last seen.
    pub last_seen_at: DateTime<Utc>,
    /// Connected right now (any tab, any node); false when presence is unavailable.
    pub online: bool,
    /// The 50 most recent page views, newest first.
    pub recent_pages: Vec<PageView>,
    /// The 20 most recent conversations, newest first.
    pub conversations: Vec<ConversationSummary>,
}

/// A visitor's profile, page history and earlier conversations.
#[utoipa::path(get, path = "/api/v1/visitors/{visitor_id}", tag = "visitors", security(("bearer" = [])),
    params(("visitor_id" = String, Path, description = "vis_…")),
    responses((status = 200, body = VisitorProfile), (status = 404, description = "resource_not_found")))]
async fn get_visitor(
    State(state): State<AppState>,
    auth: Auth<AnyMember, ConversationsRead>,
    Path(id): Path<String>,
) -> Result<axum::Json<VisitorProfile>> {
    let id: VisitorId = id.parse().map_err(|_| ApiError::not_found("visitor"))?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let visitor = db::visitors::find(&mut tx, id).await?.ok_or_else(|| ApiError::not_found("visitor"))?;
    let pages = db::visitors::recent_pages(&mut tx, id, 50).await?;
    let conversations = db::conversations::of_visitor(&mut tx, id, 20).await?;
    tx.commit().await?;
    let online = match state.presence.visitor_online(auth.tenant.id, id).await {
        Ok(online) => online.is_some(),
        Err(error) => {
            tracing::warn!(%error, "presence unavailable");
            false
        }
    };
    Ok(axum::Json(VisitorProfile {
        id,
        ext_user: visitor.ext_user,
        name: visitor.name,
        email: visitor.email,
        browser: visitor.browser,
        os: visitor.os,
        device: visitor.device,
        language: visitor.language,
        country: visitor.country,
        first_referrer: visitor.first_referrer,
        first_utm: document("first_utm", visitor.first_utm),
        attributes: document("attributes", visitor.attributes),
        first_seen_at: visitor.first_seen_at,
        last_seen_at: visitor.last_seen_at,
        online,
        recent_pages: pages
            .into_iter()
            .map(|p| PageView {
                url: p.url,
                title: p.title,
                referrer: p.referrer,
                utm: document("utm", p.utm),
                viewed_at: p.viewed_at,
            })
            .collect(),
        conversations: conversations.iter().map(db::conversations::ConversationRow::summary).collect(),
    }))
}

/// The receipt of an erasure: what was removed, in counts (no personal data).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureReceipt {
    /// The visitor (`vis_…`).
    pub visitor_id: VisitorId,
    /// Whether anything was left to erase (`false` when the visitor was already erased, or never
    /// existed: erasing again changes nothing).
    pub erased: bool,
    /// Conversations removed.
    pub conversations: i64,
    /// Messages and notes removed (with their search index entries).
    pub messages: i64,
    /// Page views removed.
    pub page_views: i64,
    /// Files removed from the object store.
    pub files: i64,
    /// Mail to the visitor's address removed (queued and sent).
    pub mails: i64,
    /// When.
    pub erased_at: DateTime<Utc>,
}

/// Erases a visitor's data (GDPR/PIPL): profile, page views, conversations with every message
/// and note, search entries, attachments and their files, mail to them. Idempotent; the receipt
/// is kept in the audit log (`visitor.erased`, counts only).
#[utoipa::path(delete, path = "/api/v1/visitors/{visitor_id}", tag = "visitors", security(("bearer" = [])),
    params(("visitor_id" = String, Path, description = "vis_…")),
    responses((status = 200, body = ErasureReceipt), (status = 403, description = "forbidden: admins"),
        (status = 404, description = "resource_not_found: not a visitor id")))]
async fn erase_visitor(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    Path(id): Path<String>,
) -> Result<axum::Json<ErasureReceipt>> {
    let id: VisitorId = id.parse().map_err(|_| ApiError::not_found("visitor"))?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let erased = db::erasure::erase_visitor(&mut tx, id).await?;
    let Some(erased) = erased else {
        tx.commit().await?;
        return Ok(axum::Json(ErasureReceipt {
            visitor_id: id,
            erased: false,
            conversations: 0,
            messages: 0,
            page_views: 0,
            files: 0,
            mails: 0,
            erased_at: Utc::now(),
        }));
    };
    let files = i64::try_from(erased.files.len()).unwrap_or(i64::MAX);
    let details = serde_json::json!({
        "conversations": erased.conversations, "messages": erased.messages, "page_views": erased.page_views,
        "files": files, "mails": erased.mails,
    });
    db::audit::record(&mut tx, auth.principal.actor(), "visitor.erased", Some(&id.to_string()), details).await?;
    tx.commit().await?;
    // The rows are gone; now the bytes. A file that cannot be deleted now is logged: its row is
    // gone, so nothing serves it.
    for key in &erased.files {
        if let Err(error) = state.attachments.delete(key).await {
            tracing::warn!(%error, key, "an erased visitor's file could not be deleted");
        }
    }
    Ok(axum::Json(ErasureReceipt {
        visitor_id: id,
        erased: true,
        conversations: erased.conversations,
        messages: erased.messages,
        page_views: erased.page_views,
        files,
        mails: erased.mails,
        erased_at: Utc::now(),
    }))
}
