//! The retention job (docs/retention.md): every node looks for workspaces whose daily run is due
//! (`control.tenants.retention_next_at`, taken with `skip locked`) and deletes their content older
//! than the period in small batches, each its own short transaction: messages of closed
//! conversations (with their search index entries and attachments) and page views; and, for every
//! workspace whatever its period, attachments never sent a day after their upload. An open conversation's messages are kept however old, and the run says how many. The
//! conversations themselves and the analytics facts stay (they hold figures, not content).

use std::time::Duration;

use chrono::{DateTime, Utc};
use kefu_protocol::TenantId;
use tokio_util::sync::CancellationToken;

use crate::attachments::AttachmentStore;
use crate::db::audit::Actor;
use crate::db::{self, Databases, TenantTx};

/// Rows deleted per transaction.
const BATCH: i64 = 500;
/// Batches per workspace and run; a workspace with more to delete is taken again a minute later,
/// so one big backlog never holds up the others.
const BATCHES_PER_RUN: usize = 200;
/// Workspaces per round, at most (a round goes on while workspaces are due).
const ROUND: usize = 500;
/// A pause between batches, so deleting never hogs the database.
const BREATHER: Duration = Duration::from_millis(20);

/// Starts the job on this node: a round every `every` until `shutdown`.
pub fn start(databases: Databases, store: AttachmentStore, every: Duration, shutdown: CancellationToken) {
    tokio::spawn(async move {
        loop {
            if let Err(error) = round(&databases, &store, &shutdown).await {
                tracing::warn!(error = format!("{error:#}"), "a retention round failed; the next round retries");
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    });
}

/// Runs the due workspaces (at most a round's worth); returns how many ran.
pub async fn round(
    databases: &Databases,
    store: &AttachmentStore,
    shutdown: &CancellationToken,
) -> anyhow::Result<usize> {
    let mut ran = 0;
    for _ in 0..ROUND {
        if shutdown.is_cancelled() {
            break;
        }
        let claimed = db::retention::claim_due(&mut *databases.control().acquire().await?).await?;
        let Some((tenant, days)) = claimed else { break };
        if let Err(error) = run(databases, store, tenant, days, shutdown).await {
            tracing::warn!(%tenant, error = format!("{error:#}"), "a retention run failed; it is tried again in 15 minutes");
            let later = Utc::now() + chrono::Duration::minutes(15);
            let last = db::retention::RetentionRun::failed(Utc::now());
            db::retention::finish_run(&mut *databases.control().acquire().await?, tenant, &last, later).await?;
        }
        ran += 1;
    }
    Ok(ran)
}

/// What one run deleted.
#[derive(Debug, Default)]
struct Deleted {
    messages: i64,
    attachments: i64,
    page_views: i64,
}

/// One workspace's run.
async fn run(
    databases: &Databases,
    store: &AttachmentStore,
    tenant: TenantId,
    days: Option<i32>,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let Some(schema) = db::tenants::active_schema(databases, tenant).await? else {
        return Ok(());
    };
    let started = Utc::now();
    // Without a period nothing is old enough: the cutoff is the beginning of time.
    let cutoff = days.map_or(DateTime::<Utc>::MIN_UTC, |days| started - chrono::Duration::days(i64::from(days)));
    let unsent_cutoff = started - chrono::Duration::hours(crate::attachments::UNSENT_KEPT_HOURS);
    let mut deleted = Deleted::default();
    let mut batches = 0;
    let mut finished = false;
    while batches < BATCHES_PER_RUN && !shutdown.is_cancelled() {
        batches += 1;
        let mut tx = TenantTx::begin(databases, &schema).await?;
        let (messages, mut files) = match days {
            Some(_) => db::retention::delete_messages(&mut tx, cutoff, BATCH).await?,
            None => (0, Vec::new()),
        };
        let unsent = if messages < BATCH {
            db::attachments::delete_unsent(&mut tx, unsent_cutoff, BATCH).await?
        } else {
            Vec::new()
        };
        let unsent_count = i64::try_from(unsent.len()).unwrap_or(0);
        files.extend(unsent);
        let page_views = if days.is_some() && messages < BATCH && unsent_count < BATCH {
            db::retention::delete_page_views(&mut tx, cutoff, BATCH).await?
        } else {
            0
        };
        tx.commit().await?;
        deleted.messages += messages;
        deleted.attachments += i64::try_from(files.len()).unwrap_or(0);
        deleted.page_views += page_views;
        for key in files {
            // A file that cannot be removed now is an orphan the tenant's deletion still removes.
            if let Err(error) = store.delete(&key).await {
                tracing::warn!(%tenant, key, %error, "an expired attachment's file was not removed");
            }
        }
        if messages < BATCH && unsent_count < BATCH && page_views < BATCH {
            finished = true;
            break;
        }
        tokio::time::sleep(BREATHER).await;
    }
    let mut tx = TenantTx::begin(databases, &schema).await?;
    let kept_open = if days.is_some() { db::retention::kept_open(&mut tx, cutoff).await? } else { 0 };
    let last = db::retention::RetentionRun {
        at: started,
        days,
        cutoff: days.map(|_| cutoff),
        messages: deleted.messages,
        attachments: deleted.attachments,
        page_views: deleted.page_views,
        kept_open,
        complete: finished,
        error: None,
    };
    if deleted.messages + deleted.attachments + deleted.page_views > 0 {
        db::audit::record(&mut tx, Actor::System, "retention.applied", None, serde_json::to_value(&last)?).await?;
    }
    tx.commit().await?;
    let next = if finished { started + chrono::Duration::days(1) } else { Utc::now() + chrono::Duration::minutes(1) };
    db::retention::finish_run(&mut *databases.control().acquire().await?, tenant, &last, next).await?;
    Ok(())
}
