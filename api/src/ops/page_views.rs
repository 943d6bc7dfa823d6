//! Page views written in batches. A visitor's socket hands its page view to the node's writer and
//! goes on (a page view is never acknowledged); the writer stores everything that queued while
//! the previous batch was being written, one transaction per workspace (one insert, one update of
//! the visitors' current pages, one commit), and announces each view once committed.
//!
//! Why: a page view per transaction made a burst of page views (a hundred sockets reconnecting
//! and each sending its allowance) a burst of commits queueing on the WAL flushes that the other
//! workspaces' messages wait for (docs/benchmarks.md "Issue 16"). Batched, a burst is a few
//! commits, and at most one page-view transaction per node runs at a time.
//!
//! Durability: page views are written with `synchronous_commit = off` — a crash of Postgres may
//! lose the last fraction of a second of them, and a node killed loses what it still queued
//! (one batch at most); they are telemetry nobody was told was stored. Messages are never written
//! here. A workspace whose batch fails (its database down, the workspace moving) loses that batch,
//! logged and counted in `kefu_page_views_dropped_total`.

use kefu_protocol::{ConversationId, TenantId, VisitorId};
use tokio::sync::mpsc;

use super::events::{Change, Events};
use crate::auth::TenantCtx;
use crate::db::{self, Databases, TenantSchema, TenantTx};

/// Page views a node holds before refusing more (each socket's own budget is far smaller).
const QUEUE: usize = 8 * 1024;
/// Most page views taken into one round of batches.
const MAX_ROUND: usize = 1024;

/// A page the visitor opened.
#[derive(Debug, Clone)]
pub struct PageView {
    /// Its URL (http or https).
    pub url: String,
    /// Its title.
    pub title: Option<String>,
    /// Where the visitor came from.
    pub referrer: Option<String>,
}

struct Queued {
    tenant: TenantId,
    schema: TenantSchema,
    visitor: VisitorId,
    conversation: Option<ConversationId>,
    page: PageView,
    /// The URL's campaign parameters, as JSON text.
    utm: String,
}

/// The node's page-view writer. Cheap to clone; it stops when the last handle is dropped.
#[derive(Clone)]
pub struct PageViews {
    queue: mpsc::Sender<Queued>,
}

/// The node's queue of page views is full; this one was not recorded.
#[derive(Debug, thiserror::Error)]
#[error("this node's page-view queue is full")]
pub struct QueueFull;

impl PageViews {
    /// Starts the writer over `databases`. Call inside the runtime.
    pub fn start(databases: Databases, events: Events) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(writer(databases, events, receiver));
        Self { queue }
    }

    /// Queues a page view of `visitor`; it is written and announced with the next batch.
    pub fn record(
        &self,
        tenant: &TenantCtx,
        visitor: VisitorId,
        conversation: Option<ConversationId>,
        page: PageView,
    ) -> Result<(), QueueFull> {
        let utm = crate::domain::tracking::utm_of(&page.url).to_string();
        let queued = Queued { tenant: tenant.id, schema: tenant.schema.clone(), visitor, conversation, page, utm };
        self.queue.try_send(queued).map_err(|_| {
            metrics::counter!("kefu_page_views_dropped_total").increment(1);
            QueueFull
        })
    }
}

async fn writer(databases: Databases, events: Events, mut receiver: mpsc::Receiver<Queued>) {
    let mut round = Vec::new();
    while receiver.recv_many(&mut round, MAX_ROUND).await > 0 {
        for (tenant, views) in by_tenant(std::mem::take(&mut round)) {
            let size = views.len();
            metrics::histogram!("kefu_page_view_batch_size").record(size as f64);
            match write(&databases, &views).await {
                Ok(written) => announce(&events, tenant, views, &written),
                Err(error) => {
                    metrics::counter!("kefu_page_views_dropped_total").increment(size as u64);
                    tracing::warn!(%error, %tenant, size, "a batch of page views was not written");
                }
            }
        }
    }
}

/// The round's page views grouped by workspace, each group in arrival order.
fn by_tenant(round: Vec<Queued>) -> Vec<(TenantId, Vec<Queued>)> {
    let mut groups: Vec<(TenantId, Vec<Queued>)> = Vec::new();
    for view in round {
        match groups.iter_mut().find(|(tenant, _)| *tenant == view.tenant) {
            Some((_, group)) => group.push(view),
            None => groups.push((view.tenant, vec![view])),
        }
    }
    groups
}

/// Writes one workspace's page views in one transaction (asynchronous commit: they are not
/// acknowledged to anyone).
async fn write(databases: &Databases, views: &[Queued]) -> sqlx::Result<db::visitors::PagesWritten> {
    let Some(first) = views.first() else {
        return Ok(db::visitors::PagesWritten { viewed_at: chrono::Utc::now(), visitors: Vec::new() });
    };
    let rows: Vec<db::visitors::NewPageView<'_>> = views
        .iter()
        .map(|view| db::visitors::NewPageView {
            visitor: view.visitor,
            url: &view.page.url,
            title: view.page.title.as_deref(),
            referrer: view.page.referrer.as_deref(),
            utm: &view.utm,
        })
        .collect();
    let mut tx = TenantTx::begin(databases, &first.schema).await?;
    let written = db::visitors::record_pages(&mut tx, &rows).await?;
    tx.commit().await?;
    Ok(written)
}

fn announce(events: &Events, tenant: TenantId, views: Vec<Queued>, written: &db::visitors::PagesWritten) {
    for view in views {
        if written.visitors.binary_search(&view.visitor.as_uuid()).is_err() {
            continue;
        }
        events.publish(Change::PageViewed {
            tenant,
            visitor: view.visitor,
            conversation: view.conversation,
            url: view.page.url,
            title: view.page.title,
            viewed_at: written.viewed_at,
        });
    }
}
