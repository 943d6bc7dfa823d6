//! Reading the analytics rollups for a dashboard (docs/analytics.md): sums over the hourly
//! rollups by time, weekday and hour, agent and team, and the daily counts by source.

use chrono::{DateTime, NaiveDate, Utc};
use kefu_protocol::{TeamId, UserId};
use sqlx::{Postgres, QueryBuilder};

use super::TenantTx;

/// What a dashboard covers: an instant range (whole local days) and optionally one team or
/// agent.
#[derive(Debug, Clone)]
pub struct Scope {
    /// First instant.
    pub from: DateTime<Utc>,
    /// Instant after the last.
    pub to: DateTime<Utc>,
    /// First local day.
    pub from_day: NaiveDate,
    /// Last local day (inclusive).
    pub to_day: NaiveDate,
    /// The time zone days and hours are read in.
    pub timezone: String,
    /// Only this team's conversations.
    pub team: Option<TeamId>,
    /// Only this agent's conversations.
    pub agent: Option<UserId>,
}

/// Today's date in `timezone`.
pub async fn today(tx: &mut TenantTx, timezone: &str) -> sqlx::Result<NaiveDate> {
    sqlx::query_scalar("select (now() at time zone $1)::date").bind(timezone).fetch_one(tx.conn()).await
}

/// The instants local days `from`..=`to` in `timezone` begin and end at.
pub async fn bounds(
    tx: &mut TenantTx,
    timezone: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> sqlx::Result<(DateTime<Utc>, DateTime<Utc>)> {
    sqlx::query_as("select $2::timestamp at time zone $1, ($3 + 1)::timestamp at time zone $1")
        .bind(timezone)
        .bind(from)
        .bind(to)
        .fetch_one(tx.conn())
        .await
}

/// The sums of the hourly rollups over some rows.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Sums {
    /// Conversations started.
    pub conversations: i64,
    /// Of those, closed.
    pub closed: i64,
    /// Closed with no reply from people or the bot's answer.
    pub missed: i64,
    /// Closed with a reply or resolved by the bot.
    pub resolved: i64,
    /// Reopened at least once.
    pub reopened: i64,
    /// With a first response.
    pub first_responses: i64,
    /// Their first response times, summed.
    pub first_response_secs: f64,
    /// Responses to a visitor's run of messages.
    pub responses: i64,
    /// Their times, summed.
    pub response_secs: f64,
    /// Closed ones with a duration.
    pub durations: i64,
    /// Their durations, summed.
    pub duration_secs: f64,
    /// Rated.
    pub rated: i64,
    /// Their ratings, summed.
    pub rating_sum: i64,
    /// Rated 4 or 5.
    pub satisfied: i64,
    /// The bot answered or handed off.
    pub bot_involved: i64,
    /// Closed with the bot's answers and no hand-off.
    pub bot_resolved: i64,
    /// Handed off by the bot.
    pub handed_off: i64,
}

const SUMS: &str = "coalesce(sum(conversations), 0)::int8 as conversations, coalesce(sum(closed), 0)::int8 as closed,
    coalesce(sum(missed), 0)::int8 as missed, coalesce(sum(resolved), 0)::int8 as resolved,
    coalesce(sum(reopened), 0)::int8 as reopened, coalesce(sum(first_responses), 0)::int8 as first_responses,
    coalesce(sum(first_response_secs), 0)::float8 as first_response_secs, coalesce(sum(responses), 0)::int8 as responses,
    coalesce(sum(response_secs), 0)::float8 as response_secs, coalesce(sum(durations), 0)::int8 as durations,
    coalesce(sum(duration_secs), 0)::float8 as duration_secs, coalesce(sum(rated), 0)::int8 as rated,
    coalesce(sum(rating_sum), 0)::int8 as rating_sum, coalesce(sum(satisfied), 0)::int8 as satisfied,
    coalesce(sum(bot_involved), 0)::int8 as bot_involved, coalesce(sum(bot_resolved), 0)::int8 as bot_resolved,
    coalesce(sum(handed_off), 0)::int8 as handed_off";

