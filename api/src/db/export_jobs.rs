//! `control.export_jobs`: background exports of conversations (docs/export.md, "Background
//! exports"). A member's requests are tenant-scoped (the transaction's tenant is bound in every
//! query); the worker's leases, progress and sweeps work across tenants on the control pool.

use chrono::{DateTime, Utc};
use kefu_protocol::{ApiKeyId, ConversationId, ExportJobId, TenantId, UserId};
use sqlx::PgConnection;

use super::TenantTx;
use super::audit::Actor;

/// A job as its tenant's members see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    /// Id.
    pub id: ExportJobId,
    /// Who asked for it (a member), if a member did.
    pub requested_by_user: Option<UserId>,
    /// Who asked for it (an API key), if a key did.
    pub requested_by_key: Option<ApiKeyId>,
    /// `conversations` or `tenant`.
    pub kind: String,
    /// `json`, `csv` or `tar`.
    pub format: String,
    /// The search's filters.
    pub filters: serde_json::Value,
    /// `queued`, `running`, `done`, `failed`, `cancelled` or `expired`.
    pub status: String,
    /// Conversations matching when it was asked for.
    pub total: i32,
    /// Conversations written so far.
    pub written: i32,
    /// Bytes written so far.
    pub bytes: i64,
    /// Why it failed.
    pub error: Option<String>,
    /// Asked for.
    pub created_at: DateTime<Utc>,
    /// First taken by a worker.
    pub started_at: Option<DateTime<Utc>>,
    /// Done, failed or cancelled.
    pub finished_at: Option<DateTime<Utc>>,
    /// When a finished export's file is removed.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The columns of [`Job`], spliced into literal SQL.
macro_rules! job_columns {
    () => {
        "id, requested_by_user, requested_by_key, kind, format, filters, status, total, written, bytes, error, created_at,
         started_at, finished_at, expires_at"
    };
}

/// A new job of the transaction's tenant.
#[derive(Debug)]
pub struct NewJob<'a> {
    /// Id.
    pub id: ExportJobId,
    /// Who asks.
    pub actor: Actor,
    /// `conversations` or `tenant`.
    pub kind: &'a str,
    /// `json`, `csv` or `tar`.
    pub format: &'a str,
    /// The search's filters.
    pub filters: &'a serde_json::Value,
    /// Conversations matching now.
    pub total: i32,
}

/// The most conversations the transaction's tenant's plan lets one export hold.
pub async fn plan_limit(tx: &mut TenantTx) -> sqlx::Result<i64> {
    let tenant = tx.tenant_id();
    let limit: Option<i32> = sqlx::query_scalar(
        "select p.export_conversations from control.tenants t join control.plans p on p.id = t.plan_id
         where t.id = $1",
    )
    .bind(tenant)
    .fetch_optional(tx.control().await?)
    .await?;
    Ok(limit.map_or(0, i64::from))
}

/// How many of the transaction's tenant's jobs are queued or running.
pub async fn unfinished(tx: &mut TenantTx) -> sqlx::Result<i64> {
    let tenant = tx.tenant_id();
    sqlx::query_scalar(
        "select count(*) from control.export_jobs where tenant_id = $1 and status in ('queued', 'running')",
    )
    .bind(tenant)
    .fetch_one(tx.control().await?)
    .await
}

/// Queues a job for the transaction's tenant.
pub async fn create(tx: &mut TenantTx, job: NewJob<'_>) -> sqlx::Result<Job> {
    let tenant = tx.tenant_id();
    let (user, key) = job.actor.columns();
    sqlx::query_as(concat!(
        "insert into control.export_jobs (id, tenant_id, requested_by_user, requested_by_key, kind, format, filters, total)
         values ($1, $2, $3, $4, $8, $5, $6, $7) returning ",
        job_columns!()
    ))
    .bind(job.id)
    .bind(tenant)
    .bind(user)
    .bind(key)
    .bind(job.format)
    .bind(job.filters)
    .bind(job.total)
    .bind(job.kind)
    .fetch_one(tx.control().await?)
    .await
}

/// The transaction's tenant's newest jobs of these kinds.
pub async fn list(tx: &mut TenantTx, kinds: &[&str], limit: i64) -> sqlx::Result<Vec<Job>> {
    let tenant = tx.tenant_id();
    sqlx::query_as(concat!(
        "select ",
        job_columns!(),
        " from control.export_jobs where tenant_id = $1 and kind = any($3) order by created_at desc limit $2"
    ))
    .bind(tenant)
    .bind(limit)
    .bind(kinds)
    .fetch_all(tx.control().await?)
    .await
}

