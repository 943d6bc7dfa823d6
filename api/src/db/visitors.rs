//! Tenant-scoped `visitors`: people chatting through the widget.

use kefu_protocol::VisitorId;

use super::TenantTx;

/// What a connection tells about a visitor.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// The tenant's own id for a signed-in customer.
    pub ext_user: Option<String>,
    /// Browser.
    pub browser: Option<String>,
    /// Operating system.
    pub os: Option<String>,
    /// Device class.
    pub device: Option<String>,
    /// Preferred language.
    pub language: Option<String>,
    /// Country code from the edge.
    pub country: Option<String>,
    /// The signed-in customer's VIP level (0–10); only an identified connection sets it.
    pub vip: i16,
}

/// Records a visitor's connection: creates the row on first sight, refreshes `last_seen_at`,
/// device, language and country otherwise (keeping known values when a connection lacks them).
/// An identified connection sets the VIP level its token carries (0 without one); an anonymous
/// one keeps the stored level.
pub async fn touch(tx: &mut TenantTx, id: VisitorId, seen: &Seen) -> sqlx::Result<()> {
    sqlx::query(
        "insert into visitors (id, ext_user, browser, os, device, language, country, vip)
         values ($1, $2, $3, $4, $5, $6, $7, case when $2::text is null then 0 else $8 end)
         on conflict (id) do update set last_seen_at = now(),
             ext_user = coalesce(excluded.ext_user, visitors.ext_user),
             vip = case when excluded.ext_user is null then visitors.vip else excluded.vip end,
             browser = coalesce(excluded.browser, visitors.browser),
             os = coalesce(excluded.os, visitors.os),
             device = coalesce(excluded.device, visitors.device),
             language = coalesce(excluded.language, visitors.language),
             country = coalesce(excluded.country, visitors.country)",
    )
    .bind(id)
    .bind(&seen.ext_user)
    .bind(&seen.browser)
    .bind(&seen.os)
    .bind(&seen.device)
    .bind(&seen.language)
    .bind(&seen.country)
    .bind(seen.vip.clamp(0, 10))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Records a page view: appends it to the history, makes it the visitor's current page, and
/// keeps the first referrer and campaign seen. Returns the time it was recorded.
pub async fn record_page(
    tx: &mut TenantTx,
    id: VisitorId,
    url: &str,
    title: Option<&str>,
    referrer: Option<&str>,
    utm: &serde_json::Value,
) -> sqlx::Result<chrono::DateTime<chrono::Utc>> {
    let viewed_at: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "insert into page_views (visitor_id, url, title, referrer, utm) values ($1, $2, $3, $4, $5) returning viewed_at",
    )
    .bind(id)
    .bind(url)
    .bind(title)
    .bind(referrer)
    .bind(utm)
    .fetch_one(tx.conn())
    .await?;
    sqlx::query(
        "update visitors set last_seen_at = now(),
             attributes = jsonb_set(attributes, '{current_page}',
                 jsonb_build_object('url', $2::text, 'title', $3::text, 'at', now())),
             first_referrer = coalesce(first_referrer, nullif($4, '')),
             first_utm = case when first_utm = '{}'::jsonb then $5 else first_utm end
         where id = $1",
    )
    .bind(id)
    .bind(url)
    .bind(title)
    .bind(referrer)
    .bind(utm)
    .execute(tx.conn())
    .await?;
    Ok(viewed_at)
}

/// A visitor's profile as agents see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VisitorRow {
    /// Id.
    pub id: VisitorId,
    /// Tenant's own user id.
    pub ext_user: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Browser.
    pub browser: Option<String>,
    /// OS.
    pub os: Option<String>,
    /// Device class.
    pub device: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// First referrer.
    pub first_referrer: Option<String>,
    /// First campaign.
    pub first_utm: serde_json::Value,
    /// Other attributes (current page, context from the widget API).
    pub attributes: serde_json::Value,
    /// First seen.
    pub first_seen_at: chrono::DateTime<chrono::Utc>,
    /// Last seen.
    pub last_seen_at: chrono::DateTime<chrono::Utc>,
}

/// One visitor.
pub async fn find(tx: &mut TenantTx, id: VisitorId) -> sqlx::Result<Option<VisitorRow>> {
    sqlx::query_as(
        "select id, ext_user, name, email, browser, os, device, language, country, first_referrer, first_utm,
                attributes, first_seen_at, last_seen_at
         from visitors where id = $1",
    )
    .bind(id)
    .fetch_optional(tx.conn())
    .await
}

/// A page view.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PageViewRow {
    /// URL.
    pub url: String,
    /// Title.
    pub title: Option<String>,
    /// Referrer.
    pub referrer: Option<String>,
    /// Campaign parameters.
    pub utm: serde_json::Value,
    /// When.
    pub viewed_at: chrono::DateTime<chrono::Utc>,
}

/// The visitor's most recent page views, newest first.
pub async fn recent_pages(tx: &mut TenantTx, id: VisitorId, limit: i64) -> sqlx::Result<Vec<PageViewRow>> {
    sqlx::query_as(
        "select url, title, referrer, utm, viewed_at from page_views where visitor_id = $1 order by viewed_at desc, id desc limit $2",
    )
    .bind(id)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// What a visitor told about themselves (pre-chat or offline form): given fields replace the
/// stored ones. The phone and the tenant's custom fields live in `attributes`.
pub async fn set_profile(
    tx: &mut TenantTx,
    id: VisitorId,
    name: Option<&str>,
    email: Option<&str>,
    phone: Option<&str>,
    fields: &std::collections::BTreeMap<String, String>,
) -> sqlx::Result<()> {
    let fields = (!fields.is_empty()).then_some(sqlx::types::Json(fields));
    sqlx::query(
        "update visitors set name = coalesce($2, name), email = coalesce($3, email),
                attributes = attributes
                    || case when $4::text is null then '{}'::jsonb else jsonb_build_object('phone', $4::text) end
                    || case when $5::jsonb is null then '{}'::jsonb else jsonb_build_object('fields', $5::jsonb) end
         where id = $1",
    )
    .bind(id)
    .bind(name)
    .bind(email)
    .bind(phone)
    .bind(fields)
    .execute(tx.conn())
    .await
    .map(|_| ())
}

/// Replaces the context the host page attached (`Kefu('setContext', …)`), kept in
/// `attributes.context` with the time it was set.
pub async fn set_context(
    tx: &mut TenantTx,
    id: VisitorId,
    context: &serde_json::Map<String, serde_json::Value>,
) -> sqlx::Result<()> {
    sqlx::query(
        "update visitors set attributes = attributes || jsonb_build_object('context', $2::jsonb, 'context_at', now())
         where id = $1",
    )
    .bind(id)
    .bind(sqlx::types::Json(context))
    .execute(tx.conn())
    .await
    .map(|_| ())
}
