-- The agent console (F14–F17): team names unique regardless of case, canned responses,
-- conversations' team and tags, colleagues invited into a conversation, and structured system
-- notes (transfers, reopening).

create unique index teams_name_lower_key on teams (lower(name));

-- Reply texts agents insert by shortcut (F15). At most 1000 per tenant (checked by the api under
-- a table lock); the shortcut is stored lowercase and unique.
create table canned_responses (
    id uuid primary key,
    shortcut text not null check (shortcut ~ '^[a-z0-9_-]{1,32}$'),
    title text not null check (length(title) between 1 and 80),
    body text not null check (length(body) between 1 and 4000),
    created_by uuid references agents (user_id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create unique index canned_responses_shortcut_key on canned_responses (lower(shortcut));
create trigger canned_responses_updated_at before update on canned_responses
    for each row execute function set_updated_at();

-- A conversation sits in a team's queue after a transfer to the team; tags are lowercase,
-- trimmed, at most 20 of 1–40 characters (checked by the api).
alter table conversations
    add column team_id uuid references teams (id) on delete set null,
    add column tags text[] not null default '{}';
-- The inbox filtered by team or tag, in its keyset order.
create index conversations_team_updated_idx on conversations (team_id, updated_at desc, id desc)
    where team_id is not null;
create index conversations_tags_idx on conversations using gin (tags);

-- Colleagues invited into a conversation besides its assignee (F17).
create table conversation_participants (
    conversation_id uuid not null references conversations (id) on delete cascade,
    user_id uuid not null references agents (user_id) on delete cascade,
    added_by uuid,
    added_at timestamptz not null default now(),
    primary key (conversation_id, user_id)
);

-- System notes say what happened in structured form too (kefu_protocol::ws::MessageEvent).
alter table messages add column event jsonb;

-- send_message also returns the conversation's team, tags and participants, so the update it
-- publishes is complete: same contract as before (docs in 20261122000002).
drop function send_message(uuid, uuid, uuid, uuid, text, uuid, text, text, boolean, text, uuid);

create function send_message(
    p_conversation uuid,          -- null: the visitor's open conversation, created if needed
    p_visitor uuid,               -- the visitor, when p_conversation is null
    p_new_conversation uuid,      -- id for a conversation created by this call
    p_message uuid,               -- id for the new message
    p_sender_kind text,
    p_sender_id uuid,
    p_sender_name text,
    p_client_id text,
    p_private boolean,
    p_body text,
    p_attachment uuid             -- an uploaded, not yet sent attachment of this sender, or null
) returns table (
    outcome text,                 -- stored | duplicate | closed | not_found
    opened boolean,
    message_id uuid,
    message_seq bigint,
    message_created_at timestamptz,
    message_sender_kind text,
    message_sender_id uuid,
    message_sender_name text,
    message_client_id text,
    message_private boolean,
    message_body text,
    message_attachment jsonb,
    conversation_id uuid,
    conversation_visitor uuid,
    conversation_status text,
    conversation_assignee uuid,
    conversation_last_seq bigint,
    conversation_updated_at timestamptz,
    conversation_team uuid,
    conversation_tags text[],
    conversation_participants uuid[]
)
language plpgsql
set search_path from current
as $$
#variable_conflict use_column
declare
    conv conversations%rowtype;
    msg messages%rowtype;
    created boolean := false;
    att jsonb;
begin
    if p_conversation is null then
        insert into conversations (id, visitor_id) values (p_new_conversation, p_visitor)
            on conflict (visitor_id) where status = 'open' do nothing;
        created := found;
        select * into conv from conversations where visitor_id = p_visitor and status = 'open' for update;
    else
        select * into conv from conversations where id = p_conversation for update;
    end if;
    if conv.id is null then
        return query select 'not_found', false, null::uuid, null::bigint, null::timestamptz, null::text, null::uuid,
            null::text, null::text, null::boolean, null::text, null::jsonb, null::uuid, null::uuid, null::text, null::uuid,
            null::bigint, null::timestamptz, null::uuid, null::text[], null::uuid[];
        return;
    end if;
    select * into msg from messages m
        where m.conversation_id = conv.id and m.sender_id = p_sender_id and m.client_id = p_client_id;
    if msg.id is not null then
        return query select 'duplicate', false, msg.id, msg.seq, msg.created_at, msg.sender_kind, msg.sender_id,
            msg.sender_name, msg.client_id, msg.private, msg.body, msg.attachment, conv.id, conv.visitor_id, conv.status,
            conv.assignee, conv.last_seq, conv.updated_at, conv.team_id, conv.tags,
            array(select p.user_id from conversation_participants p where p.conversation_id = conv.id order by p.added_at);
        return;
    end if;
    if conv.status <> 'open' then
        return query select 'closed', false, null::uuid, null::bigint, null::timestamptz, null::text, null::uuid,
            null::text, null::text, null::boolean, null::text, null::jsonb, conv.id, conv.visitor_id, conv.status, conv.assignee,
            conv.last_seq, conv.updated_at, conv.team_id, conv.tags,
            array(select p.user_id from conversation_participants p where p.conversation_id = conv.id order by p.added_at);
        return;
    end if;
    if p_attachment is not null then
        -- Only the sender's own upload, sent once, in this conversation.
        update attachments a set message_id = p_message, conversation_id = conv.id
            where a.id = p_attachment and a.uploader_id = p_sender_id and a.message_id is null
            returning jsonb_build_object('id', a.id, 'name', a.name, 'content_type', a.content_type, 'size', a.size)
            into att;
        if att is null then
            return query select 'bad_attachment', false, null::uuid, null::bigint, null::timestamptz, null::text,
                null::uuid, null::text, null::text, null::boolean, null::text, null::jsonb, conv.id, conv.visitor_id,
                conv.status, conv.assignee, conv.last_seq, conv.updated_at, conv.team_id, conv.tags,
            array(select p.user_id from conversation_participants p where p.conversation_id = conv.id order by p.added_at);
            return;
        end if;
    end if;
    update conversations c set last_seq = c.last_seq + 1, updated_at = now() where c.id = conv.id returning c.* into conv;
    insert into messages (id, conversation_id, seq, sender_kind, sender_id, sender_name, client_id, private, body, attachment)
        values (p_message, conv.id, conv.last_seq, p_sender_kind, p_sender_id, p_sender_name, p_client_id, p_private, p_body, att)
        returning * into msg;
    return query select 'stored', created, msg.id, msg.seq, msg.created_at, msg.sender_kind, msg.sender_id,
        msg.sender_name, msg.client_id, msg.private, msg.body, msg.attachment, conv.id, conv.visitor_id, conv.status,
        conv.assignee, conv.last_seq, conv.updated_at, conv.team_id, conv.tags,
            array(select p.user_id from conversation_participants p where p.conversation_id = conv.id order by p.added_at);
end;
$$;
