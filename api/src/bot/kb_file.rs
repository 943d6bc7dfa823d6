//! Knowledge-base entries as people write them: one entry's rules (shared by the REST API and
//! imports), and the CSV and JSON files the console imports and exports.
//!
//! CSV: a header row `language,question,alternatives,answer[,enabled]`, then one entry per row;
//! `alternatives` are separated by `|`; `enabled` is `true`/`false` (default `true`). JSON: an
//! array of `{language, question, alternatives?, answer, enabled?}`. An import is validated row
//! by row and is all or nothing: any invalid row refuses the whole file, with every error and
//! its line.

use kefu_protocol::FieldError;
use serde::{Deserialize, Serialize};

use crate::db::bot::{EntryRow, NewEntry};

/// Longest question or alternative, in characters.
pub const MAX_QUESTION_CHARS: usize = 500;
/// Longest answer, in characters.
pub const MAX_ANSWER_CHARS: usize = 4000;
/// Most alternatives per entry.
pub const MAX_ALTERNATIVES: usize = 20;
/// Largest import file, in bytes.
pub const MAX_IMPORT_BYTES: usize = 5 * 1024 * 1024;

/// An entry as written (before validation).
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEntry {
    /// A language tag: `zh-CN`, `en`, `ja`…
    pub language: String,
    /// The main question, 1–500 characters.
    pub question: String,
    /// Other ways visitors ask it (at most 20, each 1–500 characters).
    #[serde(default)]
    pub alternatives: Vec<String>,
    /// The answer, 1–4000 characters.
    pub answer: String,
    /// Whether the bot uses it (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl From<EntryRow> for RawEntry {
    fn from(row: EntryRow) -> Self {
        Self {
            language: row.language,
            question: row.question,
            alternatives: row.alternatives,
            answer: row.answer,
            enabled: row.enabled,
        }
    }
}

fn valid_language(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let first = parts.next().unwrap_or_default();
    tag.len() <= 35
        && (2..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn text(value: &str, max: usize, what: &str) -> Result<String, String> {
    let value = value.trim();
    let chars = value.chars().count();
    if chars == 0 {
        Err(format!("The {what} is empty."))
    } else if chars > max {
        Err(format!("The {what} is longer than {max} characters."))
    } else if value.contains('\0') {
        Err(format!("The {what} contains a NUL character."))
    } else {
        Ok(value.to_owned())
    }
}

/// Checks one entry; errors name their field with `prefix` (`""` or `lines[12].`).
pub fn validate(raw: RawEntry, prefix: &str) -> Result<NewEntry, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut error = |field: &str, message: String| {
        errors.push(FieldError { field: format!("{prefix}{field}"), code: "invalid".into(), message });
    };
    let language = raw.language.trim().to_owned();
    if !valid_language(&language) {
        error("language", format!("{language:?} is not a language tag such as zh-CN or en."));
    }
    let question = text(&raw.question, MAX_QUESTION_CHARS, "question").map_err(|m| error("question", m)).ok();
    let answer = text(&raw.answer, MAX_ANSWER_CHARS, "answer").map_err(|m| error("answer", m)).ok();
    let mut alternatives: Vec<String> = Vec::new();
    if raw.alternatives.len() > MAX_ALTERNATIVES {
        error("alternatives", format!("At most {MAX_ALTERNATIVES} alternatives."));
    }
    for (i, alternative) in raw.alternatives.iter().enumerate() {
        match text(alternative, MAX_QUESTION_CHARS, "alternative") {
            Ok(a) if alternatives.contains(&a) || question.as_ref() == Some(&a) => {}
            Ok(a) => alternatives.push(a),
            Err(m) => error(&format!("alternatives[{i}]"), m),
        }
    }
    match (question, answer) {
        (Some(question), Some(answer)) if errors.is_empty() => {
            Ok(NewEntry { language, question, alternatives, answer, enabled: raw.enabled })
        }
        _ => Err(errors),
    }
}

/// The import's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// A JSON array.
    Json,
}

/// Parses and validates a whole file; every problem is reported with its line.
pub fn parse(format: Format, text: &str) -> Result<Vec<NewEntry>, Vec<FieldError>> {
    let rows = match format {
        Format::Csv => csv_rows(text)?,
        Format::Json => json_rows(text)?,
    };
    let mut entries = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    for (line, row) in rows {
        let prefix = format!("lines[{line}].");
        match row.map_err(|message| vec![file_error(line, &format!("lines[{line}]"), message)]).and_then(|raw| {
            validate(raw, &prefix).map_err(|errs| {
                errs.into_iter().map(|e| FieldError { message: format!("Line {line}: {}", e.message), ..e }).collect()
            })
        }) {
            Ok(entry) => entries.push(entry),
            Err(errs) => errors.extend(errs),
        }
    }
    if errors.is_empty() { Ok(entries) } else { Err(errors) }
}

fn file_error(line: u64, field: &str, message: String) -> FieldError {
    FieldError { field: field.to_owned(), code: "invalid".into(), message: format!("Line {line}: {message}") }
}

