//! A tenant's widget settings (F5, F6): branding, texts per language, pre-chat and offline forms,
//! allowed origins and identity verification. Admins save them through the api, which validates
//! them here; the edge receives them when it resolves a site key and renders the loader.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::origin::OriginPattern;
use crate::{SiteKeyId, TenantId};

/// Languages the widget speaks.
pub const LANGUAGES: [&str; 2] = ["en", "zh-CN"];
/// Most allowed origins per tenant.
pub const MAX_ORIGINS: usize = 50;
/// Most fields per form.
pub const MAX_FORM_FIELDS: usize = 10;

/// Which corner the launcher sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// Bottom right.
    Right,
    /// Bottom left.
    Left,
}

/// What a form field collects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// The visitor's name.
    Name,
    /// An email address.
    Email,
    /// A phone number.
    Phone,
    /// Free text.
    Text,
}

/// One field of the pre-chat or offline form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct FormField {
    /// Key the answer is stored under: `[a-z][a-z0-9_]{0,31}`.
    pub key: String,
    /// What it collects.
    pub kind: FieldKind,
    /// Whether the visitor must answer.
    #[serde(default)]
    pub required: bool,
    /// Label per language (1–80 characters).
    pub label: BTreeMap<String, String>,
}

/// A form the widget shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct FormSettings {
    /// Shown at all.
    pub enabled: bool,
    /// Its fields, in order.
    #[serde(default)]
    pub fields: Vec<FormField>,
}

/// The widget's texts in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct WidgetTexts {
    /// Header title (1–60 characters).
    pub title: String,
    /// First message shown to a visitor (1–500).
    pub greeting: String,
    /// Shown when nobody is online (1–500).
    pub offline_message: String,
    /// Placeholder of the message box (1–80).
    pub input_placeholder: String,
}

/// Everything an admin sets about the widget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct WidgetSettings {
    /// Brand colour, `#rrggbb`.
    pub color: String,
    /// Launcher corner.
    pub position: Position,
    /// Logo shown in the header (an https URL), if any.
    #[serde(default)]
    pub logo_url: Option<String>,
    /// Language used when the visitor's browser prefers none of `languages`.
    pub default_language: String,
    /// Languages offered (a subset of [`LANGUAGES`]).
    pub languages: Vec<String>,
    /// Texts per offered language.
    pub texts: BTreeMap<String, WidgetTexts>,
    /// Pre-chat form.
    pub pre_chat: FormSettings,
    /// Offline "leave a message" form.
    pub offline_form: FormSettings,
    /// Sites allowed to embed the widget (exact origins or `https://*.domain`).
    #[serde(default)]
    pub allowed_origins: Vec<OriginPattern>,
    /// Refuse visitors whose identity is not verified by the tenant's HMAC.
    #[serde(default)]
    pub identity_required: bool,
    /// When the team answers. Outside these hours visitors are told the team is offline (the
    /// offline form shows) even if agents are connected. `None`: always, when agents are there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_hours: Option<BusinessHours>,
}

/// The weekly opening hours of the team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// IANA time zone the hours are in (`Asia/Shanghai`); the api checks it exists.
    pub timezone: String,
    /// Open spans; a day without one is closed.
    pub open: Vec<OpenSpan>,
}

/// One open span on one weekday.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct OpenSpan {
    /// ISO weekday: 1 = Monday … 7 = Sunday.
    pub day: u8,
    /// Opening time, `HH:MM` (24 h).
    pub from: String,
    /// Closing time, `HH:MM`, after `from` (`24:00` for midnight).
    pub to: String,
}

/// Most open spans in a week.
pub const MAX_OPEN_SPANS: usize = 28;

/// Minutes since midnight of `HH:MM` (`24:00` allowed).
pub fn minutes_of(time: &str) -> Option<u16> {
    let (h, m) = time.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    ((h < 24 && m < 60) || (h == 24 && m == 0)).then_some(h * 60 + m)
}

impl BusinessHours {
    /// Whether the team is open on ISO weekday `day` at `minute` past midnight (local time).
    pub fn is_open(&self, day: u8, minute: u16) -> bool {
        self.open.iter().any(|span| {
            span.day == day
                && matches!((minutes_of(&span.from), minutes_of(&span.to)), (Some(from), Some(to)) if from <= minute && minute < to)
        })
    }
}

fn texts(title: &str, greeting: &str, offline: &str, placeholder: &str) -> WidgetTexts {
    WidgetTexts {
        title: title.into(),
        greeting: greeting.into(),
        offline_message: offline.into(),
        input_placeholder: placeholder.into(),
    }
}

