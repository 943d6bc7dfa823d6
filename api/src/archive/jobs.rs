//! Background exports (docs/export.md, "Background exports"): every node runs a worker that
//! leases the oldest queued job (`control.export_jobs`), writes the archive in parts of a few
//! hundred conversations to the object store under `<tenant>/exports/<job>/<part>`, and records
//! each stored part with the last conversation written. A job survives its node: when the lease
//! runs out another node rewrites the unrecorded part from the cursor and goes on. Memory holds one
//! part. The sweep removes the files of cancelled and failed jobs and of finished ones a week on.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use kefu_protocol::{ExportJobId, TenantId};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::format::{self, Format};
use crate::attachments::AttachmentStore;
use crate::db::messages::MessageRow;
use crate::db::search::Filter;
use crate::db::{self, Databases, TenantTx};

/// How long a finished export can be downloaded.
pub const KEEP: Duration = Duration::from_secs(7 * 24 * 3600);
/// Attempts before a job that keeps failing is given up.
pub const MAX_ATTEMPTS: i32 = 5;
/// Conversations read per page (one short transaction each).
const PAGE: i64 = 50;
/// Pages per part, at most.
const PAGES_PER_PART: usize = 4;
/// A part ends after the page that takes it over this size.
const PART_BYTES: usize = 8 * 1024 * 1024;
/// Files of finished jobs removed per sweep.
const SWEEP: i64 = 20;

/// The object key of a job's part (numbered from 1).
pub fn part_key(tenant: TenantId, job: ExportJobId, part: i32) -> String {
    format!("{}/{part:06}", prefix(tenant, job))
}

/// The object key of a part of one run of a workspace's archive: each run (lease) writes its own
/// parts, so a node that lost its lease but is still writing can never overwrite the parts of
/// the run that took over (another snapshot).
pub fn run_part_key(tenant: TenantId, job: ExportJobId, run: i32, part: i32) -> String {
    format!("{}/run-{run}/{part:06}", prefix(tenant, job))
}

fn prefix(tenant: TenantId, job: ExportJobId) -> String {
    format!("{}/exports/{}", tenant.simple(), job.simple())
}

/// Wakes this node's export worker when a job is queued here (other nodes find it on their next
/// round).
#[derive(Debug, Clone, Default)]
pub struct ExportJobs {
    wake: Arc<Notify>,
}

impl ExportJobs {
    /// Starts the worker: a round every `every` or when woken, until `shutdown`.
    /// `lease` is how long the worker holds a job between two stored parts.
    pub fn start(
        databases: Databases,
        store: AttachmentStore,
        every: Duration,
        lease: Duration,
        shutdown: CancellationToken,
    ) -> Self {
        let jobs = Self::default();
        let wake = jobs.wake.clone();
        tokio::spawn(async move {
            let worker = Worker { databases, store, lease };
            loop {
                if let Err(error) = worker.round(&shutdown).await {
                    tracing::warn!(error = format!("{error:#}"), "an export round failed; the next round retries");
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = wake.notified() => {}
                    () = tokio::time::sleep(every) => {}
                }
            }
        });
        jobs
    }

    /// Asks the worker to look for jobs now.
    pub fn poke(&self) {
        self.wake.notify_one();
    }
}

struct Worker {
    databases: Databases,
    store: AttachmentStore,
    lease: Duration,
}

impl Worker {
    /// Removes what the sweep finds, then runs jobs until none is waiting.
    async fn round(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        sweep(&self.databases, &self.store).await?;
        while !shutdown.is_cancelled() {
            let leased = {
                let mut conn = self.databases.control().acquire().await?;
                db::export_jobs::lease_next(&mut conn, self.lease).await?
            };
            let Some(job) = leased else { break };
            run(&self.databases, &self.store, job, self.lease, shutdown).await?;
        }
        Ok(())
    }
}

/// Removes the files of cancelled, failed and expired jobs.
pub async fn sweep(databases: &Databases, store: &AttachmentStore) -> anyhow::Result<()> {
    let due = db::export_jobs::sweepable(&mut *databases.control().acquire().await?, SWEEP).await?;
    for (job, tenant) in due {
        store.delete_prefix(&prefix(tenant, job)).await?;
        db::export_jobs::files_removed(&mut *databases.control().acquire().await?, job).await?;
    }
    Ok(())
}

