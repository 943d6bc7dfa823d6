-- Moves of tenants between tenant databases (`kefu tenants move`, docs/tenancy.md "Moving a
-- tenant"): one row per tenant being moved, so two moves of one tenant never run at once and an
-- interrupted move is visible (and simply run again).
create table control.tenant_moves (
    tenant_id uuid primary key references control.tenants (id) on delete cascade,
    source_id text not null references control.tenant_databases (id),
    target_id text not null references control.tenant_databases (id),
    -- copying: the target holds a copy being caught up; the tenant is still served from the source.
    state text not null check (state in ('copying')),
    started_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check (source_id <> target_id)
);
