//! Storing chat messages of many tenants in one statement: the typed sibling of [`TenantTx`] for
//! batched writes (group commit).
//!
//! A [`MessageBatch`] holds messages of tenants of one tenant database and only accepts messages
//! with a validated [`TenantSchema`] (which only a resolved tenant has, with its placement), and
//! [`MessageBatch::store`] calls, in that database, the shared routine
//! `kefu.store_messages_v3` (`migrations/routines/store_messages.sql`, the contract's one current
//! definition), which sets the transaction's `search_path` to exactly one tenant's schema at a
//! time. The statement runs in autocommit mode: when it returns, the whole batch is committed;
//! when it fails, none of it is.
//!
//! [`TenantTx`]: super::TenantTx

use chrono::{DateTime, Utc};
use kefu_protocol::{AttachmentId, ConversationId, MessageId, UserId, VisitorId};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, Row};
use uuid::Uuid;

use super::conversations::ConversationRow;
use super::messages::{AttachmentMeta, MessageRow, MessageSender};
use super::{DatabaseId, Databases, TenantSchema};

/// Who writes a message, and where it goes.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A visitor writing into their open conversation, opened by this message if they have none.
    Visitor {
        /// The visitor.
        visitor: VisitorId,
    },
    /// An agent writing into a given conversation.
    Agent {
        /// The agent's user id.
        agent: UserId,
        /// Their display name at the time.
        name: String,
        /// The conversation.
        conversation: ConversationId,
        /// A private note, for agents only.
        private: bool,
        /// The agent may reply in any conversation of the tenant (supervisors and up); others
        /// only in their own, ones they take part in, and unassigned ones.
        directs: bool,
    },
}

/// One message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Who and where.
    pub destination: Destination,
    /// The client's id for the message (idempotent retries).
    pub client_id: String,
    /// Text (validated: 1–4000 characters, no NUL).
    pub body: String,
    /// An uploaded, unsent attachment of the sender.
    pub attachment: Option<AttachmentId>,
}

/// What storing one message came to.
// Moved once, from the batch to its sender: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Stored {
    /// Stored now.
    New {
        /// The message.
        message: MessageRow,
        /// Its conversation after the batch.
        conversation: ConversationRow,
        /// Whether this message opened the conversation.
        opened: bool,
    },
    /// The sender already stored this client id in the conversation: the original message,
    /// and nothing new was written.
    Duplicate {
        /// The original message's id.
        message_id: MessageId,
        /// Its conversation.
        conversation_id: ConversationId,
        /// Its sequence number.
        seq: i64,
        /// When it was stored.
        created_at: DateTime<Utc>,
    },
    /// The conversation is closed.
    Closed,
    /// No such conversation in the tenant (or none could be opened for the visitor).
    NotFound,
    /// The attachment is not an unsent upload of this sender.
    BadAttachment,
    /// An agent's reply into a colleague's conversation, which they may not write to.
    Forbidden,
}

/// Messages of any tenants of one database, stored together.
pub struct MessageBatch {
    database: DatabaseId,
    /// A message of a tenant of another database was pushed (a bug of the caller): the batch
    /// refuses to be stored.
    mixed: bool,
    schema: Vec<String>,
    conversation: Vec<Option<Uuid>>,
    visitor: Vec<Option<Uuid>>,
    new_conversation: Vec<Uuid>,
    message: Vec<Uuid>,
    sender: Vec<MessageSender>,
    sender_name: Vec<Option<String>>,
    client_id: Vec<String>,
    private: Vec<bool>,
    body: Vec<String>,
    attachment: Vec<Option<Uuid>>,
    directs: Vec<bool>,
}

