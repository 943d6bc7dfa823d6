-- Automatic assignment (F19, F20): the tenant's routing settings, a conversation's priority, and
-- when each agent was last given one (round robin, and the tie-break of least busy).
create table routing_settings (
    singleton boolean primary key default true check (singleton),
    auto_assign boolean not null default false,
    strategy text not null default 'least_busy' check (strategy in ('least_busy', 'round_robin')),
    -- Conversations without a team go to this team's members when set.
    default_team_id uuid references teams (id) on delete set null,
    updated_at timestamptz not null default now()
);
insert into routing_settings default values;

alter table conversations add column priority smallint not null default 0 check (priority between 0 and 100);
-- The queue in the order it is served: highest priority first, then longest waiting.
create index conversations_queue_idx on conversations (priority desc, created_at)
    where status = 'open' and assignee is null;

alter table agents add column last_assigned_at timestamptz;
