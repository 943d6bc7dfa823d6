//! Highlighted snippets: where a query's phrases occur in a message, found with the same
//! tokenizer that indexed it, cut to a window around the first hit and returned as plain-text
//! segments (never HTML: the console renders them as text).

use std::ops::Range;

use serde::Serialize;
use utoipa::ToSchema;

use super::query::Phrase;
use super::text;

/// Characters of a snippet around its first hit.
pub const SNIPPET_CHARS: usize = 160;

/// A piece of a snippet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Segment {
    /// Plain text.
    pub text: String,
    /// Whether it matched the query.
    pub hit: bool,
}

/// The byte ranges of `body` that match `phrases`, sorted and merged.
pub fn hits(body: &str, phrases: &[Phrase]) -> Vec<Range<usize>> {
    let terms = text::terms(body);
    let mut found: Vec<Range<usize>> = Vec::new();
    for phrase in phrases {
        let Some((first, _)) = phrase.lexemes.first() else { continue };
        let last = phrase.lexemes.len() - 1;
        let matches = |term: &text::Term, lexeme: &str, index: usize| {
            term.lexeme == lexeme || (phrase.prefix && index == last && term.lexeme.starts_with(lexeme))
        };
        for start in terms.iter().filter(|t| matches(t, first, 0)) {
            let mut spans = vec![start.span.clone()];
            let complete = phrase.lexemes.iter().enumerate().skip(1).all(|(index, (lexeme, offset))| {
                let at = start.position + offset;
                match terms.iter().find(|t| t.position == at && matches(t, lexeme, index)) {
                    Some(term) => {
                        spans.push(term.span.clone());
                        true
                    }
                    None => false,
                }
            });
            if complete {
                // A phrase is marked whole, with what separates its words.
                let end = spans.iter().map(|s| s.end).max().unwrap_or(start.span.end);
                found.push(start.span.start..end);
            }
        }
    }
    found.sort_by_key(|r| (r.start, r.end));
    let mut merged: Vec<Range<usize>> = Vec::new();
    for range in found {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// A snippet of `body` of about [`SNIPPET_CHARS`] characters around its first hit, as segments.
pub fn snippet(body: &str, phrases: &[Phrase]) -> Vec<Segment> {
    let hits = hits(body, phrases);
    let chars: Vec<(usize, char)> = body.char_indices().collect();
    let (from, to) = if chars.len() <= SNIPPET_CHARS {
        (0, body.len())
    } else {
        let first_hit = hits.first().map_or(0, |r| r.start);
        let hit_char = chars.iter().position(|(at, _)| *at >= first_hit).unwrap_or(0);
        let start_char = hit_char.saturating_sub(SNIPPET_CHARS / 4).min(chars.len() - SNIPPET_CHARS);
        let end_char = start_char + SNIPPET_CHARS;
        (chars[start_char].0, chars.get(end_char).map_or(body.len(), |(at, _)| *at))
    };
    let mut segments = Vec::new();
    let mut push = |text: &str, hit: bool| {
        if !text.is_empty() {
            segments.push(Segment { text: text.to_owned(), hit });
        }
    };
    if from > 0 {
        push("…", false);
    }
    let mut at = from;
    for range in hits.iter().filter(|r| r.end > from && r.start < to) {
        let (start, end) = (range.start.max(from), range.end.min(to));
        push(&body[at..start], false);
        push(&body[start..end], true);
        at = end;
    }
    push(&body[at..to], false);
    if to < body.len() {
        push("…", false);
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::query;

    fn marked(body: &str, q: &str) -> String {
        let phrases = query::parse(q).expect("parses").expect("not empty").highlight;
        snippet(body, &phrases).iter().map(|s| if s.hit { format!("[{}]", s.text) } else { s.text.clone() }).collect()
    }

    #[test]
    fn chinese_words_and_stems_are_marked() {
        assert_eq!(marked("我想申请退款，订单已经退款了", "退款"), "我想申请[退款]，订单已经[退款]了");
        assert_eq!(marked("Two refunds were refunded", "refund"), "Two [refunds] were [refunded]");
        assert_eq!(marked("物流信息没有更新", "物流信息"), "[物流信息]没有更新");
        assert_eq!(marked("物流的信息", "物流信息"), "物流的信息", "not a substring: no hit");
    }

    #[test]
    fn phrases_and_prefixes() {
        assert_eq!(marked("please refund my order now", "\"my order\""), "please refund [my order] now");
        assert_eq!(marked("Refunding takes time", "refu*"), "[Refunding] takes time");
    }

    #[test]
    fn long_bodies_are_cut_around_the_first_hit() {
        let body = format!("{}退款{}", "啊".repeat(300), "哦".repeat(300));
        let segments = snippet(&body, &query::parse("退款").expect("parses").expect("not empty").highlight);
        assert_eq!(segments.first().map(|s| s.text.as_str()), Some("…"));
        assert_eq!(segments.last().map(|s| s.text.as_str()), Some("…"));
        assert!(segments.iter().any(|s| s.hit && s.text == "退款"));
        let length: usize = segments.iter().map(|s| s.text.chars().count()).sum();
        assert!(length <= SNIPPET_CHARS + 2);
    }
}
