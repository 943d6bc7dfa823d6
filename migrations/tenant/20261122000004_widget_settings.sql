-- Widget settings (F5, F6): one document per tenant, validated by the api
-- (kefu_protocol::widget::WidgetSettings), versioned so the edge can cache and revalidate it.
create table widget_settings (
    singleton boolean primary key default true check (singleton),
    settings jsonb not null,
    -- Secret for identity verification (HMAC-SHA256 of the tenant's user id); shown to admins.
    identity_secret text check (length(identity_secret) between 32 and 128),
    version bigint not null default 1,
    updated_at timestamptz not null default now()
);
