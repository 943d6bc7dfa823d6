//! Free-text names people give things (company, display name, key name) and tenant slugs.

/// Trims and checks a human-entered name: 1..=`max` characters, no control characters.
pub fn parse_name(raw: &str, max: usize) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("Must not be empty.".into());
    }
    if trimmed.chars().count() > max {
        return Err(format!("Must be at most {max} characters."));
    }
    if trimmed.chars().any(char::is_control) {
        return Err("Must not contain control characters.".into());
    }
    Ok(trimmed.to_owned())
}

/// Derives a URL-safe tenant slug from a company name: lowercase ASCII letters, digits and
/// dashes, 1–40 characters. Names with no ASCII letters or digits (a Chinese company name, say)
/// yield `None`; the caller then uses a generated slug.
pub fn slugify(name: &str) -> Option<String> {
    let mut slug = String::new();
    let mut dash = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if dash && !slug.is_empty() {
                slug.push('-');
            }
            dash = false;
            slug.push(c.to_ascii_lowercase());
        } else {
            dash = true;
        }
        if slug.len() >= 32 {
            break;
        }
    }
    let slug = slug.trim_matches('-').to_owned();
    if slug.is_empty() { None } else { Some(slug) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(parse_name("  Acme  ", 10), Ok("Acme".into()));
        assert!(parse_name("   ", 10).is_err());
        assert!(parse_name("abcdefghijk", 10).is_err());
        assert_eq!(parse_name("客服中心", 4), Ok("客服中心".into()));
        assert!(parse_name("a\u{0}b", 10).is_err());
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("Acme, Inc."), Some("acme-inc".into()));
        assert_eq!(slugify("  --Hello   World--  "), Some("hello-world".into()));
        assert_eq!(slugify("上海客服有限公司"), None);
        assert_eq!(slugify("上海 Kefu 2"), Some("kefu-2".into()));
        let long = slugify(&"x".repeat(100)).expect("slug");
        assert!(long.len() <= 40);
    }
}
