//! Keeping the analytics tables current (docs/analytics.md): conversation and visit facts
//! recomputed from the tenant's records, and the hourly and daily rollups recomputed from the
//! facts, for what changed since the watermarks in `analytics_state`.

use chrono::{DateTime, NaiveDate, Utc};
use kefu_protocol::{ConversationId, VisitorId};

use super::TenantTx;

/// Where the incremental refresh stands.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct State {
    /// Conversations changed at or after this (less the overlap) are recomputed next (none yet:
    /// all of them).
    pub conversations_through: Option<DateTime<Utc>>,
    /// Page views at or after this (less the overlap) are sessionized next (none yet: all).
    pub page_views_through: Option<DateTime<Utc>>,
    /// The time zone the daily rollups are cut in.
    pub timezone: String,
    /// When the last refresh finished.
    pub refreshed_at: Option<DateTime<Utc>>,
}

/// How far before a watermark the refresh looks again: a conversation's `updated_at` may lag its
/// last message by up to 5 s (the storing routine moves it at most every 5 s), and a row's time
/// is its transaction's start, which may commit a little later.
pub const OVERLAP: &str = "2 minutes";

/// Host of a URL in SQL (`$1` replaced by the column).
const HOST: &str = "lower(substring(URL from '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^/:?#]+)'))";

fn host_of(column: &str) -> String {
    HOST.replace("URL", column)
}

