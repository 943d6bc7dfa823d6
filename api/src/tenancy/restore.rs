//! Restoring one workspace from its archive (`kefu tenants restore <tenant> --from <file>`,
//! docs/backups.md "Restoring one workspace"), leaving every other tenant of its database alone:
//! 1. refusals first: an archive of another workspace (a restore never copies one workspace's
//!    data into another), of a newer schema version than this binary, a workspace being deleted
//!    or moved, or not migrated to the latest version;
//! 2. the archive's rows are read into a staging schema at the archive's version, every table's
//!    row count checked against the manifest, and migrated forward when older (`db::restore`);
//! 3. the swap replaces the workspace's data in the same transaction, so a failure anywhere, or a
//!    killed process, leaves it as it was;
//! 4. after the commit, files the object store lacks are put back from the archive (never
//!    overwriting one), and the files of visitors erased again are deleted.
//!
//! What is not restored, deliberately: the control plane (members and their accounts, API keys,
//! invitations, site keys, the plan and billing, the workspace's name and placement), the
//! webhook outbox and delivery log, and audit entries written since the archive (kept). The
//! report lists what the archive has that the control plane no longer does.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use kefu_protocol::TenantId;

use crate::archive::tenant_archive::{ArchiveError, ArchiveReader, Manifest, Part};
use crate::attachments::AttachmentStore;
use crate::db::restore::{Restore, StagedTable, Swapped, TablesBusy};
use crate::db::{self, Databases, TenantTx};

