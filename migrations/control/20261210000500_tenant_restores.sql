-- Per-tenant restore (issue 18, docs/backups.md "Restoring one workspace"). `kefu tenants restore`
-- replaces a workspace's data with an archive's in one transaction and sets `restored_at` in it.
-- Agent sockets admitted before that compare it at their periodic membership re-check and
-- reconnect (as they do when the workspace moved to another database), so consoles re-read what
-- the restore changed.
alter table control.tenants add column restored_at timestamptz;
