-- The compliance feed (docs/compliance-feed.md): every message (with notes and system events) and
-- every audit entry in the order their transactions committed, for external archives.
-- A row's place is (feed_epoch, feed_txid, id): the transaction that wrote it
-- (`pg_current_xact_id()`), and an epoch that a move to another database raises (its transaction
-- ids are another counter), so rows written after a move come after every copied row. Rows from
-- before this migration are epoch 0 (all committed, in id order). The feed returns a row only once
-- every transaction that could still write before it has ended (its txid is below the snapshot's
-- xmin), so a cursor never skips a late commit.
-- Constant defaults first (no table rewrite), then the live ones for new rows.
alter table messages
    add column feed_epoch integer not null default 0,
    add column feed_txid xid8 not null default '0';
alter table messages
    alter column feed_epoch set default 1,
    alter column feed_txid set default pg_current_xact_id();
create index messages_feed_idx on messages (feed_epoch, feed_txid, id);

alter table audit_log
    add column feed_epoch integer not null default 0,
    add column feed_txid xid8 not null default '0';
alter table audit_log
    alter column feed_epoch set default 1,
    alter column feed_txid set default pg_current_xact_id();
create index audit_log_feed_idx on audit_log (feed_epoch, feed_txid, id);
