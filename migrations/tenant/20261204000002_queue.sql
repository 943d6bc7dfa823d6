-- The live queue (F19, F20): a VIP level vouched for by the tenant's backend, priorities by tag,
-- the skills a conversation needs, and what the wait estimator reads.

-- 0–10, from a signed `Kefu('identify', …)`; a level-n visitor's conversations wait at priority
-- 10·n or higher (the queue reads it, nothing is copied into conversations).
alter table visitors add column vip smallint not null default 0 check (vip between 0 and 10);

-- Tag → priority (0–100): a conversation carrying a tag waits at least at that priority.
-- At most 50 entries (checked by the api).
alter table routing_settings add column tag_priorities jsonb not null default '{}'
    check (jsonb_typeof(tag_priorities) = 'object');

-- Recent handle and first-wait times, by the close time.
create index conversations_closed_idx on conversations (closed_at) where closed_at is not null;

-- Skills an agent needs to be given the conversation (all of them, compared case-insensitively;
-- at most 10 of 1–40 characters, checked by the api). Set by hand or by rules.
alter table conversations add column skills text[] not null default '{}';
