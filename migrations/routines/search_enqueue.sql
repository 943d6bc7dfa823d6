-- kefu.search_enqueue_v1: the statement trigger on every tenant's `messages` that queues new
-- messages for the search index (docs/search.md, "Indexing").
--
-- In the inserting transaction it adds the new messages' ids to the tenant's `search_pending`,
-- and records the tenant and the transaction in `kefu.search_dirty`, so that any node finds
-- tenants with messages to index after a crash with one read per database. The indexer turns
-- pending messages into `search_docs` after commit. A tenant move copies `search_pending` with
-- the rest (`kefu.copying` is set on the copying transaction): its copied messages are not queued
-- twice, but the tenant is marked so that the destination's indexer looks at it.
create or replace function kefu.search_enqueue_v1() returns trigger
language plpgsql as $$
begin
    if current_setting('kefu.copying', true) is distinct from 'on' then
        -- The table's own schema, whatever the caller's search_path.
        execute format(
            'insert into %I.search_pending (message_id) select id from inserted on conflict do nothing',
            tg_table_schema);
    end if;
    insert into kefu.search_dirty (tenant_id, txid)
        values (substr(tg_table_schema, 3)::uuid, pg_current_xact_id())
        on conflict do nothing;
    return null;
end;
$$;
