-- Public site keys (F5): what a tenant's embed snippet names. The edge resolves a key to its
-- tenant through this table, so keys live in the control schema; the widget settings they
-- lead to live in the tenant's own schema.
create table control.site_keys (
    id uuid primary key,
    tenant_id uuid not null references control.tenants (id) on delete cascade,
    label text not null check (length(label) between 1 and 80),
    created_at timestamptz not null default now(),
    revoked_at timestamptz
);
create index site_keys_tenant_idx on control.site_keys (tenant_id) where revoked_at is null;
