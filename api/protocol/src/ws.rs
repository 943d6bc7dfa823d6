//! WebSocket protocol v1: the JSON text frames visitors, agents and the server exchange, their
//! limits and close codes, and the decoders that turn untrusted text into typed frames.
//!
//! Every frame is one JSON object with a `type` field. docs/protocol.md is the reference for
//! people; this module is the reference for code.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AttachmentId, ConversationId, KbEntryId, MessageId, TeamId, UserId, VisitorId};

/// The protocol version this build speaks. A client announces its version in `hello`.
pub const PROTOCOL_VERSION: u16 = 1;

/// The header the edge proves itself with when it opens a visitor socket at a region's node (the
/// edge's `api_secret`, the api's `edge.secret`): with a secret configured, the api takes visitor
/// sockets only through the edge, whose limits they would otherwise skip.
pub const EDGE_PROOF_HEADER: &str = "x-kefu-edge";

/// Limits every endpoint enforces.
pub mod limits {
    /// Largest text frame accepted, in bytes.
    pub const MAX_FRAME_BYTES: usize = 16 * 1024;
    /// Longest message body, in characters.
    pub const MAX_BODY_CHARS: usize = 4000;
    /// Longest client message id, in bytes (`[A-Za-z0-9_-]`).
    pub const MAX_CLIENT_ID_LEN: usize = 64;
    /// Longest page URL, title or referrer, in bytes.
    pub const MAX_PAGE_FIELD_BYTES: usize = 2048;
    /// Frames a client may send per second (sustained).
    pub const FRAMES_PER_SECOND: u32 = 20;
    /// Frames a client may send in a burst.
    pub const FRAME_BURST: u32 = 40;
    /// Live server frames queued for one connection before it counts as a slow consumer.
    pub const OUTBOUND_QUEUE: usize = 256;
    /// Replayed frames (resume, gap fill) queued at once for one connection; replay waits for
    /// the client to read instead of overflowing, so it never crowds out live frames.
    pub const REPLAY_WINDOW: usize = 64;
    /// Seconds between server pings.
    pub const HEARTBEAT_SECS: u64 = 20;
    /// Seconds without any frame from the client before the server closes the connection.
    pub const IDLE_TIMEOUT_SECS: u64 = 60;
    /// Messages read from Postgres per replay page. A resume replays everything the client
    /// missed, page by page, at the pace the client reads.
    pub const REPLAY_PAGE: i64 = 500;
    /// A visitor's name (`profile`), in characters.
    pub const MAX_NAME_CHARS: usize = 200;
    /// An email address (`profile`), in bytes.
    pub const MAX_EMAIL_BYTES: usize = 254;
    /// A phone number (`profile`), in characters.
    pub const MAX_PHONE_CHARS: usize = 40;
    /// Custom form fields per `profile`.
    pub const MAX_PROFILE_FIELDS: usize = 10;
    /// A custom field's key (`[a-z0-9_]`) in bytes.
    pub const MAX_FIELD_KEY_BYTES: usize = 40;
    /// A custom field's value, in characters.
    pub const MAX_FIELD_VALUE_CHARS: usize = 500;
    /// The widget API's context object (`context`), serialized, in bytes.
    pub const MAX_CONTEXT_BYTES: usize = 8 * 1024;
    /// A rating's comment, in characters.
    pub const MAX_RATING_COMMENT_CHARS: usize = 1000;
    /// Conversations one `join_many` frame may name (a frame of 200 fits well within 16 KiB).
    pub const MAX_JOIN_MANY: usize = 200;
}

/// WebSocket close codes the server uses.
pub mod close {
    /// Normal closure (the client said `leave`, or the conversation ended).
    pub const NORMAL: u16 = 1000;
    /// The node is shutting down: reconnect (to any node) and resume.
    pub const GOING_AWAY: u16 = 1001;
    /// A binary frame or another protocol violation.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// A policy violation (rate limit exceeded repeatedly).
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A frame larger than [`super::limits::MAX_FRAME_BYTES`].
    pub const TOO_BIG: u16 = 1009;
    /// The session could not start (the database is unavailable): reconnect after a pause.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// The client read too slowly and its outbound queue filled: reconnect and resume.
    pub const SLOW_CONSUMER: u16 = 4000;
    /// The token expired during the session: get a new one, reconnect and resume.
    pub const TOKEN_EXPIRED: u16 = 4001;
    /// No frame from the client within the idle timeout.
    pub const IDLE_TIMEOUT: u16 = 4002;
    /// The client's protocol version is not supported.
    pub const UNSUPPORTED_VERSION: u16 = 4003;
    /// The first frame was not `hello`.
    pub const HELLO_REQUIRED: u16 = 4004;
    /// The agent's access was revoked mid-session (removed from the tenant, tenant suspended,
    /// their login session ended: logout, a password reset).
    pub const ACCESS_REVOKED: u16 = 4005;
}

