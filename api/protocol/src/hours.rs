//! Service hours (F21): when the team answers — a weekly schedule plus special days (holidays,
//! changed hours), in the tenant's time zone — the automatic replies sent on its behalf (a
//! greeting while it answers, an away message while it does not), and the closing of idle
//! conversations. Validation and the schedule's
//! arithmetic on local dates live here; turning an instant into the tenant's local time (and
//! back) is the api's (Postgres' time zone database).

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::FieldError;
use crate::widget::{Check, LANGUAGES};

/// Most open spans in a week.
pub const MAX_OPEN_SPANS: usize = 28;
/// Most special days.
pub const MAX_SPECIAL_DAYS: usize = 100;
/// Most open spans on one special day.
pub const MAX_SPECIAL_SPANS: usize = 4;
/// Longest automatic reply, in characters.
pub const MAX_AUTO_REPLY_CHARS: usize = 1000;
/// Shortest idle time before a conversation is closed, in minutes.
pub const MIN_AUTO_CLOSE_MINUTES: u32 = 5;
/// Longest idle time before a conversation is closed, in minutes (7 days).
pub const MAX_AUTO_CLOSE_MINUTES: u32 = 7 * 24 * 60;
/// How far ahead the next opening is looked for (a long holiday fits; "never" is beyond it).
pub const LOOKAHEAD_DAYS: u64 = 60;

/// The tenant's service hours document (`GET/PUT /api/v1/service-hours`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ServiceHours {
    /// When the team answers. Outside these hours visitors are told the team is offline (the
    /// offline form shows) even if agents are connected. `None`: whenever agents are there.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub business_hours: Option<BusinessHours>,
    /// Replies Kefu sends on the team's behalf.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub auto_replies: AutoReplies,
    /// Closing conversations the visitor stopped answering.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub auto_close: AutoClose,
}

/// Closing idle conversations: an open conversation whose last public message is the team's (an
/// agent, the bot, an automatic reply) and that saw no activity for `after_minutes` is closed with
/// a message (the widget then asks for a rating). Conversations waiting for the team are never
/// closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AutoClose {
    /// Whether idle conversations are closed.
    pub enabled: bool,
    /// Minutes without activity, 5–10080.
    pub after_minutes: u32,
    /// The closing message per language (as [`AutoReply::texts`]).
    pub texts: BTreeMap<String, String>,
}

impl Default for AutoClose {
    fn default() -> Self {
        Self {
            enabled: false,
            after_minutes: 30,
            texts: BTreeMap::from([
                (
                    "en".into(),
                    "We're closing this conversation as we haven't heard back. Write to us any time to start a new one."
                        .into(),
                ),
                ("zh-CN".into(), "由于您暂时没有回复，本次对话已结束。如有需要，欢迎随时给我们发消息。".into()),
            ]),
        }
    }
}

impl AutoClose {
    /// The language and text for a visitor speaking `language`.
    pub fn text_for(&self, language: Option<&str>, default_language: &str) -> Option<(&str, &str)> {
        pick_text(&self.texts, language, default_language)
    }
}

/// The weekly opening hours of the team, and the days that differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// IANA time zone the hours are in (`Asia/Shanghai`); the api checks it exists. Times are
    /// wall-clock times there, so they follow its daylight saving changes.
    pub timezone: String,
    /// Open spans; a weekday without one is closed.
    pub open: Vec<OpenSpan>,
    /// Dates whose hours replace the weekly ones (a holiday: no spans).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub special_days: Vec<SpecialDay>,
}

/// One open span on one weekday.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OpenSpan {
    /// ISO weekday: 1 = Monday … 7 = Sunday.
    pub day: u8,
    /// Opening time, `HH:MM` (24 h).
    pub from: String,
    /// Closing time, `HH:MM`, after `from` (`24:00` for midnight).
    pub to: String,
}

/// A date with its own hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SpecialDay {
    /// The local date, `YYYY-MM-DD`.
    pub date: String,
    /// What it is ("国庆节", "Christmas Eve"), up to 60 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub label: String,
    /// Its open spans; none: closed all day.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub open: Vec<TimeSpan>,
}

/// An open span within a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TimeSpan {
    /// Opening time, `HH:MM`.
    pub from: String,
    /// Closing time, `HH:MM`, after `from` (`24:00` for midnight).
    pub to: String,
}

/// The automatic replies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AutoReplies {
    /// Answers a conversation's first message while the team is there.
    #[serde(default = "AutoReply::default_greeting")]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub greeting: AutoReply,
    /// Answers a visitor who writes while the team is offline (outside business hours, or nobody
    /// connected): once until an agent writes in the conversation.
    #[serde(default = "AutoReply::default_away")]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub away: AutoReply,
}