impl Default for WidgetSettings {
    fn default() -> Self {
        let field = |key: &str, kind, en: &str, zh: &str| FormField {
            key: key.into(),
            kind,
            required: kind == FieldKind::Email,
            label: BTreeMap::from([("en".into(), en.into()), ("zh-CN".into(), zh.into())]),
        };
        Self {
            color: "#2563eb".into(),
            position: Position::Right,
            logo_url: None,
            default_language: "en".into(),
            languages: LANGUAGES.iter().map(|l| (*l).to_owned()).collect(),
            texts: BTreeMap::from([
                (
                    "en".into(),
                    texts(
                        "Chat with us",
                        "Hi! How can we help?",
                        "We're away right now. Leave a message and we'll reply by email.",
                        "Type a message…",
                    ),
                ),
                (
                    "zh-CN".into(),
                    texts(
                        "在线客服",
                        "您好！请问有什么可以帮您？",
                        "客服暂时不在线，请留言，我们会通过邮件回复您。",
                        "输入消息…",
                    ),
                ),
            ]),
            pre_chat: FormSettings { enabled: false, fields: vec![field("name", FieldKind::Name, "Name", "姓名")] },
            offline_form: FormSettings {
                enabled: true,
                fields: vec![
                    field("name", FieldKind::Name, "Name", "姓名"),
                    field("email", FieldKind::Email, "Email", "邮箱"),
                ],
            },
            allowed_origins: Vec::new(),
            identity_required: false,
            business_hours: None,
        }
    }
}

struct Check(Vec<FieldError>);

impl Check {
    fn fail(&mut self, field: impl Into<String>, code: &str, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), code: code.into(), message: message.into() });
    }

    fn text(&mut self, field: String, value: &str, max: usize) {
        let chars = value.trim().chars().count();
        if chars == 0 {
            self.fail(field, "required", "must not be empty");
        } else if chars > max {
            self.fail(field, "too_long", format!("at most {max} characters"));
        }
    }

    fn form(&mut self, name: &str, form: &FormSettings, languages: &[String]) {
        if form.fields.len() > MAX_FORM_FIELDS {
            self.fail(format!("{name}.fields"), "too_many", format!("at most {MAX_FORM_FIELDS} fields"));
        }
        let mut keys = std::collections::BTreeSet::new();
        for (i, field) in form.fields.iter().enumerate() {
            let at = format!("{name}.fields.{i}");
            let key_ok = field.key.len() <= 32
                && field.key.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
                && field.key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !key_ok {
                self.fail(format!("{at}.key"), "invalid", "a key is [a-z][a-z0-9_]{0,31}");
            } else if !keys.insert(field.key.as_str()) {
                self.fail(format!("{at}.key"), "duplicate", "keys must be unique within a form");
            }
            for language in field.label.keys().filter(|l| !languages.contains(l)) {
                self.fail(
                    format!("{at}.label.{language}"),
                    "unsupported",
                    "a label for a language that is not offered",
                );
            }
            for language in languages {
                match field.label.get(language) {
                    Some(label) => self.text(format!("{at}.label.{language}"), label, 80),
                    None => self.fail(format!("{at}.label.{language}"), "required", "a label for every language"),
                }
            }
        }
    }
}

impl WidgetSettings {
    /// Every problem with these settings (empty when valid).
    pub fn validate(&self) -> Vec<FieldError> {
        let mut check = Check(Vec::new());
        let hex = self.color.len() == 7
            && self.color.starts_with('#')
            && self.color.bytes().skip(1).all(|b| b.is_ascii_hexdigit());
        if !hex {
            check.fail("color", "invalid", "a colour is #rrggbb");
        }
        if let Some(url) = &self.logo_url
            && (!url.starts_with("https://") || url.len() > 2048 || url.contains(char::is_whitespace))
        {
            check.fail("logo_url", "invalid", "an https URL of at most 2048 characters");
        }
        if self.languages.is_empty() {
            check.fail("languages", "required", "offer at least one language");
        }
        for (i, language) in self.languages.iter().enumerate() {
            if !LANGUAGES.contains(&language.as_str()) {
                check.fail(format!("languages.{i}"), "unsupported", format!("supported: {}", LANGUAGES.join(", ")));
            } else if self.languages[..i].contains(language) {
                check.fail(format!("languages.{i}"), "duplicate", "listed twice");
            }
        }
        if !self.languages.contains(&self.default_language) {
            check.fail("default_language", "invalid", "must be one of the offered languages");
        }
        for language in &self.languages {
            match self.texts.get(language) {
                None => check.fail(format!("texts.{language}"), "required", "texts for every offered language"),
                Some(t) => {
                    check.text(format!("texts.{language}.title"), &t.title, 60);
                    check.text(format!("texts.{language}.greeting"), &t.greeting, 500);
                    check.text(format!("texts.{language}.offline_message"), &t.offline_message, 500);
                    check.text(format!("texts.{language}.input_placeholder"), &t.input_placeholder, 80);
                }
            }
        }
        for language in self.texts.keys().filter(|l| !self.languages.contains(l)) {
            check.fail(format!("texts.{language}"), "unsupported", "texts for a language that is not offered");
        }
        check.form("pre_chat", &self.pre_chat, &self.languages);
        check.form("offline_form", &self.offline_form, &self.languages);
        if self.allowed_origins.len() > MAX_ORIGINS {
            check.fail("allowed_origins", "too_many", format!("at most {MAX_ORIGINS} origins"));
        }
        if let Some(hours) = &self.business_hours {
            let tz_ok = !hours.timezone.is_empty()
                && hours.timezone.len() <= 64
                && hours.timezone.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b));
            if !tz_ok {
                check.fail("business_hours.timezone", "invalid", "an IANA time zone such as Asia/Shanghai");
            }
            if hours.open.len() > MAX_OPEN_SPANS {
                check.fail("business_hours.open", "too_many", format!("at most {MAX_OPEN_SPANS} spans"));
            }
            for (i, span) in hours.open.iter().enumerate() {
                if !(1..=7).contains(&span.day) {
                    check.fail(format!("business_hours.open.{i}.day"), "invalid", "1 (Monday) to 7 (Sunday)");
                }
                match (minutes_of(&span.from), minutes_of(&span.to)) {
                    (Some(from), Some(to)) if from < to => {}
                    (Some(_), Some(_)) => check.fail(format!("business_hours.open.{i}.to"), "invalid", "after `from`"),
                    _ => check.fail(format!("business_hours.open.{i}"), "invalid", "times are HH:MM (24 h)"),
                }
            }
        }
        check.0
    }
}

