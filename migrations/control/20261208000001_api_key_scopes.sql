-- API keys (issue 17): what a key may touch (scopes), an optional expiry, and who owns it.
--
-- A key owned by a member ('member') acts as that member, never above their current role, and is
-- revoked when they leave the workspace; a key owned by the workspace ('tenant') acts with its
-- own role and outlives its creator. Existing keys keep every scope they could use before; those
-- with a creator become theirs, and those whose creator already left are revoked now (the review
-- found keys outliving their creators). A member's key whose creator is gone (left, or the
-- account erased: created_by set null) is refused when used, whatever else happened.
alter table control.api_keys
    add column scopes text[] not null
        default array['conversations:read', 'conversations:write', 'messages:write', 'analytics:read', 'feed:read', 'admin'],
    add column expires_at timestamptz,
    add column owner text not null default 'tenant' check (owner in ('member', 'tenant'));

update control.api_keys set owner = 'member' where created_by is not null;

update control.api_keys k set revoked_at = now()
 where k.revoked_at is null and k.owner = 'member'
   and not exists (select 1 from control.memberships m where m.tenant_id = k.tenant_id and m.user_id = k.created_by);

alter table control.api_keys alter column scopes drop default, alter column owner drop default,
    add constraint api_keys_scopes_check check (
        cardinality(scopes) between 1 and 6
        and scopes <@ array['conversations:read', 'conversations:write', 'messages:write', 'analytics:read', 'feed:read', 'admin']);
