//! Routing rules (F19): on a new conversation or a visitor's message, conditions on the message,
//! the page, the visitor's language and attributes lead to actions — a tag, a team, a priority,
//! an agent. This module owns their shape and structural checks; the api checks what needs its
//! data (patterns compile, teams and agents exist) and runs them.

use serde::{Deserialize, Serialize};

use crate::widget::Check;
use crate::{FieldError, TeamId, UserId};

/// Most rules per tenant.
pub const MAX_RULES: usize = 50;
/// Most conditions, and most actions, per rule.
pub const MAX_PARTS: usize = 10;
/// Longest value (text, pattern, tag), in characters.
pub const MAX_VALUE_CHARS: usize = 200;

/// A rule: when `trigger` happens and every condition holds, the actions apply (once per
/// conversation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable id (`[a-z0-9_-]{1,40}`, unique), recorded on the conversations it fired on.
    pub id: String,
    /// What people call it (1–80 characters).
    pub name: String,
    /// Whether it runs.
    pub enabled: bool,
    /// When it is evaluated.
    pub trigger: Trigger,
    /// All must hold (1–10).
    pub conditions: Vec<Condition>,
    /// What it does (1–10).
    pub actions: Vec<Action>,
}

/// When a rule is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// On the message that opens a conversation (before the assignment engine sees it).
    ConversationOpened,
    /// On every visitor message (the first included).
    VisitorMessage,
}

/// How a text is compared (case-insensitive, except `matches`, whose pattern says).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TextOp {
    /// Contains the value.
    Contains,
    /// Is the value.
    Equals,
    /// Starts with the value.
    StartsWith,
    /// Matches the value as a regular expression (Rust `regex` syntax, e.g. `(?i)refund|退款`).
    Matches,
}

/// A condition on what the visitor wrote, where they are, or who they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "field", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The visitor's message.
    Message {
        /// How.
        op: TextOp,
        /// What.
        value: String,
    },
    /// The URL of the page the visitor is on (their latest page view).
    PageUrl {
        /// How.
        op: TextOp,
        /// What.
        value: String,
    },
    /// The visitor's language is this one (`zh` also matches `zh-CN`).
    Language {
        /// A language tag.
        value: String,
    },
    /// A visitor attribute, as text: a custom field of a form, else a key of the host page's
    /// context (`Kefu('setContext', …)`), else `phone`.
    Attribute {
        /// Its key.
        key: String,
        /// How.
        op: TextOp,
        /// What.
        value: String,
    },
}

/// What a rule does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Adds a tag.
    Tag {
        /// The tag (1–40 characters).
        tag: String,
    },
    /// Puts a waiting conversation in this team's queue.
    Team {
        /// The team.
        team_id: TeamId,
    },
    /// Raises its priority in the queue to at least this (0–100).
    Priority {
        /// The priority.
        priority: u8,
    },
    /// Gives a waiting conversation to this agent, within their capacity.
    Assign {
        /// The agent.
        user_id: UserId,
    },
}

impl Condition {
    /// The pattern of a `matches` condition, for the api to compile, with its field path.
    pub fn pattern(&self) -> Option<&str> {
        match self {
            Condition::Message { op: TextOp::Matches, value }
            | Condition::PageUrl { op: TextOp::Matches, value }
            | Condition::Attribute { op: TextOp::Matches, value, .. } => Some(value),
            _ => None,
        }
    }
}

/// Every structural problem with `rules` (empty when valid), with `rules.{i}.…` paths.
pub fn validate(rules: &[Rule]) -> Vec<FieldError> {
    let mut check = Check(Vec::new());
    if rules.len() > MAX_RULES {
        check.fail("rules", "too_many", format!("at most {MAX_RULES} rules"));
    }
    let mut ids = std::collections::BTreeSet::new();
    for (i, rule) in rules.iter().enumerate() {
        let at = format!("rules.{i}");
        let id_ok = (1..=40).contains(&rule.id.len())
            && rule.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !id_ok {
            check.fail(format!("{at}.id"), "invalid", "an id is [a-z0-9_-]{1,40}");
        } else if !ids.insert(rule.id.as_str()) {
            check.fail(format!("{at}.id"), "duplicate", "ids must be unique");
        }
        check.text(format!("{at}.name"), &rule.name, 80);
        for (name, count) in [("conditions", rule.conditions.len()), ("actions", rule.actions.len())] {
            if count == 0 {
                check.fail(format!("{at}.{name}"), "required", format!("at least one of the {name}"));
            } else if count > MAX_PARTS {
                check.fail(format!("{at}.{name}"), "too_many", format!("at most {MAX_PARTS}"));
            }
        }
        for (j, condition) in rule.conditions.iter().enumerate() {
            let at = format!("{at}.conditions.{j}");
            match condition {
                Condition::Message { value, .. } | Condition::PageUrl { value, .. } | Condition::Language { value } => {
                    check.text(format!("{at}.value"), value, MAX_VALUE_CHARS);
                }
                Condition::Attribute { key, value, .. } => {
                    check.text(format!("{at}.key"), key, 40);
                    check.text(format!("{at}.value"), value, MAX_VALUE_CHARS);
                }
            }
        }
        for (j, action) in rule.actions.iter().enumerate() {
            let at = format!("{at}.actions.{j}");
            match action {
                Action::Tag { tag } => check.text(format!("{at}.tag"), tag, 40),
                Action::Priority { priority } if *priority > 100 => {
                    check.fail(format!("{at}.priority"), "out_of_range", "0 to 100");
                }
                Action::Priority { .. } | Action::Team { .. } | Action::Assign { .. } => {}
            }
        }
    }
    check.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_round_trip_in_their_documented_shape() {
        let json = r#"[{"id":"refunds","name":"退款","enabled":true,"trigger":"conversation_opened",
            "conditions":[{"field":"message","op":"matches","value":"(?i)refund|退款"},
                          {"field":"attribute","key":"plan","op":"equals","value":"enterprise"},
                          {"field":"language","value":"zh"}],
            "actions":[{"type":"tag","tag":"refund"},{"type":"priority","priority":60}]}]"#;
        let rules: Vec<Rule> = serde_json::from_str(json).expect("parse");
        assert_eq!(validate(&rules), Vec::new());
        assert_eq!(rules[0].conditions[0].pattern(), Some("(?i)refund|退款"));
        assert_eq!(rules[0].conditions[1].pattern(), None);
        assert!(serde_json::from_str::<Vec<Rule>>(&json.replace("\"op\":\"equals\"", "\"op\":\"like\"")).is_err());
    }

    #[test]
    fn problems_carry_their_path() {
        let rule = |id: &str| Rule {
            id: id.into(),
            name: "r".into(),
            enabled: true,
            trigger: Trigger::VisitorMessage,
            conditions: vec![Condition::Message { op: TextOp::Contains, value: "x".into() }],
            actions: vec![Action::Tag { tag: "t".into() }],
        };
        let mut bad = vec![rule("a"), rule("a"), rule("Bad Id"), rule("d")];
        bad[3].conditions = vec![];
        bad[3].actions = vec![Action::Priority { priority: 101 }, Action::Tag { tag: String::new() }];
        let fields: Vec<(String, String)> = validate(&bad).into_iter().map(|e| (e.field, e.code)).collect();
        let expected = [
            ("rules.1.id", "duplicate"),
            ("rules.2.id", "invalid"),
            ("rules.3.conditions", "required"),
            ("rules.3.actions.0.priority", "out_of_range"),
            ("rules.3.actions.1.tag", "required"),
        ];
        assert_eq!(fields, expected.map(|(f, c)| (f.to_owned(), c.to_owned())));
    }
}