/// One automatic reply in every language it is written in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AutoReply {
    /// Whether it is sent.
    pub enabled: bool,
    /// Its text per language (the visitor's language, else the widget's default language, else
    /// English, else any); 1–1000 characters each.
    pub texts: BTreeMap<String, String>,
}

impl Default for AutoReplies {
    fn default() -> Self {
        Self { greeting: AutoReply::default_greeting(), away: AutoReply::default_away() }
    }
}

impl AutoReply {
    fn of(en: &str, zh: &str) -> Self {
        Self { enabled: false, texts: BTreeMap::from([("en".into(), en.into()), ("zh-CN".into(), zh.into())]) }
    }

    /// The greeting's default: off, with texts ready to turn on.
    pub fn default_greeting() -> Self {
        Self::of(
            "Thanks for your message! Someone from the team will be with you shortly.",
            "感谢您的咨询！客服马上为您服务，请稍候。",
        )
    }

    /// The away message's default: off, with texts ready to turn on.
    pub fn default_away() -> Self {
        Self::of(
            "Thanks for your message. We're away right now; we'll answer here as soon as we're back.",
            "感谢您的留言。我们现在不在线，回来后会第一时间在这里回复您。",
        )
    }

    /// The language and text for a visitor speaking `language` (see [`AutoReply::texts`]).
    pub fn text_for(&self, language: Option<&str>, default_language: &str) -> Option<(&str, &str)> {
        pick_text(&self.texts, language, default_language)
    }
}

/// The text for a visitor speaking `language`: theirs (or its base language: `zh` → `zh-CN`),
/// else the widget's default language's, else English, else any.
fn pick_text<'a>(
    texts: &'a BTreeMap<String, String>,
    language: Option<&str>,
    default_language: &str,
) -> Option<(&'a str, &'a str)> {
    let exact = language.and_then(|l| {
        texts.get_key_value(l).or_else(|| {
            let base = l.split(['-', '_']).next().unwrap_or(l);
            texts.iter().find(|(k, _)| k.split('-').next() == Some(base))
        })
    });
    exact
        .or_else(|| texts.get_key_value(default_language))
        .or_else(|| texts.get_key_value("en"))
        .or_else(|| texts.iter().next())
        .map(|(language, text)| (language.as_str(), text.as_str()))
}

/// Minutes since midnight of `HH:MM` (`24:00` allowed).
pub fn minutes_of(time: &str) -> Option<u16> {
    let (h, m) = time.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    ((h < 24 && m < 60) || (h == 24 && m == 0)).then_some(h * 60 + m)
}

/// A wall-clock time in the tenant's time zone, to the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalTime {
    /// The local date.
    pub date: NaiveDate,
    /// Minutes since local midnight (0–1439).
    pub minute: u16,
}

impl BusinessHours {
    /// The open spans of `date` as minutes: its special day's if it has one, else its weekday's.
    fn spans_on(&self, date: NaiveDate) -> Vec<(u16, u16)> {
        let special = self.special_days.iter().find(|d| NaiveDate::parse_from_str(&d.date, "%Y-%m-%d") == Ok(date));
        let spans: Vec<(Option<u16>, Option<u16>)> = match special {
            Some(day) => day.open.iter().map(|s| (minutes_of(&s.from), minutes_of(&s.to))).collect(),
            None => {
                let weekday = u8::try_from(date.weekday().number_from_monday()).unwrap_or(0);
                self.open
                    .iter()
                    .filter(|s| s.day == weekday)
                    .map(|s| (minutes_of(&s.from), minutes_of(&s.to)))
                    .collect()
            }
        };
        spans.into_iter().filter_map(|(from, to)| Some((from?, to?))).filter(|(from, to)| from < to).collect()
    }

    /// Whether the team is open at local time `at`.
    pub fn is_open(&self, at: LocalTime) -> bool {
        self.spans_on(at.date).iter().any(|&(from, to)| from <= at.minute && at.minute < to)
    }

    /// When the team next opens after `at` (a span starting later that day, or on one of the
    /// next [`LOOKAHEAD_DAYS`] days); `None` when it does not within them. Meant for a closed
    /// team: an open one's answer is the start of its next span.
    pub fn next_open(&self, at: LocalTime) -> Option<LocalTime> {
        if let Some(from) = self.spans_on(at.date).iter().map(|&(from, _)| from).filter(|&from| from > at.minute).min()
        {
            return Some(LocalTime { date: at.date, minute: from });
        }
        (1..=LOOKAHEAD_DAYS).find_map(|ahead| {
            let date = at.date.checked_add_days(Days::new(ahead))?;
            let from = self.spans_on(date).iter().map(|&(from, _)| from).min()?;
            Some(LocalTime { date, minute: from })
        })
    }
}