type Rows = Vec<(u64, Result<RawEntry, String>)>;

fn csv_rows(text: &str) -> Result<Rows, Vec<FieldError>> {
    let mut reader =
        csv::ReaderBuilder::new().flexible(true).from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader.headers().map_err(|e| vec![file_error(1, "file", e.to_string())])?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let (Some(language), Some(question), Some(answer)) = (column("language"), column("question"), column("answer"))
    else {
        return Err(vec![file_error(
            1,
            "file",
            "The header row must name the columns language, question, answer (and may add alternatives, enabled)."
                .into(),
        )]);
    };
    let (alternatives, enabled) = (column("alternatives"), column("enabled"));
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(0, csv::Position::line);
                rows.push((line, Err(error.to_string())));
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let get = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or_default().to_owned();
        let enabled = match get(enabled).trim().to_ascii_lowercase().as_str() {
            "" | "true" | "yes" | "1" => Ok(true),
            "false" | "no" | "0" => Ok(false),
            other => Err(format!("enabled is {other:?}; write true or false.")),
        };
        let row = enabled.map(|enabled| RawEntry {
            language: get(Some(language)),
            question: get(Some(question)),
            alternatives: get(alternatives)
                .split('|')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(String::from)
                .collect(),
            answer: get(Some(answer)),
            enabled,
        });
        rows.push((line, row));
    }
    Ok(rows)
}

fn json_rows(text: &str) -> Result<Rows, Vec<FieldError>> {
    let items: Vec<&serde_json::value::RawValue> = serde_json::from_str(text)
        .map_err(|e| vec![file_error(e.line() as u64, "file", format!("Not a JSON array of entries: {e}"))])?;
    let base = text.as_ptr() as usize;
    Ok(items
        .into_iter()
        .map(|item| {
            let offset = (item.get().as_ptr() as usize).saturating_sub(base).min(text.len());
            let line = text.as_bytes()[..offset].iter().filter(|b| **b == b'\n').count() as u64 + 1;
            (line, serde_json::from_str::<RawEntry>(item.get()).map_err(|e| e.to_string()))
        })
        .collect())
}

/// The entries as a CSV file (the import's format).
pub fn to_csv(entries: Vec<EntryRow>) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["language", "question", "alternatives", "answer", "enabled"])?;
    for e in entries {
        let enabled = if e.enabled { "true" } else { "false" };
        writer.write_record([&e.language, &e.question, &e.alternatives.join(" | "), &e.answer, enabled])?;
    }
    let bytes = writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The entries as a JSON file (the import's format).
pub fn to_json(entries: Vec<EntryRow>) -> serde_json::Result<String> {
    serde_json::to_string_pretty(&entries.into_iter().map(RawEntry::from).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_are_read_with_their_lines_and_every_bad_row_reported() {
        let file = "language,question,alternatives,answer\n\
                    zh-CN,退款多久到账？,退款什么时候到 | 钱多久退回,3–5 个工作日原路退回。\n\
                    en,,x,y\n\
                    english,How?,,\"multi\nline\"\n";
        let errors = parse(Format::Csv, file).expect_err("two bad rows");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["lines[3].question", "lines[4].language"], "{errors:?}");
        assert!(errors[0].message.starts_with("Line 3:"));
        let good = parse(
            Format::Csv,
            "language,question,alternatives,answer\nzh-CN,退款多久到账？,退款什么时候到 | 钱多久退回,3–5 天。\n",
        )
        .expect("valid");
        assert_eq!(good[0].alternatives, vec!["退款什么时候到", "钱多久退回"]);
    }

    #[test]
    fn json_items_are_located_by_line() {
        let file = "[\n  {\"language\": \"en\", \"question\": \"Q\", \"answer\": \"A\"},\n  {\"language\": \"en\", \"question\": \"Q2\"}\n]";
        let errors = parse(Format::Json, file).expect_err("missing answer");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.starts_with("Line 3:"), "{errors:?}");
        assert!(parse(Format::Json, "{}").is_err());
    }

    #[test]
    fn export_round_trips_through_import() {
        let row = |q: &str| EntryRow {
            id: kefu_protocol::KbEntryId::from_uuid(uuid::Uuid::now_v7()),
            language: "zh-CN".into(),
            question: q.into(),
            alternatives: vec!["钱多久退回".into(), "退款, 什么时候到".into()],
            answer: "原路退回，\"3–5\" 天。".into(),
            enabled: false,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        for (format, text) in [
            (Format::Csv, to_csv(vec![row("退款多久到账？")]).expect("csv")),
            (Format::Json, to_json(vec![row("退款多久到账？")]).expect("json")),
        ] {
            let back = parse(format, &text).expect("re-imports");
            assert_eq!(back[0].question, "退款多久到账？");
            assert_eq!(back[0].alternatives, vec!["钱多久退回", "退款, 什么时候到"], "{format:?}");
            assert!(!back[0].enabled);
        }
    }
}
