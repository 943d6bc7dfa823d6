//! How text becomes searchable terms: one tokenizer for documents, queries and highlights, so
//! the three always agree (docs/search.md, "Terms").
//!
//! Text is read character by character with each character normalised (full-width forms to
//! ASCII, lowercase). Runs of CJK characters (Chinese, kana, Hangul) are not space-separated:
//! each character is a term at its own position, and so is each pair of neighbours (a bigram at
//! the first one's position), so a one-character query matches its character and a longer one
//! the chain of its bigrams at consecutive positions, which is exactly a substring match. Other
//! runs of letters and digits are words, stemmed with Snowball English ("refunds" → "refund").
//! Everything else separates terms and takes no position.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};

static ENGLISH: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// The last position Postgres keeps in a `tsvector` (later ones are stored as this one).
const MAX_POSITION: usize = 16_383;
/// Positions Postgres keeps per lexeme.
const MAX_POSITIONS_PER_LEXEME: usize = 256;
/// Longer words are not indexed (identifiers, encoded junk); Postgres refuses lexemes over 2 KB.
const MAX_WORD_CHARS: usize = 64;

/// Whether `c` belongs to a script written without spaces between words.
pub fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{4E00}'..='\u{9FFF}'      // CJK unified ideographs
        | '\u{3400}'..='\u{4DBF}'    // extension A
        | '\u{F900}'..='\u{FAFF}'    // compatibility ideographs
        | '\u{20000}'..='\u{2EBEF}'  // extensions B–F
        | '\u{3040}'..='\u{30FF}'    // hiragana, katakana
        | '\u{AC00}'..='\u{D7AF}'    // Hangul syllables
    )
}

/// A character as it is compared: full-width ASCII forms folded, lowercased.
fn fold(c: char) -> impl Iterator<Item = char> {
    let c = match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    };
    c.to_lowercase()
}

/// One term of a text at its position, with the bytes of the original text it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The lexeme as stored.
    pub lexeme: String,
    /// Its position, from 0.
    pub position: usize,
    /// Where it is in the text.
    pub span: Range<usize>,
    /// A CJK bigram (two characters), as opposed to a single character or a word.
    pub bigram: bool,
}

/// The terms of `text`, in order of position; a CJK character's bigram follows its unigram.
pub fn terms(text: &str) -> Vec<Term> {
    let mut out = Vec::new();
    let mut position = 0;
    let mut word = String::new();
    let mut word_start = 0;
    let mut previous_cjk: Option<(char, usize)> = None;
    let flush_word = |word: &mut String, start: usize, end: usize, position: &mut usize, out: &mut Vec<Term>| {
        if word.is_empty() {
            return;
        }
        if word.chars().count() <= MAX_WORD_CHARS {
            let lexeme = ENGLISH.stem(word).into_owned();
            out.push(Term { lexeme, position: *position, span: start..end, bigram: false });
            *position += 1;
        }
        word.clear();
    };
    for (at, c) in text.char_indices() {
        let end = at + c.len_utf8();
        if is_cjk(c) {
            flush_word(&mut word, word_start, at, &mut position, &mut out);
            if let Some((before, before_at)) = previous_cjk {
                // The bigram sits at the previous character's position.
                out.push(Term {
                    lexeme: [before, c].iter().collect(),
                    position: position - 1,
                    span: before_at..end,
                    bigram: true,
                });
            }
            out.push(Term { lexeme: c.to_string(), position, span: at..end, bigram: false });
            position += 1;
            previous_cjk = Some((c, at));
            continue;
        }
        previous_cjk = None;
        if c.is_alphanumeric() {
            if word.is_empty() {
                word_start = at;
            }
            word.extend(fold(c));
        } else {
            let folded: Vec<char> = fold(c).collect();
            if folded.iter().all(|f| f.is_alphanumeric()) && !folded.is_empty() {
                // A full-width letter or digit.
                if word.is_empty() {
                    word_start = at;
                }
                word.extend(folded);
            } else {
                flush_word(&mut word, word_start, at, &mut position, &mut out);
            }
        }
    }
    flush_word(&mut word, word_start, text.len(), &mut position, &mut out);
    // A bigram was pushed after its second character's unigram; order by position.
    out.sort_by_key(|t| (t.position, t.bigram));
    out
}

