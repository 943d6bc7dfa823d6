//! The workspace's archive (docs/export.md, "The workspace's archive"): a background export job
//! of kind `tenant` writes one tar file, in parts, from one snapshot of the tenant's schema:
//! `manifest.json` (format, workspace, schema version, each table's row count), `control/*.json`
//! (the workspace's control-plane rows without secrets), `tables/<table>/<n>.jsonl` (every row of
//! every table, as JSON, parents before children) and `attachments/<id>/<name>` (the files).
//! Each part holds whole tar entries, so the parts concatenated are the archive. The snapshot is
//! one transaction, so a job another node left half-done starts again from its first part, as a
//! new run with parts of its own (`jobs::run_part_key`). The same writer writes an operator's
//! archive straight into a local file (`write_file`, `kefu tenants export`).

use std::time::Duration;

use bytes::Bytes;
use kefu_protocol::TenantId;
use tokio_util::sync::CancellationToken;

use crate::attachments::AttachmentStore;
use crate::db::{self, Databases, TenantTx};

/// The archive's format name.
pub const FORMAT: &str = "kefu.tenant-archive.v1";
/// A part is stored once it holds this much.
const PART_BYTES: usize = 8 * 1024 * 1024;
/// A table's rows per tar entry, at most (and per fetch from the cursor).
const ROWS_PER_FETCH: i64 = 1_000;
/// A table's entry ends after the fetch that takes it over this size.
const ENTRY_BYTES: usize = 4 * 1024 * 1024;
/// Attachments listed per query.
const ATTACHMENT_PAGE: i64 = 200;

/// Where a run left the job.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Written whole.
    Done,
    /// Cancelled, taken over, or stopped by the node's shutdown.
    Stopped,
}

/// Writes the archive of `job`'s workspace (the job is leased; its earlier parts are rewritten).
pub async fn run(
    databases: &Databases,
    store: &AttachmentStore,
    job: &db::export_jobs::Leased,
    lease: Duration,
    keep: Duration,
    shutdown: &CancellationToken,
) -> anyhow::Result<Outcome> {
    let Some(schema) = db::tenants::active_schema(databases, job.tenant_id).await? else {
        anyhow::bail!("the workspace is not active");
    };
    db::export_jobs::restart(&mut *databases.control().acquire().await?, job.id).await?;
    let sink = Sink::Job { databases, job, lease, keep };
    let mut out = Writer { store, sink, buffer: Vec::new(), parts: 0, written: 0, bytes: 0 };
    write(databases, &schema, &mut out, shutdown).await
}

/// Writes the archive of the workspace whose schema is `schema` into the file at `path` (an
/// operator's `kefu tenants export`: a workspace in any state, no job, no object store parts).
/// Returns its size in bytes.
pub async fn write_file(
    databases: &Databases,
    store: &AttachmentStore,
    schema: &db::TenantSchema,
    path: &std::path::Path,
) -> anyhow::Result<u64> {
    let file =
        tokio::fs::File::create_new(path).await.map_err(|e| anyhow::anyhow!("creating {}: {e}", path.display()))?;
    let mut out = Writer { store, sink: Sink::File(file), buffer: Vec::new(), parts: 0, written: 0, bytes: 0 };
    match write(databases, schema, &mut out, &CancellationToken::new()).await? {
        Outcome::Done => Ok(u64::try_from(out.bytes).unwrap_or(0)),
        Outcome::Stopped => anyhow::bail!("the export stopped"),
    }
}

