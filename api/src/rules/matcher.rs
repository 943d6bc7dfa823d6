//! Rules compiled for evaluation (patterns compiled once per version of a tenant's rules), and
//! evaluation without I/O: which rules a message and its visitor's facts satisfy.

use kefu_protocol::rules::{Condition, Rule, TextOp, Trigger};
use regex::{Regex, RegexBuilder};

/// The most memory one compiled pattern may take (a pattern beyond it is refused when saved).
const PATTERN_SIZE_LIMIT: usize = 256 * 1024;

/// A pattern's compilation error, for the field that holds it.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern).size_limit(PATTERN_SIZE_LIMIT).build().map_err(|e| match e {
        regex::Error::CompiledTooBig(_) => "the pattern is too large".to_owned(),
        other => other.to_string().lines().last().unwrap_or("invalid pattern").trim().to_owned(),
    })
}

/// What a conversation offers its conditions.
#[derive(Debug, Default)]
pub struct Facts<'a> {
    /// The visitor's message.
    pub message: &'a str,
    /// The page they are on.
    pub page_url: Option<&'a str>,
    /// Their language.
    pub language: Option<&'a str>,
    /// Their attributes.
    pub attributes: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

/// A tenant's enabled rules, ready to evaluate.
#[derive(Debug, Default)]
pub struct CompiledRules {
    rules: Vec<(Rule, Vec<Option<Regex>>)>,
}

impl CompiledRules {
    /// Compiles the enabled rules; a rule with a pattern that no longer compiles is left out.
    pub fn new(rules: Vec<Rule>) -> Self {
        let rules = rules
            .into_iter()
            .filter(|rule| rule.enabled)
            .filter_map(|rule| {
                let patterns: Option<Vec<Option<Regex>>> = rule
                    .conditions
                    .iter()
                    .map(|c| match c.pattern() {
                        Some(pattern) => compile(pattern).ok().map(Some),
                        None => Some(None),
                    })
                    .collect();
                patterns.map(|patterns| (rule, patterns))
            })
            .collect();
        Self { rules }
    }

    /// Whether any rule runs on a conversation's opening message.
    pub fn has_opening_rules(&self) -> bool {
        self.rules.iter().any(|(rule, _)| rule.trigger == Trigger::ConversationOpened)
    }

    /// Whether there is nothing to run.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules that fire for a visitor message (`opened`: it opened the conversation), in order,
    /// leaving out those in `fired`.
    pub fn matching<'a>(&'a self, opened: bool, facts: &Facts<'_>, fired: &[String]) -> Vec<&'a Rule> {
        self.rules
            .iter()
            .filter(|(rule, _)| opened || rule.trigger == Trigger::VisitorMessage)
            .filter(|(rule, _)| !fired.contains(&rule.id))
            .filter(|(rule, patterns)| rule.conditions.iter().zip(patterns).all(|(c, p)| holds(c, p.as_ref(), facts)))
            .map(|(rule, _)| rule)
            .collect()
    }
}

fn holds(condition: &Condition, pattern: Option<&Regex>, facts: &Facts<'_>) -> bool {
    match condition {
        Condition::Message { op, value } => compare(*op, facts.message, value, pattern),
        Condition::PageUrl { op, value } => facts.page_url.is_some_and(|url| compare(*op, url, value, pattern)),
        Condition::Language { value } => facts.language.is_some_and(|language| {
            let (language, value) = (language.to_lowercase(), value.to_lowercase());
            language == value || language.split(['-', '_']).next() == Some(value.as_str())
        }),
        Condition::Attribute { key, op, value } => {
            // A form's custom field, else a key of the host page's context, else a visitor
            // attribute of its own (`phone`).
            let found = facts.attributes.and_then(|a| {
                let nested = |section: &str| a.get(section).and_then(|s| s.get(key.as_str()));
                nested("fields").or_else(|| nested("context")).or_else(|| a.get(key))
            });
            let text = found.map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            text.is_some_and(|text| compare(*op, &text, value, pattern))
        }
    }
}

fn compare(op: TextOp, text: &str, value: &str, pattern: Option<&Regex>) -> bool {
    match op {
        TextOp::Matches => pattern.is_some_and(|p| p.is_match(text)),
        TextOp::Contains => text.to_lowercase().contains(&value.to_lowercase()),
        TextOp::Equals => text.trim().to_lowercase() == value.trim().to_lowercase(),
        TextOp::StartsWith => text.to_lowercase().starts_with(&value.to_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_protocol::rules::Action;

    fn rule(id: &str, trigger: Trigger, conditions: Vec<Condition>) -> Rule {
        Rule {
            id: id.into(),
            name: id.into(),
            enabled: true,
            trigger,
            conditions,
            actions: vec![Action::Tag { tag: id.into() }],
        }
    }

    #[test]
    fn each_condition_kind_decides() {
        let attributes: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(r#"{"fields":{"plan":"Enterprise"},"context":{"seats":250}}"#).expect("attributes");
        let rules = CompiledRules::new(vec![
            rule(
                "kw",
                Trigger::VisitorMessage,
                vec![Condition::Message { op: TextOp::Contains, value: "退款".into() }],
            ),
            rule(
                "re",
                Trigger::VisitorMessage,
                vec![Condition::Message { op: TextOp::Matches, value: r"(?i)\brefund(s)?\b".into() }],
            ),
            rule(
                "url",
                Trigger::ConversationOpened,
                vec![Condition::PageUrl { op: TextOp::Contains, value: "/pricing".into() }],
            ),
            rule("zh", Trigger::ConversationOpened, vec![Condition::Language { value: "zh".into() }]),
            rule(
                "plan",
                Trigger::VisitorMessage,
                vec![
                    Condition::Attribute { key: "plan".into(), op: TextOp::Equals, value: "enterprise".into() },
                    Condition::Attribute { key: "seats".into(), op: TextOp::StartsWith, value: "2".into() },
                ],
            ),
        ]);
        assert!(rules.has_opening_rules());
        let facts = Facts {
            message: "我要退款, REFUND please",
            page_url: Some("https://shop.example/pricing?x=1"),
            language: Some("zh-CN"),
            attributes: Some(&attributes),
        };
        let ids = |opened, fired: &[String]| -> Vec<String> {
            rules.matching(opened, &facts, fired).into_iter().map(|r| r.id.clone()).collect()
        };
        assert_eq!(ids(true, &[]), ["kw", "re", "url", "zh", "plan"]);
        assert_eq!(ids(false, &[]), ["kw", "re", "plan"], "opening rules only on the opening message");
        assert_eq!(ids(false, &["kw".into(), "plan".into()]), ["re"], "each rule fires once");
        let other = Facts { message: "refunded?", page_url: None, language: Some("en-GB"), attributes: None };
        assert!(rules.matching(true, &other, &[]).is_empty(), "no word match, no page, not Chinese, no attributes");
    }

    #[test]
    fn bad_patterns_are_refused_with_a_reason_and_disabled_rules_do_not_run() {
        assert!(compile("(unclosed").is_err_and(|e| !e.is_empty()));
        assert!(compile(&format!("{}{{1000}}", "a{1000}")).is_err(), "too big");
        let mut off =
            rule("off", Trigger::VisitorMessage, vec![Condition::Message { op: TextOp::Contains, value: "x".into() }]);
        off.enabled = false;
        let rules = CompiledRules::new(vec![off]);
        assert!(rules.is_empty());
    }
}
