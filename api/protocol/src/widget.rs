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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FormField {
    /// Key the answer is stored under: `[a-z][a-z0-9_]{0,31}`.
    pub key: String,
    /// What it collects.
    pub kind: FieldKind,
    /// Whether the visitor must answer.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub required: bool,
    /// Label per language (1–80 characters).
    pub label: BTreeMap<String, String>,
}

/// A form the widget shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FormSettings {
    /// Shown at all.
    pub enabled: bool,
    /// Its fields, in order.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub fields: Vec<FormField>,
}

/// The widget's texts in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WidgetSettings {
    /// Brand colour, `#rrggbb`.
    pub color: String,
    /// Launcher corner.
    pub position: Position,
    /// Logo shown in the header (an https URL), if any.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
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
    #[cfg_attr(feature = "openapi", schema(required))]
    pub allowed_origins: Vec<OriginPattern>,
    /// Refuse visitors whose identity is not verified by the tenant's HMAC.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub identity_required: bool,
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
        }
    }
}

/// Collects field errors while validating.
pub(crate) struct Check(pub(crate) Vec<FieldError>);

impl Check {
    pub(crate) fn fail(&mut self, field: impl Into<String>, code: &str, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), code: code.into(), message: message.into() });
    }

    pub(crate) fn text(&mut self, field: String, value: &str, max: usize) {
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
        check.0
    }
}

/// What the edge learns when it resolves a site key (`GET /internal/edge/v1/sites/{site_key}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    #[cfg_attr(feature = "openapi", schema(required))]
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