impl MessageBatch {
    /// An empty batch for the tenants of `database`, with room for `capacity` messages.
    pub fn new(database: DatabaseId, capacity: usize) -> Self {
        Self {
            database,
            mixed: false,
            schema: Vec::with_capacity(capacity),
            conversation: Vec::with_capacity(capacity),
            visitor: Vec::with_capacity(capacity),
            new_conversation: Vec::with_capacity(capacity),
            message: Vec::with_capacity(capacity),
            sender: Vec::with_capacity(capacity),
            sender_name: Vec::with_capacity(capacity),
            client_id: Vec::with_capacity(capacity),
            private: Vec::with_capacity(capacity),
            body: Vec::with_capacity(capacity),
            attachment: Vec::with_capacity(capacity),
            directs: Vec::with_capacity(capacity),
        }
    }

    /// Messages in the batch.
    pub fn len(&self) -> usize {
        self.message.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.message.is_empty()
    }

    /// The database the batch is stored in.
    pub fn database(&self) -> &DatabaseId {
        &self.database
    }

    /// Adds a message of the tenant whose schema is `tenant`, which must live in the batch's
    /// database (otherwise [`MessageBatch::store`] refuses the batch).
    pub fn push(&mut self, tenant: &TenantSchema, new: NewMessage) {
        self.mixed |= tenant.database() != &self.database;
        let (conversation, visitor, sender, name, private, directs) = match new.destination {
            Destination::Visitor { visitor } => {
                (None, Some(visitor), MessageSender::Visitor(visitor), None, false, false)
            }
            Destination::Agent { agent, name, conversation, private, directs } => {
                (Some(conversation), None, MessageSender::Agent(agent), Some(name), private, directs)
            }
        };
        self.schema.push(tenant.name().to_owned());
        self.conversation.push(conversation.map(|c| c.as_uuid()));
        self.visitor.push(visitor.map(|v| v.as_uuid()));
        self.new_conversation.push(Uuid::now_v7());
        self.message.push(Uuid::now_v7());
        self.sender.push(sender);
        self.sender_name.push(name);
        self.client_id.push(new.client_id);
        self.private.push(private);
        self.body.push(new.body);
        self.attachment.push(new.attachment.map(|a| a.as_uuid()));
        self.directs.push(directs);
    }

