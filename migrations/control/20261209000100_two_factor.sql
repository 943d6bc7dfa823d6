-- Two-factor sign-in (issue 17): a TOTP authenticator (RFC 6238) per account, its recovery codes,
-- and a per-tenant requirement (docs/security.md "Two-factor sign-in").
--
-- The authenticator's secret is sealed (AES-256-GCM under `auth.two_factor_keys`, the key id in
-- front), so a copy of the database alone cannot produce codes. `confirmed_at` is null while the
-- member is setting it up (scanned, not yet proven with a code). `last_step` is the last 30-second
-- step whose code was accepted: a code works once (RFC 6238 §5.2). Wrong codes count in
-- `failures`; at the limit the account's second step is locked until `locked_until`.
create table control.user_totp (
    user_id uuid primary key references control.users (id) on delete cascade,
    secret_sealed text not null,
    created_at timestamptz not null default now(),
    confirmed_at timestamptz,
    last_step bigint not null default 0,
    failures integer not null default 0,
    locked_until timestamptz
);

-- Single-use recovery codes (80 random bits each, shown once), stored as SHA-256.
create table control.recovery_codes (
    user_id uuid not null references control.users (id) on delete cascade,
    code_hash bytea not null,
    created_at timestamptz not null default now(),
    used_at timestamptz,
    primary key (user_id, code_hash)
);

-- Every member of the tenant must sign in with a second step.
alter table control.tenants add column require_two_factor boolean not null default false;
