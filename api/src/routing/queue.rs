//! The queue as people see it (F19): whether the team is there, and every waiting conversation
//! with its place and wait estimate. Read in one go (one presence read, one tenant transaction)
//! for `GET /api/v1/queue` and for the pushes to waiting visitors (`realtime::waiting`).

use std::time::{Duration, Instant};

use kefu_protocol::ws::{AgentStatus, Availability};
use kefu_protocol::{TenantId, UserId};

use super::estimate;
use crate::auth::TenantCtx;
use crate::db::queue::{Place, Times};
use crate::db::{self, Databases, TenantTx};
use crate::realtime::presence::Presence;

/// The queue and the team's availability.
#[derive(Debug, Clone)]
pub struct View {
    /// `online` when an agent takes new conversations, `busy` when agents are connected but
    /// none does, `offline` when nobody is or outside business hours (`crate::hours`).
    pub availability: Availability,
    /// The first waiting conversations in queue order.
    pub entries: Vec<Entry>,
    /// How many conversations wait in all.
    pub waiting: i64,
    /// The tenant's FAQ bot is on (new conversations start with it).
    pub bot: bool,
    /// Closed by business hours: when the team next opens.
    pub opens_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The month's conversations are used up: new ones are offline messages.
    pub quota_reached: bool,
}

/// A waiting conversation, its place and its estimate.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Where it stands.
    pub place: Place,
    /// Seconds until an agent is expected to take it, when there is a basis for a guess.
    pub estimated_wait_secs: Option<u32>,
}

/// Recent times, read again when older than `max_age` (they move slowly; a node's watch keeps
/// them a minute, a REST read not at all).
#[derive(Debug)]
pub struct TimesCache {
    max_age: Duration,
    read: Option<(Instant, Vec<Times>)>,
}

impl TimesCache {
    /// A cache keeping times for `max_age`.
    pub fn new(max_age: Duration) -> Self {
        Self { max_age, read: None }
    }

    fn fresh(&self) -> Option<&[Times]> {
        self.read.as_ref().filter(|(at, _)| at.elapsed() < self.max_age).map(|(_, times)| times.as_slice())
    }
}

/// Reads the queue of `tenant`: at most `limit` entries.
pub async fn read(
    databases: &Databases,
    presence: &Presence,
    tenant: &TenantCtx,
    limit: i64,
    times: &mut TimesCache,
) -> sqlx::Result<View> {
    let (agents, online) = team(presence, tenant.id).await;
    let mut tx = TenantTx::begin(databases, &tenant.schema).await?;
    let hours = db::service_hours::current(&mut tx).await?;
    let (availability, opens_at) = crate::hours::availability(&mut tx, &hours, agents).await?;
    let bot = db::bot::enabled(&mut tx).await?;
    let quota_reached = db::quotas::conversations_full_until(&mut tx).await?.is_some();
    let places = db::queue::places(&mut tx, limit).await?;
    let waiting = if i64::try_from(places.len()).unwrap_or(i64::MAX) < limit {
        i64::try_from(places.len()).unwrap_or(i64::MAX)
    } else {
        db::queue::waiting_count(&mut tx).await?
    };
    let (slots, recent) = if places.is_empty() || online.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let slots = db::routing::candidates(&mut tx, &online).await?;
        let recent = match times.fresh() {
            Some(recent) => recent.to_vec(),
            None => {
                let recent = db::queue::times(&mut tx).await?;
                times.read = Some((Instant::now(), recent.clone()));
                recent
            }
        };
        (slots, recent)
    };
    tx.commit().await?;
    let paces = estimate::paces(places.iter().map(|p| p.team_id), &slots, &recent);
    let entries = places
        .into_iter()
        .map(|place| {
            let estimated_wait_secs =
                paces.get(&place.team_id).and_then(|pace| estimate::estimate(place.position, pace));
            Entry { place, estimated_wait_secs }
        })
        .collect();
    Ok(View { availability, entries, waiting, bot, opens_at, quota_reached })
}

/// What presence says of the team (the best status of its agents), and who takes new
/// conversations. Without presence the team counts as `busy`: `offline` would send visitors to
/// the offline form for nothing.
pub async fn team(presence: &Presence, tenant: TenantId) -> (Availability, Vec<UserId>) {
    match presence.agents(tenant).await {
        Ok(agents) => {
            let online: Vec<UserId> =
                agents.iter().filter(|(_, status)| **status == AgentStatus::Online).map(|(user, _)| *user).collect();
            (of_statuses(agents.into_values()), online)
        }
        Err(error) => {
            tracing::warn!(%error, "presence unavailable; telling visitors the team is busy");
            (Availability::Busy, Vec::new())
        }
    }
}

/// The team's availability: the best status of its agents.
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
}