    /// Stores the batch in one statement (one transaction) and returns each message's outcome,
    /// in the order they were pushed.
    pub async fn store(self, databases: &Databases) -> sqlx::Result<Vec<Stored>> {
        if self.mixed {
            return Err(sqlx::Error::Protocol(format!(
                "a message batch for tenant database {} holds messages of another database",
                self.database
            )));
        }
        let pool = databases.tenant_pool(&self.database).await?;
        let n = self.len();
        let kinds: Vec<&str> = self.sender.iter().map(|s| s.kind().as_str()).collect();
        let senders: Vec<Uuid> = self.sender.iter().map(|s| s.id()).collect();
        let rows: Vec<OutcomeRow> = sqlx::query_as(
            "select idx, outcome, opened, message_id, seq, created_at, attachment, conversation_id,
                    conversation_visitor, conversation_status, conversation_assignee, conversation_last_seq,
                    conversation_updated_at, conversation_rating, conversation_team, conversation_tags,
                    conversation_participants, conversation_bot
             from kefu.store_messages_v3($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&self.schema)
        .bind(&self.conversation)
        .bind(&self.visitor)
        .bind(&self.new_conversation)
        .bind(&self.message)
        .bind(&kinds)
        .bind(&senders)
        .bind(&self.sender_name)
        .bind(&self.client_id)
        .bind(&self.private)
        .bind(&self.body)
        .bind(&self.attachment)
        .bind(&self.directs)
        .fetch_all(&pool)
        .await?;
        let mut outcomes: Vec<Option<Stored>> = vec![None; n];
        for row in rows {
            let index =
                usize::try_from(row.idx).ok().and_then(|i| i.checked_sub(1)).filter(|i| *i < n).ok_or_else(|| {
                    sqlx::Error::Protocol(format!("store_messages_v3 returned index {} for {n} messages", row.idx))
                })?;
            outcomes[index] = Some(self.outcome(index, row.outcome));
        }
        outcomes
            .into_iter()
            .enumerate()
            .map(|(i, o)| {
                o.ok_or_else(|| {
                    sqlx::Error::Protocol(format!("store_messages_v3 returned no row for message {}", i + 1))
                })
            })
            .collect()
    }

    /// The full outcome of message `index`: the routine returns what only the database knows
    /// (ids, sequence numbers, times, the conversation); the rest is what was pushed.
    fn outcome(&self, index: usize, outcome: Outcome) -> Stored {
        match outcome {
            Outcome::Stored { message_id, seq, created_at, attachment, conversation, opened } => Stored::New {
                message: MessageRow {
                    id: message_id,
                    conversation_id: conversation.id,
                    seq,
                    sender: self.sender[index],
                    sender_name: self.sender_name[index].clone(),
                    client_id: self.client_id[index].clone(),
                    private: self.private[index],
                    body: self.body[index].clone(),
                    created_at,
                    attachment,
                    event: None,
                    bot: None,
                },
                conversation,
                opened,
            },
            Outcome::Duplicate { message_id, conversation_id, seq, created_at } => {
                Stored::Duplicate { message_id, conversation_id, seq, created_at }
            }
            Outcome::Closed => Stored::Closed,
            Outcome::NotFound => Stored::NotFound,
            Outcome::BadAttachment => Stored::BadAttachment,
            Outcome::Forbidden => Stored::Forbidden,
        }
    }
}

/// One result row of `store_messages_v3`, decoded once into real types.
struct OutcomeRow {
    idx: i32,
    outcome: Outcome,
}

/// The outcome column and the columns it brings.
#[allow(clippy::large_enum_variant)]
enum Outcome {
    Stored {
        message_id: MessageId,
        seq: i64,
        created_at: DateTime<Utc>,
        attachment: Option<sqlx::types::Json<AttachmentMeta>>,
        conversation: ConversationRow,
        opened: bool,
    },
    Duplicate {
        message_id: MessageId,
        conversation_id: ConversationId,
        seq: i64,
        created_at: DateTime<Utc>,
    },
    Closed,
    NotFound,
    BadAttachment,
    Forbidden,
}

impl<'r> FromRow<'r, PgRow> for OutcomeRow {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        let outcome = match row.try_get::<&str, _>("outcome")? {
            "stored" => Outcome::Stored {
                message_id: row.try_get("message_id")?,
                seq: row.try_get("seq")?,
                created_at: row.try_get("created_at")?,
                attachment: row.try_get("attachment")?,
                opened: row.try_get("opened")?,
                conversation: ConversationRow {
                    id: row.try_get("conversation_id")?,
                    visitor_id: row.try_get("conversation_visitor")?,
                    status: row.try_get("conversation_status")?,
                    assignee: row.try_get("conversation_assignee")?,
                    last_seq: row.try_get("conversation_last_seq")?,
                    updated_at: row.try_get("conversation_updated_at")?,
                    rating: row.try_get("conversation_rating")?,
                    team_id: row.try_get("conversation_team")?,
                    tags: row.try_get("conversation_tags")?,
                    participants: row.try_get("conversation_participants")?,
                    bot_active: row.try_get("conversation_bot")?,
                },
            },
            "duplicate" => Outcome::Duplicate {
                message_id: row.try_get("message_id")?,
                conversation_id: row.try_get("conversation_id")?,
                seq: row.try_get("seq")?,
                created_at: row.try_get("created_at")?,
            },
            "closed" => Outcome::Closed,
            "not_found" => Outcome::NotFound,
            "bad_attachment" => Outcome::BadAttachment,
            "forbidden" => Outcome::Forbidden,
            other => {
                return Err(sqlx::Error::ColumnDecode {
                    index: "outcome".into(),
                    source: format!("unknown outcome {other:?}").into(),
                });
            }
        };
        Ok(Self { idx: row.try_get("idx")?, outcome })
    }
}
