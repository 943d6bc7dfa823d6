-- Quotas (issue 16, docs/billing.md "Conversations per month"). Every node counts the
-- conversations opened this month (the workspace's time zone) in Redis, re-read from Postgres
-- whenever Redis lost the count; when the plan's number is reached the node records here until
-- when the month's quota is used up. A conversation opened before then is an offline message: it
-- is stored and shown to agents like any other, but it does not start with the bot nor wait in
-- the queue, and the widget shows the visitor the offline form.
create table quota_state (
    singleton boolean primary key default true check (singleton),
    -- The end of the month whose conversations are used up (null: room left).
    conversations_full_until timestamptz
);
insert into quota_state default values;

-- Existing rows are within quota. New rows get no default: an insert that does not say (every
-- conversation a visitor opens) is decided by the trigger below, while a copy that does say (a
-- tenant move) keeps its value.
alter table conversations add column over_quota boolean not null default false;
alter table conversations alter column over_quota drop default;

create function conversation_over_quota() returns trigger
language plpgsql as $$
begin
    if new.over_quota is null then
        -- The table's own schema, whatever the caller's search_path.
        execute format('select coalesce((select now() < q.conversations_full_until from %I.quota_state q), false)',
                       tg_table_schema)
            into new.over_quota;
        -- An offline message is for people: the bot's trigger (which fires after this one, by
        -- name) leaves a decided value alone.
        if new.over_quota and new.bot_active is null then
            new.bot_active := false;
        end if;
    end if;
    return new;
end;
$$;
create trigger conversations_over_quota before insert on conversations
    for each row execute function conversation_over_quota();
