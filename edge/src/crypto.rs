//! The edge's small crypto needs: the regions' token keys, HMAC-SHA256 proofs (identity
//! verification and returning visitors) and constant-time comparison.

use kefu_protocol::token::TokenKeys;

/// `kid:secret[,kid:secret…]` into pairs; `None` when malformed or a secret is under 32 bytes.
pub fn parse_keys(raw: &str) -> Option<Vec<(String, Vec<u8>)>> {
    let mut keys = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (kid, secret) = entry.split_once(':')?;
        if kid.is_empty() || secret.len() < 32 {
            return None;
        }
        keys.push((kid.to_owned(), secret.as_bytes().to_vec()));
    }
    (!keys.is_empty()).then_some(keys)
}

/// Token keys for one region.
pub fn token_keys(raw: &str) -> Option<TokenKeys> {
    let keys = parse_keys(raw)?;
    TokenKeys::new(keys.iter().map(|(kid, secret)| (kid.as_str(), secret.as_slice())))
}

/// `hex(HMAC-SHA256(secret, message))`.
#[cfg(not(target_arch = "wasm32"))]
pub fn hmac_hex(secret: &[u8], message: &str) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, message.as_bytes());
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// `hex(HMAC-SHA256(secret, message))`.
#[cfg(target_arch = "wasm32")]
pub fn hmac_hex(secret: &[u8], message: &str) -> String {
    use hmac::Mac;
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret) else { return String::new() };
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two strings in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_the_rfc_4231_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            hmac_hex(b"Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn keys_need_ids_and_long_secrets() {
        assert!(parse_keys("a:0123456789abcdef0123456789abcdef").is_some());
        assert!(parse_keys("a:short").is_none());
        assert!(parse_keys(":0123456789abcdef0123456789abcdef").is_none());
        assert!(parse_keys("").is_none());
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