/// Stable error codes of `error` frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum WsErrorCode {
    /// The frame is not valid JSON or not an object.
    InvalidJson,
    /// The `type` is unknown for this endpoint.
    UnknownType,
    /// A field is missing, has the wrong type or is out of range.
    InvalidFrame,
    /// The message body is empty or too long.
    InvalidBody,
    /// The client id is missing or malformed.
    InvalidClientId,
    /// The conversation does not exist for this caller.
    ConversationNotFound,
    /// The conversation is closed; nothing more can be sent into it.
    ConversationClosed,
    /// Too many frames; slow down.
    RateLimited,
    /// The action is not allowed for this caller (e.g. a note from a visitor).
    Forbidden,
    /// The agent already has `max_concurrent_chats` open conversations assigned.
    CapacityReached,
    /// The database is unavailable; retry the same frame (same client id) later.
    Unavailable,
    /// An unexpected server error; retry may help.
    Internal,
}

/// A client's frame that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// The code to send back.
    pub code: WsErrorCode,
    /// A sentence for people.
    pub message: String,
}

/// Frames a visitor sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum VisitorFrame {
    /// First frame: the protocol version and, when reconnecting, the last sequence number seen.
    Hello {
        /// Protocol version the client speaks.
        protocol: u16,
        /// Highest `seq` the client has; the server replays everything after it.
        #[serde(default)]
        #[cfg_attr(feature = "ts", ts(optional))]
        last_seq: Option<i64>,
    },
    /// A message to the team.
    Send {
        /// The client's id for this message; retries with the same id are answered with the
        /// original `ack` and stored once.
        client_id: String,
        /// Text, 1–4000 characters (with an attachment: a caption, or its file name).
        body: String,
        /// A file this visitor uploaded and has not sent yet.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attachment_id: Option<AttachmentId>,
    },
    /// The visitor is (not) typing.
    Typing {
        /// Typing or stopped.
        typing: bool,
    },
    /// The visitor has read everything up to `seq`.
    Read {
        /// Highest read sequence number.
        seq: i64,
    },
    /// The visitor opened a page of the tenant's site.
    PageView {
        /// Page URL.
        url: String,
        /// Page title.
        #[serde(default)]
        #[cfg_attr(feature = "ts", ts(optional))]
        title: Option<String>,
        /// Referrer.
        #[serde(default)]
        #[cfg_attr(feature = "ts", ts(optional))]
        referrer: Option<String>,
    },
    /// The visitor ends the conversation.
    Leave,
    /// Application-level ping; answered with `pong`.
    Ping,
    /// What the visitor told about themselves (pre-chat or offline form, `Kefu('identify')`).
    /// Given fields replace the stored ones; absent fields are kept.
    Profile {
        /// Name.
        #[serde(default)]
        #[cfg_attr(feature = "ts", ts(optional))]
        name: Option<String>,
        /// Email address.
        #[serde(default)]
        #[cfg_attr(feature = "ts", ts(optional))]
        email: Option<String>,
        /// Phone number.
        #[serde(default)]
        #[cfg_attr(feature = "ts", ts(optional))]
        phone: Option<String>,
        /// The tenant's custom form fields, by key.
        #[serde(default)]
        #[cfg_attr(feature = "ts", ts(optional, as = "Option<std::collections::BTreeMap<String, String>>"))]
        fields: std::collections::BTreeMap<String, String>,
    },
    /// Context from the host page (`Kefu('setContext', obj)`): a JSON object shown to agents,
    /// replacing the previous one.
    Context {
        /// The object.
        data: serde_json::Map<String, serde_json::Value>,
    },
    /// The visitor rates a conversation (1–5), once it is closed; a later rating replaces it.
    Rate {
        /// The conversation (the visitor's own).
        conversation_id: ConversationId,
        /// 1 (bad) to 5 (great).
        rating: u8,
        /// Optional words.
        #[serde(default)]
        #[cfg_attr(feature = "ts", ts(optional))]
        comment: Option<String>,
    },
    /// Asks for the team's availability and the queue position (answered with `status`).
    Status,
    /// The visitor answers a bot answer's "Did this help?": `true` ends it there, `false`
    /// hands the conversation to a person.
    BotFeedback {
        /// The bot's answer.
        message_id: MessageId,
        /// Whether it helped.
        helpful: bool,
    },
    /// The visitor asks for a person while the bot answers ("Talk to a human").
    Human,
}

/// The team's availability as a visitor sees it: `online` when an agent takes new
/// conversations, `busy` when agents are connected but none does, else `offline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    /// Someone takes new conversations.
    Online,
    /// Agents are connected, all busy or away.
    Busy,
    /// Nobody is connected.
    Offline,
}

/// What a `saved` frame confirms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Saved {
    /// The visitor's profile.
    Profile,
    /// The host page's context.
    Context,
}

