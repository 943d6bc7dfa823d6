//! What a visitor is told while they wait: whether the team is there (`online` when an agent
//! takes new conversations, `busy` when agents are connected but none does, `offline` when
//! nobody is or it is outside the tenant's business hours) and, while their open conversation has no agent, its place in the queue with a
//! wait estimate from the median of the last 24 hours' first waits.

use kefu_protocol::ws::{AgentStatus, Availability, QueuePlace, ServerFrame};
use kefu_protocol::{ConversationId, TenantId};

use crate::auth::TenantCtx;
use crate::db;
use crate::ops::{OpError, in_tenant};
use crate::state::AppState;

/// The `status` frame for a visitor whose open conversation is `conversation`.
pub async fn status(
    state: &AppState,
    tenant: &TenantCtx,
    conversation: Option<ConversationId>,
) -> Result<ServerFrame, OpError> {
    let mut agents = availability(state, tenant.id).await;
    let check_hours = agents != Availability::Offline;
    let waiting = conversation;
    // One transaction for both reads: this runs after every message that leaves a visitor waiting.
    let (hours, place) = in_tenant(&state.db, &tenant.schema, |tx| {
        Box::pin(async move {
            let hours = if check_hours { db::widget::business_hours_now(tx).await? } else { None };
            let place = match waiting {
                Some(id) => db::conversations::queue_place(tx, id).await?,
                None => None,
            };
            Ok((hours, place))
        })
    })
    .await?;
    if let Some((hours, day, minute)) = hours
        && !hours.is_open(u8::try_from(day).unwrap_or(0), u16::try_from(minute).unwrap_or(0))
    {
        // Outside business hours the team is away, whoever is connected.
        agents = Availability::Offline;
    }
    let queue = place.map(|(position, median_wait)| QueuePlace {
        position: u32::try_from(position).unwrap_or(u32::MAX),
        estimated_wait_secs: median_wait.map(|secs| estimate(secs, position)),
    });
    Ok(ServerFrame::Status { agents, queue })
}

/// The team's availability from agent presence. If presence cannot be read, `busy`: the visitor
/// can still write (an `offline` answer would send them to the offline form for nothing).
pub async fn availability(state: &AppState, tenant: TenantId) -> Availability {
    match state.presence.agents(tenant).await {
        Ok(agents) => of_statuses(agents.values().copied()),
        Err(error) => {
            tracing::warn!(%error, "presence unavailable; telling visitors the team is busy");
            Availability::Busy
        }
    }
}

fn of_statuses(statuses: impl Iterator<Item = AgentStatus>) -> Availability {
    let mut best = Availability::Offline;
    for status in statuses {
        match status {
            AgentStatus::Online => return Availability::Online,
            AgentStatus::Busy | AgentStatus::Away => best = Availability::Busy,
            AgentStatus::Offline => {}
        }
    }
    best
}

/// The expected wait at `position`: the median first wait for each conversation ahead and this
/// one, rounded up to whole seconds (at most a day).
fn estimate(median_secs: f64, position: i64) -> u32 {
    let secs = (median_secs.max(0.0) * position.max(1) as f64).ceil();
    if secs.is_finite() { secs.min(86_400.0) as u32 } else { 86_400 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn availability_is_the_best_status() {
        use AgentStatus::*;
        assert_eq!(of_statuses([].into_iter()), Availability::Offline);
        assert_eq!(of_statuses([Away, Busy].into_iter()), Availability::Busy);
        assert_eq!(of_statuses([Away, Online].into_iter()), Availability::Online);
    }

    #[test]
    fn estimates_scale_with_position() {
        assert_eq!(estimate(30.0, 1), 30);
        assert_eq!(estimate(30.2, 3), 91);
        assert_eq!(estimate(f64::INFINITY, 2), 86_400);
        assert_eq!(estimate(-5.0, 2), 0);
    }
}
