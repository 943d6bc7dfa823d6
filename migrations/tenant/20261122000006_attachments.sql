-- Attachments (F10): files uploaded by visitors and agents, kept in the object store under
-- a tenant-prefixed key, and sent as a message that carries a snapshot of the file's metadata.

create table attachments (
    id uuid primary key,
    uploader_kind text not null check (uploader_kind in ('visitor', 'agent')),
    -- The visitor id or the agent's user id.
    uploader_id uuid not null,
    name text not null check (length(name) between 1 and 255),
    -- Sniffed from the content, never taken from the upload's headers.
    content_type text not null check (length(content_type) between 3 and 100),
    size bigint not null check (size > 0),
    -- The object store key: <tenant uuid>/<attachment uuid>.
    storage_key text not null,
    -- Set once, by send_message, when the attachment is sent.
    message_id uuid,
    conversation_id uuid references conversations (id) on delete cascade,
    created_at timestamptz not null default now()
);
create index attachments_conversation_idx on attachments (conversation_id) where conversation_id is not null;
create index attachments_unsent_idx on attachments (uploader_id, created_at) where message_id is null;

alter table messages add column attachment jsonb;

-- send_message gains the attachment: same contract as before (docs in 20261122000002).
drop function send_message(uuid, uuid, uuid, uuid, text, uuid, text, text, boolean, text);

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
    conversation_updated_at timestamptz
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
            null::bigint, null::timestamptz;
        return;
    end if;
    select * into msg from messages m
        where m.conversation_id = conv.id and m.sender_id = p_sender_id and m.client_id = p_client_id;
    if msg.id is not null then
        return query select 'duplicate', false, msg.id, msg.seq, msg.created_at, msg.sender_kind, msg.sender_id,
            msg.sender_name, msg.client_id, msg.private, msg.body, msg.attachment, conv.id, conv.visitor_id, conv.status,
            conv.assignee, conv.last_seq, conv.updated_at;
        return;
    end if;
    if conv.status <> 'open' then
        return query select 'closed', false, null::uuid, null::bigint, null::timestamptz, null::text, null::uuid,
            null::text, null::text, null::boolean, null::text, null::jsonb, conv.id, conv.visitor_id, conv.status, conv.assignee,
            conv.last_seq, conv.updated_at;
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
                conv.status, conv.assignee, conv.last_seq, conv.updated_at;
            return;
        end if;
    end if;
    update conversations c set last_seq = c.last_seq + 1, updated_at = now() where c.id = conv.id returning c.* into conv;
    insert into messages (id, conversation_id, seq, sender_kind, sender_id, sender_name, client_id, private, body, attachment)
        values (p_message, conv.id, conv.last_seq, p_sender_kind, p_sender_id, p_sender_name, p_client_id, p_private, p_body, att)
        returning * into msg;
    return query select 'stored', created, msg.id, msg.seq, msg.created_at, msg.sender_kind, msg.sender_id,
        msg.sender_name, msg.client_id, msg.private, msg.body, msg.attachment, conv.id, conv.visitor_id, conv.status,
        conv.assignee, conv.last_seq, conv.updated_at;
end;
$$;