/// A waiting visitor's place in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct QueuePlace {
    /// 1 = next.
    pub position: u32,
    /// Estimated seconds until an agent answers, from recent waits; absent without history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_wait_secs: Option<u32>,
}

/// Agent availability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// Takes new conversations.
    Online,
    /// Connected, takes no new conversations.
    Busy,
    /// Away from the keyboard.
    Away,
    /// Not connected.
    Offline,
}

/// Frames an agent sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AgentFrame {
    /// First frame: the protocol version.
    Hello {
        /// Protocol version the client speaks.
        protocol: u16,
    },
    /// Receive `conversation_updated` for every conversation of the tenant.
    SubscribeInbox,
    /// Receive a conversation's messages, replaying those after `last_seq`.
    Join {
        /// The conversation.
        conversation_id: ConversationId,
        /// Highest `seq` the agent has.
        #[serde(default)]
        #[cfg_attr(feature = "ts", ts(optional))]
        last_seq: Option<i64>,
    },
    /// Follow many conversations at once (resuming after a reconnect): each is answered, in
    /// order, with `joined` after its missed messages were queued, or with an `error` naming it.
    JoinMany {
        /// 1–200 conversations with the highest `seq` the agent has of each.
        conversations: Vec<JoinEntry>,
    },
    /// Assign an unassigned conversation to oneself.
    Claim {
        /// The conversation.
        conversation_id: ConversationId,
    },
    /// A message to the visitor.
    Send {
        /// The conversation.
        conversation_id: ConversationId,
        /// The client's id for this message (idempotent retries).
        client_id: String,
        /// Text, 1–4000 characters (with an attachment: a caption, or its file name).
        body: String,
        /// A file this agent uploaded and has not sent yet.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attachment_id: Option<AttachmentId>,
    },
    /// A private note only agents see.
    Note {
        /// The conversation.
        conversation_id: ConversationId,
        /// The client's id for this note (idempotent retries).
        client_id: String,
        /// Text, 1–4000 characters.
        body: String,
    },
    /// The agent is (not) typing.
    Typing {
        /// The conversation.
        conversation_id: ConversationId,
        /// Typing or stopped.
        typing: bool,
    },
    /// The agent has read everything up to `seq`.
    Read {
        /// The conversation.
        conversation_id: ConversationId,
        /// Highest read sequence number.
        seq: i64,
    },
    /// Close the conversation.
    Close {
        /// The conversation.
        conversation_id: ConversationId,
    },
    /// Set one's availability.
    SetPresence {
        /// New status (`offline` is not settable; disconnect instead).
        status: AgentStatus,
    },
    /// Application-level ping; answered with `pong`.
    Ping,
}

/// One conversation of a `join_many` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct JoinEntry {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Highest `seq` the agent has (0 or absent: everything).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub last_seq: Option<i64>,
}

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Sender {
    /// The visitor.
    Visitor {
        /// Visitor id.
        id: VisitorId,
    },
    /// A member of the team.
    Agent {
        /// User id.
        id: UserId,
        /// Display name at the time.
        name: String,
    },
    /// Kefu itself (assignment notices, closing).
    System,
    /// The tenant's FAQ bot.
    Bot {
        /// The bot's display name.
        name: String,
    },
    /// An automatic reply (the greeting or the away message) sent on the team's behalf.
    Auto {
        /// The name it is shown under: the widget's title in the visitor's language.
        name: String,
    },
}

/// A message as delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageView {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Message id.
    pub message_id: MessageId,
    /// Gap-free per-conversation sequence number, from 1.
    pub seq: i64,
    /// Author.
    pub sender: Sender,
    /// `true` for private notes (never sent to visitors).
    pub private: bool,
    /// Text.
    pub body: String,
    /// The author's client id.
    pub client_id: String,
    /// When it was committed.
    pub created_at: DateTime<Utc>,
    /// The file sent with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<AttachmentRef>,
    /// For system notes: what happened, structured (the body says it for people).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<NoteEvent>,
    /// For the bot's messages: the entry it answered with and what the widget offers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<BotReply>,
}

/// What a bot message offers the visitor besides its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BotReply {
    /// The knowledge-base entry it answers with (absent for the bot's own notices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<KbEntryId>,
    /// Ask "Did this help? / Talk to a human" (answered with `bot_feedback`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub ask_feedback: bool,
    /// Other questions the knowledge base answers, offered as one-tap replies (sent as the
    /// visitor's message).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub related: Vec<String>,
    /// This message hands the conversation to people: the bot is done in it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub handoff: bool,
}

/// Why the bot handed a conversation to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HandoffReason {
    /// No entry scored at or above the threshold.
    LowScore,
    /// The visitor asked for a person.
    Requested,
    /// The visitor said an answer did not help.
    NotHelpful,
    /// An agent claimed it, was given it, or wrote in it.
    AgentTookOver,
    /// The knowledge base is empty.
    NoKnowledge,
    /// The tenant turned the bot off while the conversation was with it.
    BotOff,
}

