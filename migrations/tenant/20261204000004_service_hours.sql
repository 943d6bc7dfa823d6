-- Service hours (F21, issue 14): business hours with special days (holidays, changed hours) and
-- the automatic replies, as their own versioned document (kefu_protocol::hours::ServiceHours).
-- They live on the widget_settings row rather than in a table of their own: a tenant schema adds
-- no relation for them (docs/tenancy.md counts relations per schema).
alter table widget_settings
    add column service_hours jsonb not null default '{}'::jsonb,
    add column service_hours_version bigint not null default 1,
    add column service_hours_updated_at timestamptz not null default now();

-- Business hours used to be part of the widget document.
update widget_settings
   set service_hours = jsonb_build_object('business_hours', settings->'business_hours')
 where jsonb_typeof(settings->'business_hours') = 'object';
update widget_settings set settings = settings - 'business_hours' where settings ? 'business_hours';

-- Automatic replies are written by Kefu on the team's behalf: sender kind `auto`, and which
-- reply it was (a greeting, an away message, or the message that closed an idle conversation), so
-- each is sent once where it should be.
alter table messages add column auto_reply text;
alter table messages add constraint messages_auto_reply_check
    check (auto_reply in ('greeting', 'away', 'closing')) not valid;
alter table messages drop constraint messages_sender_kind_check;
alter table messages add constraint messages_sender_kind_check
    check (sender_kind in ('visitor', 'agent', 'system', 'bot', 'auto')) not valid;
