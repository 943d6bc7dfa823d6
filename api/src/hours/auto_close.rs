//! Closing idle conversations (F22): for the tenants that turned it on (the service hours'
//! `auto_close`, listed in `control.auto_close_sweeps`), an open conversation with an agent or the
//! bot whose last public message is the team's and that saw no activity for the tenant's minutes
//! is closed with the closing message (an automatic reply of kind `closing`, in the visitor's
//! language); the widget then asks for a rating, as after any close.
//!
//! Every node runs a sweeper that takes the tenants due a sweep (`for update skip locked`, the
//! next one a minute later), so the nodes share the work and each tenant is swept about once a
//! minute. Each conversation is closed in its own transaction under its row lock, after checking
//! again that it is idle (a message that arrived meanwhile keeps it open).

use std::time::Duration;

use kefu_protocol::{ConversationId, TenantId};
use tokio_util::sync::CancellationToken;

use crate::db::auto_replies::AutoReplyKind;
use crate::db::{self, Databases, TenantTx};
use crate::ops::events::{Change, ConversationChange, Events};

/// Tenants swept per round and node.
const TENANTS_PER_ROUND: i64 = 20;
/// Conversations closed per tenant and sweep (the rest wait for the next sweep).
const CONVERSATIONS_PER_SWEEP: i64 = 200;
/// How often each tenant is swept.
const SWEEP_EVERY_SECS: i64 = 60;

/// Starts the sweeper: every `round` it takes the tenants due a sweep; runs until `shutdown`.
pub fn start(databases: Databases, events: Events, round: Duration, shutdown: CancellationToken) {
    tokio::spawn(async move {
        loop {
            if let Err(error) = sweep_due(&databases, &events).await {
                tracing::warn!(%error, "auto-close round failed; retrying");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(round) => {}
            }
        }
    });
}

async fn sweep_due(databases: &Databases, events: &Events) -> sqlx::Result<()> {
    let due = {
        let mut conn = databases.control().acquire().await?;
        db::auto_close::due_tenants(&mut conn, TENANTS_PER_ROUND, SWEEP_EVERY_SECS).await?
    };
    for (tenant, minutes) in due {
        if let Err(error) = sweep(databases, events, tenant, minutes).await {
            tracing::warn!(%error, %tenant, "auto-close sweep failed; the next one retries");
        }
    }
    Ok(())
}

/// Closes the tenant's idle conversations.
async fn sweep(databases: &Databases, events: &Events, tenant: TenantId, minutes: i32) -> sqlx::Result<()> {
    let Some(schema) = db::tenants::active_schema(databases, tenant).await? else {
        return Ok(());
    };
    let mut tx = TenantTx::begin(databases, &schema).await?;
    let idle = db::auto_close::idle(&mut tx, minutes, CONVERSATIONS_PER_SWEEP).await?;
    let doc = db::service_hours::current(&mut tx).await?;
    tx.commit().await?;
    if !doc.auto_close.enabled {
        return Ok(());
    }
    for conversation in idle {
        let mut tx = TenantTx::begin(databases, &schema).await?;
        if let Some((message, closed)) = close_one(&mut tx, &doc.auto_close, conversation, minutes).await? {
            tx.commit().await?;
            metrics::counter!("kefu_auto_closed_total").increment(1);
            events.publish(Change::MessageStored {
                tenant,
                message,
                conversation: Some(closed.clone()),
                opened: false,
            });
            events.publish(Change::ConversationChanged {
                tenant,
                conversation: closed,
                cause: ConversationChange::Closed,
            });
        }
    }
    Ok(())
}

/// Writes the closing message and closes the conversation if it is still idle.
async fn close_one(
    tx: &mut TenantTx,
    settings: &kefu_protocol::hours::AutoClose,
    conversation: ConversationId,
    minutes: i32,
) -> sqlx::Result<Option<(db::messages::MessageRow, db::conversations::ConversationRow)>> {
    if !db::auto_close::lock_idle(tx, conversation, minutes).await? {
        return Ok(None);
    }
    let widget = db::widget::get(tx).await?.settings.0;
    let language = db::auto_replies::visitor_language(tx, conversation).await?;
    let Some((language, text)) = settings.text_for(language.as_deref(), &widget.default_language) else {
        return Ok(None);
    };
    let name = widget
        .texts
        .get(language)
        .or_else(|| widget.texts.get(&widget.default_language))
        .map_or("", |t| t.title.as_str());
    let message = db::auto_replies::insert(tx, conversation, AutoReplyKind::Closing, name, text).await?;
    Ok(db::conversations::close(tx, conversation).await?.map(|closed| (message, closed)))
}
