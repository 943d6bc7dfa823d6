-- Routing rules (issue 14): the tenant's rules (kefu_protocol::rules::Rule, a JSON array kept and
-- validated by the api) with their own version, on the routing settings row (no new relation per
-- tenant schema), and the rules that already fired on each conversation (each fires once).
alter table routing_settings
    add column rules jsonb not null default '[]'::jsonb,
    add column rules_version bigint not null default 1,
    add column rules_updated_at timestamptz not null default now();
alter table conversations add column rules_fired text[] not null default '{}';
