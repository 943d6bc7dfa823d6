//! Tenant-scoped `conversations`: one thread between a visitor and the team.

use chrono::{DateTime, Utc};
use kefu_protocol::ws::ConversationStatus;
use kefu_protocol::{ConversationId, TeamId, UserId, VisitorId};

use super::TenantTx;

/// A conversation as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConversationRow {
    /// Id.
    pub id: ConversationId,
    /// The visitor.
    pub visitor_id: VisitorId,
    /// Open or closed.
    pub status: ConversationStatus,
    /// Assigned agent.
    pub assignee: Option<UserId>,
    /// Highest sequence number.
    pub last_seq: i64,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// The visitor's rating (1–5) once closed and rated.
    pub rating: Option<i16>,
    /// The team whose queue it is in.
    pub team_id: Option<TeamId>,
    /// Tags (lowercase).
    pub tags: Vec<String>,
    /// Colleagues invited in, in the order they were added.
    pub participants: Vec<UserId>,
    /// The FAQ bot is answering it (not in the queue).
    pub bot_active: bool,
}

impl ConversationRow {
    /// The wire form of the conversation (with the team's fields: `for_visitor` strips them).
    pub fn summary(&self) -> kefu_protocol::ws::ConversationSummary {
        kefu_protocol::ws::ConversationSummary {
            conversation_id: self.id,
            visitor_id: self.visitor_id,
            status: self.status,
            assignee: self.assignee,
            last_seq: self.last_seq,
            updated_at: self.updated_at,
            rating: self.rating.and_then(|r| u8::try_from(r).ok()),
            team_id: self.team_id,
            tags: self.tags.clone(),
            participants: self.participants.clone(),
            bot: self.bot_active,
        }
    }
}

const COLUMNS: &str = "id, visitor_id, status, assignee, last_seq, updated_at, rating, team_id, tags, bot_active,
    array(select p.user_id from conversation_participants p where p.conversation_id = conversations.id
          order by p.added_at) as participants";

/// The visitor's open conversation, if any.
pub async fn open_of_visitor(tx: &mut TenantTx, visitor_id: VisitorId) -> sqlx::Result<Option<ConversationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from conversations where visitor_id = $1 and status = 'open'"
    )))
    .bind(visitor_id)
    .fetch_optional(tx.conn())
    .await
}

/// One conversation.
pub async fn find(tx: &mut TenantTx, id: ConversationId) -> sqlx::Result<Option<ConversationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("select {COLUMNS} from conversations where id = $1")))
        .bind(id)
        .fetch_optional(tx.conn())
        .await
}

/// A conversation with its visitor's name and email.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WithVisitor {
    /// The conversation.
    #[sqlx(flatten)]
    pub conversation: ConversationRow,
    /// The visitor's name, if they gave one.
    pub visitor_name: Option<String>,
    /// Their email, if they gave one.
    pub visitor_email: Option<String>,
}

/// The conversations with these ids, with their visitors (any order).
pub async fn by_ids_with_visitor(tx: &mut TenantTx, ids: &[ConversationId]) -> sqlx::Result<Vec<WithVisitor>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS},
             (select v.name from visitors v where v.id = conversations.visitor_id) as visitor_name,
             (select v.email from visitors v where v.id = conversations.visitor_id) as visitor_email
         from conversations where id = any($1)"
    )))
    .bind(ids)
    .fetch_all(tx.conn())
    .await
}

/// Assigns an unassigned open conversation; `None` when it is closed or taken.
pub async fn claim(tx: &mut TenantTx, id: ConversationId, agent: UserId) -> sqlx::Result<Option<ConversationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update conversations set assignee = $2, assigned_at = coalesce(assigned_at, now()), updated_at = now(),
             bot_active = false
         where id = $1 and status = 'open' and (assignee is null or assignee = $2) returning {COLUMNS}"
    )))
    .bind(id)
    .bind(agent)
    .fetch_optional(tx.conn())
    .await
}

/// Closes an open conversation; `None` when already closed or missing.
pub async fn close(tx: &mut TenantTx, id: ConversationId) -> sqlx::Result<Option<ConversationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update conversations set status = 'closed', closed_at = now(), updated_at = now()
         where id = $1 and status = 'open' returning {COLUMNS}"
    )))
    .bind(id)
    .fetch_optional(tx.conn())
    .await
}

/// Records how far a side has read (never moves backwards, never past `last_seq`).
pub async fn mark_read(tx: &mut TenantTx, id: ConversationId, by_visitor: bool, seq: i64) -> sqlx::Result<Option<i64>> {
    let column = if by_visitor { "visitor_read_seq" } else { "agent_read_seq" };
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "update conversations set {column} = greatest({column}, least($2, last_seq)) where id = $1 returning {column}"
    )))
    .bind(id)
    .bind(seq)
    .fetch_optional(tx.conn())
    .await
}

