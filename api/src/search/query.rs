//! A search box's text as a `tsquery` (docs/search.md, "Query syntax"): every word and
//! `"quoted phrase"` must match, `-word` or `-"phrase"` must not, `OR` between two items matches
//! either, and a word ending in `*` matches the words it begins. A word that is several terms
//! (`物流信息`, `iPhone退款`, `a@b.com`) is a phrase: its terms in sequence.

use super::text;

/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most words and phrases in one query.
pub const MAX_ITEMS: usize = 16;

/// Why a query was refused; each is a field error on `q`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    /// Over [`MAX_QUERY_CHARS`].
    #[error("at most {MAX_QUERY_CHARS} characters")]
    TooLong,
    /// Over [`MAX_ITEMS`].
    #[error("at most {MAX_ITEMS} words and phrases")]
    TooManyTerms,
    /// Only `-excluded` items.
    #[error("say what to look for, not only what to leave out")]
    OnlyExclusions,
    /// Nothing but punctuation.
    #[error("no words to look for")]
    NoWords,
}

impl QueryError {
    /// The field error's code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLong => "too_long",
            Self::TooManyTerms => "too_many_terms",
            Self::OnlyExclusions => "only_exclusions",
            Self::NoWords => "no_words",
        }
    }
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The `tsquery` input.
    pub tsquery: String,
    /// The phrases to highlight in results (the ones that are not excluded).
    pub highlight: Vec<Phrase>,
}

/// One word or phrase: its lexemes at their offsets, and whether the last one is a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phrase {
    /// Lexemes and offsets from the first.
    pub lexemes: Vec<(String, usize)>,
    /// The last lexeme matches words it begins.
    pub prefix: bool,
}

#[derive(Debug)]
struct Item {
    phrase: Phrase,
    excluded: bool,
}

/// Reads one item's raw text from `chars` at `i`: a quoted phrase or a run up to whitespace.
fn read_item(chars: &[char], i: &mut usize) -> (String, bool) {
    if chars.get(*i) == Some(&'"') {
        *i += 1;
        let start = *i;
        while *i < chars.len() && chars[*i] != '"' {
            *i += 1;
        }
        let text: String = chars[start..*i].iter().collect();
        *i += 1; // the closing quote, if any
        return (text, true);
    }
    let start = *i;
    while *i < chars.len() && !chars[*i].is_whitespace() {
        *i += 1;
    }
    (chars[start..*i].iter().collect(), false)
}

/// Parses a query; `Ok(None)` for an empty or blank one.
pub fn parse(input: &str) -> Result<Option<Query>, QueryError> {
    if input.chars().count() > MAX_QUERY_CHARS {
        return Err(QueryError::TooLong);
    }
    let chars: Vec<char> = input.chars().collect();
    // Groups of items joined by OR; the groups are ANDed.
    let mut groups: Vec<Vec<Item>> = Vec::new();
    let mut join_next = false;
    let mut count = 0;
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let excluded = chars[i] == '-' && chars.get(i + 1).is_some_and(|c| !c.is_whitespace());
        if excluded {
            i += 1;
        }
        let (raw, quoted) = read_item(&chars, &mut i);
        if !quoted && !excluded && raw == "OR" {
            join_next = !groups.is_empty();
            continue;
        }
        let prefix = !quoted && raw.ends_with('*');
        let Some(lexemes) = text::phrase(raw.trim_end_matches('*')) else {
            continue;
        };
        count += 1;
        if count > MAX_ITEMS {
            return Err(QueryError::TooManyTerms);
        }
        let item = Item { phrase: Phrase { lexemes, prefix }, excluded };
        match groups.last_mut() {
            Some(group) if join_next => group.push(item),
            _ => groups.push(vec![item]),
        }
        join_next = false;
    }
    if groups.is_empty() {
        return if input.trim().is_empty() { Ok(None) } else { Err(QueryError::NoWords) };
    }
    if groups.iter().all(|g| g.iter().all(|item| item.excluded)) {
        return Err(QueryError::OnlyExclusions);
    }
    let mut clauses = Vec::new();
    let mut highlight = Vec::new();
    for group in &groups {
        let parts: Vec<String> = group
            .iter()
            .map(|item| {
                let query = text::phrase_query(&item.phrase.lexemes, item.phrase.prefix);
                if item.excluded { format!("!{query}") } else { query }
            })
            .collect();
        clauses.push(if parts.len() > 1 { format!("({})", parts.join(" | ")) } else { parts.join("") });
        highlight.extend(group.iter().filter(|item| !item.excluded).map(|item| item.phrase.clone()));
    }
    Ok(Some(Query { tsquery: clauses.join(" & "), highlight }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tsquery(input: &str) -> String {
        parse(input).expect("parses").expect("not empty").tsquery
    }

    #[test]
    fn words_are_anded_and_phrases_chained() {
        assert_eq!(tsquery("退款 refunds"), "'退款' & 'refund'");
        assert_eq!(tsquery("\"refund request\""), "('refund' <1> 'request')");
        assert_eq!(tsquery("物流信息"), "('物流' <1> '流信' <1> '信息')");
    }

    #[test]
    fn exclusions_alternatives_and_prefixes() {
        assert_eq!(tsquery("退款 -发票"), "'退款' & !'发票'");
        assert_eq!(tsquery("invoice OR 发票 shipping"), "('invoic' | '发票') & 'ship'");
        assert_eq!(tsquery("refu*"), "'refu':*");
        assert_eq!(tsquery("OR refund"), "'refund'", "a leading OR is a no-op");
    }

    #[test]
    fn highlights_leave_exclusions_out() {
        let query = parse("退款 -发票").expect("parses").expect("not empty");
        assert_eq!(query.highlight.len(), 1);
        assert_eq!(query.highlight[0].lexemes, vec![("退款".to_string(), 0)]);
    }

    #[test]
    fn bad_queries_are_refused() {
        assert_eq!(parse("   "), Ok(None));
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("?!"), Err(QueryError::NoWords));
        assert_eq!(parse("-退款"), Err(QueryError::OnlyExclusions));
        assert_eq!(parse(&"a ".repeat(17)), Err(QueryError::TooManyTerms));
        assert_eq!(parse(&"退".repeat(201)), Err(QueryError::TooLong));
    }

    #[test]
    fn an_unclosed_quote_runs_to_the_end() {
        assert_eq!(tsquery("\"order number"), "('order' <1> 'number')");
    }
}
