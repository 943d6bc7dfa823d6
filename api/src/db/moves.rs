//! The mechanics of moving a tenant's schema to another tenant database, for
//! `tenancy::moves` (which orders them and owns the procedure): reading the schema's tables from
//! the catalog, capturing changed rows (`kefu.move_capture_v1`), copying a snapshot table by
//! table (binary `COPY`), applying logged changes, syncing identity sequences, and checksums.
//!
//! Everything here works on the tenant's schema by name in two databases at once, outside any
//! `TenantTx`: it is the one maintenance path that must see a tenant in a database other than
//! the one its placement names. Table and column names come from the catalog and are quoted.

use std::collections::{BTreeMap, HashMap, HashSet};

use futures_util::StreamExt as _;
use sqlx::PgConnection;

use super::TenantSchema;

/// One table of a tenant schema, as the catalog describes it.
#[derive(Debug, Clone)]
pub struct Table {
    /// Its name.
    pub name: String,
    /// Its columns in order (generated columns excluded).
    pub columns: Vec<String>,
    /// Its primary key's columns.
    pub key: Vec<String>,
    /// Its identity columns.
    pub identity: Vec<String>,
}

/// A quoted identifier.
pub(super) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Table {
    fn qualified(&self, schema: &TenantSchema) -> String {
        format!("{}.{}", schema.name(), ident(&self.name))
    }

    pub(super) fn column_list(&self) -> String {
        self.columns.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ")
    }

    fn key_list(&self, prefix: &str) -> String {
        self.key.iter().map(|c| format!("{prefix}{}", ident(c))).collect::<Vec<_>>().join(", ")
    }
}

/// The tables of `schema`, parents before children (by foreign keys). Fails on a table without
/// a primary key (a changed row could not be found again).
pub async fn tables(conn: &mut PgConnection, schema: &TenantSchema) -> anyhow::Result<Vec<Table>> {
    tables_in(conn, schema.name()).await
}

/// [`tables`] of the schema named `schema` (a tenant's, or a restore's staging schema).
pub(super) async fn tables_in(conn: &mut PgConnection, schema: &str) -> anyhow::Result<Vec<Table>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "select c.oid::int8, c.relname::text from pg_class c
         join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = $1 and c.relkind in ('r', 'p') order by c.relname",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await?;
    let mut tables = BTreeMap::new();
    let mut names = HashMap::new();
    for (oid, name) in rows {
        let columns: Vec<(String, String)> = sqlx::query_as(
            "select attname::text, attidentity::text from pg_attribute
             where attrelid = $1::int8::oid and attnum > 0 and not attisdropped and attgenerated = ''
             order by attnum",
        )
        .bind(oid)
        .fetch_all(&mut *conn)
        .await?;
        let key: Vec<String> = sqlx::query_scalar(
            "select a.attname::text from pg_index i
             join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey::int2[])
             where i.indrelid = $1::int8::oid and i.indisprimary
             order by array_position(i.indkey::int2[], a.attnum)",
        )
        .bind(oid)
        .fetch_all(&mut *conn)
        .await?;
        anyhow::ensure!(!key.is_empty(), "table {schema}.{name} has no primary key; it cannot be moved");
        let identity = columns.iter().filter(|(_, id)| !id.is_empty()).map(|(c, _)| c.clone()).collect();
        let columns = columns.into_iter().map(|(c, _)| c).collect();
        names.insert(oid, name.clone());
        tables.insert(name.clone(), Table { name, columns, key, identity });
    }
    let edges: Vec<(i64, i64)> = sqlx::query_as(
        "select conrelid::int8, confrelid::int8 from pg_constraint c
         join pg_namespace n on n.oid = c.connamespace
         where n.nspname = $1 and c.contype = 'f' and c.conrelid <> c.confrelid",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await?;
    let mut parents: HashMap<String, HashSet<String>> = HashMap::new();
    for (child, parent) in edges {
        if let (Some(child), Some(parent)) = (names.get(&child), names.get(&parent)) {
            parents.entry(child.clone()).or_default().insert(parent.clone());
        }
    }
    // Parents first; ties in name order, so the order is the same in both databases.
    let mut ordered = Vec::with_capacity(tables.len());
    let mut placed: HashSet<String> = HashSet::new();
    while placed.len() < tables.len() {
        let ready: Vec<String> = tables
            .keys()
            .filter(|name| !placed.contains(*name))
            .filter(|name| parents.get(*name).is_none_or(|ps| ps.iter().all(|p| placed.contains(p))))
            .cloned()
            .collect();
        anyhow::ensure!(!ready.is_empty(), "the foreign keys of {schema} form a cycle");
        for name in ready {
            placed.insert(name.clone());
            if let Some(table) = tables.get(&name) {
                ordered.push(table.clone());
            }
        }
    }
    Ok(ordered)
}

