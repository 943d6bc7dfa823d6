//! Reading a whole workspace for its export (docs/export.md, "The workspace's archive"): every
//! table of the tenant's schema, parents first, row by row through a cursor in one snapshot; its
//! control-plane rows without secrets; its attachments' keys.

use super::TenantTx;

/// The tenant schema's tables, parents before the tables that reference them.
pub async fn tables(tx: &mut TenantTx) -> anyhow::Result<Vec<String>> {
    let schema = tx.schema().clone();
    let tables = super::moves::tables(tx.conn(), &schema).await?;
    Ok(tables.into_iter().map(|t| t.name).collect())
}

/// The tenant schema's migration version as its database records it (`kefu.tenant_schemas`): the
/// shape of the rows the archive holds, which a restore rebuilds before loading them.
pub async fn schema_version(tx: &mut TenantTx) -> sqlx::Result<i64> {
    let tenant = tx.tenant_id();
    sqlx::query_scalar("select version from kefu.tenant_schemas where tenant_id = $1")
        .bind(tenant)
        .fetch_one(tx.conn())
        .await
}

/// How many rows a table has (in the transaction's snapshot).
pub async fn count(tx: &mut TenantTx, table: &str) -> sqlx::Result<i64> {
    let sql = format!("select count(*) from {}", quoted(table));
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(tx.conn()).await
}

/// Opens a cursor `dump` over a table's rows as JSON text.
pub async fn open(tx: &mut TenantTx, table: &str) -> sqlx::Result<()> {
    let sql = format!("declare dump no scroll cursor for select to_jsonb(t)::text from {} t", quoted(table));
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(tx.conn()).await?;
    Ok(())
}

/// The cursor's next rows, at most `n`.
pub async fn fetch(tx: &mut TenantTx, n: i64) -> sqlx::Result<Vec<String>> {
    let sql = format!("fetch forward {n} from dump");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(tx.conn()).await
}

/// Closes the cursor.
pub async fn close(tx: &mut TenantTx) -> sqlx::Result<()> {
    sqlx::raw_sql("close dump").execute(tx.conn()).await?;
    Ok(())
}

/// The transaction's tenant's control-plane rows, as named JSON arrays (no password, token or
/// key hashes).
pub async fn control_rows(tx: &mut TenantTx) -> sqlx::Result<Vec<(&'static str, Vec<serde_json::Value>)>> {
    let tenant = tx.tenant_id();
    let queries: [(&'static str, &'static str); 6] = [
        ("tenant", "select to_jsonb(t) from control.tenants t where t.id = $1"),
        (
            "members",
            "select to_jsonb(m) || jsonb_build_object('email', u.email, 'display_name', u.display_name,
                 'language', u.language)
             from control.memberships m join control.users u on u.id = m.user_id where m.tenant_id = $1
             order by m.created_at",
        ),
        (
            "invitations",
            "select to_jsonb(i) - 'token_hash' from control.invitations i where i.tenant_id = $1 order by i.created_at",
        ),
        (
            "api_keys",
            "select to_jsonb(k) - 'key_hash' from control.api_keys k where k.tenant_id = $1 order by k.created_at",
        ),
        ("site_keys", "select to_jsonb(s) from control.site_keys s where s.tenant_id = $1 order by s.created_at"),
        (
            "report_subscriptions",
            "select to_jsonb(r) from control.report_subscriptions r where r.tenant_id = $1 order by r.kind",
        ),
    ];
    let mut out = Vec::new();
    for (name, sql) in queries {
        let rows = sqlx::query_scalar(sql).bind(tenant).fetch_all(tx.control().await?).await?;
        out.push((name, rows));
    }
    Ok(out)
}

/// A page of the workspace's attachments after `after` (by id): id, name and object key.
pub async fn attachments(
    tx: &mut TenantTx,
    after: Option<uuid::Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<(uuid::Uuid, String, String)>> {
    sqlx::query_as(
        "select id, name, storage_key from attachments where id > coalesce($1, '00000000-0000-0000-0000-000000000000'::uuid)
         order by id limit $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

fn quoted(table: &str) -> String {
    format!("\"{}\"", table.replace('"', "\"\""))
}