/// Why a restore did not happen. In every case nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The archive cannot be read.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The restore is not allowed as asked.
    #[error("{0}")]
    Refused(String),
    /// The archive was read but its contents do not restore.
    #[error("the archive does not restore: {0}")]
    Invalid(String),
    /// The workspace's tables stayed in use.
    #[error(transparent)]
    Busy(#[from] TablesBusy),
    /// The database (or a migration) failed.
    #[error("{0:#}")]
    Failed(#[from] anyhow::Error),
}

impl From<sqlx::Error> for RestoreError {
    fn from(error: sqlx::Error) -> Self {
        Self::Failed(error.into())
    }
}

/// Reports the steps of a restore (a CLI's output).
pub trait RestoreProgress: Sync {
    /// A step began or finished.
    fn step(&self, what: &str);
}

/// No reports.
pub struct Quiet;

impl RestoreProgress for Quiet {
    fn step(&self, _what: &str) {}
}

/// How to restore.
#[derive(Debug, Clone, Copy, Default)]
pub struct RestoreOptions {
    /// Do everything, then roll back: the archive is checked against the workspace in full and
    /// nothing changes.
    pub dry_run: bool,
}

/// What the archive has of the control plane that the workspace no longer has (not restored).
#[derive(Debug, Clone, Default)]
pub struct NotRestored {
    /// Emails of the archive's members who are no longer members (invite them again).
    pub members: Vec<String>,
    /// The archive's site keys that no longer exist (create new ones; the website's snippet
    /// names the key).
    pub site_keys: usize,
    /// The archive's API keys that no longer exist (archives hold no key secrets).
    pub api_keys: usize,
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// When the archive's snapshot was taken.
    pub exported_at: DateTime<Utc>,
    /// The archive's schema version.
    pub archive_version: i64,
    /// Migrations applied to bring the archive's rows to the latest version.
    pub migrated_forward: usize,
    /// Tables read.
    pub tables: usize,
    /// Rows read from the archive.
    pub archive_rows: u64,
    /// The swap.
    pub swapped: Swapped,
    /// The control-plane rows left as they are.
    pub not_restored: NotRestored,
    /// Files put back into the object store from the archive.
    pub files_put_back: u64,
    /// Attachments whose file neither the store nor the archive has (it was missing at export).
    pub files_missing: u64,
    /// Whether it was committed (false for a dry run).
    pub committed: bool,
    /// The whole restore.
    pub elapsed: Duration,
}

/// Restores `tenant` from the archive at `path` (see the module docs). `store` is the object
/// store of attachments (files the store lacks are put back); without it files are left alone.
pub async fn restore_tenant(
    databases: &Databases,
    store: Option<&AttachmentStore>,
    tenant: TenantId,
    path: &Path,
    options: RestoreOptions,
    progress: &dyn RestoreProgress,
) -> Result<RestoreReport, RestoreError> {
    let started = Instant::now();
    let row = {
        let mut conn = databases.control().acquire().await?;
        db::tenants::find_by_id(&mut conn, tenant).await?
    };
    let row = row.ok_or_else(|| RestoreError::Refused(format!("no workspace {tenant}")))?;
    if row.access.status == db::tenants::TenantStatus::Deleting {
        return Err(RestoreError::Refused(format!("workspace {tenant} is being deleted")));
    }
    if db::restore::move_recorded(databases, tenant).await? {
        return Err(RestoreError::Refused(format!(
            "a move of workspace {tenant} is recorded; let it finish or abandon it (`kefu tenants move {tenant} --abandon`) first"
        )));
    }

    let mut reader = ArchiveReader::open(path, false);
    let manifest = match reader.next().await {
        Some(Ok(Part::Manifest(manifest))) => manifest,
        Some(Err(error)) => return Err(error.into()),
        _ => return Err(ArchiveError::NotAnArchive("it has no manifest".into()).into()),
    };
    check_manifest(&manifest, tenant)?;

    let (mut restore, version) = Restore::begin(databases, &row.access.schema).await?;
    let latest = super::latest_tenant_version();
    if version != Some(latest) {
        return Err(RestoreError::Refused(format!(
            "the workspace's schema is at version {}, not the latest ({latest}); run `kefu migrate` first",
            version.map_or_else(|| "none".to_owned(), |v| v.to_string())
        )));
    }
    progress.step(&format!(
        "reading the archive of {} (schema version {}) into a staging schema",
        manifest.exported_at.to_rfc3339(),
        manifest.schema_version
    ));
    restore.stage(manifest.schema_version).await?;
    let staged: BTreeMap<String, StagedTable> =
        restore.tables().iter().map(|t| (t.table.name.clone(), t.clone())).collect();
    let expected: Vec<&String> = staged.keys().collect();
    let listed: Vec<&String> = manifest.tables.keys().collect();
    if expected != listed {
        return Err(RestoreError::Invalid(format!(
            "its tables ({}) are not those of schema version {} ({})",
            join(&listed),
            manifest.schema_version,
            join(&expected)
        )));
    }

    // Tables come parents first, in the order the staging schema lists them (the exporter's order
    // for that version): once a table's rows start, every table before it must be complete.
    let order: Vec<String> = restore.tables().iter().map(|t| t.table.name.clone()).collect();
    let mut current = 0;
    let mut loaded: BTreeMap<String, i64> = BTreeMap::new();
    let mut control: HashMap<String, Vec<serde_json::Value>> = HashMap::new();
    let mut attachments = 0;
    while let Some(part) = reader.next().await {
        match part? {
            Part::Manifest(_) => return Err(ArchiveError::NotAnArchive("it has two manifests".into()).into()),
            Part::Control { name, rows } => {
                control.insert(name, rows);
            }
            Part::Rows { table, entry, lines } => {
                let staged = staged.get(&table).ok_or_else(|| {
                    RestoreError::Invalid(format!(
                        "`{entry}` holds rows of `{table}`, which the manifest does not list"
                    ))
                })?;
                let at = order.iter().position(|t| *t == table).unwrap_or(0);
                if at < current {
                    return Err(RestoreError::Invalid(format!("`{entry}` comes after the tables that reference it")));
                }
                complete(&manifest, &loaded, &order[current..at])?;
                for done in &order[current..at] {
                    progress.step(&format!("loaded `{done}`: {} rows", loaded.get(done).copied().unwrap_or(0)));
                }
                current = at;
                let count = restore
                    .load(staged, &lines)
                    .await
                    .map_err(|error| RestoreError::Invalid(format!("`{entry}`: {error}")))?;
                *loaded.entry(table).or_default() += i64::try_from(count).unwrap_or(i64::MAX);
            }
            Part::Attachment { .. } => attachments += 1,
        }
    }
    complete(&manifest, &loaded, &order)?;
    for done in order.get(current..).unwrap_or_default() {
        progress.step(&format!("loaded `{done}`: {} rows", loaded.get(done).copied().unwrap_or(0)));
    }
    if attachments != manifest.attachments {
        return Err(RestoreError::Invalid(format!(
            "the manifest says {} attachment files, the archive holds {attachments}",
            manifest.attachments
        )));
    }
    let archive_rows: u64 = loaded.values().map(|n| u64::try_from(*n).unwrap_or(0)).sum();

    let migrated_forward =
        if manifest.schema_version < latest { restore.migrate_forward(manifest.schema_version).await? } else { 0 };
    restore.check_shape().await?;

    let not_restored = not_restored(databases, tenant, &control).await?;
    let details = serde_json::json!({
        "archive_exported_at": manifest.exported_at,
        "archive_schema_version": manifest.schema_version,
        "migrated_forward": migrated_forward,
        "rows": archive_rows,
    });
    progress.step("swapping: the workspace's reads and writes wait until the commit");
    let swapped = restore.swap(databases, details, !options.dry_run).await.map_err(|error| {
        match error.downcast::<TablesBusy>() {
            Ok(busy) => RestoreError::Busy(busy),
            Err(error) => RestoreError::Failed(error),
        }
    })?;

    progress.step(if options.dry_run { "rolled back (dry run)" } else { "committed" });
    let (mut files_put_back, mut files_missing) = (0, 0);
    if !options.dry_run
        && let Some(store) = store
    {
        for key in &swapped.erased_files {
            if let Err(error) = store.delete(key).await {
                tracing::warn!(key, %error, "could not delete an erased visitor's file after the restore");
            }
        }
        (files_put_back, files_missing) = put_back_files(databases, store, &row.access.schema, path).await?;
    }
    Ok(RestoreReport {
        exported_at: manifest.exported_at,
        archive_version: manifest.schema_version,
        migrated_forward,
        tables: staged.len(),
        archive_rows,
        swapped,
        not_restored,
        files_put_back,
        files_missing,
        committed: !options.dry_run,
        elapsed: started.elapsed(),
    })
}

/// Checks that each of `tables` holds as many rows as the manifest says.
fn complete(manifest: &Manifest, loaded: &BTreeMap<String, i64>, tables: &[String]) -> Result<(), RestoreError> {
    for table in tables {
        let expected = manifest.tables.get(table).copied().unwrap_or(0);
        let found = loaded.get(table).copied().unwrap_or(0);
        if found != expected {
            return Err(RestoreError::Invalid(format!(
                "table `{table}`: the manifest says {expected} rows, the archive holds {found} (a lost or damaged part?)"
            )));
        }
    }
    Ok(())
}

/// Refuses an archive of another workspace, or of a schema version this binary does not have.
fn check_manifest(manifest: &Manifest, tenant: TenantId) -> Result<(), RestoreError> {
    if manifest.tenant_id != tenant {
        return Err(RestoreError::Refused(format!(
            "the archive is of workspace {}, not {tenant}; a restore never copies one workspace's data into another",
            manifest.tenant_id
        )));
    }
    let latest = super::latest_tenant_version();
    if manifest.schema_version > latest {
        return Err(RestoreError::Refused(format!(
            "the archive's schema version {} is newer than this binary's {latest}; restore with a Kefu at least as new as the one that wrote it",
            manifest.schema_version
        )));
    }
    if !super::is_tenant_version(manifest.schema_version) {
        return Err(RestoreError::Refused(format!(
            "the archive's schema version {} is not a tenant migration this binary knows",
            manifest.schema_version
        )));
    }
    Ok(())
}

/// The archive's members, site keys and API keys the workspace no longer has.
async fn not_restored(
    databases: &Databases,
    tenant: TenantId,
    control: &HashMap<String, Vec<serde_json::Value>>,
) -> Result<NotRestored, RestoreError> {
    let now = db::restore::control_ids(databases, tenant).await?;
    let ids = |name: &str, field: &str| -> Vec<(uuid::Uuid, serde_json::Value)> {
        control
            .get(name)
            .map(|rows| {
                rows.iter()
                    .filter_map(|row| {
                        let id = row[field].as_str()?.parse().ok()?;
                        Some((id, row.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let gone = |archived: Vec<(uuid::Uuid, serde_json::Value)>, now: &[uuid::Uuid]| {
        let now: HashSet<&uuid::Uuid> = now.iter().collect();
        archived.into_iter().filter(|(id, _)| !now.contains(id)).map(|(_, row)| row).collect::<Vec<_>>()
    };
    let members = gone(ids("members", "user_id"), &now.members)
        .into_iter()
        .map(|row| row["email"].as_str().unwrap_or("?").to_owned())
        .collect();
    Ok(NotRestored {
        members,
        site_keys: gone(ids("site_keys", "id"), &now.site_keys).len(),
        api_keys: gone(ids("api_keys", "id"), &now.api_keys).len(),
    })
}

/// Puts back the files of restored attachments that the object store lacks, from the archive
/// (a second read of it); never overwrites a stored file. Returns (put back, missing from both).
async fn put_back_files(
    databases: &Databases,
    store: &AttachmentStore,
    schema: &db::TenantSchema,
    path: &Path,
) -> Result<(u64, u64), RestoreError> {
    let mut tx = TenantTx::begin(databases, schema).await?;
    let files: HashMap<uuid::Uuid, (String, i64)> =
        db::restore::attachment_files(&mut tx).await?.into_iter().map(|(id, key, size)| (id, (key, size))).collect();
    tx.commit().await?;
    if files.is_empty() {
        return Ok((0, 0));
    }
    let (mut put_back, mut missing) = (0, 0);
    let mut reader = ArchiveReader::open(path, true);
    while let Some(part) = reader.next().await {
        let Part::Attachment { id, bytes: Some(bytes) } = part? else { continue };
        let Some((key, size)) = files.get(&id) else { continue };
        let stored = store.exists(key).await.map_err(|e| RestoreError::Failed(e.into()))?;
        if stored {
            continue;
        }
        // An attachment whose file was missing at export is in the archive as an empty file.
        if i64::try_from(bytes.len()).ok() != Some(*size) {
            tracing::warn!(%id, key, "an attachment's file is in neither the object store nor the archive");
            missing += 1;
            continue;
        }
        store.put(key, bytes).await.map_err(|e| RestoreError::Failed(e.into()))?;
        put_back += 1;
    }
    Ok((put_back, missing))
}

fn join(names: &[&String]) -> String {
    names.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
}
