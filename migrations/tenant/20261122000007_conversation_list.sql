-- The console's inbox lists conversations by last activity (GET /api/v1/conversations).
create index conversations_updated_idx on conversations (updated_at desc, id desc);
