//! Email addresses as accepted at signup, login and invitation.

use std::fmt;

/// A syntactically valid email address, trimmed, at most 254 bytes. Comparison elsewhere is
/// case-insensitive (`lower(email)` in the database); the user's spelling is kept for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Validates `raw`; the error is a sentence for the user.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("Enter an email address.");
        }
        if trimmed.len() > 254 {
            return Err("The email address is longer than 254 characters.");
        }
        let Ok(address) = trimmed.parse::<email_address::EmailAddress>() else {
            return Err("This is not a valid email address.");
        };
        // Require a dot in the domain: `user@localhost` is valid per RFC but never deliverable
        // for a SaaS signup, and IP-literal domains are not accepted either.
        let domain = address.domain();
        if !domain.contains('.') || domain.starts_with('[') || domain.ends_with('.') {
            return Err("The email address needs a full domain, like name@example.com.");
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The address as the user typed it (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_and_unicode_addresses() {
        for ok in ["a@example.com", " Li.Wei+kefu@example.co.uk ", "客服@例子.中国"] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "   ", "no-at-sign", "a@", "@b.com", "a@localhost", "a b@c.com", "a@b.com.", "a@[127.0.0.1]"] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }
}
