//! What a webhook says: the event types and the JSON body of each event (docs/api.md,
//! "Webhooks"), `{"type", "timestamp", "data"}` as Standard Webhooks suggests, with Kefu's
//! prefixed ids and UTC timestamps.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::db::messages::MessageRow;

/// Every event type an endpoint can ask for.
pub const EVENT_TYPES: &[&str] = &[
    "conversation.created",
    "conversation.assigned",
    "conversation.closed",
    "conversation.reopened",
    "conversation.rated",
    "message.created",
    "visitor.created",
    "visitor.updated",
];

/// The type of the event a "send test event" sends (always delivered, whatever the filter).
pub const TEST_EVENT: &str = "webhook.test";

/// The body of an event.
pub fn body(kind: &str, occurred_at: DateTime<Utc>, data: Value) -> String {
    json!({
        "type": kind,
        "timestamp": occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": data,
    })
    .to_string()
}

/// A message event's data: the message as the protocol shows it.
pub fn message_data(message: MessageRow) -> Value {
    serde_json::to_value(message.view()).unwrap_or(Value::Null)
}

/// Ids the capture trigger stores bare and the prefix each gets.
const IDS: &[(&str, &str)] = &[
    ("conversation_id", kefu_protocol::ConversationId::PREFIX),
    ("visitor_id", kefu_protocol::VisitorId::PREFIX),
    ("assignee", kefu_protocol::UserId::PREFIX),
    ("previous_assignee", kefu_protocol::UserId::PREFIX),
    ("team_id", kefu_protocol::TeamId::PREFIX),
];

/// Timestamps the capture trigger stores in the session's time zone.
const TIMES: &[&str] = &["created_at", "closed_at", "first_seen_at"];

/// A conversation or visitor event's data from the row the capture trigger stored: ids get their
/// prefixes, timestamps become UTC; `previous_assignee` only on `conversation.assigned`.
pub fn snapshot_data(kind: &str, snapshot: Value) -> Value {
    let Value::Object(fields) = snapshot else {
        return Value::Object(Map::new());
    };
    let mut out = Map::new();
    for (key, value) in fields {
        if key == "previous_assignee" && kind != "conversation.assigned" {
            continue;
        }
        let value = match (&value, IDS.iter().find(|(name, _)| *name == key)) {
            (Value::String(raw), Some((_, prefix))) => match uuid::Uuid::parse_str(raw) {
                Ok(uuid) => Value::String(format!("{prefix}_{}", uuid.simple())),
                Err(_) => value,
            },
            (Value::String(raw), None) if TIMES.contains(&key.as_str()) => {
                match DateTime::parse_from_rfc3339(raw)
                    .or_else(|_| DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f%#z"))
                {
                    Ok(at) => Value::String(at.with_timezone(&Utc).to_rfc3339_opts(SecondsFormat::Micros, true)),
                    Err(_) => value,
                }
            }
            _ => value,
        };
        out.insert(key, value);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_get_prefixed_ids_and_utc_times() {
        let snapshot = json!({
            "conversation_id": "0193a1c4-e5f6-7890-abcd-ef0123456789",
            "assignee": null,
            "previous_assignee": "0193a1c4-e5f6-7890-abcd-ef0123456780",
            "status": "closed",
            "created_at": "2026-12-09T10:00:00.5+08:00",
            "rating": 5,
        });
        let data = snapshot_data("conversation.closed", snapshot.clone());
        assert_eq!(data["conversation_id"], "conv_0193a1c4e5f67890abcdef0123456789");
        assert_eq!(data["assignee"], Value::Null);
        assert!(data.get("previous_assignee").is_none());
        assert_eq!(data["created_at"], "2026-12-09T02:00:00.500000Z");
        assert_eq!(data["rating"], 5);
        let data = snapshot_data("conversation.assigned", snapshot);
        assert_eq!(data["previous_assignee"], "usr_0193a1c4e5f67890abcdef0123456780");
    }
}
