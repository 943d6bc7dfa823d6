//! The compliance feed's reads (docs/compliance-feed.md): messages and audit entries of the
//! transaction's tenant in commit order after a position, only as far as every transaction that
//! could still commit before it has ended; and the feed epoch a move raises.

use std::fmt;
use std::str::FromStr;

use kefu_protocol::MessageId;
use sqlx::PgConnection;

use super::audit::AuditRow;
use super::messages::MessageRow;
use super::{TenantSchema, TenantTx};

/// Which table a row of the feed comes from; within one transaction audit entries come first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `audit_log`.
    Audit,
    /// `messages`.
    Message,
}

/// A place in the feed: `(epoch, transaction, kind, id)`, as `1.7513.m.<uuid>` or `1.7513.a.42`
/// (opaque to clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// Raised by each move of the tenant to another database.
    pub epoch: i32,
    /// The writing transaction's id (`xid8`).
    pub txid: u64,
    /// The table.
    pub kind: Kind,
    /// The row's id within its table (a message's UUID as u128, an audit entry's number).
    pub id: u128,
}

impl Position {
    /// Before everything.
    pub const START: Position = Position { epoch: i32::MIN, txid: 0, kind: Kind::Audit, id: 0 };
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Audit => write!(f, "{}.{}.a.{}", self.epoch, self.txid, self.id),
            Kind::Message => write!(f, "{}.{}.m.{}", self.epoch, self.txid, uuid::Uuid::from_u128(self.id).simple()),
        }
    }
}

impl FromStr for Position {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let mut parts = s.splitn(4, '.');
        let (Some(epoch), Some(txid), Some(kind), Some(id)) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(());
        };
        let epoch = epoch.parse().map_err(|_| ())?;
        let txid = txid.parse().map_err(|_| ())?;
        let (kind, id) = match kind {
            "a" => (Kind::Audit, u128::from(id.parse::<u64>().map_err(|_| ())?)),
            "m" if id.len() == 32 => (Kind::Message, uuid::Uuid::try_parse(id).map_err(|_| ())?.as_u128()),
            _ => return Err(()),
        };
        Ok(Position { epoch, txid, kind, id })
    }
}

/// A message in the feed.
#[derive(Debug, sqlx::FromRow)]
pub struct FeedMessage {
    /// Its epoch.
    pub feed_epoch: i32,
    /// Its transaction (as text: `xid8` has no binary decoding here).
    pub feed_txid: String,
    /// The message.
    #[sqlx(flatten)]
    pub message: MessageRow,
}

/// An audit entry in the feed.
#[derive(Debug, sqlx::FromRow)]
pub struct FeedAudit {
    /// Its epoch.
    pub feed_epoch: i32,
    /// Its transaction.
    pub feed_txid: String,
    /// The entry.
    #[sqlx(flatten)]
    pub entry: AuditRow,
}

/// The default of `feed_epoch` on a `messages` table (named as `to_regclass` takes it).
async fn epoch_default(conn: &mut PgConnection, messages: &str) -> sqlx::Result<i32> {
    let default: Option<String> = sqlx::query_scalar(
        "select pg_get_expr(d.adbin, d.adrelid) from pg_attrdef d
         join pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum
         where d.adrelid = to_regclass($1) and a.attname = 'feed_epoch'",
    )
    .bind(messages)
    .fetch_optional(conn)
    .await?;
    Ok(default.and_then(|d| d.trim().parse().ok()).unwrap_or(1))
}

/// The epoch new rows of the transaction's tenant get (the column default a move raises).
pub async fn current_epoch(tx: &mut TenantTx) -> sqlx::Result<i32> {
    epoch_default(tx.conn(), "messages").await
}

/// The horizon: every transaction below it has ended (the snapshot's xmin), so no row can still
/// commit before a row under it. Read once per page, so both tables are cut at the same place.
pub async fn horizon(tx: &mut TenantTx) -> sqlx::Result<String> {
    sqlx::query_scalar("select pg_snapshot_xmin(pg_current_snapshot())::text").fetch_one(tx.conn()).await
}

