//! Writing one conversation in an archive format.

use kefu_protocol::ws::NoteEvent;
use serde::Serialize;
use serde_json::{Value, json};

use crate::db::archive::ArchivedConversation;
use crate::db::messages::{MessageRow, MessageSender};
use crate::http::audit::spreadsheet_safe;

/// An archive's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A JSON array of conversations in the seed's shape, extended.
    Json,
    /// CSV, a row per message, with a byte-order mark (spreadsheets read the UTF-8).
    Csv,
}

impl Format {
    /// Parses `json` or `csv`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "json" => Some(Self::Json),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }

    /// The response's media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json; charset=utf-8",
            Self::Csv => "text/csv; charset=utf-8",
        }
    }

    /// The file name's extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
        }
    }

    /// What comes before the first conversation.
    pub fn opening(self) -> Vec<u8> {
        match self {
            Self::Json => b"[".to_vec(),
            Self::Csv => {
                let mut out = b"\xEF\xBB\xBF".to_vec();
                out.extend_from_slice(CSV_HEADER.as_bytes());
                out
            }
        }
    }

    /// What comes after the last conversation.
    pub fn closing(self) -> Vec<u8> {
        match self {
            Self::Json => b"\n]\n".to_vec(),
            Self::Csv => Vec::new(),
        }
    }
}

/// The CSV's header line.
pub const CSV_HEADER: &str = "session_id,user_id,visitor_name,message_id,seq,timestamp,sender,agent_name,private,content,attachment_id,attachment_name\n";

/// The seed's `sender`: `user` for the visitor, `agent` for a member; Kefu's own authors keep
/// their names (`bot`, `auto`, `system`).
fn sender(message: &MessageRow) -> &'static str {
    match message.sender {
        MessageSender::Visitor(_) => "user",
        MessageSender::Agent(_) => "agent",
        MessageSender::Bot => "bot",
        MessageSender::Auto => "auto",
        MessageSender::System => "system",
    }
}

/// The seed's `user_id`: the tenant's own id for a signed-in customer, else the visitor's id.
fn user_id(conversation: &ArchivedConversation) -> String {
    conversation.ext_user.clone().unwrap_or_else(|| conversation.visitor_id.to_string())
}

/// A message in the JSON archive: the seed's three fields first, then Kefu's.
#[derive(Serialize)]
struct ArchivedMessage<'a> {
    sender: &'static str,
    content: &'a str,
    timestamp: String,
    id: String,
    seq: i64,
    private: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachment: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'a NoteEvent>,
}

/// A conversation in the JSON archive: the seed's `session_id`, `user_id` and `messages` first.
#[derive(Serialize)]
struct ArchivedSession<'a> {
    session_id: String,
    user_id: String,
    messages: Vec<ArchivedMessage<'a>>,
    visitor: Value,
    status: &'static str,
    assignee: Option<String>,
    assignee_name: Option<&'a str>,
    team_id: Option<String>,
    tags: &'a [String],
    rating: Option<i16>,
    rating_comment: Option<&'a str>,
    started_at: String,
    closed_at: Option<String>,
}

fn instant(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn archived_message(message: &MessageRow) -> ArchivedMessage<'_> {
    let agent = match message.sender {
        MessageSender::Agent(id) => Some(id),
        _ => None,
    };
    ArchivedMessage {
        sender: sender(message),
        content: &message.body,
        timestamp: instant(message.created_at),
        id: message.id.to_string(),
        seq: message.seq,
        private: message.private,
        agent_name: agent.and(message.sender_name.as_deref()),
        agent_id: agent.map(|id| id.to_string()),
        attachment: message.attachment.as_ref().map(|sqlx::types::Json(a)| {
            json!({ "id": a.id.to_string(), "name": a.name, "content_type": a.content_type, "size": a.size })
        }),
        event: message.event.as_ref().map(|sqlx::types::Json(event)| event),
    }
}

/// Appends one conversation (its messages in order) to `out`; `first` says whether it opens the
/// archive (JSON separates the others with a comma).
pub fn write(
    format: Format,
    conversation: &ArchivedConversation,
    messages: &[MessageRow],
    first: bool,
    out: &mut Vec<u8>,
) {
    match format {
        Format::Json => {
            let session = ArchivedSession {
                session_id: conversation.id.to_string(),
                user_id: user_id(conversation),
                messages: messages.iter().map(archived_message).collect(),
                visitor: json!({
                    "id": conversation.visitor_id.to_string(),
                    "name": conversation.visitor_name,
                    "email": conversation.visitor_email,
                }),
                status: conversation.status.as_str(),
                assignee: conversation.assignee.map(|id| id.to_string()),
                assignee_name: conversation.assignee_name.as_deref(),
                team_id: conversation.team_id.map(|id| id.to_string()),
                tags: &conversation.tags,
                rating: conversation.rating,
                rating_comment: conversation.rating_comment.as_deref(),
                started_at: instant(conversation.created_at),
                closed_at: conversation.closed_at.map(instant),
            };
            if !first {
                out.push(b',');
            }
            out.push(b'\n');
            if let Err(error) = serde_json::to_writer(&mut *out, &session) {
                tracing::warn!(%error, "a conversation could not be written to an archive");
            }
        }
        Format::Csv => {
            let mut writer = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
            let session = conversation.id.to_string();
            let user = user_id(conversation);
            let visitor_name = spreadsheet_safe(conversation.visitor_name.as_deref().unwrap_or(""));
            for message in messages {
                let (attachment_id, attachment_name) = match &message.attachment {
                    Some(sqlx::types::Json(a)) => (a.id.to_string(), spreadsheet_safe(&a.name)),
                    None => (String::new(), String::new()),
                };
                let agent_name = match message.sender {
                    MessageSender::Agent(_) => spreadsheet_safe(message.sender_name.as_deref().unwrap_or("")),
                    _ => String::new(),
                };
                let _ = writer.write_record([
                    session.as_str(),
                    &spreadsheet_safe(&user),
                    &visitor_name,
                    &message.id.to_string(),
                    &message.seq.to_string(),
                    &instant(message.created_at),
                    sender(message),
                    &agent_name,
                    if message.private { "true" } else { "false" },
                    &spreadsheet_safe(&message.body),
                    &attachment_id,
                    &attachment_name,
                ]);
            }
            out.extend_from_slice(&writer.into_inner().unwrap_or_default());
        }
    }
}
