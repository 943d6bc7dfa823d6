//! Tenant-scoped `visitors`: people chatting through the widget.

use std::collections::HashMap;

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

/// A page view to record (`ops::page_views` gathers them into batches).
#[derive(Debug, Clone, Copy)]
pub struct NewPageView<'a> {
    /// Whose.
    pub visitor: VisitorId,
    /// The page's URL.
    pub url: &'a str,
    /// Its title.
    pub title: Option<&'a str>,
    /// Where the visitor came from.
    pub referrer: Option<&'a str>,
    /// The URL's campaign parameters, as JSON text.
    pub utm: &'a str,
}

/// What [`record_pages`] wrote: the views' time (one per transaction) and the visitors found,
/// in id order (an erased visitor's late views are skipped).
#[derive(Debug)]
pub struct PagesWritten {
    /// When the views were recorded.
    pub viewed_at: chrono::DateTime<chrono::Utc>,
    /// The visitors whose views were written, sorted.
    pub visitors: Vec<uuid::Uuid>,
}

/// Records page views, in order, with asynchronous commit (page views are not acknowledged):
/// appends them to the history, makes each visitor's last one their current page, and keeps the
/// first referrer and campaign seen.
pub async fn record_pages(tx: &mut TenantTx, views: &[NewPageView<'_>]) -> sqlx::Result<PagesWritten> {
    sqlx::query("set local synchronous_commit = off").execute(tx.conn()).await?;
    let visitor: Vec<uuid::Uuid> = views.iter().map(|v| v.visitor.as_uuid()).collect();
    // Lock the visitors in one order, so batches of two nodes cannot deadlock.
    let found: Vec<uuid::Uuid> =
        sqlx::query_scalar("select id from visitors where id = any($1) order by id for update")
            .bind(&visitor)
            .fetch_all(tx.conn())
            .await?;
    let viewed_at: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "with inserted as (
             insert into page_views (visitor_id, url, title, referrer, utm)
             select v.visitor_id, v.url, v.title, v.referrer, v.utm::jsonb
             from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])
                  with ordinality as v(visitor_id, url, title, referrer, utm, n)
             where v.visitor_id = any($6)
             order by v.n
             returning 1
         )
         select now() from (select count(*) from inserted) as c",
    )
    .bind(&visitor)
    .bind(views.iter().map(|v| v.url).collect::<Vec<_>>())
    .bind(views.iter().map(|v| v.title).collect::<Vec<_>>())
    .bind(views.iter().map(|v| v.referrer).collect::<Vec<_>>())
    .bind(views.iter().map(|v| v.utm).collect::<Vec<_>>())
    .bind(&found)
    .fetch_one(tx.conn())
    .await?;
    let current = current_pages(views);
    sqlx::query(
        "update visitors set last_seen_at = now(),
             attributes = jsonb_set(attributes, '{current_page}',
                 jsonb_build_object('url', c.url, 'title', c.title, 'at', now())),
             first_referrer = coalesce(first_referrer, nullif(c.referrer, '')),
             first_utm = case when first_utm = '{}'::jsonb then c.utm::jsonb else first_utm end
         from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) as c(id, url, title, referrer, utm)
         where visitors.id = c.id",
    )
    .bind(current.iter().map(|c| c.visitor.as_uuid()).collect::<Vec<_>>())
    .bind(current.iter().map(|c| c.url).collect::<Vec<_>>())
    .bind(current.iter().map(|c| c.title).collect::<Vec<_>>())
    .bind(current.iter().map(|c| c.referrer).collect::<Vec<_>>())
    .bind(current.iter().map(|c| c.utm).collect::<Vec<_>>())
    .execute(tx.conn())
    .await?;
    Ok(PagesWritten { viewed_at, visitors: found })
}

/// Each visitor's row after `views`: the last page, the first non-empty referrer and campaign.
fn current_pages<'a>(views: &[NewPageView<'a>]) -> Vec<NewPageView<'a>> {
    let mut rows: Vec<NewPageView<'a>> = Vec::new();
    let mut index: HashMap<VisitorId, usize> = HashMap::new();
    for view in views {
        let referrer = view.referrer.filter(|r| !r.is_empty());
        match index.get(&view.visitor).and_then(|&i| rows.get_mut(i)) {
            Some(row) => {
                row.url = view.url;
                row.title = view.title;
                row.referrer = row.referrer.or(referrer);
                if row.utm == "{}" {
                    row.utm = view.utm;
                }
            }
            None => {
                index.insert(view.visitor, rows.len());
                rows.push(NewPageView { referrer, ..*view });
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visitors_current_page_is_the_last_with_the_first_referrer_and_campaign() {
        let (a, b) = (VisitorId::from_uuid(uuid::Uuid::now_v7()), VisitorId::from_uuid(uuid::Uuid::now_v7()));
        let view = |visitor, url, referrer, utm| NewPageView { visitor, url, title: None, referrer, utm };
        let views = [
            view(a, "/1", Some(""), "{}"),
            view(b, "/b", None, "{}"),
            view(a, "/2", Some("https://r.example/"), "{\"source\":\"x\"}"),
            view(a, "/3", Some("https://later.example/"), "{\"source\":\"y\"}"),
        ];
        let rows = current_pages(&views);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].url, rows[0].referrer, rows[0].utm),
            ("/3", Some("https://r.example/"), "{\"source\":\"x\"}")
        );
        assert_eq!((rows[1].url, rows[1].referrer, rows[1].utm), ("/b", None, "{}"));
    }
}
