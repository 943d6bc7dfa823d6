//! Tenant-scoped `visitors`: people chatting through the widget.

use uuid::Uuid;

use super::TenantTx;

/// Records a visitor's connection: creates the row on first sight, refreshes `last_seen_at` and
/// the identified user id otherwise.
pub async fn touch(tx: &mut TenantTx, id: Uuid, ext_user: Option<&str>) -> sqlx::Result<()> {
    sqlx::query(
        "insert into visitors (id, ext_user) values ($1, $2)
         on conflict (id) do update set last_seen_at = now(), ext_user = coalesce(excluded.ext_user, visitors.ext_user)",
    )
    .bind(id)
    .bind(ext_user)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Records the page a visitor is on (kept as `current_page` in the visitor's attributes).
pub async fn record_page(
    tx: &mut TenantTx,
    id: Uuid,
    url: &str,
    title: Option<&str>,
    referrer: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "update visitors set last_seen_at = now(),
             attributes = jsonb_set(attributes, '{current_page}',
                 jsonb_build_object('url', $2::text, 'title', $3::text, 'referrer', $4::text, 'at', now()))
         where id = $1",
    )
    .bind(id)
    .bind(url)
    .bind(title)
    .bind(referrer)
    .execute(tx.conn())
    .await?;
    Ok(())
}