/// Completes `query` (which has pushed its `select` list) with the sums and the scope's rows:
/// from the daily rollups (whole local days, a few rows a day), or (`hourly`) the hourly ones.
fn sums_of(mut query: QueryBuilder<Postgres>, scope: &Scope, hourly: bool) -> QueryBuilder<Postgres> {
    if hourly {
        query.push(format!(", {SUMS} from analytics_hourly where hour >= "));
        query.push_bind(scope.from).push(" and hour < ").push_bind(scope.to);
    } else {
        query.push(format!(", {SUMS} from analytics_daily where day between "));
        query.push_bind(scope.from_day).push(" and ").push_bind(scope.to_day);
    }
    if let Some(team) = scope.team {
        query.push(" and team_id = ").push_bind(team);
    }
    if let Some(agent) = scope.agent {
        query.push(" and agent_id = ").push_bind(agent);
    }
    query
}

/// The sums over the whole scope.
pub async fn totals(tx: &mut TenantTx, scope: &Scope) -> sqlx::Result<Sums> {
    sums_of(QueryBuilder::new("select 1 as one"), scope, false).build_query_as().fetch_one(tx.conn()).await
}

/// One bucket of a series.
#[derive(Debug, sqlx::FromRow)]
pub struct Bucket {
    /// Its start.
    pub at: DateTime<Utc>,
    /// The sums in it.
    #[sqlx(flatten)]
    pub sums: Sums,
}

/// The sums per UTC hour (`by_day` false) or per local day, oldest first; empty buckets left out.
pub async fn series(tx: &mut TenantTx, scope: &Scope, by_day: bool) -> sqlx::Result<Vec<Bucket>> {
    let mut select = QueryBuilder::new("select ");
    if by_day {
        // The instant the local day starts.
        select.push("day::timestamp at time zone ").push_bind(scope.timezone.clone()).push(" as at");
    } else {
        select.push("hour as at");
    }
    let mut query = sums_of(select, scope, !by_day);
    query.push(" group by 1 order by 1");
    query.build_query_as().fetch_all(tx.conn()).await
}

/// Conversations started per local weekday (1 = Monday) and hour.
#[derive(Debug, sqlx::FromRow)]
pub struct HeatCell {
    /// ISO weekday.
    pub weekday: i32,
    /// Local hour, 0–23.
    pub hour: i32,
    /// Conversations started.
    pub conversations: i64,
}

/// The weekday × hour heat map of conversations started.
pub async fn heatmap(tx: &mut TenantTx, scope: &Scope) -> sqlx::Result<Vec<HeatCell>> {
    let mut query = QueryBuilder::new(
        "select extract(isodow from day)::int4 as weekday, hour::int4 as hour, sum(conversations)::int8 as conversations
         from analytics_heat where day between ",
    );
    query.push_bind(scope.from_day).push(" and ").push_bind(scope.to_day);
    if let Some(team) = scope.team {
        query.push(" and team_id = ").push_bind(team);
    }
    if let Some(agent) = scope.agent {
        query.push(" and agent_id = ").push_bind(agent);
    }
    query.push(" group by 1, 2 order by 1, 2");
    query.build_query_as().fetch_all(tx.conn()).await
}

/// The sums of one agent or team.
#[derive(Debug, sqlx::FromRow)]
pub struct Member {
    /// The agent's or team's id (the nil id: none).
    pub id: uuid::Uuid,
    /// Their name now, if they still exist.
    pub name: Option<String>,
    /// The sums.
    #[sqlx(flatten)]
    pub sums: Sums,
}

/// The sums per agent (the conversation's assignee), busiest first.
pub async fn by_agent(tx: &mut TenantTx, scope: &Scope) -> sqlx::Result<Vec<Member>> {
    let select = QueryBuilder::new(
        "select agent_id as id, (select display_name from agents a where a.user_id = agent_id) as name",
    );
    let mut query = sums_of(select, scope, false);
    query.push(" group by agent_id order by conversations desc, agent_id");
    query.build_query_as().fetch_all(tx.conn()).await
}