/// A visitor's conversations, newest first (earlier conversations in the visitor panel).
pub async fn of_visitor(tx: &mut TenantTx, visitor_id: VisitorId, limit: i64) -> sqlx::Result<Vec<ConversationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from conversations where visitor_id = $1 order by created_at desc limit $2"
    )))
    .bind(visitor_id)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// Why a rating was not stored.
#[derive(Debug, PartialEq, Eq)]
pub enum RateRefused {
    /// No such conversation for this visitor.
    NotFound,
    /// Still open: ratings come after the close.
    Open,
}

/// Stores the visitor's rating of their closed conversation (a later one replaces it) and
/// returns the conversation.
pub async fn rate(
    tx: &mut TenantTx,
    id: ConversationId,
    visitor_id: VisitorId,
    rating: i16,
    comment: Option<&str>,
) -> sqlx::Result<Result<ConversationRow, RateRefused>> {
    let status: Option<ConversationStatus> =
        sqlx::query_scalar("select status from conversations where id = $1 and visitor_id = $2 for update")
            .bind(id)
            .bind(visitor_id)
            .fetch_optional(tx.conn())
            .await?;
    match status {
        None => Ok(Err(RateRefused::NotFound)),
        Some(ConversationStatus::Open) => Ok(Err(RateRefused::Open)),
        Some(ConversationStatus::Closed) => sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "update conversations set rating = $2, rating_comment = $3, rated_at = now(), updated_at = now()
             where id = $1 returning {COLUMNS}"
        )))
        .bind(id)
        .bind(rating)
        .bind(comment)
        .fetch_one(tx.conn())
        .await
        .map(Ok),
    }
}

/// A conversation as the inbox lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListedRow {
    /// The conversation.
    #[sqlx(flatten)]
    pub conversation: ConversationRow,
    /// The visitor's name, if they gave one.
    pub visitor_name: Option<String>,
    /// The visitor's email, if they gave one.
    pub visitor_email: Option<String>,
    /// Visitor messages after what the team has read.
    pub unread: i64,
    /// The latest public message's text.
    pub last_body: Option<String>,
    /// Its sender kind.
    pub last_sender_kind: Option<super::messages::SenderKind>,
    /// When it was sent.
    pub last_at: Option<DateTime<Utc>>,
}

/// Which conversations the inbox asks for.
#[derive(Debug, Clone)]
pub struct ListFilter {
    /// Only this team's.
    pub team: Option<TeamId>,
    /// Only those with this (normalised) tag.
    pub tag: Option<String>,
    /// Open or closed; `None` for both.
    pub status: Option<ConversationStatus>,
    /// `Some(None)`: unassigned only; `Some(Some(id))`: that agent's; `None`: anyone's.
    pub assignee: Option<Option<UserId>>,
    /// Only conversations older than this (the previous page's last).
    pub before: Option<ListCursor>,
    /// Page size.
    pub limit: i64,
}

/// A position in the inbox: the `(updated_at, id)` of a page's last conversation, written
/// `<microseconds>.<32 hex digits>` for clients to pass back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListCursor {
    /// Its last activity.
    pub updated_at: DateTime<Utc>,
    /// Its id.
    pub id: ConversationId,
}

impl ListCursor {
    /// The cursor after `row`.
    pub fn of(row: &ConversationRow) -> Self {
        Self { updated_at: row.updated_at, id: row.id }
    }

    /// Reads a cursor a client passed back; `None` when it is not one.
    pub fn parse(cursor: &str) -> Option<Self> {
        let (micros, id) = cursor.split_once('.')?;
        Some(Self {
            updated_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: ConversationId::from_uuid(id.parse().ok()?),
        })
    }
}

impl std::fmt::Display for ListCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.updated_at.timestamp_micros(), self.id.simple())
    }
}

