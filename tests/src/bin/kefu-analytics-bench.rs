//! `kefu-analytics-bench`: a year of a busy tenant's analytics (docs/benchmarks.md,
//! "Analytics"). In a scratch database it fills one tenant with a year of conversations (1,000 a
//! day by default: visitors with sources, 8 messages each, agents and teams, ratings, the bot's
//! answers and hand-offs, three page views per visitor), then measures, side by side in one run:
//! the first refresh (facts and rollups of the whole year), an incremental refresh after a day's
//! activity changed, and dashboard reads over a year, a month and a day — from the rollups, as
//! the api reads them, against the same figures summed from the per-conversation facts (the
//! baseline without rollups).
//!
//! Example: `kefu-analytics-bench --per-day 1000 --runs 20`

use std::time::{Duration, Instant};

use clap::Parser;
use kefu_api::analytics::{refresh, report};
use kefu_api::db::analytics_read::Scope;
use kefu_api::db::{self, TenantSchema, TenantTx};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor};

#[derive(Parser, Debug)]
#[command(about = "A year of a busy tenant: refresh and dashboard times, rollups against facts")]
struct Args {
    /// Conversations a day, for 365 days.
    #[arg(long, default_value_t = 1_000)]
    per_day: u32,
    /// Timed runs per read (after two warm-up runs).
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Postgres to create the scratch database next to.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Keep the scratch database afterwards (its name is printed).
    #[arg(long)]
    keep: bool,
}

struct Progress;

impl kefu_api::tenancy::migrate::Progress for Progress {
    fn start(&self, _total: u64) {}
    fn advance(&self) {}
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let base: PgConnectOptions = args.database_url.parse()?;
    let name = format!("kefu_analyticsbench_{}", std::process::id());
    let mut admin = base.connect().await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "create database {name} encoding 'UTF8' template template0 lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8'"
        )))
        .await?;
    let url = base.clone().database(&name).to_url_lossy().to_string();
    let result = bench(&args, &url).await;
    if args.keep {
        println!("\nkept the scratch database `{name}`");
    } else {
        admin.execute(sqlx::AssertSqlSafe(format!("drop database if exists {name} with (force)"))).await?;
    }
    admin.close().await?;
    result
}

