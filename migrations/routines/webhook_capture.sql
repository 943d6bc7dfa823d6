-- kefu.webhook_capture_v1: the triggers on every tenant's `messages` (statement), `conversations`
-- and `visitors` (rows) that record outgoing webhook events in the changing transaction
-- (docs/api.md, "Webhooks").
--
-- It writes into the table's own schema's `webhook_events` only the types that an enabled
-- endpoint of that tenant wants, so a tenant without webhooks pays one small read per statement
-- and row. A tenant move copies the outbox with the rest (`kefu.copying` is set on the copying
-- transaction): copied rows are not events.
create or replace function kefu.webhook_capture_v1() returns trigger
language plpgsql as $$
declare
    every_type boolean;
    wanted text[];
    kinds text[] := '{}';
    kind text;
    snapshot jsonb;
    previous uuid;
begin
    if current_setting('kefu.copying', true) = 'on' then
        return null;
    end if;
    execute format(
        'select coalesce(bool_or(cardinality(event_types) = 0), false),
                coalesce(array(select distinct t from %I.webhook_endpoints e, unnest(e.event_types) t where e.enabled), ''{}'')
           from %I.webhook_endpoints where enabled',
        tg_table_schema, tg_table_schema)
        into every_type, wanted;
    if not every_type and cardinality(wanted) = 0 then
        return null;
    end if;

    if tg_table_name = 'messages' then
        if every_type or 'message.created' = any(wanted) then
            execute format(
                'insert into %I.webhook_events (type, ordering_key, message_id)
                 select ''message.created'', conversation_id, id from inserted order by conversation_id, seq',
                tg_table_schema);
        end if;
        return null;
    end if;

    if tg_table_name = 'conversations' then
        if tg_op = 'INSERT' then
            kinds := array['conversation.created'];
        else
            previous := old.assignee;
            if old.status is distinct from new.status then
                kinds := kinds || case when new.status = 'closed' then 'conversation.closed' else 'conversation.reopened' end;
            end if;
            if old.assignee is distinct from new.assignee or old.team_id is distinct from new.team_id then
                kinds := kinds || 'conversation.assigned'::text;
            end if;
            if new.rating is not null and old.rating is distinct from new.rating then
                kinds := kinds || 'conversation.rated'::text;
            end if;
        end if;
        snapshot := jsonb_build_object(
            'conversation_id', new.id, 'visitor_id', new.visitor_id, 'status', new.status,
            'assignee', new.assignee, 'previous_assignee', previous,
            'team_id', new.team_id, 'tags', new.tags, 'rating', new.rating, 'rating_comment', new.rating_comment,
            'created_at', new.created_at, 'closed_at', new.closed_at);
    else
        kinds := array[case when tg_op = 'INSERT' then 'visitor.created' else 'visitor.updated' end];
        snapshot := jsonb_build_object(
            'visitor_id', new.id, 'ext_user', new.ext_user, 'name', new.name, 'email', new.email,
            'attributes', new.attributes, 'language', new.language, 'first_seen_at', new.first_seen_at);
    end if;

    foreach kind in array kinds loop
        if every_type or kind = any(wanted) then
            execute format('insert into %I.webhook_events (type, ordering_key, data) values ($1, $2, $3)', tg_table_schema)
                using kind, new.id, snapshot;
        end if;
    end loop;
    return null;
end;
$$;
