-- Retention (issue 15, docs/retention.md): how long a workspace keeps conversation content.
-- The longest history a plan keeps (days; null: no bound).
alter table control.plans add column max_retention_days integer check (max_retention_days > 0);
update control.plans set max_retention_days = case id
    when 'trial' then 365 when 'starter' then 730 when 'growth' then 1825 else null end;
-- The workspace's own choice (days; null: as long as the plan allows), when the retention job
-- runs next for it (a new workspace's first run is a day after signup: nothing it has can be
-- older than a period), and what its last run did.
alter table control.tenants
    add column retention_days integer check (retention_days between 1 and 36500),
    add column retention_next_at timestamptz not null default now() + interval '1 day',
    add column retention_last jsonb;
create index tenants_retention_due_idx on control.tenants (retention_next_at);
