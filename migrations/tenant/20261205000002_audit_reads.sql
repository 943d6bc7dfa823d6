-- The access audit (issue 15): reads are recorded too (searches, transcripts, exports,
-- attachment downloads), so the log grows with use and is filtered and paged by action, actor
-- and target, newest first (keyset on id). A repeated read by the same actor within the hour is
-- recorded once: its check looks up (target, action).
create index audit_log_action_idx on audit_log (action, id desc);
create index audit_log_actor_idx on audit_log (actor_user_id, id desc) where actor_user_id is not null;
create index audit_log_target_idx on audit_log (target, action, id desc) where target is not null;