/// Runs one leased job to its end, or until it is cancelled, its lease is lost, or it fails (then
/// it is released for a later attempt).
async fn run(
    databases: &Databases,
    store: &AttachmentStore,
    job: db::export_jobs::Leased,
    lease: Duration,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let fail = |reason: &'static str| async move {
        let mut conn = databases.control().acquire().await?;
        db::export_jobs::fail(&mut conn, job.id, reason).await?;
        anyhow::Ok(())
    };
    if job.kind == "tenant" {
        return match super::tenant_export::run(databases, store, &job, lease, KEEP, shutdown).await {
            Ok(_) => Ok(()),
            Err(error) => release(databases, job.id, &format!("{error:#}")).await,
        };
    }
    let Some(schema) = db::tenants::active_schema(databases, job.tenant_id).await? else {
        return fail("the workspace is not active").await;
    };
    let Some(format) = Format::parse(&job.format) else {
        return fail("unknown format").await;
    };
    let filter = match serde_json::from_value(job.filters.clone())
        .ok()
        .and_then(|query| crate::http::search::filter_of(&query).ok())
    {
        Some((filter, _)) => filter,
        None => return fail("the filters are no longer valid").await,
    };
    let mut writer = PartWriter { job: &job, filter: &filter, format, schema: &schema, databases };
    let mut progress = db::export_jobs::Progress {
        parts: job.parts,
        written: job.written,
        bytes: job.bytes,
        cursor_id: job.cursor_id,
        done: false,
    };
    while !progress.done && !shutdown.is_cancelled() {
        let part = match writer.next_part(&progress).await {
            Ok(part) => part,
            Err(error) => return release(databases, job.id, &format!("reading conversations: {error}")).await,
        };
        let key = part_key(job.tenant_id, job.id, progress.parts + 1);
        let size = part.bytes.len();
        if let Err(error) = store.put(&key, Bytes::from(part.bytes)).await {
            return release(databases, job.id, &format!("storing a part: {error}")).await;
        }
        let next = db::export_jobs::Progress {
            parts: progress.parts + 1,
            written: progress.written + part.conversations,
            bytes: progress.bytes + i64::try_from(size).unwrap_or(i64::MAX),
            cursor_id: part.cursor.or(progress.cursor_id),
            done: part.last,
        };
        let mut conn = databases.control().acquire().await?;
        if !db::export_jobs::record_part(&mut conn, job.id, &next, lease, KEEP, None).await? {
            // Cancelled, or another node took it over after this one's lease ran out.
            return refused(databases, store, job.tenant_id, job.id).await;
        }
        progress = next;
    }
    Ok(())
}

/// After a worker's part was refused: when the job ended meanwhile (cancelled) its files are
/// removed now, since the sweep may already have run before this worker stored its last part;
/// a job another node took over keeps them.
pub(super) async fn refused(
    databases: &Databases,
    store: &AttachmentStore,
    tenant: TenantId,
    job: ExportJobId,
) -> anyhow::Result<()> {
    let status = db::export_jobs::status(&mut *databases.control().acquire().await?, job).await?;
    tracing::info!(%job, status, "an export stopped: cancelled or taken over");
    if matches!(status.as_deref(), Some("cancelled" | "failed" | "expired") | None) {
        store.delete_prefix(&prefix(tenant, job)).await?;
    }
    Ok(())
}

async fn release(databases: &Databases, job: ExportJobId, error: &str) -> anyhow::Result<()> {
    tracing::warn!(%job, error, "an export attempt failed; it is tried again");
    let mut conn = databases.control().acquire().await?;
    db::export_jobs::release(&mut conn, job, error, MAX_ATTEMPTS).await?;
    Ok(())
}

/// One part's bytes and where it leaves the job.
struct Part {
    bytes: Vec<u8>,
    conversations: i32,
    cursor: Option<kefu_protocol::ConversationId>,
    last: bool,
}

struct PartWriter<'a> {
    job: &'a db::export_jobs::Leased,
    filter: &'a Filter,
    format: Format,
    schema: &'a db::TenantSchema,
    databases: &'a Databases,
}

impl PartWriter<'_> {
    /// The part after `progress`: up to a few pages of conversations, newest first, after the
    /// cursor; the archive's opening in the first part and its closing in the last.
    async fn next_part(&mut self, progress: &db::export_jobs::Progress) -> sqlx::Result<Part> {
        let mut out = Vec::new();
        if progress.parts == 0 {
            out.extend_from_slice(&self.format.opening());
        }
        let mut part = Part { bytes: Vec::new(), conversations: 0, cursor: None, last: false };
        let mut after = progress.cursor_id;
        let mut written = progress.written;
        for _ in 0..PAGES_PER_PART {
            let mut tx = TenantTx::begin(self.databases, self.schema).await?;
            let ids = db::search::conversations(&mut tx, self.filter, after, PAGE).await?;
            let conversations = db::archive::conversations(&mut tx, &ids).await?;
            let messages = db::archive::messages(&mut tx, &ids).await?;
            tx.commit().await?;
            let mut by_conversation: HashMap<_, Vec<MessageRow>> = HashMap::new();
            for message in messages {
                by_conversation.entry(message.conversation_id).or_default().push(message);
            }
            for conversation in &conversations {
                let mine = by_conversation.remove(&conversation.id).unwrap_or_default();
                format::write(self.format, conversation, &mine, written == 0, &mut out);
                written += 1;
                part.conversations += 1;
            }
            if let Some(last) = ids.last() {
                after = Some(*last);
                part.cursor = Some(*last);
            }
            if i64::try_from(ids.len()).unwrap_or(0) < PAGE {
                part.last = true;
                out.extend_from_slice(&self.format.closing());
                break;
            }
            if out.len() >= PART_BYTES {
                break;
            }
        }
        tracing::debug!(job = %self.job.id, conversations = part.conversations, bytes = out.len(), "an export part");
        part.bytes = out;
        Ok(part)
    }
}

/// A finished export's parts, concatenated, as a stream of bytes (one part read at a time);
/// `run` is the run that wrote a workspace's archive.
pub fn download(
    store: AttachmentStore,
    tenant: TenantId,
    job: ExportJobId,
    run: Option<i32>,
    parts: i32,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::iter(1..=parts)
        .then(move |part| {
            let store = store.clone();
            let key = match run {
                Some(run) => run_part_key(tenant, job, run, part),
                None => part_key(tenant, job, part),
            };
            async move { store.get_stream(&key).await }
        })
        .flat_map(|opened| match opened {
            Ok(stream) => stream.map(|chunk| chunk.map_err(std::io::Error::other)).boxed(),
            Err(error) => futures_util::stream::once(async move { Err(std::io::Error::other(error)) }).boxed(),
        })
}
