-- Storing a message in one statement (the real-time hot path): lock the conversation, answer a
-- retried client id with the original message, refuse closed conversations, take the next
-- sequence number and insert, all inside one implicit transaction. The function's search_path
-- is pinned to this tenant's schema at creation (`from current`), so it is called
-- schema-qualified in autocommit mode and never sees another schema.

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
    p_body text
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
            null::text, null::text, null::boolean, null::text, null::uuid, null::uuid, null::text, null::uuid,
            null::bigint, null::timestamptz;
        return;
    end if;
    select * into msg from messages m
        where m.conversation_id = conv.id and m.sender_id = p_sender_id and m.client_id = p_client_id;
    if msg.id is not null then
        return query select 'duplicate', false, msg.id, msg.seq, msg.created_at, msg.sender_kind, msg.sender_id,
            msg.sender_name, msg.client_id, msg.private, msg.body, conv.id, conv.visitor_id, conv.status,
            conv.assignee, conv.last_seq, conv.updated_at;
        return;
    end if;
    if conv.status <> 'open' then
        return query select 'closed', false, null::uuid, null::bigint, null::timestamptz, null::text, null::uuid,
            null::text, null::text, null::boolean, null::text, conv.id, conv.visitor_id, conv.status, conv.assignee,
            conv.last_seq, conv.updated_at;
        return;
    end if;
    update conversations c set last_seq = c.last_seq + 1, updated_at = now() where c.id = conv.id returning c.* into conv;
    insert into messages (id, conversation_id, seq, sender_kind, sender_id, sender_name, client_id, private, body)
        values (p_message, conv.id, conv.last_seq, p_sender_kind, p_sender_id, p_sender_name, p_client_id, p_private, p_body)
        returning * into msg;
    return query select 'stored', created, msg.id, msg.seq, msg.created_at, msg.sender_kind, msg.sender_id,
        msg.sender_name, msg.client_id, msg.private, msg.body, conv.id, conv.visitor_id, conv.status, conv.assignee,
        conv.last_seq, conv.updated_at;
end;
$$;
