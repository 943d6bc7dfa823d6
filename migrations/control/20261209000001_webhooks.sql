-- Outgoing webhooks (issue 17, docs/api.md "Webhooks"): the tenants that have at least one
-- enabled endpoint, kept by the endpoints' writes in the same transaction, so every node's
-- dispatcher finds the tenants with work with one indexed read instead of visiting every
-- tenant. `next_visit_at` is when any node should look next: now after a change, the earliest
-- retry that is due, and at the latest one sweep period later (the fallback for a node that died
-- between a commit and its dispatch).
create table control.webhook_tenants (
    tenant_id uuid primary key references control.tenants (id) on delete cascade,
    next_visit_at timestamptz not null default now()
);
create index webhook_tenants_next on control.webhook_tenants (next_visit_at);
