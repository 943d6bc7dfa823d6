-- The largest single attachment each plan accepts (the total is attachment_storage_mb).
alter table control.plans add column attachment_max_mb integer not null default 10
    check (attachment_max_mb between 1 and 100);
update control.plans set attachment_max_mb = case id when 'growth' then 25 when 'scale' then 50 else 10 end;