impl ServiceHours {
    /// Every problem with this document (empty when valid); the api also checks that the time
    /// zone exists.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut check = Check(Vec::new());
        if let Some(hours) = &self.business_hours {
            check_hours(&mut check, hours);
        }
        for (name, reply) in [("greeting", &self.auto_replies.greeting), ("away", &self.auto_replies.away)] {
            check_texts(&mut check, &format!("auto_replies.{name}"), reply.enabled, &reply.texts);
        }
        let close = &self.auto_close;
        if !(MIN_AUTO_CLOSE_MINUTES..=MAX_AUTO_CLOSE_MINUTES).contains(&close.after_minutes) {
            check.fail(
                "auto_close.after_minutes",
                "out_of_range",
                format!("{MIN_AUTO_CLOSE_MINUTES} to {MAX_AUTO_CLOSE_MINUTES} minutes"),
            );
        }
        check_texts(&mut check, "auto_close", close.enabled, &close.texts);
        check.0
    }
}

fn check_texts(check: &mut Check, at: &str, enabled: bool, texts: &BTreeMap<String, String>) {
    if enabled && texts.is_empty() {
        check.fail(format!("{at}.texts"), "required", "a text in at least one language to send it");
    }
    for (language, text) in texts {
        if !LANGUAGES.contains(&language.as_str()) {
            check.fail(format!("{at}.texts.{language}"), "unsupported", format!("supported: {}", LANGUAGES.join(", ")));
        } else {
            check.text(format!("{at}.texts.{language}"), text, MAX_AUTO_REPLY_CHARS);
        }
    }
}

fn check_span(check: &mut Check, at: &str, from: &str, to: &str) {
    match (minutes_of(from), minutes_of(to)) {
        (Some(from), Some(to)) if from < to => {}
        (Some(_), Some(_)) => check.fail(format!("{at}.to"), "invalid", "after `from`"),
        _ => check.fail(at.to_owned(), "invalid", "times are HH:MM (24 h)"),
    }
}