/// Installs the change capture on every table (replacing an earlier one), and forgets changes
/// logged by an earlier attempt. From its commit on, every change to the tenant's rows is logged.
pub async fn start_capture(conn: &mut PgConnection, schema: &TenantSchema, tables: &[Table]) -> sqlx::Result<()> {
    for table in tables {
        let mut args = vec![format!("'{}'", schema.tenant_id().as_uuid())];
        args.extend(table.key.iter().map(|c| format!("'{}'", c.replace('\'', "''"))));
        let statement = format!(
            "drop trigger if exists kefu_move_capture on {t};
             create trigger kefu_move_capture after insert or update or delete on {t}
             for each row execute function kefu.move_capture_v1({args})",
            t = table.qualified(schema),
            args = args.join(", ")
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut *conn).await?;
    }
    sqlx::query("delete from kefu.move_log where tenant_id = $1").bind(schema.tenant_id()).execute(&mut *conn).await?;
    Ok(())
}

/// Removes the change capture and its log (a move that was abandoned).
pub async fn stop_capture(conn: &mut PgConnection, schema: &TenantSchema, tables: &[Table]) -> sqlx::Result<()> {
    for table in tables {
        let statement = format!("drop trigger if exists kefu_move_capture on {}", table.qualified(schema));
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut *conn).await?;
    }
    sqlx::query("delete from kefu.move_log where tenant_id = $1").bind(schema.tenant_id()).execute(&mut *conn).await?;
    Ok(())
}

/// Empties `tables` in `schema`: a freshly migrated copy may hold rows its migrations seeded
/// (settings singletons), which the snapshot brings from the source anyway.
pub async fn empty_tables(target: &mut PgConnection, schema: &TenantSchema, tables: &[Table]) -> sqlx::Result<()> {
    if tables.is_empty() {
        return Ok(());
    }
    let names = tables.iter().map(|t| t.qualified(schema)).collect::<Vec<_>>().join(", ");
    sqlx::query(sqlx::AssertSqlSafe(format!("truncate table {names}"))).execute(target).await?;
    Ok(())
}

/// Tells the tenant schema's triggers that the target transaction copies rows that exist already:
/// copied messages are not queued for the search index again (their queue is copied too).
async fn mark_copying(target: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query("select set_config('kefu.copying', 'on', true)").execute(target).await?;
    Ok(())
}

/// Copies every row of `table` as `source` sees it (its transaction's snapshot) into `target`.
/// Returns the rows copied.
pub async fn copy_table(
    source: &mut PgConnection,
    target: &mut PgConnection,
    schema: &TenantSchema,
    table: &Table,
) -> sqlx::Result<u64> {
    mark_copying(target).await?;
    let (name, columns) = (table.qualified(schema), table.column_list());
    let mut into = target.copy_in_raw(&format!("copy {name} ({columns}) from stdin (format binary)")).await?;
    let mut rows = source.copy_out_raw(&format!("copy {name} ({columns}) to stdout (format binary)")).await?;
    while let Some(chunk) = rows.next().await {
        into.send(chunk?).await?;
    }
    into.finish().await
}

/// A logged change not applied yet.
#[derive(Debug, Clone)]
pub struct Change {
    id: i64,
    table: String,
    key: serde_json::Value,
}

/// Up to `limit` logged changes of the tenant, oldest first.
pub async fn logged_changes(conn: &mut PgConnection, schema: &TenantSchema, limit: i64) -> sqlx::Result<Vec<Change>> {
    let rows: Vec<(i64, String, serde_json::Value)> =
        sqlx::query_as("select id, table_name, pk from kefu.move_log where tenant_id = $1 order by id limit $2")
            .bind(schema.tenant_id())
            .bind(limit)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(|(id, table, key)| Change { id, table, key }).collect())
}

/// Applies `changes` to `target` (inside its transaction): each changed row's current state in
/// `source` is written to the copy, or the row is deleted there when it is gone. A row changed
/// several times is applied once, at its first place in the log (so parents, logged before their
/// children, are applied first), with its latest state. Returns the rows applied; once `target`
/// committed, [`forget_changes`] removes them from the log.
pub async fn apply_changes(
    source: &mut PgConnection,
    target: &mut PgConnection,
    schema: &TenantSchema,
    tables: &[Table],
    changes: &[Change],
) -> anyhow::Result<usize> {
    mark_copying(target).await?;
    let by_name: HashMap<&str, &Table> = tables.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut seen = HashSet::new();
    let mut applied = 0;
    for change in changes {
        if !seen.insert((change.table.as_str(), change.key.to_string())) {
            continue;
        }
        let table = by_name
            .get(change.table.as_str())
            .ok_or_else(|| anyhow::anyhow!("a change was logged for an unknown table {}", change.table))?;
        let name = table.qualified(schema);
        let matches = format!(
            "({}) = (select {} from jsonb_populate_record(null::{name}, $1) r)",
            table.key_list("t."),
            table.key_list("r.")
        );
        let current: Option<serde_json::Value> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select to_jsonb(t) from {name} t where {matches}")))
                .bind(&change.key)
                .fetch_optional(&mut *source)
                .await?;
        match current {
            Some(row) => {
                let updates: Vec<String> = table
                    .columns
                    .iter()
                    .filter(|c| !table.key.contains(c))
                    .map(|c| format!("{} = excluded.{}", ident(c), ident(c)))
                    .collect();
                let on_conflict = if updates.is_empty() {
                    "do nothing".to_owned()
                } else {
                    format!("do update set {}", updates.join(", "))
                };
                let columns = table.column_list();
                let overriding = if table.identity.is_empty() { "" } else { "overriding system value" };
                let statement = format!(
                    "insert into {name} ({columns}) {overriding}
                     select {columns} from jsonb_populate_record(null::{name}, $1)
                     on conflict ({keys}) {on_conflict}",
                    keys = table.key_list("")
                );
                sqlx::query(sqlx::AssertSqlSafe(statement)).bind(&row).execute(&mut *target).await?;
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!("delete from {name} t where {matches}")))
                    .bind(&change.key)
                    .execute(&mut *target)
                    .await?;
            }
        }
        applied += 1;
    }
    Ok(applied)
}