impl HandoffReason {
    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffReason::LowScore => "low_score",
            HandoffReason::Requested => "requested",
            HandoffReason::NotHelpful => "not_helpful",
            HandoffReason::AgentTookOver => "agent_took_over",
            HandoffReason::NoKnowledge => "no_knowledge",
            HandoffReason::BotOff => "bot_off",
        }
    }
}

/// What a system note records. System notes are private: only agents see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NoteEvent {
    /// The conversation was handed to an agent or to a team's queue.
    Transferred {
        /// Who transferred it.
        by: UserId,
        /// The receiving agent, for a transfer to an agent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to_agent: Option<UserId>,
        /// The receiving team, for a transfer to a team.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to_team: Option<TeamId>,
        /// Why, for the receiver.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// A closed conversation was opened again.
    Reopened {
        /// Who reopened it.
        by: UserId,
    },
    /// A colleague was invited into the conversation.
    ParticipantAdded {
        /// Who invited them.
        by: UserId,
        /// The colleague.
        user_id: UserId,
    },
    /// The bot handed the conversation to people (the body gives the score).
    BotHandoff {
        /// Why.
        reason: HandoffReason,
    },
    /// A routing rule fired on the conversation.
    RuleFired {
        /// The rule's id.
        rule_id: String,
        /// Its name when it fired.
        name: String,
        /// What it did.
        applied: Vec<crate::rules::Action>,
        /// What it could not do (the conversation already had an agent, the agent was at
        /// capacity or gone).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        skipped: Vec<crate::rules::Action>,
    },
    /// The visitor rated the conversation (CSAT).
    Rated {
        /// 1–5.
        rating: u8,
        /// What they wrote, if anything.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
}

/// A file as messages carry it. Download: agents `GET /api/v1/attachments/{id}`, visitors
/// `GET /v1/attachments/{id}?token=` at the edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachmentRef {
    /// Id.
    pub id: AttachmentId,
    /// File name as uploaded.
    pub name: String,
    /// Media type sniffed from the content.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
}

/// Whether a conversation is still going on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ConversationStatus {
    /// Open: the visitor's messages go into it.
    Open,
    /// Closed by the visitor or an agent; it can be reopened.
    Closed,
}

impl ConversationStatus {
    /// The stable lowercase name used on the wire and in the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Open => "open",
            ConversationStatus::Closed => "closed",
        }
    }
}

impl std::fmt::Display for ConversationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string is not `open` or `closed`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown conversation status `{0}`")]
pub struct UnknownConversationStatus(pub String);

impl std::str::FromStr for ConversationStatus {
    type Err = UnknownConversationStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(ConversationStatus::Open),
            "closed" => Ok(ConversationStatus::Closed),
            other => Err(UnknownConversationStatus(other.to_owned())),
        }
    }
}

/// A conversation's state as agents see it in the inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationSummary {
    /// Conversation id.
    pub conversation_id: ConversationId,
    /// The visitor.
    pub visitor_id: VisitorId,
    /// Open or closed.
    pub status: ConversationStatus,
    /// The assigned agent, if any.
    #[cfg_attr(feature = "openapi", schema(required))]
    pub assignee: Option<UserId>,
    /// Highest sequence number.
    pub last_seq: i64,
    /// Last activity.
    pub updated_at: DateTime<Utc>,
    /// The visitor's rating (1–5), once closed and rated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
    /// The team whose queue it is in, if any (agents only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<TeamId>,
    /// Tags, lowercase (agents only; empty for visitors).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub tags: Vec<String>,
    /// Colleagues invited into the conversation besides the assignee (agents only; empty for
    /// visitors).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub participants: Vec<UserId>,
    /// The FAQ bot is answering it: it is not in the queue until the bot hands it off.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub bot: bool,
}

impl ConversationSummary {
    /// The summary as a visitor may see it: without the team's internal fields.
    pub fn for_visitor(&self) -> Self {
        Self { team_id: None, tags: Vec::new(), participants: Vec::new(), ..self.clone() }
    }

    /// Whether [`Self::for_visitor`] would remove anything.
    pub fn has_internal_fields(&self) -> bool {
        self.team_id.is_some() || !self.tags.is_empty() || !self.participants.is_empty()
    }
}

