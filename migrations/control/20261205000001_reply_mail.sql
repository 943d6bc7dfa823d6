-- Replies a visitor has not read are emailed to them (issue 14, leave a message by email): one
-- row per conversation with an agent's reply waiting to be mailed, due after a short delay (the
-- visitor may read it in the widget meanwhile). In the control schema so that every node's
-- worker finds due rows of every tenant with one indexed read.
create table control.reply_mail_due (
    tenant_id uuid not null references control.tenants (id) on delete cascade,
    conversation_id uuid not null,
    due_at timestamptz not null,
    primary key (tenant_id, conversation_id)
);
create index reply_mail_due_at on control.reply_mail_due (due_at);
