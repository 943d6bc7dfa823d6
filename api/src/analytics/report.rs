//! The dashboard as the api returns it: the rollups' sums turned into counts, averages and rates
//! (docs/analytics.md, "Metrics").

use chrono::{DateTime, NaiveDate, Utc};
use kefu_protocol::{TeamId, UserId};
use serde::Serialize;
use utoipa::ToSchema;

use super::refresh::Freshness;
use crate::db::TenantTx;
use crate::db::analytics_read::{self as read, Scope, Share, Sums};

/// The figures of a set of conversations (started in the period). Averages and rates are absent
/// when nothing was there to average.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Metrics {
    /// Conversations started.
    pub conversations: i64,
    /// Of those, closed.
    pub closed: i64,
    /// Closed without a reply from a person or an answer of the bot (missed chats).
    pub missed: i64,
    /// Closed with a reply, or resolved by the bot.
    pub resolved: i64,
    /// Reopened at least once.
    pub reopened: i64,
    /// Average first response time in seconds: from the visitor's first message (or the bot's
    /// hand-off, when later) to the first reply of a person.
    pub first_response_secs: Option<f64>,
    /// Average response time in seconds, over every run of visitor messages a person answered.
    pub response_secs: Option<f64>,
    /// Average duration of closed conversations, in seconds.
    pub duration_secs: Option<f64>,
    /// Resolved ÷ closed.
    pub resolution_rate: Option<f64>,
    /// Reopened ÷ closed.
    pub reopen_rate: Option<f64>,
    /// Missed ÷ closed.
    pub missed_rate: Option<f64>,
    /// Rated by the visitor.
    pub rated: i64,
    /// Average rating, 1–5.
    pub rating_average: Option<f64>,
    /// CSAT: ratings of 4 or 5 ÷ ratings.
    pub csat: Option<f64>,
    /// Conversations the bot answered in or handed off.
    pub bot_involved: i64,
    /// Closed with the bot's answers and no hand-off.
    pub bot_resolved: i64,
    /// Bot resolved ÷ bot involved.
    pub bot_resolution_rate: Option<f64>,
    /// Handed off to people by the bot.
    pub handed_off: i64,
}

fn ratio(part: f64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part / whole as f64)
}

impl From<&Sums> for Metrics {
    fn from(s: &Sums) -> Self {
        Self {
            conversations: s.conversations,
            closed: s.closed,
            missed: s.missed,
            resolved: s.resolved,
            reopened: s.reopened,
            first_response_secs: ratio(s.first_response_secs, s.first_responses),
            response_secs: ratio(s.response_secs, s.responses),
            duration_secs: ratio(s.duration_secs, s.durations),
            resolution_rate: ratio(s.resolved as f64, s.closed),
            reopen_rate: ratio(s.reopened as f64, s.closed),
            missed_rate: ratio(s.missed as f64, s.closed),
            rated: s.rated,
            rating_average: ratio(s.rating_sum as f64, s.rated),
            csat: ratio(s.satisfied as f64, s.rated),
            bot_involved: s.bot_involved,
            bot_resolved: s.bot_resolved,
            bot_resolution_rate: ratio(s.bot_resolved as f64, s.bot_involved),
            handed_off: s.handed_off,
        }
    }
}

/// One bucket of the time series.
#[derive(Debug, Serialize, ToSchema)]
pub struct Point {
    /// The bucket's start (an hour, or a local midnight).
    pub at: DateTime<Utc>,
    /// Its figures.
    pub metrics: Metrics,
}

/// Conversations started in one local weekday and hour.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeatPoint {
    /// ISO weekday: 1 = Monday … 7 = Sunday.
    pub weekday: i32,
    /// Local hour, 0–23.
    pub hour: i32,
    /// Conversations started.
    pub conversations: i64,
}

/// An agent's figures (the conversations assigned to them).
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentFigures {
    /// The agent (`usr_…`); absent for conversations nobody was assigned.
    pub user_id: Option<UserId>,
    /// Their name, if they are still a member.
    pub name: Option<String>,
    /// Their figures.
    pub metrics: Metrics,
}

/// A team's figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeamFigures {
    /// The team (`team_…`); absent for conversations in no team.
    pub team_id: Option<TeamId>,
    /// Its name, if it still exists.
    pub name: Option<String>,
    /// Its figures.
    pub metrics: Metrics,
}

/// A value of a breakdown.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareView {
    /// `referrer` (host), `utm_source`, `utm_medium`, `utm_campaign`, `country`, `device`, or
    /// `handoff_reason` (conversations only).
    pub dimension: String,
    /// The value; empty for none (a direct visit, an unknown country).
    pub value: String,
    /// Conversations started, or visits.
    pub count: i64,
    /// Visits only: their average duration in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_secs: Option<f64>,
}

/// Visits to the tenant's site in one local day.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitDayView {
    /// The day.
    pub day: NaiveDate,
    /// Visits started (page views of a visitor with no gap over 30 minutes).
    pub visits: i64,
    /// Their average duration in seconds (first to last page view).
    pub average_secs: Option<f64>,
    /// Page views.
    pub page_views: i64,
}

/// The site's visits (tenant-wide: visits belong to no team or agent).
#[derive(Debug, Serialize, ToSchema)]
pub struct Visits {
    /// Visits started in the period.
    pub visits: i64,
    /// Their average duration in seconds.
    pub average_secs: Option<f64>,
    /// Page views per visit.
    pub pages_per_visit: Option<f64>,
    /// Per day.
    pub days: Vec<VisitDayView>,
    /// Where they came from, by dimension (the top 10 values of each).
    pub sources: Vec<ShareView>,
}

