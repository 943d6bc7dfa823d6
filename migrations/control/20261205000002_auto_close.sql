-- Tenants that close idle conversations (issue 14): one row per tenant with auto-close on, kept
-- by the service hours' save, so every node's sweeper finds the tenants to sweep (each about once
-- a minute, whichever node takes it) with one indexed read instead of visiting every tenant.
create table control.auto_close_sweeps (
    tenant_id uuid primary key references control.tenants (id) on delete cascade,
    after_minutes integer not null check (after_minutes between 5 and 10080),
    next_sweep_at timestamptz not null default now()
);
create index auto_close_sweeps_next on control.auto_close_sweeps (next_sweep_at);