async fn bench(args: &Args, url: &str) -> anyhow::Result<()> {
    let databases = db::Databases::new(db::connect(url, 4, Duration::from_secs(600))?, Default::default());
    kefu_api::tenancy::migrate::migrate_all(&databases, 2, &Progress).await?;
    kefu_api::tenancy::migrate::create_unmigrated_tenants(&databases, &db::DatabaseId::main(), 1, "analyticsbench")
        .await?;
    kefu_api::tenancy::migrate::migrate_all(&databases, 2, &Progress).await?;
    let id: kefu_protocol::TenantId =
        sqlx::query_scalar("select id from control.tenants").fetch_one(databases.control()).await?;
    let schema = {
        let mut conn = databases.control().acquire().await?;
        let access = db::tenants::find_access(&mut conn, id).await?;
        kefu_api::auth::TenantCtx::admit(access).map_err(|e| anyhow::anyhow!("{e}"))?.0.schema
    };

    let total = u64::from(args.per_day) * 365;
    println!("## kefu-analytics-bench: a year of one tenant, {} conversations a day", args.per_day);
    println!();
    let started = Instant::now();
    generate(&databases, &schema, args.per_day).await?;
    let counts: (i64, i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select (select count(*) from {s}.conversations), (select count(*) from {s}.messages), (select count(*) from {s}.page_views)",
        s = schema.name()
    )))
    .fetch_one(databases.control())
    .await?;
    println!(
        "- generated {} conversations, {} messages, {} page views in {:.1} s",
        counts.0,
        counts.1,
        counts.2,
        started.elapsed().as_secs_f64()
    );

    // A bulk load: let the planner know the tables before anything reads them (autovacuum would,
    // a little later).
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "vacuum analyze {s}.conversations, {s}.messages, {s}.page_views, {s}.visitors, {s}.bot_events",
        s = schema.name()
    )))
    .execute(databases.control())
    .await?;
    let started = Instant::now();
    refresh::refresh(&databases, &schema, None).await?;
    let first = started.elapsed();
    println!(
        "- first refresh (facts of {total} conversations, visits of their page views, every rollup): {:.1} s ({:.0} conversations/s)",
        first.as_secs_f64(),
        total as f64 / first.as_secs_f64()
    );
    analyze(&databases, &schema).await?;
    sizes(&databases, &schema).await?;

    // A day of activity: the last day's conversations all changed (rated, say) three minutes ago,
    // after the last refresh began and before the overlap the next refresh after this one reads
    // again (two minutes), so that one finds nothing to do: what a dashboard meets on a quiet
    // minute.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "update {s}.conversations set updated_at = now() - interval '3 minutes' where created_at >= now() - interval '1 day'",
        s = schema.name()
    )))
    .execute(databases.control())
    .await?;
    let started = Instant::now();
    refresh::refresh(&databases, &schema, None).await?;
    println!(
        "- incremental refresh after a day's {} conversations changed: {:.0} ms",
        args.per_day,
        started.elapsed().as_secs_f64() * 1000.0
    );
    let started = Instant::now();
    refresh::refresh(&databases, &schema, None).await?;
    println!(
        "- refresh with nothing changed (what every dashboard request does first): {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );

    let mut tx = TenantTx::begin(&databases, &schema).await?;
    let today = db::analytics_read::today(&mut tx, "UTC").await?;
    tx.commit().await?;
    let agent: uuid::Uuid = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select user_id from {}.agents order by user_id limit 1",
        schema.name()
    )))
    .fetch_one(databases.control())
    .await?;

    println!();
    println!(
        "Times of one dashboard (totals and previous period, series, weekday × hour, per agent, per team, sources, visits), {} runs after 2 warm-up runs:",
        args.runs
    );
    println!();
    println!(
        "| period | request (refresh + read): p50 ms | p95 ms | read from the rollups: p50 ms | p95 ms | from the facts (baseline): p50 ms | p95 ms | baseline ÷ rollups (p50) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let cases: Vec<(&str, Scope, bool)> = vec![
        ("a year, by day", scope_of(&databases, &schema, today, 365).await?, true),
        (
            "a year, by day, one agent",
            Scope {
                agent: Some(kefu_protocol::UserId::from_uuid(agent)),
                ..scope_of(&databases, &schema, today, 365).await?
            },
            true,
        ),
        ("30 days, by day", scope_of(&databases, &schema, today, 30).await?, true),
        ("a day, by hour", scope_of(&databases, &schema, today, 1).await?, false),
    ];
    for (label, scope, by_day) in &cases {
        let request = time(args.runs, || dashboard(&databases, &schema, scope, *by_day, true)).await?;
        let rollups = time(args.runs, || dashboard(&databases, &schema, scope, *by_day, false)).await?;
        let facts = time(args.runs, || facts_dashboard(&databases, &schema, scope, *by_day)).await?;
        println!(
            "| {label} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1}× |",
            ms(request.0),
            ms(request.1),
            ms(rollups.0),
            ms(rollups.1),
            ms(facts.0),
            ms(facts.1),
            facts.0.as_secs_f64() / rollups.0.as_secs_f64().max(1e-9)
        );
    }
    Ok(())
}

/// The last `days` days up to `today`, in UTC.
async fn scope_of(
    databases: &db::Databases,
    schema: &TenantSchema,
    today: chrono::NaiveDate,
    days: u64,
) -> anyhow::Result<Scope> {
    let from_day = today - chrono::Days::new(days - 1);
    let mut tx = TenantTx::begin(databases, schema).await?;
    let (from, to) = db::analytics_read::bounds(&mut tx, "UTC", from_day, today).await?;
    tx.commit().await?;
    Ok(Scope { from, to, from_day, to_day: today, timezone: "UTC".into(), team: None, agent: None })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// p50 and p95 of `runs` runs of `f`, after two warm-up runs.
async fn time<F, Fut>(runs: usize, f: F) -> anyhow::Result<(Duration, Duration)>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    for _ in 0..2 {
        f().await?;
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        f().await?;
        times.push(started.elapsed());
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).saturating_sub(1).min(times.len() - 1)];
    Ok((at(0.5), at(0.95)))
}

/// The dashboard as the endpoint reads it: with its refresh first (`with_refresh`, which finds
/// nothing to do), or the read alone.
async fn dashboard(
    databases: &db::Databases,
    schema: &TenantSchema,
    scope: &Scope,
    by_day: bool,
    with_refresh: bool,
) -> anyhow::Result<()> {
    let freshness = if with_refresh {
        refresh::refresh(databases, schema, Some(10)).await?
    } else {
        refresh::Freshness { through: None, complete: true }
    };
    let mut tx = TenantTx::begin(databases, schema).await?;
    let board = report::dashboard(&mut tx, scope, by_day, freshness).await?;
    tx.commit().await?;
    anyhow::ensure!(board.timezone == "UTC", "the dashboard of the scratch tenant");
    Ok(())
}