/// The archive of one snapshot of the schema, through `out`.
async fn write(
    databases: &Databases,
    schema: &db::TenantSchema,
    out: &mut Writer<'_>,
    shutdown: &CancellationToken,
) -> anyhow::Result<Outcome> {
    let tenant = schema.tenant_id();
    let store = out.store;
    let mut tx = TenantTx::begin_snapshot(databases, schema).await?;
    let tables = db::tenant_dump::tables(&mut tx).await?;
    let mut counts = serde_json::Map::new();
    for table in &tables {
        counts.insert(table.clone(), db::tenant_dump::count(&mut tx, table).await?.into());
    }
    let attachments = db::tenant_dump::count(&mut tx, "attachments").await?;
    if let Sink::Job { job, .. } = &out.sink {
        let total = i32::try_from(tables.len() as i64 + attachments).unwrap_or(i32::MAX);
        db::export_jobs::set_total(&mut *databases.control().acquire().await?, job.id, total).await?;
    }
    let version = db::tenant_dump::schema_version(&mut tx).await?;
    let manifest = serde_json::json!({
        "format": FORMAT, "tenant_id": tenant.to_string(), "exported_at": chrono::Utc::now(),
        "schema_version": version, "tables": counts, "attachments": attachments,
        "layout": {
            "control/<name>.json": "the workspace's control-plane rows (tenant, members, invitations, API keys, site keys, report subscriptions), without password, token or key hashes",
            "tables/<table>/<n>.jsonl": "every row of the table, one JSON object per line, in parts numbered from 1; tables in the order a restore inserts them",
            "attachments/<id>/<name>": "the file of each attachment row",
        },
    });
    out.entry("manifest.json", &serde_json::to_vec_pretty(&manifest)?);
    for (name, rows) in db::tenant_dump::control_rows(&mut tx).await? {
        out.entry(&format!("control/{name}.json"), &serde_json::to_vec_pretty(&rows)?);
    }
    for table in &tables {
        db::tenant_dump::open(&mut tx, table).await?;
        let mut n = 0;
        loop {
            let mut lines = Vec::new();
            let mut fetched_all = false;
            while lines.len() < ENTRY_BYTES {
                let rows = db::tenant_dump::fetch(&mut tx, ROWS_PER_FETCH).await?;
                let fetched = rows.len();
                for row in rows {
                    lines.extend_from_slice(row.as_bytes());
                    lines.push(b'\n');
                }
                if i64::try_from(fetched).unwrap_or(0) < ROWS_PER_FETCH {
                    fetched_all = true;
                    break;
                }
            }
            if !lines.is_empty() || n == 0 {
                n += 1;
                out.entry(&format!("tables/{table}/{n:06}.jsonl"), &lines);
            }
            if out.flush_if_full().await? == Some(false) || shutdown.is_cancelled() {
                return Ok(Outcome::Stopped);
            }
            if fetched_all {
                break;
            }
        }
        db::tenant_dump::close(&mut tx).await?;
        out.written += 1;
    }
    let mut after = None;
    loop {
        let page = db::tenant_dump::attachments(&mut tx, after, ATTACHMENT_PAGE).await?;
        let last = i64::try_from(page.len()).unwrap_or(0) < ATTACHMENT_PAGE;
        for (id, name, key) in page {
            after = Some(id);
            let bytes = match store.get(&key).await {
                Ok(bytes) => bytes,
                Err(error) => {
                    tracing::warn!(%id, key, %error, "an attachment's file is missing from the workspace's archive");
                    Bytes::new()
                }
            };
            out.entry(&format!("attachments/{}/{}", id.simple(), safe_name(&name)), &bytes);
            out.written += 1;
            if out.flush_if_full().await? == Some(false) || shutdown.is_cancelled() {
                return Ok(Outcome::Stopped);
            }
        }
        if last {
            break;
        }
    }
    tx.commit().await?;
    // The end of the archive: two empty blocks.
    out.buffer.extend_from_slice(&[0u8; 1024]);
    Ok(if out.flush(true).await? { Outcome::Done } else { Outcome::Stopped })
}

/// A file name fit for a tar entry: no directories, no control characters, at most 50 bytes (so
/// `attachments/<32 hex>/<name>` stays within a tar header's 100-byte path).
fn safe_name(name: &str) -> String {
    let mut clean: String =
        name.chars().map(|c| if c == '/' || c == '\\' || c.is_control() { '_' } else { c }).collect();
    while clean.len() > 50 {
        clean.pop();
    }
    if clean.is_empty() || clean == "." || clean == ".." { "file".into() } else { clean }
}

