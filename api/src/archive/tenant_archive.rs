//! Reading a workspace's archive (the tar file `tenant_export` writes, docs/export.md "The
//! workspace's archive") for a restore (`tenancy::restore`): its shape is checked as it is read
//! and its contents come out in the order they were written — the manifest, the control-plane
//! rows, each table's rows in batches, the attachments' files — from a blocking thread, one
//! entry in memory at a time, so an archive of any size is read in bounded memory.
//!
//! It reads only; what the rows mean and whether they fit the workspace is the restore's to say.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use kefu_protocol::TenantId;
use tokio::sync::mpsc;

use super::tenant_export::FORMAT;

/// Rows per batch handed to the restore, at most.
const ROWS_PER_BATCH: usize = 1_000;
/// Bytes of rows per batch, about.
const BATCH_BYTES: usize = 8 * 1024 * 1024;
/// The largest manifest or control-plane file read.
const MAX_DOCUMENT: u64 = 64 * 1024 * 1024;
/// The largest table entry read (the exporter writes about 4 MiB).
const MAX_ROWS_ENTRY: u64 = 256 * 1024 * 1024;
/// The largest attachment file read.
const MAX_ATTACHMENT: u64 = 2 * 1024 * 1024 * 1024;

/// Why an archive cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It ends early: an entry is cut short, or the end-of-archive blocks are missing.
    #[error("the archive is truncated: {0}; download it again")]
    Truncated(String),
    /// It is not a workspace archive of a format this Kefu reads.
    #[error("not a workspace archive: {0}")]
    NotAnArchive(String),
}

/// What `manifest.json` says.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The workspace the archive is of.
    pub tenant_id: TenantId,
    /// When its snapshot was taken.
    pub exported_at: DateTime<Utc>,
    /// The tenant schema's migration version the rows have.
    pub schema_version: i64,
    /// Each table's row count.
    pub tables: BTreeMap<String, i64>,
    /// How many attachment files it holds.
    pub attachments: i64,
}

/// One piece of the archive, in the archive's order.
#[derive(Debug)]
pub enum Part {
    /// The manifest: always first.
    Manifest(Manifest),
    /// A control-plane file (`control/<name>.json`): an array of rows.
    Control {
        /// `tenant`, `members`, `invitations`, `api_keys`, `site_keys`, `report_subscriptions`.
        name: String,
        /// Its rows.
        rows: Vec<serde_json::Value>,
    },
    /// Rows of a table (from one `tables/<table>/<n>.jsonl` entry, in batches).
    Rows {
        /// The table.
        table: String,
        /// The entry they come from (for messages).
        entry: String,
        /// One JSON object per row, as the archive has it.
        lines: Vec<String>,
    },
    /// An attachment's file (`attachments/<id>/<name>`): its bytes when asked for.
    Attachment {
        /// The attachment's id.
        id: uuid::Uuid,
        /// The file, when the reader was opened with attachment bytes.
        bytes: Option<Bytes>,
    },
}

/// Reads an archive on a blocking thread; `next` yields its parts in order.
pub struct ArchiveReader {
    parts: mpsc::Receiver<Result<Part, ArchiveError>>,
}

impl ArchiveReader {
    /// Starts reading `path`; with `attachment_bytes` the attachments' files are read too
    /// (otherwise only their ids).
    pub fn open(path: &Path, attachment_bytes: bool) -> Self {
        let (sender, parts) = mpsc::channel(2);
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || {
            if let Err(error) = read(&path, attachment_bytes, &sender) {
                let _ = sender.blocking_send(Err(error));
            }
        });
        Self { parts }
    }

    /// The next part; `None` once the archive was read whole (or after an error).
    pub async fn next(&mut self) -> Option<Result<Part, ArchiveError>> {
        self.parts.recv().await
    }
}

/// Where an entry goes.
#[derive(Debug, PartialEq, Eq)]
enum Entry {
    Manifest,
    Control(String),
    Rows(String),
    Attachment(uuid::Uuid),
}