/// Makes the rest of the transaction wait for any other refresh transaction of the tenant
/// (rollups are deleted and inserted again: two at once would collide).
pub async fn serialize(tx: &mut TenantTx) -> sqlx::Result<()> {
    sqlx::query("select pg_advisory_xact_lock(hashtext('kefu:analytics'), hashtext(current_schema()))")
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The state without locking it.
pub async fn state(tx: &mut TenantTx) -> sqlx::Result<State> {
    sqlx::query_as("select conversations_through, page_views_through, timezone, refreshed_at from analytics_state")
        .fetch_one(tx.conn())
        .await
}

/// Moves the watermarks once a refresh covered everything before `through`.
pub async fn advance(tx: &mut TenantTx, through: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query(
        "update analytics_state
         set conversations_through = greatest(conversations_through, $1),
             page_views_through = greatest(page_views_through, $1), refreshed_at = now()",
    )
    .bind(through)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The database's clock (watermarks are compared with rows' times, which it wrote).
pub async fn now(tx: &mut TenantTx) -> sqlx::Result<DateTime<Utc>> {
    sqlx::query_scalar("select now()").fetch_one(tx.conn()).await
}

/// Up to `limit` conversations changed since `since` (less the overlap; `None`: all of them),
/// after `after` in id order.
pub async fn changed_conversations(
    tx: &mut TenantTx,
    since: Option<DateTime<Utc>>,
    after: Option<ConversationId>,
    limit: i64,
) -> sqlx::Result<Vec<ConversationId>> {
    // Two statements, so that each has a plan that uses its index (a `$1 is null or …` filter
    // would make Postgres scan the table).
    let sql = match since {
        None => "select id from conversations
                 where $1::timestamptz is null and id > coalesce($2, '00000000-0000-0000-0000-000000000000'::uuid)
                 order by id limit $3"
            .to_owned(),
        Some(_) => format!(
            "with changed as materialized (select id from conversations where updated_at >= $1 - interval '{OVERLAP}')
             select id from changed where id > coalesce($2, '00000000-0000-0000-0000-000000000000'::uuid)
             order by id limit $3"
        ),
    };
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(since).bind(after).bind(limit).fetch_all(tx.conn()).await
}

/// Recomputes the facts of `conversations` from their messages, bot events and visitor; returns
/// the hours (UTC) they started in, whose rollups are now stale.
pub async fn compute_conversations(
    tx: &mut TenantTx,
    conversations: &[ConversationId],
) -> sqlx::Result<Vec<DateTime<Utc>>> {
    let referrer = host_of("v.first_referrer");
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "with c as (
             select id, created_at, team_id, assignee, status, closed_at, rating, visitor_id
             from conversations where id = any($1)
         ), m as (
             select conversation_id, seq, created_at, sender_kind = 'visitor' as asked,
                    sender_kind = 'agent' and not private as replied
             from messages
             where conversation_id = any($1)
               and (sender_kind = 'visitor' or (sender_kind = 'agent' and not private))
         ), g as (
             -- A visitor's run of messages is answered by the next reply: runs are numbered by
             -- the replies before them, and the reply ending run k carries k + 1.
             select *, count(*) filter (where replied) over (partition by conversation_id order by seq) as run
             from m
         ), runs as (
             select conversation_id, run, min(created_at) filter (where asked) as asked_at
             from g group by conversation_id, run
         ), bot as (
             select conversation_id,
                    count(*) filter (where kind = 'answered') as answers,
                    min(created_at) filter (where kind = 'handoff') as handed_off_at,
                    (array_agg(reason order by created_at) filter (where kind = 'handoff'))[1] as reason
             from bot_events where conversation_id = any($1) group by conversation_id
         ), waits as (
             select r.conversation_id, r.run,
                    greatest(0, extract(epoch from g.created_at - greatest(r.asked_at, coalesce(b.handed_off_at, r.asked_at))))::float8 as secs
             from runs r
             join g on g.conversation_id = r.conversation_id and g.replied and g.run = r.run + 1
             left join bot b on b.conversation_id = r.conversation_id
             where r.asked_at is not null
         ), answered as (
             select conversation_id, count(*) as responses, sum(secs) as response_secs,
                    (array_agg(secs order by run))[1] as first_secs
             from waits group by conversation_id
         ), counts as (
             select conversation_id, count(*) filter (where asked) as asked, count(*) filter (where replied) as replied
             from m group by conversation_id
         ), reopens as (
             select conversation_id, count(*) as n from messages
             where conversation_id = any($1) and sender_kind = 'system' and event ->> 'kind' = 'reopened'
             group by conversation_id
         ), facts as (
             select c.id, c.created_at, c.team_id, c.assignee, c.status = 'closed' as closed, c.closed_at,
                    coalesce(counts.asked, 0)::int as visitor_messages, coalesce(counts.replied, 0)::int as agent_messages,
                    answered.first_secs, coalesce(answered.responses, 0)::int as responses,
                    coalesce(answered.response_secs, 0) as response_secs,
                    case when c.status = 'closed' then extract(epoch from c.closed_at - c.created_at)::float8 end as duration_secs,
                    coalesce(reopens.n, 0)::int as reopens, c.rating,
                    coalesce(bot.answers, 0)::int as bot_answers, bot.reason as handoff_reason,
                    (c.status = 'closed' and coalesce(bot.answers, 0) > 0 and bot.handed_off_at is null) as bot_resolved,
                    {referrer} as referrer_host,
                    v.first_utm ->> 'source' as utm_source, v.first_utm ->> 'medium' as utm_medium,
                    v.first_utm ->> 'campaign' as utm_campaign, v.country, v.device
             from c
             join visitors v on v.id = c.visitor_id
             left join counts on counts.conversation_id = c.id
             left join answered on answered.conversation_id = c.id
             left join reopens on reopens.conversation_id = c.id
             left join bot on bot.conversation_id = c.id
         )
         insert into analytics_conversations as a (
             conversation_id, created_at, team_id, agent_id, closed, closed_at, visitor_messages, agent_messages,
             first_response_secs, responses, response_secs, duration_secs, reopens, rating, bot_answers,
             handoff_reason, missed, resolved, bot_resolved, referrer_host, utm_source, utm_medium, utm_campaign,
             country, device)
         select id, created_at, team_id, assignee, closed, closed_at, visitor_messages, agent_messages,
                first_secs, responses, response_secs, duration_secs, reopens, rating, bot_answers,
                handoff_reason, closed and agent_messages = 0 and not bot_resolved,
                closed and (agent_messages > 0 or bot_resolved), bot_resolved, referrer_host,
                utm_source, utm_medium, utm_campaign, country, device
         from facts
         on conflict (conversation_id) do update set
             team_id = excluded.team_id, agent_id = excluded.agent_id, closed = excluded.closed,
             closed_at = excluded.closed_at, visitor_messages = excluded.visitor_messages,
             agent_messages = excluded.agent_messages, first_response_secs = excluded.first_response_secs,
             responses = excluded.responses, response_secs = excluded.response_secs,
             duration_secs = excluded.duration_secs, reopens = excluded.reopens, rating = excluded.rating,
             bot_answers = excluded.bot_answers, handoff_reason = excluded.handoff_reason,
             missed = excluded.missed, resolved = excluded.resolved, bot_resolved = excluded.bot_resolved,
             referrer_host = excluded.referrer_host, utm_source = excluded.utm_source,
             utm_medium = excluded.utm_medium, utm_campaign = excluded.utm_campaign,
             country = excluded.country, device = excluded.device
         returning date_trunc('hour', a.created_at)"
    )))
    .bind(conversations)
    .fetch_all(tx.conn())
    .await
}

