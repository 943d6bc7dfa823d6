//! Password policy and argon2id hashing.
//!
//! Policy: 10–128 characters (the upper bound keeps hashing cost bounded), not a well-known
//! password, not mostly one character, and not the email address. Hashes are argon2id with the
//! crate's recommended parameters, in PHC string form so parameters can change later.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Shortest accepted password, in characters.
pub const MIN_LEN: usize = 10;
/// Longest accepted password, in characters.
pub const MAX_LEN: usize = 128;

const COMMON: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "passw0rd",
    "1234567890",
    "12345678910",
    "0123456789",
    "qwertyuiop",
    "qwerty1234",
    "qwerty12345",
    "1q2w3e4r5t",
    "iloveyou12",
    "letmein123",
    "welcome123",
    "administrator",
    "abc1234567",
    "asdfghjkl1",
    "zxcvbnm123",
    "a123456789",
    "1qaz2wsx3edc",
    "woaini1314",
    "5201314520",
    "1314520520",
    "aa123456789",
    "qq123456789",
    "changeme123",
];

/// Checks a new password against the policy; the error is a sentence for the user.
pub fn check_policy(password: &str, email: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(format!("Use at least {MIN_LEN} characters."));
    }
    if len > MAX_LEN {
        return Err(format!("Use at most {MAX_LEN} characters."));
    }
    let lower = password.to_lowercase();
    if COMMON.contains(&lower.as_str()) {
        return Err("This password is too common.".into());
    }
    let mut distinct: Vec<char> = lower.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 4 {
        return Err("Use more different characters.".into());
    }
    let email_lower = email.trim().to_lowercase();
    let local = email_lower.split('@').next().unwrap_or_default();
    if lower == email_lower || (local.len() >= 4 && lower.contains(local)) {
        return Err("The password must not contain your email address.".into());
    }
    Ok(())
}

/// Hashes a password with argon2id and a random salt. CPU-heavy: call it off the async
/// executor (`spawn_blocking`).
pub fn hash(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h: PasswordHash| h.to_string())
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))
}

/// Verifies a password against a stored PHC hash. Also CPU-heavy.
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
}

/// A hash of a random password, verified against when the email is unknown so that login takes
/// the same time whether or not the account exists.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("kefu-dummy-password-for-timing").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(check_policy("correct horse battery", "a@b.com").is_ok());
        assert!(check_policy("short", "a@b.com").is_err());
        assert!(check_policy(&"x".repeat(129), "a@b.com").is_err());
        assert!(check_policy("Password123", "a@b.com").is_err());
        assert!(check_policy("aaaaaaaaaaaaab", "a@b.com").is_err());
        assert!(check_policy("liwei.kefu-2026", "liwei.kefu@example.com").is_err());
        assert!(check_policy("客服系统真的很好用吧", "a@b.com").is_ok());
    }

    #[test]
    fn hash_and_verify() {
        let h = hash("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("wrong horse battery", &h));
        assert!(!verify("anything", "not a phc string"));
    }
}
