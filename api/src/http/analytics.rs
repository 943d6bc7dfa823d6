//! Analytics over REST (F25, docs/analytics.md): the dashboard for supervisors and up (member
//! tokens or API keys with that role), its tables as CSV, and `GET /api/v1/stats` with the
//! period's key figures (seed 001's `getStats`). Each request first brings the tenant's rollups
//! up to date (a bounded amount of work; the response says when a backlog remains).

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use kefu_protocol::{TeamId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::spreadsheet_safe;
use super::extract::{AdminUp, AnalyticsRead, Auth, SupervisorUp};
use super::validate::Fields;
use crate::analytics::refresh::{self, Freshness};
use crate::analytics::report::{self, Dashboard, FreshnessView, Metrics};
use crate::db::analytics_read::Scope;
use crate::db::{self, TenantSchema, TenantTx};
use crate::error::{ApiError, Result};
use crate::state::AppState;

/// Longest period, in days.
pub const MAX_DAYS: i64 = 366;
/// Longest period with hourly buckets, in days.
pub const MAX_HOURLY_DAYS: i64 = 31;
/// Chunks of refresh work a request does before answering (each up to 2,000 conversations).
const REQUEST_CHUNKS: u32 = 10;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_analytics))
        .routes(routes!(export_analytics))
        .routes(routes!(get_stats))
        .routes(routes!(get_reports, put_reports))
}

/// The period and the conversations to count.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct AnalyticsQuery {
    /// First day, `YYYY-MM-DD` in the tenant's time zone (default: six days before `to`).
    pub from: Option<String>,
    /// Last day, inclusive (default: today). At most 366 days from `from`.
    pub to: Option<String>,
    /// Only this team's conversations (`team_…`).
    pub team: Option<String>,
    /// Only the conversations assigned to this member (`usr_…`).
    pub agent: Option<String>,
    /// `hour` (periods up to 31 days) or `day`; default `hour` for one or two days, else `day`.
    pub granularity: Option<String>,
}

/// What the query asks for, checked.
struct Asked {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    team: Option<TeamId>,
    agent: Option<UserId>,
    granularity: Option<bool>,
}

fn parse(query: &AnalyticsQuery) -> Result<Asked> {
    let mut fields = Fields::default();
    let date = |fields: &mut Fields, name: &str, raw: Option<&str>| {
        raw.and_then(|raw| {
            fields.take(name, "invalid", NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| "a date, YYYY-MM-DD"))
        })
    };
    let from = date(&mut fields, "from", query.from.as_deref());
    let to = date(&mut fields, "to", query.to.as_deref());
    let team = query
        .team
        .as_deref()
        .and_then(|raw| fields.take("team", "invalid", raw.parse::<TeamId>().map_err(|_| "a team_… id")));
    let agent = query
        .agent
        .as_deref()
        .and_then(|raw| fields.take("agent", "invalid", raw.parse::<UserId>().map_err(|_| "a usr_… id")));
    let granularity = match query.granularity.as_deref() {
        None => None,
        Some("day") => Some(true),
        Some("hour") => Some(false),
        Some(_) => fields.take("granularity", "invalid", Err("hour or day")),
    };
    fields.finish()?;
    Ok(Asked { from, to, team, agent, granularity })
}

/// Resolves the period in the tenant's time zone and checks its bounds; returns the scope and
/// whether the series is by day.
async fn scope_of(tx: &mut TenantTx, asked: &Asked) -> Result<(Scope, bool)> {
    let timezone = refresh::timezone_of(tx).await?;
    let today = db::analytics_read::today(tx, &timezone).await?;
    let to_day = asked.to.unwrap_or(today);
    let from_day = asked.from.unwrap_or(to_day - chrono::Days::new(6));
    let days = (to_day - from_day).num_days() + 1;
    let mut fields = Fields::default();
    if days < 1 {
        fields.take::<(), _>("to", "out_of_range", Err("on or after `from`"));
    } else if days > MAX_DAYS {
        fields.take::<(), _>("from", "out_of_range", Err(format!("at most {MAX_DAYS} days before `to`")));
    }
    let by_day = asked.granularity.unwrap_or(days > 2);
    if !by_day && days > MAX_HOURLY_DAYS {
        fields.take::<(), _>(
            "granularity",
            "out_of_range",
            Err(format!("hour needs a period of at most {MAX_HOURLY_DAYS} days")),
        );
    }
    fields.finish()?;
    let (from, to) = db::analytics_read::bounds(tx, &timezone, from_day, to_day).await?;
    Ok((Scope { from, to, from_day, to_day, timezone, team: asked.team, agent: asked.agent }, by_day))
}

