-- kefu.move_capture_v1: the trigger that records which rows of a tenant being moved changed, while
-- its data is copied to another tenant database (docs/tenancy.md, "Moving a tenant").
--
-- `kefu tenants move` installs it on every table of the tenant's schema as
--   after insert or update or delete ... for each row
--   execute function kefu.move_capture_v1('<tenant uuid>', '<primary key column>', ...)
-- and removes it when the move ends. Each change appends the changed row's primary key to
-- kefu.move_log; an update that changes the key appends the old key too. The mover later reads
-- each logged row's current state and applies it to the copy (or deletes it there), in log order.
create or replace function kefu.move_capture_v1() returns trigger
language plpgsql as $$
declare
    changed jsonb;
    previous jsonb;
    new_key jsonb := '{}';
    old_key jsonb := '{}';
    i integer;
begin
    if tg_op = 'DELETE' then
        changed := to_jsonb(old);
    else
        changed := to_jsonb(new);
    end if;
    for i in 1 .. tg_nargs - 1 loop
        new_key := new_key || jsonb_build_object(tg_argv[i], changed -> tg_argv[i]);
    end loop;
    if tg_op = 'UPDATE' then
        previous := to_jsonb(old);
        for i in 1 .. tg_nargs - 1 loop
            old_key := old_key || jsonb_build_object(tg_argv[i], previous -> tg_argv[i]);
        end loop;
        if old_key <> new_key then
            insert into kefu.move_log (tenant_id, table_name, pk) values (tg_argv[0]::uuid, tg_table_name, old_key);
        end if;
    end if;
    insert into kefu.move_log (tenant_id, table_name, pk) values (tg_argv[0]::uuid, tg_table_name, new_key);
    return null;
end;
$$;