/// The baseline: the same sums taken straight from the per-conversation facts and visits (what
/// the dashboard would cost without rollups).
async fn facts_dashboard(
    databases: &db::Databases,
    schema: &TenantSchema,
    scope: &Scope,
    by_day: bool,
) -> anyhow::Result<()> {
    let sums = "count(*), count(*) filter (where closed), count(*) filter (where missed), count(*) filter (where resolved),
        count(*) filter (where reopens > 0), avg(first_response_secs), sum(responses), sum(response_secs), avg(duration_secs),
        count(rating), avg(rating), count(*) filter (where rating >= 4), count(*) filter (where bot_answers > 0),
        count(*) filter (where bot_resolved), count(*) filter (where handoff_reason is not null)";
    let agent = scope.agent.map(|a| format!(" and agent_id = '{}'", a.as_uuid())).unwrap_or_default();
    let range = format!("created_at >= $1 and created_at < $2{agent}");
    let bucket =
        if by_day { "date_trunc('day', created_at at time zone 'UTC')" } else { "date_trunc('hour', created_at)" };
    let statements = [
        format!("select {sums} from analytics_conversations where {range}"),
        format!("select {sums} from analytics_conversations where created_at >= $1 - ($2 - $1) and created_at < $1{agent}"),
        format!("select {bucket}, {sums} from analytics_conversations where {range} group by 1"),
        format!(
            "select extract(isodow from created_at), extract(hour from created_at), count(*) from analytics_conversations where {range} group by 1, 2"
        ),
        format!("select agent_id, {sums} from analytics_conversations where {range} group by 1"),
        format!("select team_id, {sums} from analytics_conversations where {range} group by 1"),
        "select d, v, count(*) from analytics_conversations cross join lateral (values ('referrer', referrer_host), ('utm_source', utm_source),
             ('utm_medium', utm_medium), ('utm_campaign', utm_campaign), ('country', country), ('device', device), ('handoff_reason', handoff_reason)) x(d, v)
             where created_at >= $1 and created_at < $2 group by 1, 2"
            .to_owned(),
        "select d, v, count(*), sum(extract(epoch from ended_at - started_at)), sum(page_views) from analytics_visits
         cross join lateral (values ('referrer', referrer_host), ('utm_source', utm_source), ('utm_medium', utm_medium),
         ('utm_campaign', utm_campaign), ('country', country), ('device', device), ('all', '')) x(d, v)
         where started_at >= $1 and started_at < $2 group by 1, 2"
            .to_owned(),
    ];
    let mut conn = databases.control().acquire().await?;
    conn.execute(sqlx::AssertSqlSafe(format!("set search_path to {}", schema.name()))).await?;
    for sql in statements {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(scope.from).bind(scope.to).fetch_all(&mut *conn).await?;
        anyhow::ensure!(!rows.is_empty(), "no rows");
    }
    conn.execute("reset search_path").await?;
    Ok(())
}

async fn analyze(databases: &db::Databases, schema: &TenantSchema) -> anyhow::Result<()> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "vacuum analyze {s}.analytics_conversations, {s}.analytics_visits, {s}.analytics_hourly,
         {s}.analytics_daily_conversations, {s}.analytics_daily_visits",
        s = schema.name()
    )))
    .execute(databases.control())
    .await?;
    Ok(())
}

async fn sizes(databases: &db::Databases, schema: &TenantSchema) -> anyhow::Result<()> {
    for table in [
        "messages",
        "analytics_conversations",
        "analytics_visits",
        "analytics_hourly",
        "analytics_daily",
        "analytics_heat",
        "analytics_daily_conversations",
        "analytics_daily_visits",
    ] {
        let (rows, bytes): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select count(*), pg_total_relation_size('{s}.{table}') from {s}.{table}",
            s = schema.name()
        )))
        .fetch_one(databases.control())
        .await?;
        println!("- `{table}`: {rows} rows, {:.1} MB with indexes", bytes as f64 / 1_048_576.0);
    }
    Ok(())
}