/// Quotes a lexeme for `tsvector` / `tsquery` input.
fn quoted(lexeme: &str) -> String {
    let mut out = String::with_capacity(lexeme.len() + 2);
    out.push('\'');
    for c in lexeme.chars() {
        if c == '\'' || c == '\\' {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// The `tsvector` input of a document (cast with `::tsvector`); empty when it has no terms.
pub fn document(text: &str) -> String {
    let mut lexemes: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for term in terms(text) {
        let positions = lexemes.entry(term.lexeme).or_default();
        let position = (term.position + 1).min(MAX_POSITION);
        if positions.last() != Some(&position) && positions.len() < MAX_POSITIONS_PER_LEXEME {
            positions.push(position);
        }
    }
    let mut out = String::new();
    for (lexeme, positions) in lexemes {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&quoted(&lexeme));
        out.push(':');
        let list: Vec<String> = positions.iter().map(usize::to_string).collect();
        out.push_str(&list.join(","));
    }
    out
}

/// The lexemes a query term needs, with their offsets from the first: a word is its stem, a
/// CJK run of one character is that character, a longer run its bigrams. `None` when the term
/// has nothing searchable (punctuation only).
pub fn phrase(text: &str) -> Option<Vec<(String, usize)>> {
    let all = terms(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < all.len() {
        let term = &all[i];
        let next_is_bigram = all.get(i + 1).is_some_and(|n| n.bigram && n.position == term.position);
        let char_count = term.lexeme.chars().count();
        let cjk_char = char_count == 1 && term.lexeme.chars().all(is_cjk);
        if term.bigram {
            out.push((term.lexeme.clone(), term.position));
        } else if cjk_char {
            // A lone character: its own unigram, unless a bigram covers it (this one's, or the
            // previous character's).
            let covered_by_previous = out.last().is_some_and(|(l, p): &(String, usize)| {
                l.chars().count() == 2 && l.chars().all(is_cjk) && p + 1 == term.position
            });
            if !next_is_bigram && !covered_by_previous {
                out.push((term.lexeme.clone(), term.position));
            }
        } else {
            out.push((term.lexeme.clone(), term.position));
        }
        i += 1;
    }
    let first = out.first()?.1;
    Some(out.into_iter().map(|(l, p)| (l, p - first)).collect())
}

/// The `tsquery` of a phrase: its lexemes in sequence at their distances (`a <1> b <2> c`), the
/// last one a prefix when `prefix` is set and it is a word.
pub fn phrase_query(lexemes: &[(String, usize)], prefix: bool) -> String {
    let mut out = String::new();
    let mut previous = 0;
    for (i, (lexeme, offset)) in lexemes.iter().enumerate() {
        if i > 0 {
            out.push_str(&format!(" <{}> ", offset - previous));
        }
        out.push_str(&quoted(lexeme));
        let last = i + 1 == lexemes.len();
        if last && prefix && !lexeme.chars().any(is_cjk) {
            out.push_str(":*");
        }
        previous = *offset;
    }
    if lexemes.len() > 1 { format!("({out})") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexemes(text: &str) -> Vec<(String, usize)> {
        terms(text).into_iter().map(|t| (t.lexeme, t.position)).collect()
    }

    #[test]
    fn chinese_runs_give_characters_and_bigrams_at_their_positions() {
        assert_eq!(
            lexemes("我要退款"),
            vec![
                ("我".into(), 0),
                ("我要".into(), 0),
                ("要".into(), 1),
                ("要退".into(), 1),
                ("退".into(), 2),
                ("退款".into(), 2),
                ("款".into(), 3),
            ]
        );
    }

    #[test]
    fn words_are_folded_and_stemmed_and_punctuation_separates() {
        assert_eq!(
            lexemes("Refunds, ＲＥＦＵＮＤＥＤ: order #12345!"),
            vec![("refund".into(), 0), ("refund".into(), 1), ("order".into(), 2), ("12345".into(), 3)]
        );
    }

    #[test]
    fn mixed_text_keeps_one_position_sequence() {
        assert_eq!(
            lexemes("iPhone退款 ok"),
            vec![("iphon".into(), 0), ("退".into(), 1), ("退款".into(), 1), ("款".into(), 2), ("ok".into(), 3)]
        );
    }

    #[test]
    fn spans_point_into_the_original_text() {
        let text = "Ａｂ 物流信息";
        for term in terms(text) {
            let covered = &text[term.span.clone()];
            assert!(!covered.is_empty(), "{term:?}");
        }
        let bigram = terms(text).into_iter().find(|t| t.lexeme == "物流").expect("present");
        assert_eq!(&text[bigram.span], "物流");
    }

    #[test]
    fn documents_are_tsvector_input() {
        assert_eq!(document("退款 refund refunds"), "'refund':3,4 '款':2 '退':1 '退款':1");
        assert_eq!(document("it's"), "'it':1 's':2");
        assert_eq!(document("!!"), "");
    }

    #[test]
    fn query_phrases_are_substring_chains() {
        assert_eq!(phrase("退"), Some(vec![("退".into(), 0)]));
        assert_eq!(phrase("退款"), Some(vec![("退款".into(), 0)]));
        assert_eq!(phrase("物流信息"), Some(vec![("物流".into(), 0), ("流信".into(), 1), ("信息".into(), 2)]));
        assert_eq!(phrase("退款iPhone"), Some(vec![("退款".into(), 0), ("iphon".into(), 2)]));
        assert_eq!(phrase("iPhone退"), Some(vec![("iphon".into(), 0), ("退".into(), 1)]));
        assert_eq!(phrase("..."), None);
        assert_eq!(phrase_query(&phrase("物流信息").expect("present"), false), "('物流' <1> '流信' <1> '信息')");
        assert_eq!(phrase_query(&phrase("refu").expect("present"), true), "'refu':*");
    }

    #[test]
    fn lexemes_with_quotes_are_escaped() {
        assert_eq!(quoted("a'b\\c"), "'a''b\\\\c'");
    }

    #[test]
    fn a_long_message_caps_positions() {
        let text = "退".repeat(20_000);
        let doc = document(&text);
        assert!(doc.len() < 20_000, "positions per lexeme are capped");
    }
}