/// Frames the server sends.
// A frame is built and encoded once per send; `Message` is the common one, and boxing it would
// cost every message an allocation to save stack space on the rare small frames.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Answer to `hello`.
    Welcome {
        /// The protocol version in use.
        protocol: u16,
        /// Seconds between server pings.
        heartbeat_secs: u64,
        /// For visitors: their open conversation, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversation_id: Option<ConversationId>,
        /// For visitors: the FAQ bot is answering their open conversation (offer "Talk to a
        /// human").
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        bot: bool,
    },
    /// A client's message is committed (sent only after the commit).
    Ack {
        /// The client id of the acknowledged frame.
        client_id: String,
        /// The stored message.
        message_id: MessageId,
        /// Its conversation.
        conversation_id: ConversationId,
        /// Its sequence number.
        seq: i64,
        /// Commit time.
        created_at: DateTime<Utc>,
    },
    /// A message (or, for agents, a note).
    Message(MessageView),
    /// Someone is (not) typing.
    Typing {
        /// The conversation.
        conversation_id: ConversationId,
        /// Who.
        sender: Sender,
        /// Typing or stopped.
        typing: bool,
    },
    /// Someone read up to `seq`.
    Read {
        /// The conversation.
        conversation_id: ConversationId,
        /// Who.
        reader: Sender,
        /// Highest read sequence number.
        seq: i64,
    },
    /// A conversation changed (new, claimed, closed, new message).
    ConversationUpdated(ConversationSummary),
    /// A visitor opened a page (agents only).
    PageView {
        /// The visitor.
        visitor_id: VisitorId,
        /// Their open conversation, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversation_id: Option<ConversationId>,
        /// Page URL.
        url: String,
        /// Page title.
        title: Option<String>,
        /// When.
        viewed_at: DateTime<Utc>,
    },
    /// An agent's availability changed.
    Presence {
        /// The agent.
        agent_id: UserId,
        /// New status.
        status: AgentStatus,
    },
    /// A visitor came online (first tab) or went offline (last tab closed) (agents only).
    VisitorPresence {
        /// The visitor.
        visitor_id: VisitorId,
        /// Online now.
        online: bool,
    },
    /// A frame was refused; nothing was stored for it.
    Error {
        /// Stable code.
        code: WsErrorCode,
        /// For people.
        message: String,
        /// The client id of the refused frame, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// The conversation the refusal is about, when the frame named one (`join`, `join_many`,
        /// `claim`, `send`, …).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        conversation_id: Option<ConversationId>,
        /// Whether sending the same frame again may succeed.
        retryable: bool,
    },
    /// To agents: a `join` (or one entry of `join_many`) is done: the messages after the
    /// client's `last_seq` are queued before this frame, and live ones follow it.
    Joined {
        /// The conversation.
        conversation_id: ConversationId,
        /// Its highest sequence number when it was joined.
        last_seq: i64,
    },
    /// Answer to `ping`.
    Pong,
    /// To an agent: the login session this connection belongs to has ended (signed out in
    /// another tab, a password reset, removed from the team). The connection closes next with
    /// 4005; the console signs out.
    SessionEnded,
    /// To visitors: the team's availability and, while their open conversation waits for an
    /// agent, its place in the queue. Sent after `welcome`, after each message that leaves the
    /// conversation waiting, and in answer to `status`.
    Status {
        /// Whether agents are there.
        agents: Availability,
        /// The visitor's place while unassigned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        queue: Option<QueuePlace>,
        /// The tenant's FAQ bot is on: the visitor can write (and be answered) even when the
        /// team is offline, so the widget offers the chat rather than the offline form.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        bot: bool,
        /// When the team is offline by its business hours: when they next open (within 60 days).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        opens_at: Option<chrono::DateTime<chrono::Utc>>,
        /// The workspace's conversations for the month are used up: a new conversation is taken
        /// as an offline message, so the widget offers the offline form (with a polite text)
        /// rather than a live chat.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        quota_reached: bool,
    },
    /// To visitors: their `profile` or `context` was stored.
    Saved {
        /// `profile` or `context`.
        what: Saved,
    },
    /// To visitors: their rating was stored.
    Rated {
        /// The conversation.
        conversation_id: ConversationId,
        /// The rating.
        rating: u8,
    },
    /// To agents: a visitor's profile or context changed (re-read `GET /api/v1/visitors/{id}`).
    VisitorUpdated {
        /// The visitor.
        visitor_id: VisitorId,
    },
    /// To agents: the queue's order changed without a conversation changing (a priority set by
    /// hand, the routing settings); re-read `GET /api/v1/queue`.
    QueueChanged,
}

fn frame_error(code: WsErrorCode, message: impl Into<String>) -> FrameError {
    FrameError { code, message: message.into() }
}

/// Decodes untrusted text into a frame of type `F`, enforcing size and field limits. Never
/// panics.
pub fn decode<F: for<'de> Deserialize<'de> + Validate>(text: &str) -> Result<F, FrameError> {
    if text.len() > limits::MAX_FRAME_BYTES {
        return Err(frame_error(WsErrorCode::InvalidFrame, "frame larger than 16 KiB"));
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| frame_error(WsErrorCode::InvalidJson, format!("invalid JSON: {e}")))?;
    let Some(kind) = value.as_object().and_then(|o| o.get("type")).and_then(|t| t.as_str()) else {
        return Err(frame_error(WsErrorCode::InvalidFrame, "a frame is a JSON object with a string `type`"));
    };
    if !F::TYPES.contains(&kind) {
        return Err(frame_error(WsErrorCode::UnknownType, format!("unknown frame type `{}`", truncate(kind, 40))));
    }
    let frame: F = serde_json::from_value(value).map_err(|e| frame_error(WsErrorCode::InvalidFrame, e.to_string()))?;
    frame.validate()?;
    Ok(frame)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Field checks beyond types.
pub trait Validate {
    /// The `type` values this frame family accepts.
    const TYPES: &'static [&'static str];
    /// Checks limits and formats.
    fn validate(&self) -> Result<(), FrameError>;
}

