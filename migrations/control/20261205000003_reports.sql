-- Scheduled analytics reports (issue 15, docs/analytics.md "Reports"): daily and weekly mails to
-- chosen members, in each member's language, with a chart image.
-- The language a member reads Kefu in (the console sets it when they choose); mails to members
-- without one are bilingual.
alter table control.users add column language text check (language in ('en', 'zh-CN'));
-- Mail with an HTML body and one inline PNG (`cid:chart`), besides the plain text.
alter table control.outbox_mail
    add column body_html text,
    add column inline_png bytea check (octet_length(inline_png) <= 262144);
-- One row per tenant and kind; every node's report worker takes due rows (`skip locked`), queues
-- the mails and moves `next_at` to the next local 08:00 (daily) or Monday 08:00 (weekly) in the
-- same transaction, so each report is sent once.
create table control.report_subscriptions (
    tenant_id uuid not null references control.tenants (id) on delete cascade,
    kind text not null check (kind in ('daily', 'weekly')),
    recipients uuid[] not null default '{}' check (cardinality(recipients) <= 50),
    next_at timestamptz not null,
    last_sent_at timestamptz,
    updated_at timestamptz not null default now(),
    primary key (tenant_id, kind)
);
create index report_subscriptions_due_idx on control.report_subscriptions (next_at);