/// Up to `limit` messages after `after`, in feed order, of the current `epoch` only below
/// `horizon`.
pub async fn messages(
    tx: &mut TenantTx,
    after: Position,
    epoch: i32,
    horizon: &str,
    limit: i64,
) -> sqlx::Result<Vec<FeedMessage>> {
    // Within the cursor's transaction, messages come after its audit entries: from an audit
    // position every message of that transaction is next (the nil UUID is below every id).
    let id = if after.kind == Kind::Message { uuid::Uuid::from_u128(after.id) } else { uuid::Uuid::nil() };
    sqlx::query_as(
        "select feed_epoch, feed_txid::text as feed_txid, id, conversation_id, seq, sender_kind, sender_id,
                sender_name, client_id, private, body, created_at, attachment, event, bot
         from messages
         where (feed_epoch, feed_txid, id) > ($1, $2::text::xid8, $3)
           and (feed_epoch < $4 or feed_txid < $6::text::xid8)
         order by feed_epoch, feed_txid, id limit $5",
    )
    .bind(after.epoch)
    .bind(after.txid.to_string())
    .bind(id)
    .bind(epoch)
    .bind(limit)
    .bind(horizon)
    .fetch_all(tx.conn())
    .await
}

/// Up to `limit` audit entries after `after`, in feed order, of the current `epoch` only below
/// `horizon`.
pub async fn audit(
    tx: &mut TenantTx,
    after: Position,
    epoch: i32,
    horizon: &str,
    limit: i64,
) -> sqlx::Result<Vec<FeedAudit>> {
    // From a message position, the audit entries of that transaction are behind.
    let id = if after.kind == Kind::Audit { i64::try_from(after.id).unwrap_or(i64::MAX) } else { i64::MAX };
    sqlx::query_as(
        "select feed_epoch, feed_txid::text as feed_txid, id, occurred_at, actor_user_id, actor_api_key_id, action,
                target, details
         from audit_log
         where (feed_epoch, feed_txid, id) > ($1, $2::text::xid8, $3)
           and (feed_epoch < $4 or feed_txid < $6::text::xid8)
         order by feed_epoch, feed_txid, id limit $5",
    )
    .bind(after.epoch)
    .bind(after.txid.to_string())
    .bind(id)
    .bind(epoch)
    .bind(limit)
    .bind(horizon)
    .fetch_all(tx.conn())
    .await
}

/// The feed position of a message.
pub fn message_position(row: &FeedMessage) -> Position {
    let id: MessageId = row.message.id;
    Position {
        epoch: row.feed_epoch,
        txid: row.feed_txid.parse().unwrap_or(0),
        kind: Kind::Message,
        id: id.as_uuid().as_u128(),
    }
}

/// The feed position of an audit entry.
pub fn audit_position(row: &FeedAudit) -> Position {
    Position {
        epoch: row.feed_epoch,
        txid: row.feed_txid.parse().unwrap_or(0),
        kind: Kind::Audit,
        id: u128::try_from(row.entry.id).unwrap_or(0),
    }
}

/// In a move, before the copy: new rows in `target` get the epoch after `source`'s, so they come
/// after every copied row whatever the target database's transaction ids.
pub async fn raise_epoch(
    source: &mut PgConnection,
    target: &mut PgConnection,
    source_schema: &TenantSchema,
    target_schema: &TenantSchema,
) -> sqlx::Result<i32> {
    let next = epoch_default(source, &format!("{}.messages", source_schema.name())).await?.saturating_add(1);
    for table in ["messages", "audit_log"] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "alter table {}.{table} alter column feed_epoch set default {next}",
            target_schema.name()
        )))
        .execute(&mut *target)
        .await?;
    }
    Ok(next)
}