/// Checks a client message id: 1–64 characters of `[A-Za-z0-9_-]`.
pub fn check_client_id(client_id: &str) -> Result<(), FrameError> {
    let ok = !client_id.is_empty()
        && client_id.len() <= limits::MAX_CLIENT_ID_LEN
        && client_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(frame_error(WsErrorCode::InvalidClientId, "client_id must be 1–64 characters of [A-Za-z0-9_-]"))
    }
}

/// Checks a message body: not blank, at most 4000 characters, no NUL (Postgres text cannot
/// hold one).
pub fn check_body(body: &str) -> Result<(), FrameError> {
    if body.trim().is_empty() {
        return Err(frame_error(WsErrorCode::InvalidBody, "the message is empty"));
    }
    if body.contains('\0') {
        return Err(frame_error(WsErrorCode::InvalidBody, "the message contains a NUL character"));
    }
    if body.chars().count() > limits::MAX_BODY_CHARS {
        return Err(frame_error(WsErrorCode::InvalidBody, "the message is longer than 4000 characters"));
    }
    Ok(())
}

fn check_seq(seq: i64) -> Result<(), FrameError> {
    if seq < 0 { Err(frame_error(WsErrorCode::InvalidFrame, "seq must not be negative")) } else { Ok(()) }
}

fn check_page_field(name: &str, value: &str) -> Result<(), FrameError> {
    if value.len() > limits::MAX_PAGE_FIELD_BYTES {
        return Err(frame_error(WsErrorCode::InvalidFrame, format!("{name} is longer than 2048 bytes")));
    }
    Ok(())
}

fn invalid(message: impl Into<String>) -> FrameError {
    frame_error(WsErrorCode::InvalidFrame, message)
}

fn check_profile(
    name: Option<&str>,
    email: Option<&str>,
    phone: Option<&str>,
    fields: &std::collections::BTreeMap<String, String>,
) -> Result<(), FrameError> {
    if name.is_some_and(|n| n.trim().is_empty() || n.chars().count() > limits::MAX_NAME_CHARS) {
        return Err(invalid("name must be 1–200 characters"));
    }
    if let Some(email) = email {
        let shape = email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        });
        if !shape || email.len() > limits::MAX_EMAIL_BYTES || email.chars().any(char::is_whitespace) {
            return Err(invalid("email is not an email address"));
        }
    }
    if let Some(phone) = phone {
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        let allowed = phone.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
        if !allowed || !(5..=20).contains(&digits) || phone.chars().count() > limits::MAX_PHONE_CHARS {
            return Err(invalid("phone must be 5–20 digits with optional + - ( ) . and spaces"));
        }
    }
    if fields.len() > limits::MAX_PROFILE_FIELDS {
        return Err(invalid("at most 10 custom fields"));
    }
    for (key, value) in fields {
        let key_ok = !key.is_empty()
            && key.len() <= limits::MAX_FIELD_KEY_BYTES
            && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !key_ok {
            return Err(invalid("custom field keys are 1–40 characters of [a-z0-9_]"));
        }
        if value.chars().count() > limits::MAX_FIELD_VALUE_CHARS {
            return Err(invalid(format!("field {key} is longer than 500 characters")));
        }
    }
    Ok(())
}

