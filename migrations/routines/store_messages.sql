-- kefu.store_messages_v3: stores a batch of chat messages, from any tenants of this database, in
-- the caller's single statement (autocommit: one transaction, one WAL flush for the batch).
--
-- This file is the one current definition. `kefu migrate` installs it into every database that
-- holds tenant schemas, replacing the previous text whenever this file changes (it is not a
-- migration: migrations are history, this is the code as it is now). A change to its arguments or
-- result columns gets a new name (`_v3`), so nodes still running the previous binary keep theirs
-- (`_v2`, without p_directs, stays installed where it was).
--
-- Input: parallel arrays, one element per message, in arrival order. Output: one row per message
-- with its 1-based index and outcome:
--   stored          a new message, with its id, sequence number and time, and its conversation as
--                   it is after the whole batch;
--   duplicate       this sender already stored this client id in that conversation: the original
--                   message's id, sequence number and time (nothing is written);
--   closed          the conversation is closed (nothing is written);
--   not_found       no such conversation in that tenant (for a visitor's message without a
--                   conversation: none could be opened);
--   bad_attachment  the attachment is not an unsent upload of this sender (nothing is written);
--   forbidden       an agent's reply (not a private note) into a colleague's conversation: allowed
--                   only for its assignee, its participants, anyone while it is unassigned, and
--                   senders who direct (p_directs: supervisors and up, keys with that right) —
--                   docs/decisions.md "Who may act in a colleague's conversation". Checked here,
--                   under the conversation's row lock, so a transfer committed before the message
--                   is always seen.
-- A refused message never affects the others. Anything unexpected raises, which rolls back the
-- whole batch; the caller then stores each message of it on its own.
--
-- Locks: tenants are processed in schema-name order; within a tenant, visitors' new
-- conversations are inserted in visitor-id order, then every conversation the batch writes to is
-- locked in id order before any message is written. Every batch takes its locks in that one global
-- order, so concurrent batches (on this node or others) cannot deadlock one another. Each
-- conversation's sequence numbers are handed out under its row lock, so they stay gap-free.
--
-- Names: the function has no search_path of its own. For each tenant it sets the transaction's
-- search_path to exactly that tenant's schema (validated as `t_` + 32 hex digits), so the table
-- names below resolve in that tenant only, and restores the caller's path at the end.

create or replace function kefu.store_messages_v3(
    p_schema text[],              -- the tenant schema of each message
    p_conversation uuid[],        -- its conversation; null: the visitor's open one, opened if needed
    p_visitor uuid[],             -- the visitor, when p_conversation is null
    p_new_conversation uuid[],    -- id for a conversation this message opens
    p_message uuid[],             -- id for the new message
    p_sender_kind text[],         -- visitor | agent
    p_sender_id uuid[],
    p_sender_name text[],         -- an agent's display name at the time
    p_client_id text[],
    p_private boolean[],          -- a private note (agents only)
    p_body text[],
    p_attachment uuid[],          -- an uploaded, not yet sent attachment of this sender, or null
    p_directs boolean[]           -- an agent sender may write into any conversation of the tenant
) returns table (
    idx integer,
    outcome text,
    opened boolean,
    message_id uuid,
    seq bigint,
    created_at timestamptz,
    attachment jsonb,
    conversation_id uuid,
    conversation_visitor uuid,
    conversation_status text,
    conversation_assignee uuid,
    conversation_last_seq bigint,
    conversation_updated_at timestamptz,
    conversation_rating smallint,
    conversation_team uuid,
    conversation_tags text[],
    conversation_participants uuid[],
    conversation_bot boolean      -- the bot is answering it (F20)
)
language plpgsql
as $$
#variable_conflict use_column
declare
    n constant integer := coalesce(cardinality(p_message), 0);
    caller_path constant text := current_setting('search_path');
    tenant text;
    g integer;
    k integer;
    j integer;
    o integer;
    key text;
    att jsonb;
    -- Per message (indexed by its position in the batch).
    r_outcome text[] := array_fill(null::text, array[n]);
    r_conversation uuid[] := array_fill(null::uuid, array[n]);
    r_opened boolean[] := array_fill(false, array[n]);
    r_seq bigint[] := array_fill(null::bigint, array[n]);
    r_message uuid[] := array_fill(null::uuid, array[n]);
    r_created timestamptz[] := array_fill(null::timestamptz, array[n]);
    r_attachment jsonb[] := array_fill(null::jsonb, array[n]);
    -- The current tenant's messages, in arrival order, and the locked conversation each goes to.
    t_index integer[];
    t_lock integer[];
    -- The current tenant's locked conversations, in id order.
    lk_id uuid[];
    lk_open_visitor uuid[];   -- the visitor of each open one (null when closed)
    lk_open boolean[];
    lk_last bigint[];
    lk_assignee uuid[];
    lk_touched boolean[];
    -- Messages already stored under a client id of this batch.
    d_index integer[];
    d_id uuid[];
    d_seq bigint[];
    d_created timestamptz[];
    -- Keys (conversation/sender/client id) stored by this batch so far, and by which message.
    seen_key text[];
    seen_index integer[];
    -- Visitors whose conversation this batch opened, until their first message takes the flag.
    opened_for uuid[];
    -- Rows to insert.
    ins_index integer[];
    ins_attachment jsonb[];