/// How current the figures are.
#[derive(Debug, Serialize, ToSchema)]
pub struct FreshnessView {
    /// Everything stored before this instant is counted (absent before the first refresh).
    pub through: Option<DateTime<Utc>>,
    /// False while a large backlog is still being counted (the rest follows in the background).
    pub complete: bool,
}

impl From<Freshness> for FreshnessView {
    fn from(f: Freshness) -> Self {
        Self { through: f.through, complete: f.complete }
    }
}

/// Everything the analytics page shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct Dashboard {
    /// First local day.
    pub from: NaiveDate,
    /// Last local day (inclusive).
    pub to: NaiveDate,
    /// The time zone days and hours are in (the business hours' zone, else UTC).
    pub timezone: String,
    /// `hour` or `day`: the series' buckets.
    pub granularity: String,
    /// The period's figures.
    pub totals: Metrics,
    /// The same-length period just before, for comparison.
    pub previous: Metrics,
    /// Figures per bucket, oldest first; empty buckets left out.
    pub series: Vec<Point>,
    /// Conversations by local weekday and hour.
    pub heatmap: Vec<HeatPoint>,
    /// Per agent, busiest first.
    pub agents: Vec<AgentFigures>,
    /// Per team, busiest first.
    pub teams: Vec<TeamFigures>,
    /// Conversations by source, country, device, and the bot's hand-off reasons (tenant-wide;
    /// the top 10 values of each).
    pub conversation_sources: Vec<ShareView>,
    /// The site's visits.
    pub visits: Visits,
    /// How current it is.
    pub freshness: FreshnessView,
}

/// The period's and the previous period's figures (what the stats endpoint and reports need).
pub async fn totals(tx: &mut TenantTx, scope: &Scope) -> sqlx::Result<(Metrics, Metrics)> {
    let now = read::totals(tx, scope).await?;
    let before = read::totals(tx, &previous(scope)).await?;
    Ok(((&now).into(), (&before).into()))
}

/// The same-length period just before `scope`.
pub fn previous(scope: &Scope) -> Scope {
    let days = (scope.to_day - scope.from_day).num_days() + 1;
    let length = scope.to - scope.from;
    Scope {
        from: scope.from - length,
        to: scope.from,
        from_day: scope.from_day - chrono::Days::new(days.unsigned_abs()),
        to_day: scope.from_day.pred_opt().unwrap_or(scope.from_day),
        ..scope.clone()
    }
}

/// Reads the whole dashboard.
pub async fn dashboard(
    tx: &mut TenantTx,
    scope: &Scope,
    by_day: bool,
    freshness: Freshness,
) -> sqlx::Result<Dashboard> {
    let (totals, previous) = totals(tx, scope).await?;
    let series = read::series(tx, scope, by_day)
        .await?
        .into_iter()
        .map(|b| Point { at: b.at, metrics: (&b.sums).into() })
        .collect();
    let heatmap = read::heatmap(tx, scope)
        .await?
        .into_iter()
        .map(|c| HeatPoint { weekday: c.weekday, hour: c.hour, conversations: c.conversations })
        .collect();
    let agents = read::by_agent(tx, scope)
        .await?
        .into_iter()
        .map(|m| AgentFigures {
            user_id: (!read::is_none(m.id)).then(|| UserId::from_uuid(m.id)),
            name: m.name,
            metrics: (&m.sums).into(),
        })
        .collect();
    let teams = read::by_team(tx, scope)
        .await?
        .into_iter()
        .map(|m| TeamFigures {
            team_id: (!read::is_none(m.id)).then(|| TeamId::from_uuid(m.id)),
            name: m.name,
            metrics: (&m.sums).into(),
        })
        .collect();
    let conversation_sources = read::conversation_shares(tx, scope).await?.into_iter().map(share).collect();
    let shares = read::visit_shares(tx, scope).await?;
    let (all, sources): (Vec<Share>, Vec<Share>) = shares.into_iter().partition(|s| s.dimension == "all");
    let total = all.first();
    let visits = Visits {
        visits: total.map_or(0, |t| t.count),
        average_secs: total.and_then(|t| ratio(t.secs, t.count)),
        pages_per_visit: total.and_then(|t| ratio(t.page_views as f64, t.count)),
        days: read::visit_days(tx, scope)
            .await?
            .into_iter()
            .map(|d| VisitDayView {
                day: d.day,
                visits: d.visits,
                average_secs: ratio(d.secs, d.visits),
                page_views: d.page_views,
            })
            .collect(),
        sources: sources.into_iter().map(visit_share).collect(),
    };
    Ok(Dashboard {
        from: scope.from_day,
        to: scope.to_day,
        timezone: scope.timezone.clone(),
        granularity: if by_day { "day" } else { "hour" }.to_owned(),
        totals,
        previous,
        series,
        heatmap,
        agents,
        teams,
        conversation_sources,
        visits,
        freshness: freshness.into(),
    })
}

fn share(s: Share) -> ShareView {
    ShareView { dimension: s.dimension, value: s.value, count: s.count, average_secs: None }
}

fn visit_share(s: Share) -> ShareView {
    ShareView { average_secs: ratio(s.secs, s.count), dimension: s.dimension, value: s.value, count: s.count }
}