impl Validate for VisitorFrame {
    const TYPES: &'static [&'static str] = &[
        "hello",
        "send",
        "typing",
        "read",
        "page_view",
        "leave",
        "ping",
        "profile",
        "context",
        "rate",
        "status",
        "bot_feedback",
        "human",
    ];

    fn validate(&self) -> Result<(), FrameError> {
        match self {
            VisitorFrame::Hello { last_seq: Some(seq), .. } | VisitorFrame::Read { seq } => check_seq(*seq),
            VisitorFrame::Send { client_id, body, .. } => check_client_id(client_id).and_then(|()| check_body(body)),
            VisitorFrame::PageView { url, title, referrer } => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(frame_error(WsErrorCode::InvalidFrame, "url must be an http(s) URL"));
                }
                check_page_field("url", url)?;
                check_page_field("title", title.as_deref().unwrap_or_default())?;
                check_page_field("referrer", referrer.as_deref().unwrap_or_default())
            }
            VisitorFrame::Profile { name, email, phone, fields } => {
                check_profile(name.as_deref(), email.as_deref(), phone.as_deref(), fields)
            }
            VisitorFrame::Context { data } => {
                let size = serde_json::to_string(data).map(|t| t.len()).unwrap_or(usize::MAX);
                if size > limits::MAX_CONTEXT_BYTES {
                    return Err(invalid("context is larger than 8 KiB"));
                }
                Ok(())
            }
            VisitorFrame::Rate { rating, comment, .. } => {
                if !(1..=5).contains(rating) {
                    return Err(invalid("rating must be 1–5"));
                }
                if comment.as_deref().is_some_and(|c| c.chars().count() > limits::MAX_RATING_COMMENT_CHARS) {
                    return Err(invalid("the comment is longer than 1000 characters"));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl Validate for AgentFrame {
    const TYPES: &'static [&'static str] = &[
        "hello",
        "subscribe_inbox",
        "join",
        "join_many",
        "claim",
        "send",
        "note",
        "typing",
        "read",
        "close",
        "set_presence",
        "ping",
    ];

    fn validate(&self) -> Result<(), FrameError> {
        match self {
            AgentFrame::Join { last_seq: Some(seq), .. } | AgentFrame::Read { seq, .. } => check_seq(*seq),
            AgentFrame::JoinMany { conversations } => {
                if conversations.is_empty() || conversations.len() > limits::MAX_JOIN_MANY {
                    return Err(invalid("join_many names 1–200 conversations"));
                }
                conversations.iter().filter_map(|entry| entry.last_seq).try_for_each(check_seq)
            }
            AgentFrame::Send { client_id, body, .. } | AgentFrame::Note { client_id, body, .. } => {
                check_client_id(client_id).and_then(|()| check_body(body))
            }
            AgentFrame::SetPresence { status: AgentStatus::Offline } => {
                Err(frame_error(WsErrorCode::InvalidFrame, "offline is not settable; disconnect instead"))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn conversation_status_is_its_lowercase_name() {
        for (status, name) in [(ConversationStatus::Open, "open"), (ConversationStatus::Closed, "closed")] {
            assert_eq!(status.as_str(), name);
            assert_eq!(name.parse::<ConversationStatus>(), Ok(status));
            assert_eq!(serde_json::to_string(&status).expect("serialize"), format!("\"{name}\""));
        }
        assert!("Open".parse::<ConversationStatus>().is_err());
    }

    #[test]
    fn decodes_valid_frames() {
        assert_eq!(
            decode::<VisitorFrame>(r#"{"type":"send","client_id":"c-1","body":"你好"}"#),
            Ok(VisitorFrame::Send { client_id: "c-1".into(), body: "你好".into(), attachment_id: None })
        );
        assert_eq!(
            decode::<VisitorFrame>(r#"{"type":"hello","protocol":1}"#),
            Ok(VisitorFrame::Hello { protocol: 1, last_seq: None })
        );
        assert_eq!(decode::<AgentFrame>(r#"{"type":"subscribe_inbox"}"#), Ok(AgentFrame::SubscribeInbox));
    }

    #[test]
    fn rejects_bad_frames_with_precise_codes() {
        let code = |text: &str| decode::<VisitorFrame>(text).err().map(|e| e.code);
        assert_eq!(code("not json"), Some(WsErrorCode::InvalidJson));
        assert_eq!(code("[1,2]"), Some(WsErrorCode::InvalidFrame));
        assert_eq!(code(r#"{"type":"explode"}"#), Some(WsErrorCode::UnknownType));
        assert_eq!(
            code(r#"{"type":"note","conversation_id":"x","client_id":"a","body":"b"}"#),
            Some(WsErrorCode::UnknownType)
        );
        assert_eq!(code(r#"{"type":"send","body":"hi"}"#), Some(WsErrorCode::InvalidFrame));
        assert_eq!(code(r#"{"type":"send","client_id":"a b","body":"hi"}"#), Some(WsErrorCode::InvalidClientId));
        assert_eq!(code(r#"{"type":"send","client_id":"a","body":"   "}"#), Some(WsErrorCode::InvalidBody));
        let long = format!(r#"{{"type":"send","client_id":"a","body":"{}"}}"#, "字".repeat(4001));
        assert_eq!(code(&long), Some(WsErrorCode::InvalidBody));
        let huge = format!(r#"{{"type":"send","client_id":"a","body":"{}"}}"#, "x".repeat(20_000));
        assert_eq!(code(&huge), Some(WsErrorCode::InvalidFrame));
        assert_eq!(code(r#"{"type":"read","seq":-1}"#), Some(WsErrorCode::InvalidFrame));
        assert_eq!(code(r#"{"type":"page_view","url":"javascript:alert(1)"}"#), Some(WsErrorCode::InvalidFrame));
        assert_eq!(code(r#"{"type":"send","client_id":"a","body":"x","extra":1}"#), Some(WsErrorCode::InvalidFrame));
        for bad in [
            r#"{"type":"profile","email":"not-an-email"}"#,
            r#"{"type":"profile","email":"a@b"}"#,
            r#"{"type":"profile","name":"  "}"#,
            r#"{"type":"profile","phone":"call me"}"#,
            r#"{"type":"profile","fields":{"Bad Key":"x"}}"#,
            r#"{"type":"context","data":[1,2]}"#,
            r#"{"type":"rate","conversation_id":"conv_0190c8e5b7a87c3e9f000000000000ab","rating":6}"#,
            r#"{"type":"rate","conversation_id":"conv_0190c8e5b7a87c3e9f000000000000ab","rating":0}"#,
        ] {
            assert_eq!(code(bad), Some(WsErrorCode::InvalidFrame), "{bad}");
        }
        let big = format!(r#"{{"type":"context","data":{{"log":"{}"}}}}"#, "x".repeat(9000));
        assert_eq!(code(&big), Some(WsErrorCode::InvalidFrame));
        assert!(
            decode::<VisitorFrame>(
                r#"{"type":"profile","name":"王小明","email":"xm@example.cn","phone":"+86 138-0000-0000","fields":{"order_no":"A1"}}"#
            )
            .is_ok()
        );
        assert_eq!(
            decode::<AgentFrame>(r#"{"type":"set_presence","status":"offline"}"#).err().map(|e| e.code),
            Some(WsErrorCode::InvalidFrame)
        );
    }

    #[test]
    fn server_frames_have_the_documented_shape() {
        let frame = ServerFrame::Error {
            code: WsErrorCode::ConversationClosed,
            message: "closed".into(),
            client_id: Some("c".into()),
            conversation_id: None,
            retryable: false,
        };
        let json = serde_json::to_value(&frame).expect("json");
        assert_eq!(json["type"], "error");
        assert_eq!(json["code"], "conversation_closed");
        assert!(json.get("conversation_id").is_none(), "absent unless the frame named a conversation");
    }

    #[test]
    fn join_many_names_one_to_two_hundred_conversations() {
        let entry = r#"{"conversation_id":"conv_0190c8e5b7a87c3e9f000000000000ab","last_seq":7}"#;
        let frame = |n: usize| format!(r#"{{"type":"join_many","conversations":[{}]}}"#, vec![entry; n].join(","));
        let decoded = decode::<AgentFrame>(&frame(2)).expect("two entries");
        let AgentFrame::JoinMany { conversations } = decoded else { panic!("join_many") };
        assert_eq!(conversations.len(), 2);
        assert_eq!(conversations[0].last_seq, Some(7));
        assert!(frame(limits::MAX_JOIN_MANY).len() < limits::MAX_FRAME_BYTES, "200 entries fit in one frame");
        assert!(decode::<AgentFrame>(&frame(limits::MAX_JOIN_MANY)).is_ok());
        let code = |text: &str| decode::<AgentFrame>(text).err().map(|e| e.code);
        assert_eq!(code(&frame(0)), Some(WsErrorCode::InvalidFrame));
        assert_eq!(
            code(
                r#"{"type":"join_many","conversations":[{"conversation_id":"conv_0190c8e5b7a87c3e9f000000000000ab","last_seq":-1}]}"#
            ),
            Some(WsErrorCode::InvalidFrame)
        );
        assert_eq!(
            code(
                r#"{"type":"join_many","conversations":[{"conversation_id":"usr_0190c8e5b7a87c3e9f000000000000ab"}]}"#
            ),
            Some(WsErrorCode::InvalidFrame)
        );
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_text_never_panics(text in ".{0,400}") {
            let _ = decode::<VisitorFrame>(&text);
            let _ = decode::<AgentFrame>(&text);
        }

        #[test]
        fn decoding_arbitrary_json_objects_never_panics(
            kind in prop_oneof![
                prop::sample::select(vec!["send", "hello", "read", "page_view", "join", "note", "typing"]).prop_map(str::to_owned),
                ".{0,12}",
            ],
            key in "[a-z_]{1,12}",
            value in prop_oneof![any::<i64>().prop_map(serde_json::Value::from), ".{0,30}".prop_map(serde_json::Value::from), Just(serde_json::Value::Null)],
        ) {
            let text = serde_json::json!({ "type": kind, key: value }).to_string();
            let _ = decode::<VisitorFrame>(&text);
            let _ = decode::<AgentFrame>(&text);
        }

        #[test]
        fn valid_send_frames_round_trip(client_id in "[A-Za-z0-9_-]{1,64}", body in "[^\\u{0}]{0,50}[a-z中]") {
            let frame = VisitorFrame::Send { client_id, body, attachment_id: None };
            let text = serde_json::to_string(&frame).expect("encode");
            prop_assert_eq!(decode::<VisitorFrame>(&text), Ok(frame));
        }
    }
}
