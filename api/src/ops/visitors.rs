//! Visitor operations of the real-time protocol: arriving (recorded with device and language,
//! and their open conversation found), the profile they enter and the host page's context (page
//! views are written in batches by `ops::page_views`).

use std::collections::BTreeMap;

use kefu_protocol::VisitorId;

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
