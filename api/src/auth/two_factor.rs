//! Two-factor sign-in's own rules: TOTP codes (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps,
//! one step of clock drift either way, what every common authenticator app does), single-use
//! recovery codes, and sealing authenticator secrets at rest (AES-256-GCM under
//! `auth.two_factor_keys`, bound to the account they belong to).
//!
//! What is stored and when codes count lives in `db::two_factor`; the sign-in flow in
//! `http::two_factor` and `http::auth`.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf;
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use kefu_protocol::UserId;
use secrecy::ExposeSecret;
use totp_rs::{Algorithm, Totp};

use crate::config::SigningKey;
use crate::domain::secret;

/// The issuer authenticator apps show next to the account.
pub const ISSUER: &str = "Kefu";
/// Bytes of a new authenticator secret (160 bits, RFC 4226's recommendation).
const SECRET_BYTES: usize = 20;
/// Recovery codes given at a time.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code without its dashes (base32: 80 bits).
const RECOVERY_CHARS: usize = 16;
/// The base32 alphabet of recovery codes (RFC 4648, lower case).
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// What a member typed as their second step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecondStep {
    /// Six digits from the authenticator app.
    Code(String),
    /// A recovery code, normalised (lower case, no dashes or spaces).
    Recovery(String),
}

impl SecondStep {
    /// Reads a code as typed: six digits (spaces allowed) or a recovery code (dashes, spaces and
    /// case ignored). `None` for anything else.
    pub fn parse(typed: &str) -> Option<Self> {
        let compact: String = typed.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        if compact.len() == 6 && compact.bytes().all(|b| b.is_ascii_digit()) {
            return Some(Self::Code(compact));
        }
        let lower = compact.to_ascii_lowercase();
        (lower.len() == RECOVERY_CHARS && lower.bytes().all(|b| BASE32.contains(&b))).then_some(Self::Recovery(lower))
    }
}

/// A new authenticator secret.
pub fn new_secret() -> anyhow::Result<Vec<u8>> {
    let mut bytes = vec![0u8; SECRET_BYTES];
    secret::fill_random(&mut bytes).map_err(anyhow::Error::msg)?;
    Ok(bytes)
}

fn totp(secret: &[u8], account: &str) -> anyhow::Result<Totp> {
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(1)
        .with_secret(secret.to_vec())
        .with_issuer(Some(ISSUER))
        .with_account_name(account.replace(':', ""))
        .build()
        .map_err(|e| anyhow::anyhow!("authenticator secret: {e}"))
}

/// What an authenticator app scans: the `otpauth://totp/…` URI and the base32 secret for typing.
pub fn enrolment(secret: &[u8], account: &str) -> anyhow::Result<(String, String)> {
    let totp = totp(secret, account)?;
    let uri = totp.to_url().map_err(|e| anyhow::anyhow!("otpauth uri: {e}"))?;
    Ok((uri, totp.secret().to_base32()))
}

/// The 30-second step `code` belongs to at `now` (Unix seconds), if it is right for the current
/// step or one either side and later than `last_step` (a code is accepted once).
pub fn check_code(secret: &[u8], code: &str, now: u64, last_step: i64) -> anyhow::Result<Option<i64>> {
    let step = totp(secret, "")?.check(code, now).map(i64::try_from).transpose()?;
    Ok(step.filter(|step| *step > last_step))
}

/// Ten new recovery codes as shown (`abcd-efgh-ijkl-mnop`).
pub fn new_recovery_codes() -> anyhow::Result<Vec<String>> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; RECOVERY_CHARS];
            secret::fill_random(&mut bytes).map_err(anyhow::Error::msg)?;
            let chars: Vec<char> = bytes.iter().map(|b| char::from(BASE32[usize::from(b % 32)])).collect();
            Ok(chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-"))
        })
        .collect()
}

/// The stored value of a recovery code (as shown or as typed).
pub fn recovery_digest(code: &str) -> Vec<u8> {
    let normal: String = code.chars().filter(|c| *c != '-' && !c.is_whitespace()).collect();
    secret::digest(&normal.to_ascii_lowercase())
}

/// The keys sealing authenticator secrets: the first seals, every one opens.
pub struct SecretSealer {
    keys: Vec<(String, LessSafeKey)>,
}

impl std::fmt::Debug for SecretSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(kid, _)| kid.as_str()).collect();
        f.debug_struct("SecretSealer").field("keys", &ids).finish()
    }
}

/// A sealed secret as opened.
pub struct Opened {
    /// The authenticator secret.
    pub secret: Vec<u8>,
    /// Sealed with a key that no longer seals: worth sealing again with the current one.
    pub stale: bool,
}

impl SecretSealer {
    /// Derives one AES-256-GCM key per configured secret (HKDF-SHA256).
    pub fn new(keys: &[SigningKey]) -> anyhow::Result<Self> {
        anyhow::ensure!(!keys.is_empty(), "no two-factor sealing key");
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"kefu two-factor secrets v1");
        let keys = keys
            .iter()
            .map(|key| {
                let prk = salt.extract(key.secret.expose_secret().as_bytes());
                let info = [key.kid.as_bytes()];
                let okm = prk.expand(&info, &AES_256_GCM).map_err(|_| anyhow::anyhow!("hkdf expand"))?;
                let unbound = UnboundKey::from(okm);
                Ok((key.kid.clone(), LessSafeKey::new(unbound)))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self { keys })
    }