/// Up to `limit` visitors with page views since `since` (less the overlap; `None`: all), after
/// `after` in id order.
pub async fn visitors_with_new_views(
    tx: &mut TenantTx,
    since: Option<DateTime<Utc>>,
    after: Option<VisitorId>,
    limit: i64,
) -> sqlx::Result<Vec<VisitorId>> {
    let sql = match since {
        None => "select distinct visitor_id from page_views
                 where $1::timestamptz is null and visitor_id > coalesce($2, '00000000-0000-0000-0000-000000000000'::uuid)
                 order by visitor_id limit $3"
            .to_owned(),
        Some(_) => format!(
            "with viewed as materialized (select visitor_id from page_views where viewed_at >= $1 - interval '{OVERLAP}')
             select distinct visitor_id from viewed
             where visitor_id > coalesce($2, '00000000-0000-0000-0000-000000000000'::uuid)
             order by visitor_id limit $3"
        ),
    };
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(since).bind(after).bind(limit).fetch_all(tx.conn()).await
}

/// Cuts `visitors`' page views since `since` (less the overlap) into visits again: the visits
/// that could absorb a new view are replaced by the ones their page views now make. Returns the
/// hours (UTC) of every visit removed or written, whose daily rollups are now stale.
pub async fn sessionize_visits(
    tx: &mut TenantTx,
    since: Option<DateTime<Utc>>,
    visitors: &[VisitorId],
) -> sqlx::Result<Vec<DateTime<Utc>>> {
    let referrer = host_of("referrer");
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "with first_new as (
             select visitor_id, min(viewed_at) as at from page_views
             where visitor_id = any($2) and ($1::timestamptz is null or viewed_at >= $1 - interval '{OVERLAP}')
             group by visitor_id
         ), cut as (
             -- From the first visit a new view could join (one that ended less than 30 minutes
             -- before it, or later), every visit is made again.
             select f.visitor_id,
                    least(f.at, coalesce((select min(v.started_at) from analytics_visits v
                                          where v.visitor_id = f.visitor_id
                                            and v.ended_at >= f.at - interval '30 minutes'), f.at)) as since
             from first_new f
         ), removed as (
             delete from analytics_visits v using cut
             where v.visitor_id = cut.visitor_id and v.started_at >= cut.since
             returning date_trunc('hour', v.started_at) as hour
         ), views as (
             select p.id, p.visitor_id, p.viewed_at, p.referrer, p.utm,
                    case when lag(p.viewed_at) over w is null
                              or p.viewed_at - lag(p.viewed_at) over w > interval '30 minutes'
                         then 1 else 0 end as starts
             from page_views p join cut on cut.visitor_id = p.visitor_id and p.viewed_at >= cut.since
             window w as (partition by p.visitor_id order by p.viewed_at, p.id)
         ), numbered as (
             select *, sum(starts) over (partition by visitor_id order by viewed_at, id) as visit from views
         ), made as (
             select visitor_id, min(viewed_at) as started_at, max(viewed_at) as ended_at, count(*)::int as page_views,
                    (array_agg(referrer order by viewed_at, id))[1] as referrer,
                    (array_agg(utm order by viewed_at, id))[1] as utm
             from numbered group by visitor_id, visit
         ), written as (
             insert into analytics_visits (visitor_id, started_at, ended_at, page_views, referrer_host,
                                           utm_source, utm_medium, utm_campaign, country, device)
             select made.visitor_id, started_at, ended_at, page_views,
                    {referrer},
                    utm ->> 'source', utm ->> 'medium', utm ->> 'campaign', vis.country, vis.device
             from made join visitors vis on vis.id = made.visitor_id
             returning date_trunc('hour', started_at) as hour
         )
         select hour from removed union select hour from written"
    )))
    .bind(since)
    .bind(visitors)
    .fetch_all(tx.conn())
    .await
}

