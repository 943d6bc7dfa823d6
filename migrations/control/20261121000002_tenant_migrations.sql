-- The tenant migration set, as recorded by `kefu migrate`: one row per version with its checksum.
-- Tenant schemas keep no bookkeeping table of their own (their version is
-- control.tenants.schema_version); this table is what detects a tenant migration edited after it
-- was applied.
create table control.tenant_migrations (
    version bigint primary key,
    description text not null,
    checksum bytea not null,
    recorded_at timestamptz not null default now()
);