/// Where the archive's parts go.
enum Sink<'a> {
    /// A background export job's parts in the object store.
    Job { databases: &'a Databases, job: &'a db::export_jobs::Leased, lease: Duration, keep: Duration },
    /// A local file, appended to.
    File(tokio::fs::File),
}

struct Writer<'a> {
    store: &'a AttachmentStore,
    sink: Sink<'a>,
    buffer: Vec<u8>,
    parts: i32,
    written: i32,
    bytes: i64,
}

impl Writer<'_> {
    /// Appends a tar entry (header, data, padding to 512 bytes).
    fn entry(&mut self, path: &str, data: &[u8]) {
        let mut header = tar::Header::new_gnu();
        if header.set_path(path).is_err() {
            // Only an attachment's name can make a path tar refuses; its id alone then.
            let fallback = path.rsplit_once('/').map_or(path, |(dir, _)| dir);
            let _ = header.set_path(format!("{fallback}/file"));
        }
        header.set_size(u64::try_from(data.len()).unwrap_or(0));
        header.set_mode(0o644);
        header.set_mtime(u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0));
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        self.buffer.extend_from_slice(header.as_bytes());
        self.buffer.extend_from_slice(data);
        let padding = (512 - data.len() % 512) % 512;
        self.buffer.extend(std::iter::repeat_n(0u8, padding));
    }

    /// Stores the buffer as the next part once it is big enough: `None` when it is not yet,
    /// `Some(false)` when the job is no longer this worker's.
    async fn flush_if_full(&mut self) -> anyhow::Result<Option<bool>> {
        if self.buffer.len() < PART_BYTES {
            return Ok(None);
        }
        Ok(Some(self.flush(false).await?))
    }

    /// Stores the buffer as the next part and records it; false when the job is no longer this
    /// worker's (cancelled, or taken over).
    async fn flush(&mut self, last: bool) -> anyhow::Result<bool> {
        let part = self.parts + 1;
        let data = std::mem::take(&mut self.buffer);
        let size = i64::try_from(data.len()).unwrap_or(i64::MAX);
        let (databases, job, lease, keep) = match &mut self.sink {
            Sink::File(file) => {
                use tokio::io::AsyncWriteExt as _;
                file.write_all(&data).await?;
                if last {
                    file.sync_all().await?;
                }
                self.parts = part;
                self.bytes += size;
                return Ok(true);
            }
            Sink::Job { databases, job, lease, keep } => (*databases, *job, *lease, *keep),
        };
        let key = super::jobs::run_part_key(job.tenant_id, job.id, job.attempts, part);
        self.store.put(&key, Bytes::from(data)).await?;
        let progress = db::export_jobs::Progress {
            parts: part,
            written: self.written,
            bytes: self.bytes + size,
            cursor_id: None,
            done: last,
        };
        let mut conn = databases.control().acquire().await?;
        let run = Some(job.attempts);
        if !db::export_jobs::record_part(&mut conn, job.id, &progress, lease, keep, run).await? {
            drop(conn);
            super::jobs::refused(databases, self.store, job.tenant_id, job.id).await?;
            return Ok(false);
        }
        self.parts = part;
        self.bytes += size;
        Ok(true)
    }
}

/// The tenant a job's archive is of (for the download's file name).
pub fn file_name(tenant: TenantId, created_at: chrono::DateTime<chrono::Utc>) -> String {
    format!("kefu-workspace-{}-{}.tar", tenant.simple(), created_at.format("%Y%m%d-%H%M%S"))
}

#[cfg(test)]
mod tests {
    use super::safe_name;

    #[test]
    fn attachment_names_fit_a_tar_path_and_stay_inside_their_directory() {
        let long = "很长的发票文件名".repeat(10) + ".pdf";
        let name = safe_name(&long);
        assert!(name.len() <= 50 && long.starts_with(&name), "{name}");
        let path = format!("attachments/{}/{name}", "0".repeat(32));
        assert!(tar::Header::new_gnu().set_path(&path).is_ok(), "{path}");
        assert_eq!(safe_name("../../etc/passwd"), ".._.._etc_passwd");
        assert_eq!(safe_name(".."), "file");
        assert_eq!(safe_name(""), "file");
    }
}