/// Marks hours whose rollups must be recomputed (their facts changed).
pub async fn mark_stale(tx: &mut TenantTx, hours: &[DateTime<Utc>]) -> sqlx::Result<()> {
    if hours.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "insert into analytics_stale_hours (hour) select distinct unnest($1::timestamptz[]) on conflict do nothing",
    )
    .bind(hours)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Takes up to `limit` stale hours, oldest first, for the caller to roll up in its transaction.
pub async fn take_stale_hours(tx: &mut TenantTx, limit: i64) -> sqlx::Result<Vec<DateTime<Utc>>> {
    sqlx::query_scalar(
        "delete from analytics_stale_hours where hour in (select hour from analytics_stale_hours order by hour limit $1)
         returning hour",
    )
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// Marks the hours of a visitor's conversations and visits stale, before they are erased.
pub async fn mark_visitor_stale(tx: &mut TenantTx, visitor: VisitorId) -> sqlx::Result<()> {
    sqlx::query(
        "insert into analytics_stale_hours (hour)
         select date_trunc('hour', created_at) from conversations where visitor_id = $1
         union select date_trunc('hour', started_at) from analytics_visits where visitor_id = $1
         on conflict do nothing",
    )
    .bind(visitor)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The rollups' sums over fact rows `f`, in the rollup tables' column order.
const SUMS: &str = "count(*), count(*) filter (where f.closed), count(*) filter (where f.missed),
    count(*) filter (where f.resolved), count(*) filter (where f.reopens > 0),
    count(f.first_response_secs), coalesce(sum(f.first_response_secs), 0),
    coalesce(sum(f.responses), 0), coalesce(sum(f.response_secs), 0),
    count(f.duration_secs), coalesce(sum(f.duration_secs), 0),
    count(f.rating), coalesce(sum(f.rating), 0), count(*) filter (where f.rating >= 4),
    count(*) filter (where f.bot_answers > 0 or f.handoff_reason is not null),
    count(*) filter (where f.bot_resolved), count(*) filter (where f.handoff_reason is not null)";

/// The team and agent keys of a fact row `f` (the nil uuid: none).
const KEYS: &str = "coalesce(f.team_id, '00000000-0000-0000-0000-000000000000'),
    coalesce(f.agent_id, '00000000-0000-0000-0000-000000000000')";

/// Recomputes the hourly rollups of `hours` from the conversation facts.
pub async fn rollup_hours(tx: &mut TenantTx, hours: &[DateTime<Utc>]) -> sqlx::Result<()> {
    sqlx::query("delete from analytics_hourly where hour = any($1)").bind(hours).execute(tx.conn()).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into analytics_hourly
         select h.hour, {KEYS}, {SUMS}
         from unnest($1::timestamptz[]) as h(hour)
         join analytics_conversations f on f.created_at >= h.hour and f.created_at < h.hour + interval '1 hour'
         group by 1, 2, 3"
    )))
    .bind(hours)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The local days (in `timezone`) the instants fall on.
pub async fn days_of(tx: &mut TenantTx, timezone: &str, instants: &[DateTime<Utc>]) -> sqlx::Result<Vec<NaiveDate>> {
    sqlx::query_scalar("select distinct (i at time zone $1)::date from unnest($2::timestamptz[]) as i")
        .bind(timezone)
        .bind(instants)
        .fetch_all(tx.conn())
        .await
}