/// What the edge learns when it resolves a site key (`GET /internal/edge/v1/sites/{site_key}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EdgeSite {
    /// The site key.
    pub site_key: SiteKeyId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The tenant's home region: where its visitors' WebSockets go and the `region` of their tokens.
    pub region: String,
    /// Settings version; changes whenever an admin saves.
    pub version: i64,
    /// The settings.
    pub settings: WidgetSettings,
    /// Secret for identity verification: `hex(HMAC-SHA256(secret, user_id))` from the tenant's
    /// backend proves a visitor's user id. `None` until an admin generates one.
    pub identity_secret: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip() {
        let settings = WidgetSettings::default();
        assert_eq!(settings.validate(), Vec::new());
        let json = serde_json::to_string(&settings).expect("serialize");
        assert_eq!(serde_json::from_str::<WidgetSettings>(&json).expect("deserialize"), settings);
    }

    #[test]
    fn business_hours_are_checked_and_answer_open_or_closed() {
        let span = |day, from: &str, to: &str| OpenSpan { day, from: from.into(), to: to.into() };
        let hours = BusinessHours {
            timezone: "Asia/Shanghai".into(),
            open: vec![span(1, "09:00", "18:00"), span(6, "10:00", "24:00")],
        };
        assert!(hours.is_open(1, 9 * 60) && hours.is_open(1, 18 * 60 - 1) && !hours.is_open(1, 18 * 60));
        assert!(!hours.is_open(2, 12 * 60) && hours.is_open(6, 23 * 60 + 59));
        let mut settings = WidgetSettings { business_hours: Some(hours), ..WidgetSettings::default() };
        assert_eq!(settings.validate(), Vec::new());
        settings.business_hours = Some(BusinessHours {
            timezone: "Asia/Shanghai; drop".into(),
            open: vec![span(0, "09:00", "18:00"), span(1, "18:00", "09:00"), span(2, "9am", "5pm")],
        });
        let fields: Vec<String> = settings.validate().into_iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "business_hours.timezone",
                "business_hours.open.0.day",
                "business_hours.open.1.to",
                "business_hours.open.2"
            ]
        );
    }

    #[test]
    fn labels_only_for_offered_languages() {
        let mut settings = WidgetSettings::default();
        settings.pre_chat.fields[0].label.insert("x".repeat(10_000), "y".into());
        let codes: Vec<String> = settings.validate().into_iter().map(|e| e.code).collect();
        assert_eq!(codes, ["unsupported"]);
    }

    #[test]
    fn reports_every_problem_with_its_path() {
        let mut settings = WidgetSettings { color: "blue".into(), ..WidgetSettings::default() };
        settings.languages.push("fr".into());
        settings.default_language = "de".into();
        settings.texts.get_mut("zh-CN").expect("zh").title = " ".into();
        settings.pre_chat.fields.push(settings.pre_chat.fields[0].clone());
        let fields: Vec<String> = settings.validate().into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect();
        assert_eq!(
            fields,
            [
                "color:invalid",
                "languages.2:unsupported",
                "default_language:invalid",
                "texts.zh-CN.title:required",
                "texts.fr:required",
                "pre_chat.fields.0.label.fr:required",
                "pre_chat.fields.1.key:duplicate",
                "pre_chat.fields.1.label.fr:required",
                "offline_form.fields.0.label.fr:required",
                "offline_form.fields.1.label.fr:required",
            ]
        );
    }
}