/// Conversations by last activity, newest first, with their visitor and latest message.
pub async fn list(tx: &mut TenantTx, filter: &ListFilter) -> sqlx::Result<Vec<ListedRow>> {
    let (before_at, before_id) = filter.before.map(|c| (c.updated_at, c.id)).unzip();
    let assignee_filter = match filter.assignee {
        None => "any",
        Some(None) => "none",
        Some(Some(_)) => "user",
    };
    sqlx::query_as(
        "select c.id, c.visitor_id, c.status, c.assignee, c.last_seq, c.updated_at, c.rating, c.team_id, c.tags, c.bot_active,
                array(select p.user_id from conversation_participants p where p.conversation_id = c.id
                      order by p.added_at) as participants,
                v.name as visitor_name, v.email as visitor_email,
                (select count(*) from messages m
                 where m.conversation_id = c.id and m.sender_kind = 'visitor' and m.seq > c.agent_read_seq) as unread,
                lm.body as last_body, lm.sender_kind as last_sender_kind, lm.created_at as last_at
         from conversations c
         join visitors v on v.id = c.visitor_id
         left join lateral (
             select m.body, m.sender_kind, m.created_at from messages m
             where m.conversation_id = c.id and not m.private order by m.seq desc limit 1
         ) lm on true
         where ($1::text is null or c.status = $1)
           and case $2 when 'none' then c.assignee is null when 'user' then c.assignee = $3 else true end
           and ($4::timestamptz is null or (c.updated_at, c.id) < ($4, $5))
           and ($7::uuid is null or c.team_id = $7)
           and ($8::text is null or c.tags @> array[$8::text])
         order by c.updated_at desc, c.id desc
         limit $6",
    )
    .bind(filter.status)
    .bind(assignee_filter)
    .bind(filter.assignee.flatten())
    .bind(before_at)
    .bind(before_id)
    .bind(filter.limit)
    .bind(filter.team)
    .bind(filter.tag.as_deref())
    .fetch_all(tx.conn())
    .await
}

/// One conversation, locked for the rest of the transaction (transfer, reopen, participants).
pub async fn lock(tx: &mut TenantTx, id: ConversationId) -> sqlx::Result<Option<ConversationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("select {COLUMNS} from conversations where id = $1 for update")))
        .bind(id)
        .fetch_optional(tx.conn())
        .await
}

/// Open conversations assigned to an agent (what `max_concurrent_chats` limits).
pub async fn open_assigned(tx: &mut TenantTx, agent: UserId) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from conversations where assignee = $1 and status = 'open'")
        .bind(agent)
        .fetch_one(tx.conn())
        .await
}

/// Whether the visitor has an open conversation other than `id`.
pub async fn visitor_has_other_open(
    tx: &mut TenantTx,
    visitor_id: VisitorId,
    id: ConversationId,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (select 1 from conversations where visitor_id = $1 and status = 'open' and id <> $2)",
    )
    .bind(visitor_id)
    .bind(id)
    .fetch_one(tx.conn())
    .await
}

/// Opens a closed conversation again, keeping its assignee.
pub async fn reopen(tx: &mut TenantTx, id: ConversationId) -> sqlx::Result<ConversationRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update conversations set status = 'open', closed_at = null, updated_at = now()
         where id = $1 returning {COLUMNS}"
    )))
    .bind(id)
    .fetch_one(tx.conn())
    .await
}

/// Hands a conversation to an agent (keeping its team) or to a team's queue (no assignee).
pub async fn transfer(tx: &mut TenantTx, id: ConversationId, to: Transfer) -> sqlx::Result<ConversationRow> {
    let (agent, team) = match to {
        Transfer::Agent(agent) => (Some(agent), None),
        Transfer::Team(team) => (None, Some(team)),
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update conversations set assignee = $2, team_id = coalesce($3, team_id),
             assigned_at = case when $2::uuid is null then assigned_at else coalesce(assigned_at, now()) end,
             updated_at = now(), bot_active = false
         where id = $1 returning {COLUMNS}"
    )))
    .bind(id)
    .bind(agent)
    .bind(team)
    .fetch_one(tx.conn())
    .await
}

/// Where a transfer sends a conversation.
#[derive(Debug, Clone, Copy)]
pub enum Transfer {
    /// To this agent.
    Agent(UserId),
    /// To this team's queue.
    Team(TeamId),
}

/// Replaces a conversation's tags; `None` when it does not exist.
pub async fn set_tags(tx: &mut TenantTx, id: ConversationId, tags: &[String]) -> sqlx::Result<Option<ConversationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update conversations set tags = $2, updated_at = now() where id = $1 returning {COLUMNS}"
    )))
    .bind(id)
    .bind(tags)
    .fetch_optional(tx.conn())
    .await
}

/// Adds a colleague to a conversation; false when they already were in it.
pub async fn add_participant(tx: &mut TenantTx, id: ConversationId, user: UserId, by: UserId) -> sqlx::Result<bool> {
    let added = sqlx::query(
        "insert into conversation_participants (conversation_id, user_id, added_by) values ($1, $2, $3)
         on conflict do nothing",
    )
    .bind(id)
    .bind(user)
    .bind(by)
    .execute(tx.conn())
    .await?;
    Ok(added.rows_affected() == 1)
}

/// The last sequence number of each conversation of `ids` that exists.
pub async fn last_seqs(tx: &mut TenantTx, ids: &[ConversationId]) -> sqlx::Result<Vec<(ConversationId, i64)>> {
    sqlx::query_as("select id, last_seq from conversations where id = any($1)").bind(ids).fetch_all(tx.conn()).await
}
