//! The assignment decision, without I/O: which waiting conversation goes to which agent, given
//! the queue in order, the online agents with their loads, and the tenant's settings.

use chrono::{DateTime, Duration, Utc};
use kefu_protocol::{ConversationId, UserId};

use crate::db::routing::{Candidate, RoutingSettings, Strategy, Waiting};

/// Assigns the queue, in its order, to the candidates: a conversation of a team (or, without
/// one, of the default team when set) goes only to that team's members, one that needs skills
/// only to agents with all of them (both lowercase); nobody gets more than
/// their capacity; among those left, the strategy chooses. A conversation nobody may take stays
/// waiting and the next one is tried (another team's agent may be free). `now` stamps each
/// choice, so round robin moves on within one pass.
pub fn plan(
    waiting: &[Waiting],
    candidates: &mut [Candidate],
    settings: &RoutingSettings,
    now: DateTime<Utc>,
) -> Vec<(ConversationId, UserId)> {
    let mut chosen = Vec::new();
    for (i, conversation) in waiting.iter().enumerate() {
        let team = conversation.team_id.or(settings.default_team_id);
        let eligible = candidates.iter_mut().filter(|c| {
            i64::from(c.max_concurrent_chats) > c.load
                && team.is_none_or(|team| c.teams.contains(&team))
                && conversation.skills.iter().all(|needed| c.skills.contains(needed))
        });
        let best = match settings.strategy {
            Strategy::LeastBusy => eligible.min_by(|a, b| {
                // Load relative to capacity (cross-multiplied), then who waited longest.
                (a.load * i64::from(b.max_concurrent_chats))
                    .cmp(&(b.load * i64::from(a.max_concurrent_chats)))
                    .then(a.last_assigned_at.cmp(&b.last_assigned_at))
                    .then(a.user_id.cmp(&b.user_id))
            }),
            Strategy::RoundRobin => {
                eligible.min_by(|a, b| a.last_assigned_at.cmp(&b.last_assigned_at).then(a.user_id.cmp(&b.user_id)))
            }
        };
        if let Some(agent) = best {
            agent.load += 1;
            agent.last_assigned_at = Some(now + Duration::microseconds(i64::try_from(i).unwrap_or(i64::MAX)));
            chosen.push((conversation.id, agent.user_id));
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_protocol::TeamId;

    use crate::db::routing::test_candidate as agent;

    fn waiting(n: u128, team: Option<TeamId>) -> Waiting {
        Waiting {
            id: ConversationId::from_uuid(uuid::Uuid::from_u128(1000 + n)),
            team_id: team,
            priority: 0,
            skills: Vec::new(),
            created_at: Utc::now(),
        }
    }

    fn settings(strategy: Strategy) -> RoutingSettings {
        RoutingSettings { auto_assign: true, strategy, default_team_id: None, tag_priorities: Default::default() }
    }

    fn counts(chosen: &[(ConversationId, UserId)], candidates: &[Candidate]) -> Vec<usize> {
        candidates.iter().map(|c| chosen.iter().filter(|(_, a)| *a == c.user_id).count()).collect()
    }

    #[test]
    fn least_busy_fills_by_relative_load_and_never_beyond_capacity() {
        let mut agents = [agent(1, 2, 1, &[]), agent(2, 4, 0, &[])];
        let queue: Vec<Waiting> = (0..10).map(|n| waiting(n, None)).collect();
        let chosen = plan(&queue, &mut agents, &settings(Strategy::LeastBusy), Utc::now());
        assert_eq!(chosen.len(), 5, "one free seat with the first agent, four with the second");
        assert_eq!(counts(&chosen, &agents), [1, 4]);
        assert_eq!(chosen[0].1, agents[1].user_id, "0/4 is less busy than 1/2");
        assert_eq!(
            chosen.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
            queue[..5].iter().map(|w| w.id).collect::<Vec<_>>(),
            "the queue is served in order"
        );
    }

    #[test]
    fn round_robin_takes_turns() {
        let mut agents = [agent(1, 10, 5, &[]), agent(2, 10, 0, &[]), agent(3, 10, 0, &[])];
        let queue: Vec<Waiting> = (0..6).map(|n| waiting(n, None)).collect();
        let chosen = plan(&queue, &mut agents, &settings(Strategy::RoundRobin), Utc::now());
        assert_eq!(counts(&chosen, &agents), [2, 2, 2], "turns, whatever the load");
    }

    #[test]
    fn team_conversations_go_to_members_and_others_are_not_blocked_behind_them() {
        let sales = TeamId::from_uuid(uuid::Uuid::from_u128(77));
        let mut agents = [agent(1, 1, 0, &[]), agent(2, 5, 0, &[sales])];
        let queue = [waiting(0, Some(sales)), waiting(1, Some(sales)), waiting(2, None)];
        let chosen = plan(&queue, &mut agents, &settings(Strategy::LeastBusy), Utc::now());
        assert_eq!(chosen.len(), 3);
        assert!(chosen[..2].iter().all(|(_, a)| *a == agents[1].user_id), "only sales members take sales");

        // With a default team, conversations without one go to it only.
        let mut agents = [agent(1, 5, 0, &[]), agent(2, 5, 0, &[sales])];
        let with_default = RoutingSettings { default_team_id: Some(sales), ..settings(Strategy::LeastBusy) };
        let chosen = plan(&[waiting(3, None)], &mut agents, &with_default, Utc::now());
        assert_eq!(chosen, [(waiting(3, None).id, agents[1].user_id)]);
    }

    #[test]
    fn a_conversation_needing_skills_goes_only_to_agents_with_all_of_them() {
        let mut agents = [agent(1, 5, 0, &[]), agent(2, 5, 3, &[]), agent(3, 5, 4, &[])];
        agents[1].skills = vec!["english".into()];
        agents[2].skills = vec!["english".into(), "refunds".into()];
        let needs = |n, skills: &[&str]| Waiting {
            skills: skills.iter().map(|s| (*s).to_owned()).collect(),
            ..waiting(n, None)
        };
        let queue = [needs(0, &["english", "refunds"]), needs(1, &["english"]), needs(2, &["german"]), needs(3, &[])];
        let chosen = plan(&queue, &mut agents, &settings(Strategy::LeastBusy), Utc::now());
        let ids = |a: &Candidate| a.user_id;
        assert_eq!(
            chosen,
            [(queue[0].id, ids(&agents[2])), (queue[1].id, ids(&agents[1])), (queue[3].id, ids(&agents[0]))],
            "the busiest agent has both skills; nobody speaks German, so that one waits"
        );
    }

    #[test]
    fn nobody_free_means_nothing_assigned() {
        let mut agents = [agent(1, 2, 2, &[])];
        assert!(plan(&[waiting(0, None)], &mut agents, &settings(Strategy::LeastBusy), Utc::now()).is_empty());
        assert!(plan(&[waiting(0, None)], &mut [], &settings(Strategy::RoundRobin), Utc::now()).is_empty());
    }
}
