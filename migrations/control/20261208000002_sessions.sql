-- Login sessions (issue 17): one row per login, so that a session has an absolute lifetime and an
-- access token can be checked against it on every request (logout, a password reset or removal
-- end access at once, not when the 15-minute access token expires). Its id is the refresh-token
-- family's and the access token's `sid`.
create table control.sessions (
    id uuid primary key,
    user_id uuid not null references control.users (id) on delete cascade,
    tenant_id uuid not null references control.tenants (id) on delete cascade,
    created_at timestamptz not null default now(),
    -- The absolute end: refreshing never moves it (auth.session_max_days).
    expires_at timestamptz not null,
    revoked_at timestamptz
);
create index sessions_user_idx on control.sessions (user_id, tenant_id);

-- Sessions started before this release: their families, from their first token, with the
-- default absolute lifetime (30 days) counted from then; revoked if every token is.
insert into control.sessions (id, user_id, tenant_id, created_at, expires_at, revoked_at)
select family_id, min(user_id::text)::uuid, min(tenant_id::text)::uuid, min(created_at), min(created_at) + interval '30 days',
       case when bool_and(revoked_at is not null) then max(revoked_at) end
  from control.refresh_tokens
 group by family_id;
