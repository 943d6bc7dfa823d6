-- The FAQ bot (F20): the knowledge base, the bot's settings, a conversation the bot is answering,
-- its answers, and every answer, feedback and hand-off on record.

-- Question/answer entries with alternative phrasings, per language. Counts per plan are checked
-- by the api; sizes here.
create table kb_entries (
    id uuid primary key,
    language text not null check (language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
    question text not null check (length(question) between 1 and 500),
    alternatives text[] not null default '{}' check (cardinality(alternatives) <= 20),
    answer text not null check (length(answer) between 1 and 4000),
    enabled boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index kb_entries_language_idx on kb_entries (language, created_at);
create trigger kb_entries_updated_at before update on kb_entries
    for each row execute function set_updated_at();

create table bot_settings (
    singleton boolean primary key default true check (singleton),
    enabled boolean not null default false,
    -- Answer at or above this score (0–1); below, hand off to a human.
    threshold real not null default 0.7 check (threshold between 0 and 1),
    -- Which matcher scores questions: the lexical one, or embeddings (lexical when down).
    matcher text not null default 'lexical' check (matcher in ('lexical', 'semantic')),
    -- The name the bot's messages carry.
    name text not null default '' check (length(name) <= 60),
    -- Bumped by every change of the settings or the knowledge base: nodes rebuild their index
    -- when it moved.
    version bigint not null default 1,
    updated_at timestamptz not null default now()
);
insert into bot_settings default values;

-- A conversation opened while the bot is on starts with the bot; a hand-off, a claim or a
-- transfer gives it to people. The queue only holds conversations the bot is not answering.
-- Existing rows are not the bot's; new rows get no default: an insert that does not say (every
-- conversation a visitor opens) is decided by the trigger below from the bot's settings, while a
-- copy that does say (a tenant move) keeps its value.
alter table conversations add column bot_active boolean not null default false;
alter table conversations alter column bot_active drop default;

create function conversation_starts_with_bot() returns trigger
language plpgsql as $$
begin
    if new.bot_active is null then
        -- The table's own schema, whatever the caller's search_path.
        execute format('select coalesce((select b.enabled from %I.bot_settings b), false)', tg_table_schema)
            into new.bot_active;
    end if;
    return new;
end;
$$;
create trigger conversations_starts_with_bot before insert on conversations
    for each row execute function conversation_starts_with_bot();

-- The bot writes messages of its own; an answer carries its entry, related questions and whether
-- it asks for feedback (`kefu_protocol::ws::BotReply`). Existing rows need no check.
alter table messages drop constraint messages_sender_kind_check;
alter table messages add constraint messages_sender_kind_check
    check (sender_kind in ('visitor', 'agent', 'system', 'bot')) not valid;
alter table messages add column bot jsonb;

-- What the bot did, for the record and for analytics (bot resolution rate).
create table bot_events (
    id uuid primary key,
    conversation_id uuid not null references conversations (id) on delete cascade,
    -- The visitor's message it was about, if any.
    message_seq bigint,
    kind text not null check (kind in ('answered', 'helpful', 'handoff')),
    -- For hand-offs: low_score, requested, not_helpful, agent_took_over, no_knowledge, bot_off.
    reason text check (length(reason) <= 40),
    entry_id uuid references kb_entries (id) on delete set null,
    score real,
    matcher text check (matcher in ('lexical', 'semantic')),
    created_at timestamptz not null default now()
);
create index bot_events_conversation_idx on bot_events (conversation_id, created_at);
create index bot_events_created_idx on bot_events (created_at);