/// The sums per team, busiest first.
pub async fn by_team(tx: &mut TenantTx, scope: &Scope) -> sqlx::Result<Vec<Member>> {
    let select = QueryBuilder::new("select team_id as id, (select t.name from teams t where t.id = team_id) as name");
    let mut query = sums_of(select, scope, false);
    query.push(" group by team_id order by conversations desc, team_id");
    query.build_query_as().fetch_all(tx.conn()).await
}

/// Whether an id is the rollups' "none".
pub fn is_none(id: uuid::Uuid) -> bool {
    id.is_nil()
}

/// A value of a dimension with its counts.
#[derive(Debug, sqlx::FromRow)]
pub struct Share {
    /// The dimension (`referrer`, `utm_source`, `utm_medium`, `utm_campaign`, `country`,
    /// `device`, `handoff_reason`).
    pub dimension: String,
    /// The value (empty: none, such as a direct visit).
    pub value: String,
    /// Conversations started (conversation breakdowns) or visits (visit breakdowns).
    pub count: i64,
    /// Visits' durations, summed (visit breakdowns).
    pub secs: f64,
    /// Page views (visit breakdowns).
    pub page_views: i64,
}

/// Most values a breakdown lists per dimension.
pub const TOP: i64 = 10;

/// Conversations started per value of each dimension over the scope's days, the top [`TOP`] of
/// each.
pub async fn conversation_shares(tx: &mut TenantTx, scope: &Scope) -> sqlx::Result<Vec<Share>> {
    sqlx::query_as(
        "select dimension, value, count, 0::float8 as secs, 0::int8 as page_views from (
             select dimension, value, sum(conversations)::int8 as count,
                    row_number() over (partition by dimension order by sum(conversations) desc, value) as n
             from analytics_daily_conversations where day between $1 and $2
             group by dimension, value
         ) ranked where n <= $3 order by dimension, count desc, value",
    )
    .bind(scope.from_day)
    .bind(scope.to_day)
    .bind(TOP)
    .fetch_all(tx.conn())
    .await
}

/// Visits per value of each dimension over the scope's days (the top [`TOP`] of each), and the
/// dimension `all` with the totals.
pub async fn visit_shares(tx: &mut TenantTx, scope: &Scope) -> sqlx::Result<Vec<Share>> {
    sqlx::query_as(
        "select dimension, value, count, secs, page_views from (
             select dimension, value, sum(visits)::int8 as count, sum(visit_secs)::float8 as secs,
                    sum(page_views)::int8 as page_views,
                    row_number() over (partition by dimension order by sum(visits) desc, value) as n
             from analytics_daily_visits where day between $1 and $2
             group by dimension, value
         ) ranked where n <= $3 order by dimension, count desc, value",
    )
    .bind(scope.from_day)
    .bind(scope.to_day)
    .bind(TOP)
    .fetch_all(tx.conn())
    .await
}

/// Visits per local day (oldest first).
#[derive(Debug, sqlx::FromRow)]
pub struct VisitDay {
    /// The day.
    pub day: NaiveDate,
    /// Visits started.
    pub visits: i64,
    /// Their durations, summed.
    pub secs: f64,
    /// Their page views.
    pub page_views: i64,
}

/// Visits per day over the scope.
pub async fn visit_days(tx: &mut TenantTx, scope: &Scope) -> sqlx::Result<Vec<VisitDay>> {
    sqlx::query_as(
        "select day, visits::int8 as visits, visit_secs::float8 as secs, page_views::int8 as page_views
         from analytics_daily_visits where dimension = 'all' and day between $1 and $2 order by day",
    )
    .bind(scope.from_day)
    .bind(scope.to_day)
    .fetch_all(tx.conn())
    .await
}
