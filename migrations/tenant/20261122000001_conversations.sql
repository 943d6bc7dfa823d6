-- Visitors, conversations and messages (F11, F13, F23).

create table visitors (
    id uuid primary key,
    -- The tenant's own id for a signed-in customer (identity verification), if any.
    ext_user text check (length(ext_user) <= 200),
    name text check (length(name) <= 200),
    email text check (length(email) <= 254),
    attributes jsonb not null default '{}',
    first_seen_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now()
);
create index visitors_ext_user_idx on visitors (ext_user) where ext_user is not null;

create table conversations (
    id uuid primary key,
    visitor_id uuid not null references visitors (id) on delete cascade,
    status text not null default 'open' check (status in ('open', 'closed')),
    assignee uuid references agents (user_id) on delete set null,
    -- The highest sequence number handed out; the next message gets last_seq + 1 in the same
    -- transaction that inserts it, under this row's lock, so sequences are gap-free.
    last_seq bigint not null default 0,
    visitor_read_seq bigint not null default 0,
    agent_read_seq bigint not null default 0,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    closed_at timestamptz
);
-- A visitor has at most one open conversation.
create unique index conversations_one_open_per_visitor on conversations (visitor_id) where status = 'open';
create index conversations_status_updated_idx on conversations (status, updated_at desc);
create index conversations_assignee_idx on conversations (assignee) where status = 'open';

create table messages (
    id uuid primary key,
    conversation_id uuid not null references conversations (id) on delete cascade,
    seq bigint not null check (seq > 0),
    sender_kind text not null check (sender_kind in ('visitor', 'agent', 'system')),
    -- Visitor id, agent user id, or the nil UUID for system messages.
    sender_id uuid not null,
    sender_name text,
    client_id text not null check (length(client_id) between 1 and 64),
    private boolean not null default false,
    body text not null check (length(body) between 1 and 4000),
    created_at timestamptz not null default now(),
    constraint messages_conversation_seq_key unique (conversation_id, seq),
    -- A retried send (same sender, same client id) is stored once.
    constraint messages_client_id_key unique (conversation_id, sender_id, client_id)
);
