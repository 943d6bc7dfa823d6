//! Random one-time secrets (refresh tokens, API keys, mailed links) and their at-rest hashes.
//!
//! Secrets are 32 random bytes, base64url without padding, with a short readable prefix. Only
//! their SHA-256 is stored: the secrets carry 256 bits of entropy, so a fast hash is enough and
//! lets lookups be a unique-index probe.

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Fills `dest` from the operating system's CSPRNG.
pub fn fill_random(dest: &mut [u8]) -> Result<(), String> {
    aws_lc_rs::rand::fill(dest).map_err(|_| "the system random generator failed".to_owned())
}

/// A new secret `<prefix>_<43 chars>`.
pub fn generate(prefix: &str) -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes).map_err(anyhow::Error::msg)?;
    Ok(format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// The value stored for a secret.
pub fn digest(secret: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, secret.as_bytes()).as_ref().to_vec()
}

/// Whether a presented string has the shape of a secret with this prefix, so malformed input is
/// rejected before touching the database.
pub fn looks_like(secret: &str, prefix: &str) -> bool {
    secret.strip_prefix(prefix).and_then(|rest| rest.strip_prefix('_')).is_some_and(|body| {
        body.len() == 43 && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_have_the_shape_and_differ() {
        let a = generate("kefu_rt").expect("a");
        let b = generate("kefu_rt").expect("b");
        assert_ne!(a, b);
        assert!(looks_like(&a, "kefu_rt"));
        assert!(!looks_like(&a, "kefu_sk"));
        assert!(!looks_like("kefu_rt_short", "kefu_rt"));
        assert_eq!(digest(&a).len(), 32);
        assert_ne!(digest(&a), digest(&b));
    }
}
