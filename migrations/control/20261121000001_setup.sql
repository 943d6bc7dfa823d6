-- Control plane: everything that is not one tenant's own data.
-- Every table here is schema-qualified; the application never puts `control` on its search_path.

create schema if not exists control;

create or replace function control.set_updated_at() returns trigger
language plpgsql as $$
begin
    new.updated_at := now();
    return new;
end;
$$;

create table control.plans (
    id text primary key,
    name text not null,
    seats integer not null check (seats > 0),
    conversations_per_month integer not null check (conversations_per_month > 0),
    attachment_storage_mb integer not null check (attachment_storage_mb > 0),
    trial_days integer not null default 0 check (trial_days >= 0),
    created_at timestamptz not null default now()
);

insert into control.plans (id, name, seats, conversations_per_month, attachment_storage_mb, trial_days) values
    ('trial', 'Trial', 5, 500, 500, 14),
    ('starter', 'Starter', 5, 2000, 2048, 0),
    ('growth', 'Growth', 25, 20000, 20480, 0),
    ('scale', 'Scale', 200, 200000, 204800, 0);

create table control.tenants (
    id uuid primary key,
    slug text not null,
    name text not null check (length(name) between 1 and 120),
    -- Derived from the immutable id, never from user input: t_<32 hex>.
    schema_name text not null check (schema_name ~ '^t_[0-9a-f]{32}$'),
    -- The highest tenant migration version applied to the schema; `kefu migrate` skips tenants
    -- already at the latest version.
    schema_version bigint not null default 0,
    status text not null default 'active' check (status in ('active', 'suspended', 'deleting')),
    plan_id text not null references control.plans (id),
    trial_ends_at timestamptz,
    home_region text not null default 'local',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint tenants_slug_key unique (slug),
    constraint tenants_schema_name_key unique (schema_name),
    constraint tenants_slug_format check (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$')
);
create index tenants_schema_version_idx on control.tenants (schema_version);
create trigger tenants_updated_at before update on control.tenants
    for each row execute function control.set_updated_at();

create table control.users (
    id uuid primary key,
    email text not null check (length(email) <= 254),
    password_hash text not null,
    display_name text not null check (length(display_name) between 1 and 80),
    email_verified_at timestamptz,
    password_changed_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
-- Emails are compared case-insensitively; the stored form keeps the user's spelling.
create unique index users_email_key on control.users (lower(email));
create trigger users_updated_at before update on control.users
    for each row execute function control.set_updated_at();

create table control.memberships (
    tenant_id uuid not null references control.tenants (id) on delete cascade,
    user_id uuid not null references control.users (id) on delete cascade,
    role text not null check (role in ('owner', 'admin', 'supervisor', 'agent')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, user_id)
);
create index memberships_user_idx on control.memberships (user_id);
-- Exactly one owner per tenant.
create unique index memberships_one_owner on control.memberships (tenant_id) where role = 'owner';
create trigger memberships_updated_at before update on control.memberships
    for each row execute function control.set_updated_at();

create table control.invitations (
    id uuid primary key,
    tenant_id uuid not null references control.tenants (id) on delete cascade,
    email text not null,
    role text not null check (role in ('admin', 'supervisor', 'agent')),
    token_hash bytea not null,
    invited_by uuid references control.users (id) on delete set null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    accepted_at timestamptz,
    revoked_at timestamptz,
    constraint invitations_token_hash_key unique (token_hash)
);
create unique index invitations_pending_email_key on control.invitations (tenant_id, lower(email))
    where accepted_at is null and revoked_at is null;

create table control.api_keys (
    id uuid primary key,
    tenant_id uuid not null references control.tenants (id) on delete cascade,
    name text not null check (length(name) between 1 and 80),
    role text not null check (role in ('admin', 'supervisor', 'agent')),
    -- The first characters of the key, shown in lists so people can tell keys apart.
    prefix text not null,
    key_hash bytea not null,
    created_by uuid references control.users (id) on delete set null,
    created_at timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at timestamptz,
    constraint api_keys_key_hash_key unique (key_hash)
);
create index api_keys_tenant_idx on control.api_keys (tenant_id);

-- Rotating refresh tokens. A family is one login session; each refresh replaces the token with a
-- new one in the same family. Presenting a replaced token again revokes the whole family.
create table control.refresh_tokens (
    id uuid primary key,
    family_id uuid not null,
    user_id uuid not null references control.users (id) on delete cascade,
    tenant_id uuid not null references control.tenants (id) on delete cascade,
    token_hash bytea not null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    replaced_at timestamptz,
    revoked_at timestamptz,
    constraint refresh_tokens_token_hash_key unique (token_hash)
);
create index refresh_tokens_family_idx on control.refresh_tokens (family_id);
create index refresh_tokens_user_idx on control.refresh_tokens (user_id, tenant_id);

-- One-time tokens mailed to a user: email verification and password reset.
create table control.user_tokens (
    token_hash bytea primary key,
    user_id uuid not null references control.users (id) on delete cascade,
    purpose text not null check (purpose in ('verify_email', 'reset_password')),
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    used_at timestamptz
);
create index user_tokens_user_idx on control.user_tokens (user_id, purpose);

-- Outgoing mail is written here in the same transaction as the change that causes it, then
-- delivered by the mail worker over SMTP. Without SMTP (development), rows stay here and the dev
-- mailbox shows them.
create table control.outbox_mail (
    id uuid primary key,
    tenant_id uuid references control.tenants (id) on delete cascade,
    to_address text not null,
    subject text not null,
    body_text text not null,
    created_at timestamptz not null default now(),
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    last_error text,
    sent_at timestamptz
);
create index outbox_mail_pending_idx on control.outbox_mail (next_attempt_at) where sent_at is null;
create index outbox_mail_to_idx on control.outbox_mail (lower(to_address), created_at desc);
