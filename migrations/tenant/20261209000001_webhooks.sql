-- Outgoing webhooks (issue 17, docs/api.md "Webhooks").
--
-- `webhook_endpoints`: where events go, which ones, and the signing secret (with the previous
-- one during a rotation's overlap).
-- `webhook_events`: the outbox. Triggers (`kefu.webhook_capture_v1`) add a row in the very
-- transaction that changes a conversation, stores a message or changes a visitor, and only while
-- an enabled endpoint wants that type, so nothing committed is missed and nothing uncommitted is
-- sent. The dispatcher turns each event into one delivery per matching endpoint and deletes it.
-- Every event of one conversation (or one visitor) is written under that row's lock, so the
-- identity order of events with the same `ordering_key` is their commit order.
-- `webhook_deliveries`: the delivery log: one row per event and endpoint (and per replay), with
-- the exact body sent, its state, attempts and the last response.
create table webhook_endpoints (
    id uuid primary key,
    url text not null check (length(url) between 1 and 2048),
    description text not null default '' check (length(description) <= 200),
    -- Empty: every event type.
    event_types text[] not null default '{}',
    enabled boolean not null default true,
    -- Why it is disabled: by an admin, or by Kefu after its deliveries kept failing.
    disabled_reason text check (disabled_reason in ('manual', 'failing')),
    secret text not null,
    previous_secret text,
    previous_secret_until timestamptz,
    last_success_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create trigger webhook_endpoints_updated_at before update on webhook_endpoints
    for each row execute function set_updated_at();

create table webhook_events (
    id bigint generated always as identity primary key,
    event_id uuid not null default gen_random_uuid(),
    type text not null,
    -- The conversation (or, for visitor events, the visitor) whose events go in order.
    ordering_key uuid,
    -- A message event's message (read when the event is sent out).
    message_id uuid,
    -- Conversation and visitor events: the row as it was at the change.
    data jsonb,
    occurred_at timestamptz not null default now()
);

create table webhook_deliveries (
    id uuid primary key,
    -- Order of creation: within one endpoint and ordering key, a delivery waits for every
    -- earlier pending one.
    seq bigint generated always as identity,
    endpoint_id uuid not null references webhook_endpoints (id) on delete cascade,
    event_id uuid not null,
    event_type text not null,
    ordering_key uuid,
    payload text not null,
    status text not null default 'pending' check (status in ('pending', 'succeeded', 'failed')),
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    last_attempt_at timestamptz,
    response_status integer,
    response_body text,
    error text,
    replay_of uuid,
    created_at timestamptz not null default now(),
    finished_at timestamptz
);
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending';
create index webhook_deliveries_order on webhook_deliveries (endpoint_id, ordering_key, seq) where status = 'pending';
create index webhook_deliveries_log on webhook_deliveries (seq desc);
create index webhook_deliveries_endpoint_log on webhook_deliveries (endpoint_id, seq desc);
create index webhook_deliveries_finished on webhook_deliveries (finished_at) where finished_at is not null;

create trigger messages_webhook_capture after insert on messages
    referencing new table as inserted
    for each statement execute function kefu.webhook_capture_v1();
create trigger conversations_webhook_created after insert on conversations
    for each row execute function kefu.webhook_capture_v1();
create trigger conversations_webhook_changed after update on conversations
    for each row
    when (old.status is distinct from new.status or old.assignee is distinct from new.assignee
          or old.team_id is distinct from new.team_id or old.rating is distinct from new.rating)
    execute function kefu.webhook_capture_v1();
create trigger visitors_webhook_created after insert on visitors
    for each row execute function kefu.webhook_capture_v1();
create trigger visitors_webhook_changed after update on visitors
    for each row
    when ((old.name, old.email, old.ext_user, old.attributes) is distinct from
          (new.name, new.email, new.ext_user, new.attributes))
    execute function kefu.webhook_capture_v1();
