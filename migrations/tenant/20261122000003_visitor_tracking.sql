-- Visitor tracking (F13): device, language and country from the connection, first referrer and
-- campaign, and the history of pages viewed.

alter table visitors
    add column browser text check (length(browser) <= 80),
    add column os text check (length(os) <= 80),
    add column device text check (length(device) <= 40),
    add column language text check (length(language) <= 35),
    add column country text check (country ~ '^[A-Z]{2}$'),
    add column first_referrer text check (length(first_referrer) <= 2048),
    add column first_utm jsonb not null default '{}';

create table page_views (
    id bigint generated always as identity primary key,
    visitor_id uuid not null references visitors (id) on delete cascade,
    url text not null check (length(url) <= 2048),
    title text check (length(title) <= 2048),
    referrer text check (length(referrer) <= 2048),
    utm jsonb not null default '{}',
    viewed_at timestamptz not null default now()
);
create index page_views_visitor_idx on page_views (visitor_id, viewed_at desc);
