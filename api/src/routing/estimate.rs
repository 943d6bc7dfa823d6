//! The wait estimator, without I/O (docs/routing.md, "Wait estimate").
//!
//! A team's queue drains as its online agents finish conversations. With `C` conversation slots
//! among the online agents who may take the team's conversations (the sum of their
//! `max_concurrent_chats`), `F` of them free, and a median handle time `H` (first assignment to
//! close, conversations closed in the last 7 days), the conversation at position `p` waits for
//! `p − F` conversations to finish, one every `H / C` seconds on average:
//! `wait ≈ (p − F) · H / C`. When `p ≤ F` an agent is free for it already and the estimate is the
//! recent median time to be taken (opening to first assignment, last 24 hours). Without anyone
//! online for the team, or without history, there is no estimate: the visitor sees only their
//! position.

use std::collections::HashMap;

use kefu_protocol::TeamId;

use crate::db::queue::Times;
use crate::db::routing::Candidate;

/// Closed conversations a team needs in the last 7 days before its own median handle time is
/// used instead of the tenant's.
pub const MIN_TEAM_SAMPLES: i64 = 5;
/// The longest estimate given, in seconds (a day).
pub const MAX_ESTIMATE_SECS: u32 = 86_400;

/// How fast one team's queue moves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pace {
    /// Conversation slots of the online agents who may take the team's conversations.
    pub capacity: u32,
    /// Those slots not in use.
    pub free: u32,
    /// Median handle time, seconds.
    pub handle_secs: Option<f64>,
    /// Median time to be taken, seconds.
    pub first_wait_secs: Option<f64>,
}

/// The pace of `team` (`None`: conversations anyone may take) from the online agents' slots and
/// the recent times.
pub fn pace(team: Option<TeamId>, online: &[Candidate], times: &[Times]) -> Pace {
    let mut pace = Pace::default();
    for agent in online.iter().filter(|a| team.is_none_or(|team| a.teams.contains(&team))) {
        let capacity = u32::try_from(agent.max_concurrent_chats.max(0)).unwrap_or(0);
        let load = u32::try_from(agent.load.max(0)).unwrap_or(u32::MAX);
        pace.capacity = pace.capacity.saturating_add(capacity);
        pace.free = pace.free.saturating_add(capacity.saturating_sub(load));
    }
    let all = times.iter().find(|t| t.all);
    let own = times.iter().find(|t| !t.all && t.team_id == team);
    pace.handle_secs = match own {
        Some(own) if own.handled >= MIN_TEAM_SAMPLES => own.handle_secs,
        _ => all.and_then(|all| all.handle_secs),
    };
    pace.first_wait_secs = own.and_then(|own| own.first_wait_secs).or_else(|| all.and_then(|all| all.first_wait_secs));
    pace
}

/// The paces of the teams in `teams`, each computed once.
pub fn paces(
    teams: impl IntoIterator<Item = Option<TeamId>>,
    online: &[Candidate],
    times: &[Times],
) -> HashMap<Option<TeamId>, Pace> {
    let mut paces = HashMap::new();
    for team in teams {
        paces.entry(team).or_insert_with(|| pace(team, online, times));
    }
    paces
}

/// The estimated wait, in whole seconds, of the conversation at `position` (1 = next) of a
/// queue moving at `pace`.
pub fn estimate(position: i64, pace: &Pace) -> Option<u32> {
    if pace.capacity == 0 {
        return None;
    }
    let ahead = position.max(1) - i64::from(pace.free);
    let secs =
        if ahead <= 0 { pace.first_wait_secs? } else { ahead as f64 * pace.handle_secs? / f64::from(pace.capacity) };
    Some(clamp_secs(secs))
}

fn clamp_secs(secs: f64) -> u32 {
    if secs.is_nan() {
        return 0;
    }
    let secs = secs.max(0.0).ceil();
    if secs >= f64::from(MAX_ESTIMATE_SECS) { MAX_ESTIMATE_SECS } else { secs as u32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::db::routing::test_candidate as agent;

    fn times(team: Option<TeamId>, all: bool, handle: f64, handled: i64, first_wait: f64) -> Times {
        Times { team_id: team, all, handle_secs: Some(handle), handled, first_wait_secs: Some(first_wait) }
    }

    #[test]
    fn a_full_team_drains_one_slot_per_handle_time_over_capacity() {
        // Two agents of 3 slots, all in use, conversations take 10 minutes: one slot frees
        // every 100 s.
        let online = [agent(1, 3, 3, &[]), agent(2, 3, 3, &[])];
        let pace = pace(None, &online, &[times(None, true, 600.0, 40, 20.0)]);
        assert_eq!((pace.capacity, pace.free), (6, 0));
        assert_eq!(estimate(1, &pace), Some(100));
        assert_eq!(estimate(3, &pace), Some(300));
    }

    #[test]
    fn free_slots_are_taken_first_at_the_usual_pickup_time() {
        let online = [agent(1, 3, 1, &[])];
        let pace = pace(None, &online, &[times(None, true, 600.0, 40, 20.0)]);
        assert_eq!(pace.free, 2);
        assert_eq!(estimate(2, &pace), Some(20), "a free slot: the median time to be taken");
        assert_eq!(estimate(3, &pace), Some(200), "one conversation must finish first: 600 s / 3 slots");
    }

    #[test]
    fn a_team_counts_its_members_and_its_own_history_when_it_has_enough() {
        let sales = TeamId::from_uuid(uuid::Uuid::from_u128(7));
        let online = [agent(1, 2, 2, &[sales]), agent(2, 5, 5, &[])];
        let few = [times(Some(sales), false, 60.0, 2, 5.0), times(None, true, 600.0, 40, 20.0)];
        let pace_few = pace(Some(sales), &online, &few);
        assert_eq!(pace_few.capacity, 2, "only the team's members");
        assert_eq!(pace_few.handle_secs, Some(600.0), "too few closed: the tenant's median");
        assert_eq!(pace_few.first_wait_secs, Some(5.0));
        let enough = [times(Some(sales), false, 60.0, MIN_TEAM_SAMPLES, 5.0), times(None, true, 600.0, 40, 20.0)];
        assert_eq!(estimate(1, &pace(Some(sales), &online, &enough)), Some(30));
    }

    #[test]
    fn no_estimate_without_agents_or_history() {
        assert_eq!(estimate(1, &pace(None, &[], &[times(None, true, 600.0, 40, 20.0)])), None);
        assert_eq!(estimate(1, &pace(None, &[agent(1, 1, 1, &[])], &[])), None);
        let huge = pace(None, &[agent(1, 1, 1, &[])], &[times(None, true, 1e12, 40, 1.0)]);
        assert_eq!(estimate(5, &huge), Some(MAX_ESTIMATE_SECS));
    }
}
