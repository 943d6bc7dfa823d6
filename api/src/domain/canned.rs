//! Canned responses' shortcuts: what an agent types after `/` to insert one.

/// Longest shortcut.
pub const MAX_SHORTCUT: usize = 32;

/// Normalises a shortcut: trimmed, lowercase, 1–32 characters of `[a-z0-9_-]`.
pub fn parse_shortcut(raw: &str) -> Result<String, String> {
    let shortcut = raw.trim().to_ascii_lowercase();
    let ok = !shortcut.is_empty()
        && shortcut.len() <= MAX_SHORTCUT
        && shortcut.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok { Ok(shortcut) } else { Err("Use 1–32 characters of a–z, 0–9, _ and -.".into()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts_are_lowercased_and_checked() {
        assert_eq!(parse_shortcut(" Refund_1 "), Ok("refund_1".into()));
        for bad in ["", "has space", "退款", "a/b", &"x".repeat(33)] {
            assert!(parse_shortcut(bad).is_err(), "{bad}");
        }
    }
}
