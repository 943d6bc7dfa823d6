//! The search index: tenant-scoped `search_docs` (a message's terms) and `search_pending` (the
//! queue the `messages` trigger fills), the database's `kefu.search_dirty` (which tenants have a
//! queue), and the search itself (docs/search.md).

use chrono::{DateTime, Utc};
use kefu_protocol::ws::ConversationStatus;
use kefu_protocol::{ConversationId, MessageId, TeamId, TenantId, UserId, VisitorId};
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::TenantTx;
use super::messages::SenderKind;

/// A queued message with what its index entry needs.
#[derive(Debug, sqlx::FromRow)]
pub struct Pending {
    /// The message.
    pub id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// Its text.
    pub body: String,
    /// Its attachment's file name, if any (searchable too).
    pub attachment_name: Option<String>,
}

/// Takes up to `limit` queued messages off the queue (skipping those another indexer holds).
/// The caller indexes them in the same transaction.
pub async fn take_pending(tx: &mut TenantTx, limit: i64) -> sqlx::Result<Vec<Pending>> {
    sqlx::query_as(
        "with taken as (
             select message_id from search_pending order by message_id for update skip locked limit $1
         ), gone as (
             delete from search_pending p using taken where p.message_id = taken.message_id
             returning p.message_id
         )
         select m.id, m.conversation_id, m.created_at, m.body, m.attachment ->> 'name' as attachment_name
         from gone join messages m on m.id = gone.message_id",
    )
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// Queues every message of the tenant again and empties the index (a re-index).
pub async fn queue_everything(tx: &mut TenantTx) -> sqlx::Result<u64> {
    sqlx::query("delete from search_docs").execute(tx.conn()).await?;
    let queued = sqlx::query("insert into search_pending (message_id) select id from messages on conflict do nothing")
        .execute(tx.conn())
        .await?
        .rows_affected();
    mark_dirty(tx).await?;
    Ok(queued)
}

/// Messages stored.
pub async fn message_count(tx: &mut TenantTx) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from messages").fetch_one(tx.conn()).await
}

/// Messages waiting to be indexed.
pub async fn pending_count(tx: &mut TenantTx) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from search_pending").fetch_one(tx.conn()).await
}

/// One index entry: the message, its conversation, its time and its terms (`tsvector` input).
pub struct Doc {
    /// The message.
    pub message: MessageId,
    /// Its conversation.
    pub conversation: ConversationId,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// `crate::search::text::document`.
    pub terms: String,
}

/// Writes index entries (an entry already there is kept).
pub async fn insert_docs(tx: &mut TenantTx, docs: &[Doc]) -> sqlx::Result<()> {
    if docs.is_empty() {
        return Ok(());
    }
    let messages: Vec<MessageId> = docs.iter().map(|d| d.message).collect();
    let conversations: Vec<ConversationId> = docs.iter().map(|d| d.conversation).collect();
    let times: Vec<DateTime<Utc>> = docs.iter().map(|d| d.created_at).collect();
    let terms: Vec<&str> = docs.iter().map(|d| d.terms.as_str()).collect();
    sqlx::query(
        "insert into search_docs (message_id, conversation_id, created_at, doc)
         select m, c, t, d::tsvector from unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[]) as u(m, c, t, d)
         on conflict (message_id) do nothing",
    )
    .bind(&messages)
    .bind(&conversations)
    .bind(&times)
    .bind(&terms)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The transactions that marked the tenant as having queued messages, as text (`xid8`).
pub async fn dirty_marks(tx: &mut TenantTx) -> sqlx::Result<Vec<String>> {
    let tenant = tx.tenant_id();
    sqlx::query_scalar("select txid::text from kefu.search_dirty where tenant_id = $1")
        .bind(tenant)
        .fetch_all(tx.conn())
        .await
}

