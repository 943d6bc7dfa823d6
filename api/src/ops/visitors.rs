//! Visitor operations of the real-time protocol: arriving (recorded with device and language,
//! and their open conversation found), page views, the profile they enter and the host page's
//! context.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kefu_protocol::{ConversationId, VisitorId};

use super::events::{Change, Events};
use super::{OpError, in_tenant};
use crate::auth::TenantCtx;
use crate::db;
use crate::db::conversations::ConversationRow;

/// Records the visitor as seen now (creating them on their first visit) and returns their open
/// conversation, if any.
pub async fn arrive(
    databases: &crate::db::Databases,
    tenant: &TenantCtx,
    visitor: VisitorId,
    seen: db::visitors::Seen,
) -> Result<Option<ConversationRow>, OpError> {
    in_tenant(databases, &tenant.schema, |tx| {
        Box::pin(async move {
            db::visitors::touch(tx, visitor, &seen).await?;
            db::conversations::open_of_visitor(tx, visitor).await
        })
    })
    .await
}

/// A page the visitor opened.
#[derive(Debug, Clone)]
pub struct PageView {
    /// Its URL (http or https).
    pub url: String,
    /// Its title.
    pub title: Option<String>,
    /// Where the visitor came from.
    pub referrer: Option<String>,
}

/// Appends a page to the visitor's history (with its campaign parameters) and announces it.
/// Returns when it was viewed.
pub async fn view_page(
    databases: &crate::db::Databases,
    events: &Events,
    tenant: &TenantCtx,
    visitor: VisitorId,
    conversation: Option<ConversationId>,
    page: PageView,
) -> Result<DateTime<Utc>, OpError> {
    let id = visitor;
    let utm = crate::domain::tracking::utm_of(&page.url);
    let (url, title, referrer) = (page.url.clone(), page.title.clone(), page.referrer);
    let viewed_at = in_tenant(databases, &tenant.schema, |tx| {
        Box::pin(
            async move { db::visitors::record_page(tx, id, &url, title.as_deref(), referrer.as_deref(), &utm).await },
        )
    })
    .await?;
    events.publish(Change::PageViewed {
        tenant: tenant.id,
        visitor,
        conversation,
        url: page.url,
        title: page.title,
        viewed_at,
    });
    Ok(viewed_at)
}

/// What a visitor entered in a form: given fields replace stored ones.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// Name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// The tenant's custom form fields.
    pub fields: BTreeMap<String, String>,
}

/// Stores the visitor's profile and announces that agents should re-read the visitor.
pub async fn set_profile(
    databases: &crate::db::Databases,
    events: &Events,
    tenant: &TenantCtx,
    visitor: VisitorId,
    profile: Profile,
) -> Result<(), OpError> {
    let id = visitor;
    in_tenant(databases, &tenant.schema, |tx| {
        Box::pin(async move {
            let name = profile.name.as_deref().map(str::trim);
            db::visitors::set_profile(tx, id, name, profile.email.as_deref(), profile.phone.as_deref(), &profile.fields)
                .await
        })
    })
    .await?;
    events.publish(Change::VisitorUpdated { tenant: tenant.id, visitor });
    Ok(())
}

/// Stores the host page's context (replacing the previous one) and announces it.
pub async fn set_context(
    databases: &crate::db::Databases,
    events: &Events,
    tenant: &TenantCtx,
    visitor: VisitorId,
    data: serde_json::Map<String, serde_json::Value>,
) -> Result<(), OpError> {
    let id = visitor;
    in_tenant(databases, &tenant.schema, |tx| Box::pin(async move { db::visitors::set_context(tx, id, &data).await }))
        .await?;
    events.publish(Change::VisitorUpdated { tenant: tenant.id, visitor });
    Ok(())
}