/// Fills the tenant in SQL: 20 agents in 4 teams; a visitor per conversation with a country,
/// a device and (for most) a referrer or a campaign; conversations spread over the year's days,
/// busier in office hours; 8 messages each, the visitor and an agent taking turns 20–110 s
/// apart; 97 % closed after 5–40 minutes, one in five rated, a third with the bot's answer
/// (half of those handed off); three page views per visitor before they wrote.
async fn generate(databases: &db::Databases, schema: &TenantSchema, per_day: u32) -> anyhow::Result<()> {
    let mut conn = databases.control().acquire().await?;
    conn.execute(sqlx::AssertSqlSafe(format!("set search_path to {}", schema.name()))).await?;
    // What a tenant move does too: the generated messages are not queued for the search index.
    conn.execute("set kefu.copying = 'on'").await?;
    let total = i64::from(per_day) * 365;
    let statements = [
        "insert into agents (user_id, display_name) select gen_random_uuid(), '客服' || lpad(i::text, 2, '0') from generate_series(1, 20) i".to_owned(),
        "insert into teams (id, name) select gen_random_uuid(), t from unnest(array['售前', '售后', '物流', 'VIP']) t".to_owned(),
        format!(
            "create temporary table gen as
             select i, gen_random_uuid() as visitor, gen_random_uuid() as conversation,
                    date_trunc('day', now() - interval '365 days') + ((i / {per_day}) || ' days')::interval
                        + make_interval(hours => (8 + (i::int8 * 7919) % 14)::int, secs => ((i::int8 * 104729) % 3600)::float8) as at,
                    (30 + (i * 31) % 90)::int as gap
             from generate_series(0, {total} - 1) i"
        ),
        "insert into visitors (id, first_seen_at, last_seen_at, country, device, first_referrer, first_utm)
         select visitor, at - interval '3 minutes', at,
                (array['CN', 'CN', 'CN', 'CN', 'US', 'SG', 'HK', 'TW', 'JP', 'DE'])[1 + i % 10],
                (array['pc', 'smartphone', 'smartphone', 'tablet'])[1 + i % 4],
                (array[null, 'https://www.baidu.com/s?wd=x', 'https://weixin.qq.com/s/a', 'https://www.google.com/', 'https://www.xiaohongshu.com/'])[1 + i % 5],
                case when i % 7 = 0 then '{\"source\": \"wechat\", \"medium\": \"social\", \"campaign\": \"双11\"}'::jsonb else '{}'::jsonb end
         from gen".to_owned(),
        "insert into conversations (id, visitor_id, status, assignee, team_id, last_seq, rating, created_at, updated_at, closed_at, bot_active)
         select conversation, visitor, case when i % 33 = 0 then 'open' else 'closed' end,
                case when i % 10 = 5 then null else (select user_id from agents order by user_id offset i % 20 limit 1) end,
                (select id from teams order by id offset i % 4 limit 1), 8,
                case when i % 5 = 0 then (array[5, 5, 4, 5, 3, 4, 5, 2, 5, 1])[1 + i % 10] end,
                at, at + interval '40 minutes',
                case when i % 33 = 0 then null else at + make_interval(mins => (5 + i % 35)::int) end, false
         from gen".to_owned(),
        "insert into messages (id, conversation_id, seq, sender_kind, sender_id, client_id, body, created_at)
         select gen_random_uuid(), conversation, s, case when s % 2 = 1 then 'visitor' else 'agent' end,
                case when s % 2 = 1 then visitor else '00000000-0000-0000-0000-000000000001'::uuid end,
                'c' || s, '消息 message ' || s, at + make_interval(secs => (s * gap)::float8)
         from gen cross join generate_series(1, 8) s".to_owned(),
        "insert into bot_events (id, conversation_id, kind, reason, created_at)
         select gen_random_uuid(), conversation, 'answered', null, at + interval '5 seconds' from gen where i % 3 = 0
         union all
         select gen_random_uuid(), conversation, 'handoff', (array['low_score', 'requested', 'not_helpful'])[1 + i % 3],
                at + interval '15 seconds' from gen where i % 6 = 0".to_owned(),
        "insert into page_views (visitor_id, url, referrer, utm, viewed_at)
         select visitor, 'https://shop.example/p/' || p, case when p = 1 then 'https://www.baidu.com/' end, '{}'::jsonb,
                at - make_interval(mins => 3 - p)
         from gen cross join generate_series(1, 3) p".to_owned(),
        "drop table gen".to_owned(),
    ];
    for sql in statements {
        conn.execute(sqlx::AssertSqlSafe(sql)).await?;
    }
    conn.execute("reset kefu.copying").await?;
    conn.execute("reset search_path").await?;
    Ok(())
}