/// Classifies an entry's path; `None` for a path no workspace archive has.
fn classify(path: &str) -> Option<Entry> {
    let is_name = |s: &str| {
        !s.is_empty() && s.len() <= 63 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["manifest.json"] => Some(Entry::Manifest),
        ["control", file] => file.strip_suffix(".json").filter(|n| is_name(n)).map(|n| Entry::Control(n.to_owned())),
        ["tables", table, file] if is_name(table) => {
            let number = file.strip_suffix(".jsonl")?;
            (!number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())).then(|| Entry::Rows((*table).to_owned()))
        }
        ["attachments", id, name] if id.len() == 32 && !name.is_empty() => {
            uuid::Uuid::try_parse(id).ok().map(Entry::Attachment)
        }
        _ => None,
    }
}

fn read(
    path: &Path,
    attachment_bytes: bool,
    sender: &mpsc::Sender<Result<Part, ArchiveError>>,
) -> Result<(), ArchiveError> {
    let io = |source| ArchiveError::Io { path: path.to_owned(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    // The exporter ends the archive with two zero blocks and writes whole 512-byte blocks: a file
    // without them was cut short (a partial download, a lost part).
    let size = file.metadata().map_err(io)?.len();
    if size < 1024 || !size.is_multiple_of(512) {
        return Err(ArchiveError::Truncated(format!("{size} bytes is not a whole tar archive")));
    }
    file.seek(SeekFrom::Start(size - 1024)).map_err(io)?;
    let mut end = [0u8; 1024];
    file.read_exact(&mut end).map_err(io)?;
    if end.iter().any(|b| *b != 0) {
        return Err(ArchiveError::Truncated("it does not end with the end-of-archive blocks".into()));
    }
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(file));
    let entries = archive.entries().map_err(|e| ArchiveError::NotAnArchive(e.to_string()))?;
    let mut first = true;
    for entry in entries {
        let mut entry = entry.map_err(broken)?;
        let path = entry.path().map_err(broken)?.to_string_lossy().into_owned();
        let kind = classify(&path).ok_or_else(|| ArchiveError::NotAnArchive(format!("unexpected entry `{path}`")))?;
        if first != (kind == Entry::Manifest) {
            return Err(ArchiveError::NotAnArchive("manifest.json must be the first entry, and only the first".into()));
        }
        first = false;
        let size = entry.size();
        let limit = match kind {
            Entry::Manifest | Entry::Control(_) => MAX_DOCUMENT,
            Entry::Rows(_) => MAX_ROWS_ENTRY,
            Entry::Attachment(_) => MAX_ATTACHMENT,
        };
        if size > limit {
            return Err(ArchiveError::NotAnArchive(format!("entry `{path}` is {size} bytes, more than {limit}")));
        }
        let part = match kind {
            Entry::Attachment(id) if !attachment_bytes => Part::Attachment { id, bytes: None },
            kind => {
                let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                entry.read_to_end(&mut data).map_err(broken)?;
                match kind {
                    Entry::Manifest => Part::Manifest(manifest(&data)?),
                    Entry::Control(name) => {
                        let rows: Vec<serde_json::Value> = serde_json::from_slice(&data).map_err(|e| {
                            ArchiveError::NotAnArchive(format!("`{path}` is not a JSON array of rows: {e}"))
                        })?;
                        Part::Control { name, rows }
                    }
                    Entry::Attachment(id) => Part::Attachment { id, bytes: Some(Bytes::from(data)) },
                    Entry::Rows(table) => {
                        let text = String::from_utf8(data)
                            .map_err(|_| ArchiveError::NotAnArchive(format!("`{path}` is not UTF-8 text")))?;
                        for lines in batches(&text) {
                            let part = Part::Rows { table: table.clone(), entry: path.clone(), lines };
                            if sender.blocking_send(Ok(part)).is_err() {
                                return Ok(());
                            }
                        }
                        continue;
                    }
                }
            }
        };
        if sender.blocking_send(Ok(part)).is_err() {
            return Ok(());
        }
    }
    if first {
        return Err(ArchiveError::NotAnArchive("it is empty".into()));
    }
    Ok(())
}

/// An error while reading entries: a cut-short entry is truncation, anything else a broken tar.
fn broken(error: std::io::Error) -> ArchiveError {
    if error.kind() == std::io::ErrorKind::UnexpectedEof {
        ArchiveError::Truncated(error.to_string())
    } else {
        ArchiveError::NotAnArchive(error.to_string())
    }
}

/// The non-empty lines of a table entry, in batches of at most `ROWS_PER_BATCH` rows and about
/// `BATCH_BYTES`.
fn batches(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut batch = Vec::new();
    let mut bytes = 0;
    for line in text.split('\n').filter(|l| !l.trim().is_empty()) {
        bytes += line.len();
        batch.push(line.to_owned());
        if batch.len() >= ROWS_PER_BATCH || bytes >= BATCH_BYTES {
            out.push(std::mem::take(&mut batch));
            bytes = 0;
        }
    }
    if !batch.is_empty() {
        out.push(batch);
    }
    out
}

fn manifest(data: &[u8]) -> Result<Manifest, ArchiveError> {
    let bad = |what: &str| ArchiveError::NotAnArchive(format!("manifest.json: {what}"));
    let value: serde_json::Value = serde_json::from_slice(data).map_err(|e| bad(&e.to_string()))?;
    let format = value["format"].as_str().unwrap_or_default();
    if format != FORMAT {
        return Err(bad(&format!("format `{format}`; this Kefu reads `{FORMAT}`")));
    }
    let tenant_id = value["tenant_id"].as_str().and_then(|t| t.parse().ok()).ok_or_else(|| bad("no tenant_id"))?;
    let exported_at = value["exported_at"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .ok_or_else(|| bad("no exported_at"))?
        .with_timezone(&Utc);
    let schema_version = value["schema_version"].as_i64().ok_or_else(|| bad("no schema_version"))?;
    let tables = value["tables"]
        .as_object()
        .ok_or_else(|| bad("no table counts"))?
        .iter()
        .map(|(name, count)| Ok((name.clone(), count.as_i64().ok_or_else(|| bad("a table count is not a number"))?)))
        .collect::<Result<BTreeMap<_, _>, ArchiveError>>()?;
    let attachments = value["attachments"].as_i64().ok_or_else(|| bad("no attachment count"))?;
    Ok(Manifest { tenant_id, exported_at, schema_version, tables, attachments })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_paths_are_classified_and_anything_else_refused() {
        assert_eq!(classify("manifest.json"), Some(Entry::Manifest));
        assert_eq!(classify("control/members.json"), Some(Entry::Control("members".into())));
        assert_eq!(classify("tables/messages/000002.jsonl"), Some(Entry::Rows("messages".into())));
        let id = uuid::Uuid::new_v4();
        assert_eq!(classify(&format!("attachments/{}/发票.pdf", id.simple())), Some(Entry::Attachment(id)));
        for bad in [
            "../etc/passwd",
            "tables/messages/x.jsonl",
            "tables/Messages/000001.jsonl",
            "tables/messages/000001.json",
            "control/../x.json",
            "attachments/123/file",
            "extra.txt",
        ] {
            assert_eq!(classify(bad), None, "{bad}");
        }
    }

    #[test]
    fn rows_come_in_bounded_batches_without_blank_lines() {
        let text: String = (0..2_500).map(|i| format!("{{\"n\": {i}}}\n")).collect();
        let batches = batches(&text);
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), vec![1_000, 1_000, 500]);
        assert!(super::batches("\n\n").is_empty());
    }

    #[test]
    fn a_manifest_of_another_format_is_refused() {
        let error = manifest(br#"{"format": "kefu.tenant-archive.v9"}"#).expect_err("refused");
        assert!(error.to_string().contains("kefu.tenant-archive.v9"), "{error}");
    }
}
