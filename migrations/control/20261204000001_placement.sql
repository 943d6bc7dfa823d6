-- Placement: every tenant lives in one tenant database (docs/tenancy.md, "Placement").
--
-- A tenant database is a database on some Postgres cluster; it holds tenant schemas and, in its
-- own `kefu` schema, what they share (routines, and each tenant schema's migration version). The
-- control database itself is the tenant database `main` (no URL: it is reached through the
-- control pool); operators add others with `kefu databases add`.
create table control.tenant_databases (
    id text primary key check (id ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
    -- A Postgres URL; its password may be left to ~/.pgpass (PGPASSFILE). Null only for `main`.
    url text check ((id = 'main') = (url is null)),
    -- The region whose nodes serve it; null for `main`, which is in its control plane's region.
    region text check ((id = 'main') = (region is null)),
    -- The placement policy stops choosing this database once it holds this many tenants.
    capacity integer not null check (capacity >= 0),
    -- Whether the placement policy may choose it for new tenants.
    accepting boolean not null default true,
    created_at timestamptz not null default now()
);
-- 2,000 tenants per database: see docs/tenancy.md, "Tenants per database".
insert into control.tenant_databases (id, url, region, capacity) values ('main', null, null, 2000);

alter table control.tenants
    add column database_id text not null default 'main' references control.tenant_databases (id);
alter table control.tenants alter column database_id drop default;
create index tenants_database_idx on control.tenants (database_id);

-- A tenant schema's migration version now lives next to the schema, in its database's
-- `kefu.tenant_schemas` (so a tenant database describes itself, and a moved tenant carries its
-- version). The control database is `main`: its tenants' versions move there.
create schema if not exists kefu;
create table if not exists kefu.tenant_schemas (
    tenant_id uuid primary key,
    version bigint not null,
    migrated_at timestamptz not null default now()
);
insert into kefu.tenant_schemas (tenant_id, version)
    select id, schema_version from control.tenants where schema_version > 0
    on conflict (tenant_id) do nothing;
drop index control.tenants_schema_version_idx;
alter table control.tenants drop column schema_version;

-- Decisions of transactions that span the control database and another tenant database (two-
-- phase commit, `db::two_phase`): a `commit` row is written in the control transaction, so the
-- control commit is the decision; an in-doubt prepared transaction is committed if its row says
-- `commit` and rolled back otherwise (the resolver writes `abort` first, which a late committer's
-- insert then collides with).
create table control.two_phase_commits (
    gid text primary key,
    database_id text not null references control.tenant_databases (id),
    decision text not null check (decision in ('commit', 'abort')),
    created_at timestamptz not null default now()
);
