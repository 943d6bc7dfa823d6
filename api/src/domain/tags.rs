//! Conversation tags: lowercased, trimmed labels agents put on conversations for filtering.

/// Most tags on one conversation.
pub const MAX_TAGS: usize = 20;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 40;

/// Normalises one tag: trimmed, lowercase, 1–40 characters, no control characters.
pub fn parse_tag(raw: &str) -> Result<String, String> {
    parse_label(raw, "tag")
}

/// Normalises a lowercase label (a tag, a skill a conversation needs) as [`parse_tag`] does;
/// errors name it `what`.
pub fn parse_label(raw: &str, what: &str) -> Result<String, String> {
    let label = raw.trim().to_lowercase();
    if label.is_empty() {
        return Err(format!("A {what} must not be empty."));
    }
    if label.chars().count() > MAX_TAG_CHARS {
        return Err(format!("A {what} is at most {MAX_TAG_CHARS} characters."));
    }
    if label.chars().any(char::is_control) {
        return Err(format!("A {what} must not contain control characters."));
    }
    Ok(label)
}

/// Normalises a conversation's tags: each as [`parse_tag`], duplicates dropped (first kept),
/// at most 20.
pub fn parse_tags(raw: &[String]) -> Result<Vec<String>, String> {
    let mut tags: Vec<String> = Vec::new();
    for one in raw {
        let tag = parse_tag(one)?;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(format!("At most {MAX_TAGS} tags."));
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_trimmed_lowercased_and_deduplicated() {
        let raw = vec![" VIP ".to_owned(), "vip".to_owned(), "退款".to_owned(), "Refund Request".to_owned()];
        assert_eq!(parse_tags(&raw), Ok(vec!["vip".into(), "退款".into(), "refund request".into()]));
    }

    #[test]
    fn bad_tags_are_refused() {
        assert!(parse_tag("  ").is_err());
        assert!(parse_tag(&"x".repeat(41)).is_err());
        assert!(parse_tag(&"字".repeat(40)).is_ok());
        assert!(parse_tag("a\u{0}b").is_err());
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert!(parse_tags(&many).is_err());
    }
}
