//! Signing and verifying Kefu tokens (HS256 JWTs with a `kid` header), shared by the api (agent
//! and visitor tokens), the edge (which mints visitor tokens) and the tests.
//!
//! The crypto backend of `jsonwebtoken` is chosen by the final binary: the api enables
//! `aws_lc_rs`, the wasm edge `rust_crypto`. Enable this module with the `jwt` feature.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ISSUER;

/// Why a token was refused. Clients see one `invalid_token` code; the variants are for logs.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The header has no `kid` or names an unknown key.
    #[error("unknown or missing key id")]
    UnknownKey,
    /// Signature, algorithm, expiry, audience or issuer failed.
    #[error("token rejected: {0}")]
    Rejected(#[from] jsonwebtoken::errors::Error),
}

/// HMAC keys by id: the first signs, all verify (rotation).
#[derive(Clone)]
pub struct TokenKeys {
    active_kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys").field("active_kid", &self.active_kid).finish_non_exhaustive()
    }
}

impl TokenKeys {
    /// Builds the key set from `(kid, secret)` pairs, the first being the signing key.
    /// Returns `None` when `keys` is empty.
    pub fn new<'a>(keys: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Option<Self> {
        let keys: Vec<(&str, &[u8])> = keys.into_iter().collect();
        let (active_kid, active_secret) = *keys.first()?;
        Some(Self {
            active_kid: active_kid.to_owned(),
            encoding: EncodingKey::from_secret(active_secret),
            decoding: keys.iter().map(|(kid, secret)| ((*kid).to_owned(), DecodingKey::from_secret(secret))).collect(),
        })
    }

    /// Signs claims with the active key.
    pub fn sign<C: Serialize>(&self, claims: &C) -> Result<String, TokenError> {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.active_kid.clone());
        Ok(encode(&header, claims, &self.encoding)?)
    }

    /// Verifies a token for `audience`: known `kid`, HS256 only (so `alg: none` and algorithm
    /// confusion fail), signature, `exp` with 30 s leeway, issuer and audience.
    pub fn verify<C: DeserializeOwned>(&self, token: &str, audience: &str) -> Result<C, TokenError> {
        let header = decode_header(token)?;
        let key = header.kid.as_deref().and_then(|kid| self.decoding.get(kid)).ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 30;
        validation.set_audience(&[audience]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Ok(decode::<C>(token, key, &validation)?.claims)
    }
}
