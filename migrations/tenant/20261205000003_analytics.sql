-- Analytics (issue 15, docs/analytics.md). Three layers, each a pure function of the one below,
-- so any of them can be rebuilt:
-- 1. facts: one row per conversation (`analytics_conversations`, recomputed from its messages,
--    bot events and visitor whenever the conversation changed) and one per visit
--    (`analytics_visits`, page views of a visitor with no gap over 30 minutes);
-- 2. rollups: sums per UTC hour, team and agent (`analytics_hourly`), and counts per local day
--    of the tenant's time zone by source, device, country and hand-off reason
--    (`analytics_daily_conversations`, `analytics_daily_visits`), recomputed for the hours and
--    days whose facts changed;
-- 3. the dashboard, which sums rollups: a year is ~9,000 hourly rows per agent at most.
-- `analytics_state` holds the watermarks of the incremental refresh (changed conversations by
-- `updated_at`, new page views by `viewed_at`, both re-read with an overlap) and the time zone
-- the daily rollups were cut in.

create table analytics_conversations (
    conversation_id uuid primary key references conversations (id) on delete cascade,
    created_at timestamptz not null,
    team_id uuid,
    agent_id uuid,
    closed boolean not null,
    closed_at timestamptz,
    -- Visitor messages and the team's public replies (people, not the bot or automatic ones).
    visitor_messages integer not null,
    agent_messages integer not null,
    -- From the visitor's first unanswered message (or the bot's hand-off, when later) to the
    -- first reply; then every such wait, summed.
    first_response_secs double precision,
    responses integer not null,
    response_secs double precision not null,
    duration_secs double precision,
    reopens integer not null,
    rating smallint,
    bot_answers integer not null,
    handoff_reason text,
    missed boolean not null,
    resolved boolean not null,
    bot_resolved boolean not null,
    referrer_host text,
    utm_source text,
    utm_medium text,
    utm_campaign text,
    country text,
    device text
);
create index analytics_conversations_created_idx on analytics_conversations (created_at);

create table analytics_visits (
    id bigint generated always as identity primary key,
    visitor_id uuid not null references visitors (id) on delete cascade,
    started_at timestamptz not null,
    ended_at timestamptz not null,
    page_views integer not null,
    referrer_host text,
    utm_source text,
    utm_medium text,
    utm_campaign text,
    country text,
    device text
);
create index analytics_visits_visitor_idx on analytics_visits (visitor_id, started_at);
create index analytics_visits_started_idx on analytics_visits (started_at);
-- The refresh finds new page views by time.
create index page_views_viewed_idx on page_views (viewed_at);

-- The nil uuid stands for "no team" and "no agent" (a key cannot hold null).
create table analytics_hourly (
    hour timestamptz not null,
    team_id uuid not null,
    agent_id uuid not null,
    conversations integer not null,
    closed integer not null,
    missed integer not null,
    resolved integer not null,
    reopened integer not null,
    first_responses integer not null,
    first_response_secs double precision not null,
    responses integer not null,
    response_secs double precision not null,
    durations integer not null,
    duration_secs double precision not null,
    rated integer not null,
    rating_sum integer not null,
    satisfied integer not null,
    bot_involved integer not null,
    bot_resolved integer not null,
    handed_off integer not null,
    primary key (hour, team_id, agent_id)
);

-- The same sums per local day (what periods of whole days read: a year is a few thousand rows),
-- and conversations started per local day and hour (the weekday × hour heat map).
create table analytics_daily (
    day date not null,
    team_id uuid not null,
    agent_id uuid not null,
    conversations integer not null,
    closed integer not null,
    missed integer not null,
    resolved integer not null,
    reopened integer not null,
    first_responses integer not null,
    first_response_secs double precision not null,
    responses integer not null,
    response_secs double precision not null,
    durations integer not null,
    duration_secs double precision not null,
    rated integer not null,
    rating_sum integer not null,
    satisfied integer not null,
    bot_involved integer not null,
    bot_resolved integer not null,
    handed_off integer not null,
    primary key (day, team_id, agent_id)
);

create table analytics_heat (
    day date not null,
    hour smallint not null check (hour between 0 and 23),
    team_id uuid not null,
    agent_id uuid not null,
    conversations integer not null,
    primary key (day, hour, team_id, agent_id)
);

create table analytics_daily_conversations (
    day date not null,
    dimension text not null,
    value text not null,
    conversations integer not null,
    primary key (day, dimension, value)
);

create table analytics_daily_visits (
    day date not null,
    dimension text not null,
    value text not null,
    visits integer not null,
    visit_secs double precision not null,
    page_views integer not null,
    primary key (day, dimension, value)
);

create table analytics_state (
    singleton boolean primary key default true check (singleton),
    -- Null until the first refresh finished: everything is new.
    conversations_through timestamptz,
    page_views_through timestamptz,
    timezone text not null default 'UTC',
    refreshed_at timestamptz
);
insert into analytics_state default values;

-- Hours whose rollups are stale: their facts changed (a refresh marks them chunk by chunk and
-- rolls them up at its end) or an erasure removed some.
create table analytics_stale_hours (
    hour timestamptz primary key
);