/// The dimensions conversations and visits are counted by per day, with the SQL of each value
/// (over a fact row `f`).
const DIMENSIONS: [(&str, &str); 6] = [
    ("referrer", "coalesce(f.referrer_host, '')"),
    ("utm_source", "coalesce(f.utm_source, '')"),
    ("utm_medium", "coalesce(f.utm_medium, '')"),
    ("utm_campaign", "coalesce(f.utm_campaign, '')"),
    ("country", "coalesce(f.country, '')"),
    ("device", "coalesce(f.device, '')"),
];

/// Recomputes the daily rollups (conversations and visits by dimension) of `days` in `timezone`.
pub async fn rollup_days(tx: &mut TenantTx, timezone: &str, days: &[NaiveDate]) -> sqlx::Result<()> {
    for table in ["analytics_daily", "analytics_heat", "analytics_daily_conversations"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("delete from {table} where day = any($1)")))
            .bind(days)
            .execute(tx.conn())
            .await?;
    }
    sqlx::query("delete from analytics_daily_visits where day = any($1)").bind(days).execute(tx.conn()).await?;
    let mut conversation_values: Vec<String> =
        DIMENSIONS.iter().map(|(name, value)| format!("('{name}', {value})")).collect();
    conversation_values.push("('handoff_reason', f.handoff_reason)".into());
    let range = "join {table} f on f.{column} >= (d.day::timestamp at time zone $2)
                      and f.{column} < ((d.day + 1)::timestamp at time zone $2)";
    let facts = range.replace("{table}", "analytics_conversations").replace("{column}", "created_at");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into analytics_daily select d.day, {KEYS}, {SUMS} from unnest($1::date[]) as d(day) {facts} group by 1, 2, 3"
    )))
    .bind(days)
    .bind(timezone)
    .execute(tx.conn())
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into analytics_heat
         select d.day, extract(hour from f.created_at at time zone $2)::int2, {KEYS}, count(*)
         from unnest($1::date[]) as d(day) {facts} group by 1, 2, 3, 4"
    )))
    .bind(days)
    .bind(timezone)
    .execute(tx.conn())
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into analytics_daily_conversations (day, dimension, value, conversations)
         select d.day, x.dimension, x.value, count(*)
         from unnest($1::date[]) as d(day)
         {join}
         cross join lateral (values {values}) as x(dimension, value)
         where x.value is not null
         group by 1, 2, 3",
        join = range.replace("{table}", "analytics_conversations").replace("{column}", "created_at"),
        values = conversation_values.join(", "),
    )))
    .bind(days)
    .bind(timezone)
    .execute(tx.conn())
    .await?;
    let mut visit_values: Vec<String> = DIMENSIONS.iter().map(|(name, value)| format!("('{name}', {value})")).collect();
    visit_values.push("('all', '')".into());
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into analytics_daily_visits (day, dimension, value, visits, visit_secs, page_views)
         select d.day, x.dimension, x.value, count(*),
                coalesce(sum(extract(epoch from f.ended_at - f.started_at)), 0), coalesce(sum(f.page_views), 0)
         from unnest($1::date[]) as d(day)
         {join}
         cross join lateral (values {values}) as x(dimension, value)
         group by 1, 2, 3",
        join = range.replace("{table}", "analytics_visits").replace("{column}", "started_at"),
        values = visit_values.join(", "),
    )))
    .bind(days)
    .bind(timezone)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Cuts every daily rollup again in `timezone` (the tenant's time zone changed).
pub async fn recut_days(tx: &mut TenantTx, timezone: &str) -> sqlx::Result<()> {
    let days: Vec<NaiveDate> = sqlx::query_scalar(
        "select distinct (created_at at time zone $1)::date from analytics_conversations
         union select distinct (started_at at time zone $1)::date from analytics_visits",
    )
    .bind(timezone)
    .fetch_all(tx.conn())
    .await?;
    for table in ["analytics_daily", "analytics_heat", "analytics_daily_conversations", "analytics_daily_visits"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("delete from {table}"))).execute(tx.conn()).await?;
    }
    rollup_days(tx, timezone, &days).await?;
    sqlx::query("update analytics_state set timezone = $1").bind(timezone).execute(tx.conn()).await?;
    Ok(())
}