fn check_hours(check: &mut Check, hours: &BusinessHours) {
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
        check_span(check, &format!("business_hours.open.{i}"), &span.from, &span.to);
    }
    if hours.special_days.len() > MAX_SPECIAL_DAYS {
        check.fail("business_hours.special_days", "too_many", format!("at most {MAX_SPECIAL_DAYS} special days"));
    }
    let mut dates = std::collections::BTreeSet::new();
    for (i, day) in hours.special_days.iter().enumerate() {
        let at = format!("business_hours.special_days.{i}");
        match NaiveDate::parse_from_str(&day.date, "%Y-%m-%d") {
            Ok(date) if day.date.len() == 10 => {
                if !dates.insert(date) {
                    check.fail(format!("{at}.date"), "duplicate", "each date once");
                }
            }
            _ => check.fail(format!("{at}.date"), "invalid", "a date is YYYY-MM-DD"),
        }
        if day.label.chars().count() > 60 {
            check.fail(format!("{at}.label"), "too_long", "at most 60 characters");
        }
        if day.open.len() > MAX_SPECIAL_SPANS {
            check.fail(format!("{at}.open"), "too_many", format!("at most {MAX_SPECIAL_SPANS} spans"));
        }
        for (j, span) in day.open.iter().enumerate() {
            check_span(check, &format!("{at}.open.{j}"), &span.from, &span.to);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(day: u8, from: &str, to: &str) -> OpenSpan {
        OpenSpan { day, from: from.into(), to: to.into() }
    }

    fn at(date: &str, hh: u16, mm: u16) -> LocalTime {
        LocalTime { date: NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("date"), minute: hh * 60 + mm }
    }

    fn hours() -> BusinessHours {
        BusinessHours {
            timezone: "Asia/Shanghai".into(),
            // Monday–Friday 09:00–18:00, Saturday 10:00–24:00.
            open: (1..=5).map(|d| span(d, "09:00", "18:00")).chain([span(6, "10:00", "24:00")]).collect(),
            special_days: vec![
                SpecialDay { date: "2026-10-01".into(), label: "国庆节".into(), open: vec![] },
                SpecialDay {
                    date: "2026-10-11".into(), // a Sunday worked in exchange
                    label: "调休".into(),
                    open: vec![TimeSpan { from: "13:00".into(), to: "17:30".into() }],
                },
            ],
        }
    }

    #[test]
    fn weekly_boundaries() {
        let h = hours();
        // 2026-12-07 is a Monday.
        assert!(!h.is_open(at("2026-12-07", 8, 59)));
        assert!(h.is_open(at("2026-12-07", 9, 0)));
        assert!(h.is_open(at("2026-12-07", 17, 59)));
        assert!(!h.is_open(at("2026-12-07", 18, 0)));
        assert!(h.is_open(at("2026-12-12", 23, 59)), "Saturday until midnight");
        assert!(!h.is_open(at("2026-12-13", 12, 0)), "Sunday closed");
    }

    #[test]
    fn special_days_replace_the_weekday() {
        let h = hours();
        // 2026-10-01 is a Thursday, a holiday.
        assert!(!h.is_open(at("2026-10-01", 10, 0)));
        assert!(h.is_open(at("2026-10-02", 10, 0)), "the next day is an ordinary Friday");
        // 2026-10-11 is a Sunday with special hours.
        assert!(!h.is_open(at("2026-10-11", 12, 59)));
        assert!(h.is_open(at("2026-10-11", 13, 0)));
        assert!(!h.is_open(at("2026-10-11", 17, 30)));
    }

    #[test]
    fn next_opening_skips_closed_days() {
        let h = hours();
        // Wednesday night before the holiday: Thursday is closed, Friday opens at 09:00.
        assert_eq!(h.next_open(at("2026-09-30", 18, 0)), Some(at("2026-10-02", 9, 0)));
        // Early the same day.
        assert_eq!(h.next_open(at("2026-12-07", 7, 30)), Some(at("2026-12-07", 9, 0)));
        // Saturday night: Sunday closed, Monday 09:00.
        assert_eq!(h.next_open(at("2026-12-13", 0, 0)), Some(at("2026-12-14", 9, 0)));
        // Saturday's special Sunday after it.
        assert_eq!(h.next_open(at("2026-10-10", 23, 59)), Some(at("2026-10-11", 13, 0)));
        let never = BusinessHours { timezone: "UTC".into(), open: vec![], special_days: vec![] };
        assert_eq!(never.next_open(at("2026-12-07", 0, 0)), None);
    }

    #[test]
    fn problems_are_reported_with_their_field() {
        assert_eq!(ServiceHours { business_hours: Some(hours()), ..ServiceHours::default() }.validate(), Vec::new());
        let mut bad = hours();
        bad.timezone = "Asia/Shanghai; drop".into();
        bad.open = vec![span(0, "09:00", "18:00"), span(1, "18:00", "09:00"), span(2, "9am", "5pm")];
        bad.special_days = vec![
            SpecialDay { date: "2026-02-30".into(), label: String::new(), open: vec![] },
            SpecialDay { date: "2026-10-01".into(), label: "x".repeat(61), open: vec![] },
            SpecialDay {
                date: "2026-10-01".into(),
                label: String::new(),
                open: vec![TimeSpan { from: "12:00".into(), to: "11:00".into() }],
            },
        ];
        let mut doc = ServiceHours { business_hours: Some(bad), ..ServiceHours::default() };
        doc.auto_replies.away.enabled = true;
        doc.auto_replies.away.texts = BTreeMap::new();
        doc.auto_replies.greeting.texts.insert("fr".into(), "Bonjour".into());
        doc.auto_replies.greeting.texts.insert("en".into(), " ".into());
        doc.auto_close.after_minutes = 4;
        let fields: Vec<(String, String)> = doc.validate().into_iter().map(|p| (p.field, p.code)).collect();
        let expected = [
            ("business_hours.timezone", "invalid"),
            ("business_hours.open.0.day", "invalid"),
            ("business_hours.open.1.to", "invalid"),
            ("business_hours.open.2", "invalid"),
            ("business_hours.special_days.0.date", "invalid"),
            ("business_hours.special_days.1.label", "too_long"),
            ("business_hours.special_days.2.date", "duplicate"),
            ("business_hours.special_days.2.open.0.to", "invalid"),
            ("auto_replies.greeting.texts.en", "required"),
            ("auto_replies.greeting.texts.fr", "unsupported"),
            ("auto_replies.away.texts", "required"),
            ("auto_close.after_minutes", "out_of_range"),
        ];
        assert_eq!(fields, expected.map(|(f, c)| (f.to_owned(), c.to_owned())));
    }

    #[test]
    fn a_reply_speaks_the_visitors_language() {
        let reply = AutoReply::default_away();
        let language = |visitor, default| reply.text_for(visitor, default).map(|(language, _)| language);
        assert_eq!(language(Some("zh-CN"), "en"), Some("zh-CN"));
        assert_eq!(language(Some("zh"), "en"), Some("zh-CN"));
        assert_eq!(language(Some("en-GB"), "zh-CN"), Some("en"));
        assert_eq!(language(Some("de"), "zh-CN"), Some("zh-CN"));
        assert_eq!(language(None, "en"), Some("en"));
        assert!(reply.text_for(Some("zh-CN"), "en").is_some_and(|(_, text)| text.starts_with("感谢")));
    }

    #[test]
    fn an_empty_document_is_the_defaults() {
        let doc: ServiceHours = serde_json::from_str("{}").expect("parse");
        assert_eq!(doc, ServiceHours::default());
        assert!(!doc.auto_replies.greeting.enabled && !doc.auto_replies.away.enabled);
    }
}
