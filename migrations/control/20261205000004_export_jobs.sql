-- Background exports (issue 15, docs/export.md "Background exports"): selections over the
-- synchronous limit are written by a job, part by part, to the object store under
-- `<tenant>/exports/<job>/`, then downloaded through a short-lived link.
-- How many conversations one export may hold, per plan (the synchronous export stays at 1,000).
alter table control.plans add column export_conversations integer not null default 100000
    check (export_conversations > 0);
update control.plans set export_conversations = case id
    when 'trial' then 10000 when 'starter' then 100000 when 'growth' then 1000000 else 5000000 end;

-- One row per job. Every node's export worker leases a queued or abandoned job (`skip locked`,
-- `lease_until`), writes a part, then records the part and the last conversation written
-- (`cursor_id`, newest first) in one statement; a node that dies mid-part leaves the lease to run
-- out and the next node rewrites that part from the cursor.
create table control.export_jobs (
    id uuid primary key,
    tenant_id uuid not null references control.tenants (id) on delete cascade,
    -- The audit actor who asked (`usr_…` / `key_…` as uuid and kind).
    requested_by_user uuid,
    requested_by_key uuid,
    -- `conversations` (a search's selection; supervisors and up) or `tenant` (the whole workspace
    -- as a tar archive: every table, the control-plane rows and the attachment files; the owner).
    kind text not null default 'conversations' check (kind in ('conversations', 'tenant')),
    format text not null check (format in ('json', 'csv', 'tar')),
    -- The search's filters (GET /api/v1/search's parameters), re-validated when the job runs.
    filters jsonb not null,
    status text not null default 'queued'
        check (status in ('queued', 'running', 'done', 'failed', 'cancelled', 'expired')),
    -- Conversations matching when the job was asked for, and written so far.
    total integer not null check (total >= 0),
    written integer not null default 0 check (written >= 0),
    parts integer not null default 0 check (parts >= 0),
    bytes bigint not null default 0 check (bytes >= 0),
    cursor_id uuid,
    attempts integer not null default 0,
    error text,
    lease_until timestamptz,
    -- A download link: the sha-256 of its token, until when it works, and who asked for it.
    link_hash bytea unique,
    link_expires_at timestamptz,
    link_user uuid,
    link_key uuid,
    created_at timestamptz not null default now(),
    started_at timestamptz,
    finished_at timestamptz,
    expires_at timestamptz,
    -- Files of a cancelled, failed or expired job are removed by the sweep; this records it.
    files_removed boolean not null default false
);
create index export_jobs_tenant_idx on control.export_jobs (tenant_id, created_at desc);
create index export_jobs_pending_idx on control.export_jobs (created_at) where status in ('queued', 'running');
create index export_jobs_sweep_idx on control.export_jobs (expires_at) where not files_removed;