/// Brings the tenant's rollups up to date (as far as a request may) and opens the transaction the
/// dashboard is read in.
async fn fresh(state: &AppState, schema: &TenantSchema) -> Result<(Freshness, TenantTx)> {
    let freshness = refresh::refresh(&state.db, schema, Some(REQUEST_CHUNKS)).await?;
    if !freshness.complete {
        // The rest is counted in the background, by this node, whether or not anything changes.
        state.analytics.poke(schema.tenant_id());
    }
    Ok((freshness, TenantTx::begin(&state.db, schema).await?))
}

/// The dashboard: totals (with the previous period), the series by hour or day, the weekday ×
/// hour heat map, per agent and per team, sources, hand-off reasons and visits.
#[utoipa::path(get, path = "/api/v1/analytics", tag = "analytics", security(("bearer" = [])), params(AnalyticsQuery),
    responses((status = 200, body = Dashboard), (status = 422, description = "validation_failed")))]
async fn get_analytics(
    State(state): State<AppState>,
    auth: Auth<SupervisorUp, AnalyticsRead>,
    Query(query): Query<AnalyticsQuery>,
) -> Result<axum::Json<Dashboard>> {
    let asked = parse(&query)?;
    let (freshness, mut tx) = fresh(&state, &auth.tenant.schema).await?;
    let (scope, by_day) = scope_of(&mut tx, &asked).await?;
    let dashboard = report::dashboard(&mut tx, &scope, by_day, freshness).await?;
    tx.commit().await?;
    Ok(axum::Json(dashboard))
}

/// One of the dashboard's tables to download.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    /// `series`, `agents`, `teams`, `sources` (conversations and visits by source) or `visits`
    /// (per day).
    pub table: String,
    /// As for the dashboard.
    pub from: Option<String>,
    /// As for the dashboard.
    pub to: Option<String>,
    /// As for the dashboard.
    pub team: Option<String>,
    /// As for the dashboard.
    pub agent: Option<String>,
    /// As for the dashboard (the `series` table's buckets).
    pub granularity: Option<String>,
}

impl ExportQuery {
    fn filters(&self) -> AnalyticsQuery {
        AnalyticsQuery {
            from: self.from.clone(),
            to: self.to.clone(),
            team: self.team.clone(),
            agent: self.agent.clone(),
            granularity: self.granularity.clone(),
        }
    }
}

const METRIC_COLUMNS: [&str; 18] = [
    "conversations",
    "closed",
    "missed",
    "resolved",
    "reopened",
    "first_response_secs",
    "response_secs",
    "duration_secs",
    "resolution_rate",
    "reopen_rate",
    "missed_rate",
    "rated",
    "rating_average",
    "csat",
    "bot_involved",
    "bot_resolved",
    "bot_resolution_rate",
    "handed_off",
];

fn metric_cells(m: &Metrics) -> Vec<String> {
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_default();
    vec![
        m.conversations.to_string(),
        m.closed.to_string(),
        m.missed.to_string(),
        m.resolved.to_string(),
        m.reopened.to_string(),
        opt(m.first_response_secs),
        opt(m.response_secs),
        opt(m.duration_secs),
        opt(m.resolution_rate),
        opt(m.reopen_rate),
        opt(m.missed_rate),
        m.rated.to_string(),
        opt(m.rating_average),
        opt(m.csat),
        m.bot_involved.to_string(),
        m.bot_resolved.to_string(),
        opt(m.bot_resolution_rate),
        m.handed_off.to_string(),
    ]
}

