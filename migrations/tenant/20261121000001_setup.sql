-- Per-tenant schema. Applied inside each tenant's own schema with `search_path` set to exactly that
-- schema, so every name below is unqualified on purpose.

create function set_updated_at() returns trigger
language plpgsql as $$
begin
    new.updated_at := now();
    return new;
end;
$$;

-- The tenant-side profile of a member (F3). Membership and role live in the control plane;
-- what the team sees of a person lives here.
create table agents (
    user_id uuid primary key,
    display_name text not null check (length(display_name) between 1 and 80),
    avatar_url text check (length(avatar_url) <= 2048),
    employee_no text check (length(employee_no) <= 40),
    max_concurrent_chats integer not null default 5 check (max_concurrent_chats between 1 and 100),
    skills text[] not null default '{}',
    active boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create trigger agents_updated_at before update on agents
    for each row execute function set_updated_at();

create table teams (
    id uuid primary key,
    name text not null check (length(name) between 1 and 80),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint teams_name_key unique (name)
);
create trigger teams_updated_at before update on teams
    for each row execute function set_updated_at();

create table team_members (
    team_id uuid not null references teams (id) on delete cascade,
    user_id uuid not null references agents (user_id) on delete cascade,
    primary key (team_id, user_id)
);

-- Audit log of admin changes and data access (F26).
create table audit_log (
    id bigint generated always as identity primary key,
    occurred_at timestamptz not null default now(),
    actor_user_id uuid,
    actor_api_key_id uuid,
    action text not null,
    target text,
    details jsonb not null default '{}'
);
create index audit_log_occurred_idx on audit_log (occurred_at desc);