    /// `kid:base64(nonce ‖ ciphertext ‖ tag)`, bound to `user` (a sealed secret copied onto
    /// another account does not open).
    pub fn seal(&self, user: UserId, secret: &[u8]) -> anyhow::Result<String> {
        let (kid, key) = self.keys.first().ok_or_else(|| anyhow::anyhow!("no sealing key"))?;
        let mut nonce = [0u8; NONCE_LEN];
        secret::fill_random(&mut nonce).map_err(anyhow::Error::msg)?;
        let mut sealed = secret.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(user.as_uuid().as_bytes()),
            &mut sealed,
        )
        .map_err(|_| anyhow::anyhow!("sealing failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{kid}:{}", STANDARD_NO_PAD.encode(out)))
    }

    /// Opens a sealed secret of `user`. An error when its key is gone or it was tampered with.
    pub fn open(&self, user: UserId, sealed: &str) -> anyhow::Result<Opened> {
        let (kid, body) = sealed.split_once(':').ok_or_else(|| anyhow::anyhow!("sealed secret without key id"))?;
        let position = self
            .keys
            .iter()
            .position(|(id, _)| id == kid)
            .ok_or_else(|| anyhow::anyhow!("two-factor secret sealed with unknown key `{kid}`"))?;
        let mut bytes = STANDARD_NO_PAD.decode(body)?;
        anyhow::ensure!(bytes.len() > NONCE_LEN, "sealed secret too short");
        let rest = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).map_err(|_| anyhow::anyhow!("nonce"))?;
        let mut in_out = rest;
        let plain = self.keys[position]
            .1
            .open_in_place(nonce, Aad::from(user.as_uuid().as_bytes()), &mut in_out)
            .map_err(|_| anyhow::anyhow!("two-factor secret does not open (tampered, or another account's)"))?;
        Ok(Opened { secret: plain.to_vec(), stale: position != 0 })
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn key(kid: &str) -> SigningKey {
        SigningKey { kid: kid.into(), secret: SecretString::from(format!("{kid}-a-sealing-secret-of-enough-length")) }
    }

    #[test]
    fn rfc_6238_sha1_vectors_are_accepted_in_their_step_only_once() {
        // RFC 6238 appendix B, SHA-1, the 8-digit values' last 6 digits.
        let secret = b"12345678901234567890";
        for (time, code) in [(59u64, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924")] {
            let step = i64::try_from(time / 30).expect("step");
            assert_eq!(check_code(secret, code, time, 0).expect("check"), Some(step), "{time}");
            assert_eq!(check_code(secret, code, time, step).expect("check"), None, "replayed at {time}");
            assert_eq!(check_code(secret, code, time + 90, 0).expect("check"), None, "too late at {time}");
        }
    }

    #[test]
    fn second_steps_are_read_as_typed() {
        assert_eq!(SecondStep::parse(" 123 456 "), Some(SecondStep::Code("123456".into())));
        assert_eq!(SecondStep::parse("ABCD-efgh-2345-mnop"), Some(SecondStep::Recovery("abcdefgh2345mnop".into())));
        for bad in ["", "12345", "1234567", "abcd-efgh-ijkl-mno1", "x".repeat(500).as_str()] {
            assert_eq!(SecondStep::parse(bad), None, "{bad}");
        }
        let codes = new_recovery_codes().expect("codes");
        assert_eq!(codes.len(), RECOVERY_CODES);
        for code in &codes {
            assert!(matches!(SecondStep::parse(code), Some(SecondStep::Recovery(_))), "{code}");
            assert_eq!(recovery_digest(code), recovery_digest(&code.to_uppercase().replace('-', " ")));
        }
    }

    #[test]
    fn sealed_secrets_open_for_their_account_with_any_configured_key() {
        let user = UserId::from_uuid(uuid::Uuid::now_v7());
        let old = SecretSealer::new(&[key("old")]).expect("old");
        let sealed = old.seal(user, b"the secret").expect("seal");
        assert!(sealed.starts_with("old:"));
        let rotated = SecretSealer::new(&[key("new"), key("old")]).expect("rotated");
        let opened = rotated.open(user, &sealed).expect("open");
        assert_eq!(opened.secret, b"the secret");
        assert!(opened.stale, "sealed with the old key");
        let fresh = rotated.seal(user, b"the secret").expect("reseal");
        assert!(!rotated.open(user, &fresh).expect("open").stale);
        assert!(rotated.open(UserId::from_uuid(uuid::Uuid::now_v7()), &sealed).is_err(), "another account");
        assert!(SecretSealer::new(&[key("new")]).expect("new").open(user, &sealed).is_err(), "old key gone");
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(old.open(user, &tampered).is_err(), "tampered");
    }
}
