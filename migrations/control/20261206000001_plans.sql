-- Plans as data (issue 16, docs/billing.md): Free, Starter and Pro, every number and feature a
-- row the operator edits (`kefu plans`), read by every node on each check (no deploy, no cache).
-- A trial is not a plan any more: a new workspace is on the plan with the longest `trial_days`
-- (Pro) until `control.tenants.trial_ends_at`, then on Free unless it subscribed.

alter table control.plans
    -- Order on the billing page; plans with `public = false` are not offered (grandfathered or
    -- custom plans stay assignable by the operator).
    add column position integer not null default 0,
    add column public boolean not null default true,
    -- Display price per seat and month, in the currency's minor unit; Stripe's price is the
    -- truth at checkout.
    add column price_per_seat_cents integer not null default 0 check (price_per_seat_cents >= 0),
    add column currency text not null default 'usd' check (currency ~ '^[a-z]{3}$'),
    -- The Stripe price billed per seat (null: not sold through Stripe, e.g. Free).
    add column stripe_price_id text,
    -- Requests per minute for the workspace's API keys together, shared by every node.
    add column api_requests_per_minute integer not null default 60 check (api_requests_per_minute >= 0),
    -- What the plan includes besides numbers.
    add column features text[] not null default '{}'
        check (features <@ array['bot', 'api', 'regions', 'analytics_export']::text[]);

insert into control.plans (id, name, seats, conversations_per_month, attachment_storage_mb, attachment_max_mb,
                           kb_entries, max_retention_days, export_conversations, trial_days, position,
                           price_per_seat_cents, api_requests_per_minute, features) values
    ('free', 'Free', 2, 100, 100, 5, 20, 90, 1000, 0, 0, 0, 0, '{}'),
    ('pro', 'Pro', 50, 20000, 20480, 25, 2000, 1825, 1000000, 14, 2, 3900, 600,
     '{bot,api,regions,analytics_export}');
update control.plans set position = 1, price_per_seat_cents = 1500, api_requests_per_minute = 120,
    features = '{api,analytics_export}', trial_days = 0
    where id = 'starter';

-- The old ids fold into the new ones: a trial keeps its end date on Pro.
update control.tenants set plan_id = 'pro' where plan_id in ('trial', 'growth', 'scale');
delete from control.plans where id in ('trial', 'growth', 'scale');

-- When the workspace moved to its plan: a lower plan's history bound is applied by the retention
-- job only 30 days after a change (time to upgrade back or export), so a downgrade never deletes
-- history at once.
alter table control.tenants add column plan_since timestamptz not null default now();