/// The CSV of one table of the dashboard (its rows as the dashboard has them).
fn csv_of(dashboard: &Dashboard, table: &str) -> std::result::Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let with_metrics = |first: &[&str]| -> Vec<String> {
        first.iter().map(|s| (*s).to_owned()).chain(METRIC_COLUMNS.iter().map(|s| (*s).to_owned())).collect()
    };
    match table {
        "series" => {
            out.write_record(with_metrics(&["start"]))?;
            for point in &dashboard.series {
                let mut row = vec![point.at.to_rfc3339()];
                row.extend(metric_cells(&point.metrics));
                out.write_record(row)?;
            }
        }
        "agents" => {
            out.write_record(with_metrics(&["user_id", "name"]))?;
            for agent in &dashboard.agents {
                let mut row = vec![
                    agent.user_id.map(|u| u.to_string()).unwrap_or_default(),
                    spreadsheet_safe(agent.name.as_deref().unwrap_or_default()),
                ];
                row.extend(metric_cells(&agent.metrics));
                out.write_record(row)?;
            }
        }
        "teams" => {
            out.write_record(with_metrics(&["team_id", "name"]))?;
            for team in &dashboard.teams {
                let mut row = vec![
                    team.team_id.map(|t| t.to_string()).unwrap_or_default(),
                    spreadsheet_safe(team.name.as_deref().unwrap_or_default()),
                ];
                row.extend(metric_cells(&team.metrics));
                out.write_record(row)?;
            }
        }
        "sources" => {
            out.write_record(["of", "dimension", "value", "count", "average_secs"])?;
            let rows = dashboard
                .conversation_sources
                .iter()
                .map(|s| ("conversations", s))
                .chain(dashboard.visits.sources.iter().map(|s| ("visits", s)));
            for (of, share) in rows {
                out.write_record([
                    of.to_owned(),
                    share.dimension.clone(),
                    spreadsheet_safe(&share.value),
                    share.count.to_string(),
                    share.average_secs.map(|v| format!("{v:.3}")).unwrap_or_default(),
                ])?;
            }
        }
        _ => {
            out.write_record(["day", "visits", "average_secs", "page_views"])?;
            for day in &dashboard.visits.days {
                out.write_record([
                    day.day.to_string(),
                    day.visits.to_string(),
                    day.average_secs.map(|v| format!("{v:.3}")).unwrap_or_default(),
                    day.page_views.to_string(),
                ])?;
            }
        }
    }
    out.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// A table of the dashboard as CSV (UTF-8 with a byte-order mark, so spreadsheets read Chinese
/// names right).
#[utoipa::path(get, path = "/api/v1/analytics/export", tag = "analytics", security(("bearer" = [])), params(ExportQuery),
    responses((status = 200, body = String, content_type = "text/csv", description = "The table's rows"),
        (status = 422, description = "validation_failed")))]
async fn export_analytics(
    State(state): State<AppState>,
    auth: Auth<SupervisorUp, AnalyticsRead>,
    Query(query): Query<ExportQuery>,
) -> Result<Response> {
    if !["series", "agents", "teams", "sources", "visits"].contains(&query.table.as_str()) {
        let mut fields = Fields::default();
        fields.take::<(), _>("table", "invalid", Err("series, agents, teams, sources or visits"));
        fields.finish()?;
    }
    let asked = parse(&query.filters())?;
    let (freshness, mut tx) = fresh(&state, &auth.tenant.schema).await?;
    let (scope, by_day) = scope_of(&mut tx, &asked).await?;
    let dashboard = report::dashboard(&mut tx, &scope, by_day, freshness).await?;
    tx.commit().await?;
    let mut body = "\u{feff}".as_bytes().to_vec();
    body.extend(csv_of(&dashboard, &query.table).map_err(|e| ApiError::Internal(e.into()))?);
    let name = format!("attachment; filename=\"analytics-{}-{}-{}.csv\"", query.table, scope.from_day, scope.to_day);
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, name)], body)
        .into_response())
}

/// The period's key figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    /// First local day.
    pub from: NaiveDate,
    /// Last local day (inclusive).
    pub to: NaiveDate,
    /// The time zone the days are in.
    pub timezone: String,
    /// The period's figures.
    pub totals: Metrics,
    /// The same-length period just before.
    pub previous: Metrics,
    /// How current it is.
    pub freshness: FreshnessView,
}

/// The period's key figures for integrations (conversations, response times, resolution, CSAT,
/// the bot): the equivalent of `getStats`. API keys need the supervisor role or higher.
#[utoipa::path(get, path = "/api/v1/stats", tag = "analytics", security(("bearer" = [])), params(AnalyticsQuery),
    responses((status = 200, body = Stats), (status = 422, description = "validation_failed")))]
async fn get_stats(
    State(state): State<AppState>,
    auth: Auth<SupervisorUp, AnalyticsRead>,
    Query(query): Query<AnalyticsQuery>,
) -> Result<axum::Json<Stats>> {
    let asked = parse(&query)?;
    let (freshness, mut tx) = fresh(&state, &auth.tenant.schema).await?;
    let (scope, _) = scope_of(&mut tx, &asked).await?;
    let (totals, previous) = report::totals(&mut tx, &scope).await?;
    tx.commit().await?;
    Ok(axum::Json(Stats {
        from: scope.from_day,
        to: scope.to_day,
        timezone: scope.timezone,
        totals,
        previous,
        freshness: freshness.into(),
    }))
}

