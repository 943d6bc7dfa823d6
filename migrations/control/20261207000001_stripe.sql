-- Stripe billing (docs/billing.md, "Stripe"): each workspace's customer and subscription as
-- Stripe last reported them (webhooks re-read the subscription, so these columns hold its state,
-- never a replay of events), and the events already applied (Stripe delivers at least once).
alter table control.tenants
    add column stripe_customer_id text,
    add column stripe_subscription_id text,
    -- Stripe's status: trialing, active, past_due, unpaid, canceled, incomplete,
    -- incomplete_expired, paused.
    add column subscription_status text,
    add column subscription_period_end timestamptz,
    add column subscription_cancel_at_period_end boolean not null default false,
    -- When payments started failing (past_due or unpaid); the grace period counts from here.
    add column payment_failing_since timestamptz,
    -- The seats (subscription quantity) Stripe bills now.
    add column billed_seats integer;

create unique index tenants_stripe_customer_key on control.tenants (stripe_customer_id)
    where stripe_customer_id is not null;
create index tenants_subscribed_idx on control.tenants (id) where stripe_subscription_id is not null;

create table control.stripe_events (
    id text primary key,
    type text not null,
    applied_at timestamptz not null default now()
);
