-- The FAQ bot's knowledge base: most entries each plan holds (F20).
alter table control.plans add column kb_entries integer not null default 200 check (kb_entries between 1 and 100000);
update control.plans set kb_entries = case id when 'starter' then 500 when 'growth' then 2000 when 'scale' then 10000 else 200 end;