/// One of the transaction's tenant's jobs.
pub async fn find(tx: &mut TenantTx, id: ExportJobId) -> sqlx::Result<Option<Job>> {
    let tenant = tx.tenant_id();
    sqlx::query_as(concat!("select ", job_columns!(), " from control.export_jobs where tenant_id = $1 and id = $2"))
        .bind(tenant)
        .bind(id)
        .fetch_optional(tx.control().await?)
        .await
}

/// Cancels one of the transaction's tenant's queued or running jobs (its worker stops after the
/// part it is writing; the sweep removes its files); the job as it is now, if it exists.
pub async fn cancel(tx: &mut TenantTx, id: ExportJobId) -> sqlx::Result<Option<Job>> {
    let tenant = tx.tenant_id();
    sqlx::query(
        "update control.export_jobs set status = 'cancelled', finished_at = now(), expires_at = now(),
             link_hash = null, link_expires_at = null
         where tenant_id = $1 and id = $2 and status in ('queued', 'running')",
    )
    .bind(tenant)
    .bind(id)
    .execute(tx.control().await?)
    .await?;
    find(tx, id).await
}

/// Records a download link's token hash on one of the transaction's tenant's finished jobs
/// (replacing an earlier link); false if the job is not done.
pub async fn set_link(
    tx: &mut TenantTx,
    id: ExportJobId,
    hash: &[u8],
    expires_at: DateTime<Utc>,
    actor: Actor,
) -> sqlx::Result<bool> {
    let tenant = tx.tenant_id();
    let (user, key) = actor.columns();
    let done = sqlx::query(
        "update control.export_jobs set link_hash = $3, link_expires_at = $4, link_user = $5, link_key = $6
         where tenant_id = $1 and id = $2 and status = 'done'",
    )
    .bind(tenant)
    .bind(id)
    .bind(hash)
    .bind(expires_at)
    .bind(user)
    .bind(key)
    .execute(tx.control().await?)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A finished job found by a live download link.
#[derive(Debug, sqlx::FromRow)]
pub struct Linked {
    /// The job.
    pub id: ExportJobId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// `conversations` or `tenant`.
    pub kind: String,
    /// `json` or `csv`.
    pub format: String,
    /// Parts to concatenate.
    pub parts: i32,
    /// The attempt that finished it (a workspace's archive keeps each run's parts apart).
    pub attempts: i32,
    /// Conversations in it.
    pub written: i32,
    /// Its size.
    pub bytes: i64,
    /// Asked for.
    pub created_at: DateTime<Utc>,
    /// The member who made the link, if a member did.
    pub link_user: Option<UserId>,
    /// The API key that made the link, if a key did.
    pub link_key: Option<ApiKeyId>,
}

/// The finished job whose live link has this token hash.
pub async fn by_link(conn: &mut PgConnection, hash: &[u8]) -> sqlx::Result<Option<Linked>> {
    sqlx::query_as(
        "select id, tenant_id, kind, format, parts, attempts, written, bytes, created_at, link_user, link_key from control.export_jobs
         where link_hash = $1 and link_expires_at > now() and status = 'done'",
    )
    .bind(hash)
    .fetch_optional(conn)
    .await
}

/// A job as a worker runs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Leased {
    /// The job.
    pub id: ExportJobId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// `conversations` or `tenant`.
    pub kind: String,
    /// `json`, `csv` or `tar`.
    pub format: String,
    /// The search's filters.
    pub filters: serde_json::Value,
    /// Conversations written so far.
    pub written: i32,
    /// Parts written so far.
    pub parts: i32,
    /// Bytes written so far.
    pub bytes: i64,
    /// The last conversation written (newest first).
    pub cursor_id: Option<ConversationId>,
    /// How many times a worker took it.
    pub attempts: i32,
}

/// Takes the oldest queued job, or a running one whose worker's lease ran out, for `lease`; it
/// counts as an attempt.
pub async fn lease_next(conn: &mut PgConnection, lease: std::time::Duration) -> sqlx::Result<Option<Leased>> {
    sqlx::query_as(
        "update control.export_jobs j
         set status = 'running', lease_until = now() + $1, attempts = attempts + 1,
             started_at = coalesce(started_at, now())
         where id = (select id from control.export_jobs
                     where status in ('queued', 'running') and (lease_until is null or lease_until < now())
                     order by created_at limit 1 for update skip locked)
         returning id, tenant_id, kind, format, filters, written, parts, bytes, cursor_id, attempts",
    )
    .bind(lease)
    .fetch_optional(conn)
    .await
}