/// Removes applied changes (up to the last of `changes`) from the log.
pub async fn forget_changes(conn: &mut PgConnection, schema: &TenantSchema, changes: &[Change]) -> sqlx::Result<()> {
    if let Some(last) = changes.last() {
        sqlx::query("delete from kefu.move_log where tenant_id = $1 and id <= $2")
            .bind(schema.tenant_id())
            .bind(last.id)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Sets every identity sequence of the copy to where the source's is.
pub async fn sync_identities(
    source: &mut PgConnection,
    target: &mut PgConnection,
    schema: &TenantSchema,
    tables: &[Table],
) -> sqlx::Result<()> {
    for table in tables {
        for column in &table.identity {
            let qualified = table.qualified(schema);
            let sequence: Option<String> = sqlx::query_scalar("select pg_get_serial_sequence($1, $2)")
                .bind(&qualified)
                .bind(column)
                .fetch_one(&mut *source)
                .await?;
            let Some(sequence) = sequence else { continue };
            // The name comes quoted from the catalog.
            let state: Option<(i64, bool)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("select last_value, is_called from {sequence}")))
                    .fetch_optional(&mut *source)
                    .await?;
            if let Some((last, called)) = state {
                sqlx::query("select setval(pg_get_serial_sequence($1, $2), $3, $4)")
                    .bind(&qualified)
                    .bind(column)
                    .bind(last)
                    .bind(called)
                    .execute(&mut *target)
                    .await?;
            }
        }
    }
    Ok(())
}

/// Each table's row count and a checksum of its rows in key order, as `conn` sees them.
pub async fn checksums(
    conn: &mut PgConnection,
    schema: &TenantSchema,
    tables: &[Table],
) -> sqlx::Result<Vec<(String, i64, String)>> {
    let mut sums = Vec::with_capacity(tables.len());
    for table in tables {
        let statement = format!(
            "select count(*), coalesce(md5(string_agg(row({columns})::text, E'\\n' order by {keys})), '')
             from {name} t",
            columns = table.columns.iter().map(|c| format!("t.{}", ident(c))).collect::<Vec<_>>().join(", "),
            keys = table.key_list("t."),
            name = table.qualified(schema),
        );
        let (count, sum): (i64, String) = sqlx::query_as(sqlx::AssertSqlSafe(statement)).fetch_one(&mut *conn).await?;
        sums.push((table.name.clone(), count, sum));
    }
    Ok(sums)
}

/// Locks every table of the schema against writes (reads go on) until the transaction ends,
/// waiting for the writes in flight.
pub async fn lock_writes(conn: &mut PgConnection, schema: &TenantSchema, tables: &[Table]) -> sqlx::Result<()> {
    let names: Vec<String> = tables.iter().map(|t| t.qualified(schema)).collect();
    let statement = format!("lock table {} in exclusive mode", names.join(", "));
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(conn).await?;
    Ok(())
}

/// Drops the tenant's schema and its records in this database (its version, its change log).
pub async fn drop_schema(conn: &mut PgConnection, schema: &TenantSchema) -> sqlx::Result<()> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("drop schema if exists {} cascade", schema.name())))
        .execute(&mut *conn)
        .await?;
    sqlx::query("delete from kefu.tenant_schemas where tenant_id = $1")
        .bind(schema.tenant_id())
        .execute(&mut *conn)
        .await?;
    sqlx::query("delete from kefu.move_log where tenant_id = $1").bind(schema.tenant_id()).execute(&mut *conn).await?;
    Ok(())
}

/// The same tenant's schema in another database (the copy being built, or the one left behind).
pub fn in_database(schema: &TenantSchema, database: &super::DatabaseId) -> TenantSchema {
    TenantSchema::of(schema.tenant_id(), database.clone())
}