/// Removes the marks read by [`dirty_marks`] once their messages were indexed (marks added
/// meanwhile stay).
pub async fn clear_dirty_marks(tx: &mut TenantTx, marks: &[String]) -> sqlx::Result<()> {
    let tenant = tx.tenant_id();
    sqlx::query("delete from kefu.search_dirty where tenant_id = $1 and txid::text = any($2)")
        .bind(tenant)
        .bind(marks)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Marks the tenant as having queued messages.
pub(in crate::db) async fn mark_dirty(tx: &mut TenantTx) -> sqlx::Result<()> {
    let tenant = tx.tenant_id();
    sqlx::query(
        "insert into kefu.search_dirty (tenant_id, txid) values ($1, pg_current_xact_id()) on conflict do nothing",
    )
    .bind(tenant)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Tenants of this tenant database with queued messages (`conn` on the database).
pub async fn dirty_tenants(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<(TenantId, bool)>> {
    sqlx::query_as(
        "select d.tenant_id, exists (select 1 from kefu.tenant_schemas s where s.tenant_id = d.tenant_id)
         from (select distinct tenant_id from kefu.search_dirty) d limit $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Forgets the marks of a tenant whose schema is not in this database (deleted or moved away).
pub async fn forget_tenant(conn: &mut PgConnection, tenant: TenantId) -> sqlx::Result<()> {
    sqlx::query("delete from kefu.search_dirty where tenant_id = $1").bind(tenant).execute(conn).await?;
    Ok(())
}

/// How results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newest message first.
    Newest,
    /// Best match first (`ts_rank`), then newest.
    Relevance,
}

/// Where the previous page ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cursor {
    /// The last hit's rank (relevance order only).
    pub rank: Option<f32>,
    /// Its time.
    pub created_at: DateTime<Utc>,
    /// Its message.
    pub id: MessageId,
}

impl Cursor {
    /// Reads a cursor a client passed back; `None` when it is not one.
    pub fn parse(cursor: &str) -> Option<Self> {
        let mut parts = cursor.split('.');
        let micros = parts.next()?.parse().ok()?;
        let id = MessageId::from_uuid(parts.next()?.parse().ok()?);
        let rank = match parts.next() {
            None => None,
            Some(bits) => Some(f32::from_bits(bits.parse().ok()?)).filter(|r| r.is_finite()),
        };
        if parts.next().is_some() {
            return None;
        }
        Some(Self { rank, created_at: DateTime::from_timestamp_micros(micros)?, id })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.created_at.timestamp_micros(), self.id.simple())?;
        if let Some(rank) = self.rank {
            // The exact bits: the next page compares ranks for equality.
            write!(f, ".{}", rank.to_bits())?;
        }
        Ok(())
    }
}

/// Which messages a search asks for.
#[derive(Debug, Clone)]
pub struct Filter {
    /// The `tsquery` input, when there are keywords.
    pub query: Option<String>,
    /// Stored at or after.
    pub from: Option<DateTime<Utc>>,
    /// Stored before.
    pub to: Option<DateTime<Utc>>,
    /// In conversations this member was assigned to or wrote in.
    pub agent: Option<UserId>,
    /// This visitor's conversations.
    pub visitor: Option<VisitorId>,
    /// One conversation.
    pub conversation: Option<ConversationId>,
    /// In this team's conversations.
    pub team: Option<TeamId>,
    /// In conversations with this (normalised) tag.
    pub tag: Option<String>,
    /// In open or closed conversations.
    pub status: Option<ConversationStatus>,
    /// In conversations rated one of these.
    pub ratings: Vec<i16>,
    /// Written by this kind of author.
    pub sender: Option<SenderKind>,
    /// Notes only (`Some(true)`), public messages only (`Some(false)`).
    pub private: Option<bool>,
    /// Order.
    pub order: Order,
    /// After this hit.
    pub after: Option<Cursor>,
    /// Page size.
    pub limit: i64,
}

/// One hit.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Hit {
    /// The message.
    pub id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Its time.
    pub created_at: DateTime<Utc>,
    /// How well it matched (0 without keywords).
    pub rank: f32,
}

/// The messages matching `filter`, a page in its order. With keywords the index is searched
/// (`search_docs`); without, `messages` is read by time.
pub async fn search(tx: &mut TenantTx, filter: &Filter) -> sqlx::Result<Vec<Hit>> {
    let mut sql: QueryBuilder<Postgres> = QueryBuilder::new("");
    let keyword = filter.query.is_some();
    push_message_source(
        &mut sql,
        filter,
        "select d.message_id as id, d.conversation_id, d.created_at, ts_rank(d.doc, q.q) as rank",
        "select d.id, d.conversation_id, d.created_at, 0::real as rank",
    );
    if has_conversation_conditions(filter) {
        sql.push(" join conversations c on c.id = d.conversation_id");
    }
    sql.push(" where true");
    push_message_conditions(&mut sql, filter);
    if let Some(conversation) = filter.conversation {
        sql.push(" and d.conversation_id = ").push_bind(conversation);
    }
    push_conversation_conditions(&mut sql, filter);
    let id = if keyword { "d.message_id" } else { "d.id" };
    match (filter.order, keyword) {
        (Order::Relevance, true) => {
            if let Some(after) = filter.after {
                sql.push(format!(" and (ts_rank(d.doc, q.q), d.created_at, {id}) < ("))
                    .push_bind(after.rank.unwrap_or(f32::MAX))
                    .push("::real, ")
                    .push_bind(after.created_at)
                    .push(", ")
                    .push_bind(after.id)
                    .push(")");
            }
            sql.push(format!(" order by rank desc, d.created_at desc, {id} desc"));
        }
        _ => {
            if let Some(after) = filter.after {
                sql.push(format!(" and (d.created_at, {id}) < ("))
                    .push_bind(after.created_at)
                    .push(", ")
                    .push_bind(after.id)
                    .push(")");
            }
            sql.push(format!(" order by d.created_at desc, {id} desc"));
        }
    }
    sql.push(" limit ").push_bind(filter.limit);
    sql.build_query_as().fetch_all(tx.conn()).await
}

/// The conversations with at least one message matching `filter`'s message conditions (keywords,
/// author, time) and matching its conversation conditions, newest first, after `after` (an id),
/// at most `limit` (an export's selection).
pub async fn conversations(
    tx: &mut TenantTx,
    filter: &Filter,
    after: Option<ConversationId>,
    limit: i64,
) -> sqlx::Result<Vec<ConversationId>> {
    let mut sql: QueryBuilder<Postgres> = QueryBuilder::new("");
    push_conversations(&mut sql, filter, after, limit);
    sql.build_query_scalar().fetch_all(tx.conn()).await
}

/// How many conversations [`conversations`] would list, counting at most `cap + 1` (so a caller
/// can refuse a selection over `cap` without counting all of it).
pub async fn count_conversations(tx: &mut TenantTx, filter: &Filter, cap: i64) -> sqlx::Result<i64> {
    let mut sql: QueryBuilder<Postgres> = QueryBuilder::new("select count(*) from (");
    push_conversations(&mut sql, filter, None, cap.saturating_add(1));
    sql.push(") s");
    sql.build_query_scalar().fetch_one(tx.conn()).await
}

fn push_conversations(sql: &mut QueryBuilder<Postgres>, filter: &Filter, after: Option<ConversationId>, limit: i64) {
    sql.push("select c.id from conversations c where true");
    if has_message_conditions(filter) {
        sql.push(" and exists (");
        push_message_source(sql, filter, "select 1", "select 1");
        sql.push(" where d.conversation_id = c.id");
        push_message_conditions(sql, filter);
        sql.push(")");
    }
    if let Some(conversation) = filter.conversation {
        sql.push(" and c.id = ").push_bind(conversation);
    }
    push_conversation_conditions(sql, filter);
    if let Some(after) = after {
        sql.push(" and c.id < ").push_bind(after);
    }
    sql.push(" order by c.id desc limit ").push_bind(limit);
}

/// `select …` from the driving table `d`: the index (with the query as `q`, and the messages as
/// `m` when an author condition needs them) with keywords, else the messages.
fn push_message_source(sql: &mut QueryBuilder<Postgres>, filter: &Filter, with_keywords: &str, without: &str) {
    if let Some(query) = &filter.query {
        sql.push(with_keywords);
        sql.push(" from search_docs d cross join (select ");
        sql.push_bind(query.clone());
        sql.push("::tsquery as q) q");
        if filter.sender.is_some() || filter.private.is_some() {
            sql.push(" join messages m on m.id = d.message_id");
        }
    } else {
        sql.push(without);
        sql.push(" from messages d");
    }
}

fn has_message_conditions(filter: &Filter) -> bool {
    filter.query.is_some()
        || filter.sender.is_some()
        || filter.private.is_some()
        || filter.from.is_some()
        || filter.to.is_some()
}

fn has_conversation_conditions(filter: &Filter) -> bool {
    filter.agent.is_some()
        || filter.visitor.is_some()
        || filter.team.is_some()
        || filter.tag.is_some()
        || filter.status.is_some()
        || !filter.ratings.is_empty()
}

/// The conditions on the message `d` (keywords, author, time).
fn push_message_conditions(sql: &mut QueryBuilder<Postgres>, filter: &Filter) {
    let keyword = filter.query.is_some();
    if keyword {
        sql.push(" and d.doc @@ q.q");
    }
    let message = if keyword { "m" } else { "d" };
    if let Some(sender) = filter.sender {
        sql.push(format!(" and {message}.sender_kind = ")).push_bind(sender.as_str());
    }
    if let Some(private) = filter.private {
        sql.push(format!(" and {message}.private = ")).push_bind(private);
    }
    if let Some(from) = filter.from {
        sql.push(" and d.created_at >= ").push_bind(from);
    }
    if let Some(to) = filter.to {
        sql.push(" and d.created_at < ").push_bind(to);
    }
}

/// The conditions on the conversation `c`.
fn push_conversation_conditions(sql: &mut QueryBuilder<Postgres>, filter: &Filter) {
    if let Some(agent) = filter.agent {
        sql.push(" and (c.assignee = ").push_bind(agent);
        sql.push(" or exists (select 1 from messages w where w.conversation_id = c.id and w.sender_kind = 'agent' and w.sender_id = ")
            .push_bind(agent)
            .push("))");
    }
    if let Some(visitor) = filter.visitor {
        sql.push(" and c.visitor_id = ").push_bind(visitor);
    }
    if let Some(team) = filter.team {
        sql.push(" and c.team_id = ").push_bind(team);
    }
    if let Some(tag) = &filter.tag {
        sql.push(" and c.tags @> array[").push_bind(tag.clone()).push("]::text[]");
    }
    if let Some(status) = filter.status {
        sql.push(" and c.status = ").push_bind(status.as_str());
    }
    if !filter.ratings.is_empty() {
        sql.push(" and c.rating = any(").push_bind(filter.ratings.clone()).push(")");
    }
}

/// The index's size on disk (table and indexes) and its entries, for the operator.
pub async fn size(tx: &mut TenantTx) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as("select pg_total_relation_size('search_docs'::regclass), (select count(*) from search_docs)")
        .fetch_one(tx.conn())
        .await
}