/// Progress after a part was stored.
#[derive(Debug)]
pub struct Progress {
    /// Parts stored.
    pub parts: i32,
    /// Conversations written.
    pub written: i32,
    /// Bytes written.
    pub bytes: i64,
    /// The last conversation written.
    pub cursor_id: Option<ConversationId>,
    /// The last part: the job is done.
    pub done: bool,
}

/// Records a stored part and extends the lease; `keep` is how long a finished export stays
/// downloadable; `run`, when given, must still be the job's latest attempt. Returns false when
/// the job is no longer this worker's to run (cancelled, or its lease was lost and another worker
/// took it).
pub async fn record_part(
    conn: &mut PgConnection,
    id: ExportJobId,
    progress: &Progress,
    lease: std::time::Duration,
    keep: std::time::Duration,
    run: Option<i32>,
) -> sqlx::Result<bool> {
    let updated = sqlx::query(
        "update control.export_jobs
         set parts = $2, written = $3, bytes = $4, cursor_id = $5,
             status = case when $6 then 'done' else status end,
             finished_at = case when $6 then now() else finished_at end,
             expires_at = case when $6 then now() + $8 else expires_at end,
             lease_until = case when $6 then null else now() + $7 end
         where id = $1 and status = 'running' and parts = $2 - 1 and ($9::int is null or attempts = $9)",
    )
    .bind(id)
    .bind(progress.parts)
    .bind(progress.written)
    .bind(progress.bytes)
    .bind(progress.cursor_id)
    .bind(progress.done)
    .bind(lease)
    .bind(keep)
    .bind(run)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Starts a leased job over from its first part (a workspace's archive is one snapshot, so a
/// job another node left half-done is written again whole).
pub async fn restart(conn: &mut PgConnection, id: ExportJobId) -> sqlx::Result<()> {
    sqlx::query(
        "update control.export_jobs set parts = 0, written = 0, bytes = 0, cursor_id = null
         where id = $1 and status = 'running'",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets a running job's total (a workspace's archive knows it once its snapshot is open).
pub async fn set_total(conn: &mut PgConnection, id: ExportJobId, total: i32) -> sqlx::Result<()> {
    sqlx::query("update control.export_jobs set total = $2 where id = $1 and status = 'running'")
        .bind(id)
        .bind(total)
        .execute(conn)
        .await?;
    Ok(())
}

/// Lets another attempt take a job after a failure, or fails it for good after `max_attempts`.
pub async fn release(conn: &mut PgConnection, id: ExportJobId, error: &str, max_attempts: i32) -> sqlx::Result<()> {
    sqlx::query(
        "update control.export_jobs
         set status = case when attempts >= $3 then 'failed' else status end,
             finished_at = case when attempts >= $3 then now() else finished_at end,
             expires_at = case when attempts >= $3 then now() else expires_at end,
             error = $2, lease_until = now() + interval '30 seconds'
         where id = $1 and status = 'running'",
    )
    .bind(id)
    .bind(error)
    .bind(max_attempts)
    .execute(conn)
    .await?;
    Ok(())
}

/// Fails a job that cannot run (its tenant is gone or suspended, its filters no longer parse).
pub async fn fail(conn: &mut PgConnection, id: ExportJobId, error: &str) -> sqlx::Result<()> {
    sqlx::query(
        "update control.export_jobs set status = 'failed', error = $2, finished_at = now(), expires_at = now(),
             lease_until = null
         where id = $1 and status = 'running'",
    )
    .bind(id)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// A job's status, whatever its tenant (for a worker whose part was refused).
pub async fn status(conn: &mut PgConnection, id: ExportJobId) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select status from control.export_jobs where id = $1").bind(id).fetch_optional(conn).await
}

/// Jobs whose files are to be removed: cancelled, failed, or finished and past their expiry.
pub async fn sweepable(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<(ExportJobId, TenantId)>> {
    sqlx::query_as(
        "select id, tenant_id from control.export_jobs
         where not files_removed and expires_at < now() and status in ('done', 'failed', 'cancelled')
         order by expires_at limit $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Records that a job's files are gone (a finished one becomes `expired`).
pub async fn files_removed(conn: &mut PgConnection, id: ExportJobId) -> sqlx::Result<()> {
    sqlx::query(
        "update control.export_jobs set files_removed = true, link_hash = null, link_expires_at = null,
             status = case when status = 'done' then 'expired' else status end
         where id = $1",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}