begin
    if n = 0 then
        return;
    end if;
    if cardinality(p_schema) <> n or cardinality(p_conversation) <> n or cardinality(p_visitor) <> n
        or cardinality(p_new_conversation) <> n or cardinality(p_sender_kind) <> n
        or cardinality(p_sender_id) <> n or cardinality(p_sender_name) <> n or cardinality(p_client_id) <> n
        or cardinality(p_private) <> n or cardinality(p_body) <> n or cardinality(p_attachment) <> n
        or cardinality(p_directs) <> n then
        raise exception 'store_messages_v3: argument arrays differ in length' using errcode = '22023';
    end if;

    for tenant in select distinct s from unnest(p_schema) s order by s loop
        if tenant is null or tenant !~ '^t_[0-9a-f]{32}$' or to_regnamespace(tenant) is null then
            raise exception 'store_messages_v3: % is not a tenant schema', tenant using errcode = '3F000';
        end if;
        perform set_config('search_path', tenant, true);

        -- Visitors' new conversations, in visitor order (one per visitor; an open one wins).
        with wanted as (
            select distinct on (p_visitor[m]) p_new_conversation[m] as id, p_visitor[m] as visitor_id
              from generate_subscripts(p_message, 1) m
             where p_schema[m] = tenant and p_conversation[m] is null
             order by p_visitor[m], m
        ), created as (
            insert into conversations (id, visitor_id)
            select w.id, w.visitor_id from wanted w order by w.visitor_id
            on conflict (visitor_id) where status = 'open' do nothing
            returning visitor_id
        )
        select coalesce(array_agg(c.visitor_id), '{}') into opened_for from created c;

        -- Every conversation this tenant's messages go to, locked in id order.
        select coalesce(array_agg(l.id order by l.id), '{}'),
               coalesce(array_agg(case when l.status = 'open' then l.visitor_id end order by l.id), '{}'),
               coalesce(array_agg(l.status = 'open' order by l.id), '{}'),
               coalesce(array_agg(l.last_seq order by l.id), '{}'),
               coalesce(array_agg(l.assignee order by l.id), '{}')
          into lk_id, lk_open_visitor, lk_open, lk_last, lk_assignee
          from (
              select c.id, c.visitor_id, c.status, c.last_seq, c.assignee from conversations c
               where c.id = any (array(
                         select p_conversation[m] from generate_subscripts(p_message, 1) m
                          where p_schema[m] = tenant and p_conversation[m] is not null))
                  or (c.status = 'open' and c.visitor_id = any (array(
                         select p_visitor[m] from generate_subscripts(p_message, 1) m
                          where p_schema[m] = tenant and p_conversation[m] is null)))
               order by c.id
               for update
          ) l;
        lk_touched := array_fill(false, array[cardinality(lk_id)]);

        select array_agg(m order by m),
               array_agg(case when p_conversation[m] is not null then array_position(lk_id, p_conversation[m])
                              when p_visitor[m] is not null then array_position(lk_open_visitor, p_visitor[m])
                         end order by m)
          into t_index, t_lock
          from generate_subscripts(p_message, 1) m
         where p_schema[m] = tenant;

        -- Client ids already stored (retries), in one look-up.
        select coalesce(array_agg(u.m), '{}'), coalesce(array_agg(x.id), '{}'), coalesce(array_agg(x.seq), '{}'),
               coalesce(array_agg(x.created_at), '{}')
          into d_index, d_id, d_seq, d_created
          from unnest(t_index, t_lock) u(m, k)
          join messages x on x.conversation_id = lk_id[u.k] and x.sender_id = p_sender_id[u.m]
                         and x.client_id = p_client_id[u.m];

        seen_key := '{}';
        seen_index := '{}';
        ins_index := '{}';
        ins_attachment := '{}';
        -- Each message, in arrival order: decide its outcome and sequence number.
        for j in 1 .. cardinality(t_index) loop
            g := t_index[j];
            k := t_lock[j];
            if k is null then
                r_outcome[g] := 'not_found';
                continue;
            end if;
            r_conversation[g] := lk_id[k];

            -- A retried client id is answered with the original message, open or closed.
            if g = any (d_index) then
                r_outcome[g] := 'duplicate';
                r_message[g] := d_id[array_position(d_index, g)];
                r_seq[g] := d_seq[array_position(d_index, g)];
                r_created[g] := d_created[array_position(d_index, g)];
                continue;
            end if;
            key := lk_id[k]::text || '/' || p_sender_id[g]::text || '/' || p_client_id[g];
            if key = any (seen_key) then
                r_outcome[g] := 'duplicate';
                o := seen_index[array_position(seen_key, key)];
                r_message[g] := r_message[o];
                r_seq[g] := r_seq[o];
                r_created[g] := r_created[o];
                continue;
            end if;
            if not lk_open[k] then
                r_outcome[g] := 'closed';
                continue;
            end if;
            -- An agent's reply into a colleague's conversation.
            if p_sender_kind[g] = 'agent' and not p_private[g] and not coalesce(p_directs[g], false)
                and lk_assignee[k] is not null and lk_assignee[k] <> p_sender_id[g]
                and not exists (select 1 from conversation_participants p
                                 where p.conversation_id = lk_id[k] and p.user_id = p_sender_id[g]) then
                r_outcome[g] := 'forbidden';
                continue;
            end if;

            att := null;
            if p_attachment[g] is not null then
                -- Only the sender's own upload, sent once.
                update attachments a set message_id = p_message[g], conversation_id = lk_id[k]
                 where a.id = p_attachment[g] and a.uploader_id = p_sender_id[g] and a.message_id is null
                returning jsonb_build_object('id', a.id, 'name', a.name, 'content_type', a.content_type, 'size', a.size)
                     into att;
                if att is null then
                    r_outcome[g] := 'bad_attachment';
                    continue;
                end if;
            end if;

            lk_last[k] := lk_last[k] + 1;
            lk_touched[k] := true;
            r_outcome[g] := 'stored';
            r_message[g] := p_message[g];
            r_seq[g] := lk_last[k];
            r_created[g] := now();
            r_attachment[g] := att;
            seen_key := seen_key || key;
            seen_index := seen_index || g;
            ins_index := ins_index || g;
            ins_attachment := ins_attachment || att;
            if p_conversation[g] is null and p_visitor[g] = any (opened_for) then
                r_opened[g] := true;
                opened_for := array_remove(opened_for, p_visitor[g]);
            end if;
        end loop;

        -- The new messages in one statement, and one update per conversation written to.
        insert into messages (id, conversation_id, seq, sender_kind, sender_id, sender_name, client_id, private, body,
                              attachment)
        select p_message[u.m], r_conversation[u.m], r_seq[u.m], p_sender_kind[u.m], p_sender_id[u.m],
               p_sender_name[u.m], p_client_id[u.m], p_private[u.m], p_body[u.m], u.a
          from unnest(ins_index, ins_attachment) u(m, a);
        -- The activity time moves only when it is more than 5 seconds old: most updates of a busy
        -- conversation then change no indexed column, so Postgres makes them HOT (no new entries
        -- in the conversation's nine indexes, a fraction of the WAL). Lists order by it in 5-s steps.
        update conversations c set last_seq = u.last_seq,
               updated_at = case when c.updated_at < now() - interval '5 seconds' then now() else c.updated_at end
          from unnest(lk_id, lk_last, lk_touched) u(id, last_seq, touched)
         where c.id = u.id and u.touched;

        return query
            select m, r_outcome[m], r_opened[m], r_message[m], r_seq[m], r_created[m], r_attachment[m],
                   r_conversation[m], c.visitor_id, c.status, c.assignee, c.last_seq, c.updated_at, c.rating, c.team_id,
                   c.tags,
                   case when c.id is null then null else array(
                       select p.user_id from conversation_participants p where p.conversation_id = c.id
                        order by p.added_at) end,
                   c.bot_active
              from generate_subscripts(p_message, 1) m
              left join conversations c on c.id = r_conversation[m] and r_outcome[m] = 'stored'
             where p_schema[m] = tenant
             order by m;
    end loop;
    perform set_config('search_path', caller_path, true);
end;
$$;