/// One kind of scheduled report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportSchedule {
    /// Who receives it (`usr_…`, supervisors and up).
    pub recipients: Vec<UserId>,
    /// When the next is sent (absent while nobody receives it).
    pub next_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When the last was sent.
    pub last_sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The tenant's scheduled reports.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportSettings {
    /// Yesterday's figures, every day at 08:00 in the tenant's time zone.
    pub daily: ReportSchedule,
    /// The last seven days' figures, every Monday at 08:00.
    pub weekly: ReportSchedule,
    /// The time zone (the business hours' zone, else UTC).
    pub timezone: String,
}

/// Who receives the reports.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReportSettingsRequest {
    /// Members (`usr_…`) who receive the daily report, at most 50.
    pub daily: Vec<String>,
    /// Members who receive the weekly report, at most 50.
    pub weekly: Vec<String>,
}

async fn report_settings(tx: &mut TenantTx) -> Result<ReportSettings> {
    let timezone = refresh::timezone_of(tx).await?;
    let saved = db::reports::list(tx).await?;
    let of = |kind: &str| {
        saved.iter().find(|s| s.kind == kind).map_or(
            ReportSchedule { recipients: vec![], next_at: None, last_sent_at: None },
            |s| ReportSchedule {
                recipients: s.recipients.clone(),
                next_at: (!s.recipients.is_empty()).then_some(s.next_at),
                last_sent_at: s.last_sent_at,
            },
        )
    };
    Ok(ReportSettings { daily: of("daily"), weekly: of("weekly"), timezone })
}

/// Who receives the daily and weekly report mails, and when the next are sent.
#[utoipa::path(get, path = "/api/v1/analytics/reports", tag = "analytics", security(("bearer" = [])),
    responses((status = 200, body = ReportSettings)))]
async fn get_reports(
    State(state): State<AppState>,
    auth: Auth<SupervisorUp, AnalyticsRead>,
) -> Result<axum::Json<ReportSettings>> {
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let settings = report_settings(&mut tx).await?;
    tx.commit().await?;
    Ok(axum::Json(settings))
}

/// Chooses who receives the daily and weekly reports (admins): members with the supervisor role
/// or higher, since reports show every agent's figures.
#[utoipa::path(put, path = "/api/v1/analytics/reports", tag = "analytics", security(("bearer" = [])),
    request_body = ReportSettingsRequest,
    responses((status = 200, body = ReportSettings), (status = 422, description = "validation_failed")))]
async fn put_reports(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    super::extract::ApiJson(body): super::extract::ApiJson<ReportSettingsRequest>,
) -> Result<axum::Json<ReportSettings>> {
    let mut fields = Fields::default();
    let mut parse_list = |name: &str, raw: &[String]| -> Vec<UserId> {
        if raw.len() > 50 {
            fields.take::<(), _>(name, "too_many", Err("at most 50 members"));
            return vec![];
        }
        let mut ids = Vec::new();
        for (i, id) in raw.iter().enumerate() {
            if let Some(id) =
                fields.take(&format!("{name}[{i}]"), "invalid", id.parse::<UserId>().map_err(|_| "a usr_… id"))
                && !ids.contains(&id)
            {
                ids.push(id);
            }
        }
        ids
    };
    let daily = parse_list("daily", &body.daily);
    let weekly = parse_list("weekly", &body.weekly);
    fields.finish()?;
    if !daily.is_empty() || !weekly.is_empty() {
        let mut conn = state.db.control().acquire().await?;
        crate::billing::require(&mut conn, auth.tenant.id, crate::billing::Feature::AnalyticsExport).await?;
    }
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let mut fields = Fields::default();
    for (name, list) in [("daily", &daily), ("weekly", &weekly)] {
        let allowed = db::reports::eligible(&mut tx, list).await?;
        for (i, id) in list.iter().enumerate() {
            if !allowed.iter().any(|r| r.user_id == *id) {
                fields.take::<(), _>(
                    &format!("{name}[{i}]"),
                    "not_allowed",
                    Err("a member with the supervisor role or higher and a verified address"),
                );
            }
        }
    }
    fields.finish()?;
    let timezone = refresh::timezone_of(&mut tx).await?;
    for (kind, list) in [("daily", &daily), ("weekly", &weekly)] {
        let next = crate::analytics::reports::next_due(&mut tx, &timezone, kind).await?;
        db::reports::save(&mut tx, kind, list, next).await?;
    }
    let details = serde_json::json!({
        "daily": daily.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "weekly": weekly.iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    db::audit::record(&mut tx, auth.principal.actor(), "analytics.reports_changed", None, details).await?;
    let settings = report_settings(&mut tx).await?;
    tx.commit().await?;
    Ok(axum::Json(settings))
}
