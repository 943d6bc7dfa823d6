//! Allowed origins for a tenant's widget: exact (`https://shop.example.com`, with an optional
//! port) or every subdomain of a domain (`https://*.example.com`, which does not match
//! `https://example.com` itself). The api validates what admins save with this parser and the
//! edge checks each request's `Origin` header with [`OriginPattern::matches`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest pattern accepted.
pub const MAX_PATTERN_LEN: usize = 260;

/// Why an origin pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OriginError(&'static str);

/// One allowed origin.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
pub struct OriginPattern {
    https: bool,
    host: Host,
    port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Exact(String),
    Subdomains(String),
}

/// A parsed `Origin` header: scheme, host, effective port.
struct Origin {
    https: bool,
    host: String,
    port: u16,
}

fn parse_origin(raw: &str, allow_wildcard: bool) -> Result<(bool, String, u16, bool), OriginError> {
    let raw = raw.trim().to_ascii_lowercase();
    let (https, rest) = if let Some(rest) = raw.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = raw.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(OriginError("an origin starts with https:// or http://"));
    };
    if rest.contains(['/', '?', '#', '@', '\\']) {
        return Err(OriginError("an origin is only scheme, host and port: no path, query or user"));
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => {
            let port: u16 = port.parse().map_err(|_| OriginError("the port must be a number from 1 to 65535"))?;
            if port == 0 {
                return Err(OriginError("the port must be a number from 1 to 65535"));
            }
            (host, port)
        }
        None => (rest, if https { 443 } else { 80 }),
    };
    let (wildcard, host) = match host.strip_prefix("*.") {
        Some(base) if allow_wildcard => (true, base),
        Some(_) => return Err(OriginError("a wildcard is not an origin")),
        None => (false, host),
    };
    let labels: Vec<&str> = host.split('.').collect();
    let valid_label = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if host.is_empty() || host.len() > 253 || !labels.iter().all(valid_label) {
        return Err(OriginError(
            "the host must be a domain name (punycode for other scripts), localhost or an IPv4 address",
        ));
    }
    if wildcard && labels.len() < 2 {
        return Err(OriginError("a wildcard needs a domain with at least two labels, like *.example.com"));
    }
    Ok((https, host.to_owned(), port, wildcard))
}

impl Origin {
    fn parse(raw: &str) -> Option<Self> {
        let (https, host, port, _) = parse_origin(raw, false).ok()?;
        Some(Self { https, host, port })
    }
}

impl OriginPattern {
    /// Whether a request's `Origin` header value is allowed by this pattern. `null` and
    /// malformed origins never are.
    pub fn matches(&self, origin: &str) -> bool {
        let Some(origin) = Origin::parse(origin) else { return false };
        if origin.https != self.https || origin.port != self.port {
            return false;
        }
        match &self.host {
            Host::Exact(host) => origin.host == *host,
            Host::Subdomains(base) => {
                origin.host.len() > base.len() + 1
                    && origin.host.ends_with(base.as_str())
                    && origin.host.as_bytes()[origin.host.len() - base.len() - 1] == b'.'
            }
        }
    }
}

impl OriginPattern {
    /// The domain a wildcard pattern covers the subdomains of (`example.com` for
    /// `https://*.example.com`); `None` for an exact origin.
    pub fn wildcard_base(&self) -> Option<&str> {
        match &self.host {
            Host::Subdomains(base) => Some(base),
            Host::Exact(_) => None,
        }
    }
}

/// Whether any of `patterns` allows `origin`.
pub fn allowed(patterns: &[OriginPattern], origin: &str) -> bool {
    patterns.iter().any(|p| p.matches(origin))
}

impl FromStr for OriginPattern {
    type Err = OriginError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        if raw.len() > MAX_PATTERN_LEN {
            return Err(OriginError("too long"));
        }
        let (https, host, port, wildcard) = parse_origin(raw, true)?;
        let host = if wildcard { Host::Subdomains(host) } else { Host::Exact(host) };
        Ok(Self { https, host, port })
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        let host = match &self.host {
            Host::Exact(host) => host.clone(),
            Host::Subdomains(base) => format!("*.{base}"),
        };
        let default_port = if self.https { 443 } else { 80 };
        if self.port == default_port {
            write!(f, "{scheme}://{host}")
        } else {
            write!(f, "{scheme}://{host}:{}", self.port)
        }
    }
}

impl Serialize for OriginPattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OriginPattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

/// In OpenAPI a string, as it is written.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for OriginPattern {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "An allowed origin: exact (`https://shop.example.com`, with an optional port) or every \
                 subdomain of a domain (`https://*.example.com`).",
            ))
            .max_length(Some(MAX_PATTERN_LEN))
            .examples(["https://*.example.com"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for OriginPattern {}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(raw: &str) -> OriginPattern {
        raw.parse().expect("valid pattern")
    }

    #[test]
    fn exact_origins_match_scheme_host_and_port() {
        let p = pattern("https://Shop.Example.com");
        assert_eq!(p.to_string(), "https://shop.example.com");
        assert!(p.matches("https://shop.example.com"));
        assert!(p.matches("https://shop.example.com:443"));
        assert!(!p.matches("http://shop.example.com"));
        assert!(!p.matches("https://shop.example.com:8443"));
        assert!(!p.matches("https://evil-shop.example.com"));
        assert!(!p.matches("https://shop.example.com.evil.net"));
        assert!(!p.matches("null"));
        let local = pattern("http://localhost:5173");
        assert!(local.matches("http://localhost:5173"));
        assert!(!local.matches("http://localhost"));
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        let p = pattern("https://*.example.com");
        assert!(p.matches("https://a.example.com"));
        assert!(p.matches("https://a.b.example.com"));
        assert!(!p.matches("https://example.com"));
        assert!(!p.matches("https://badexample.com"));
        assert!(!p.matches("https://a.example.com.cn"));
        assert!(!p.matches("http://a.example.com"));
    }

    #[test]
    fn refuses_what_is_not_an_origin() {
        for bad in [
            "shop.example.com",
            "ftp://shop.example.com",
            "https://shop.example.com/path",
            "https://user@shop.example.com",
            "https://*.com",
            "https://a.*.example.com",
            "https://shop.example.com:0",
            "https://shop.example.com:99999",
            "https://",
            "https://exa mple.com",
            "https://例子.cn",
        ] {
            assert!(bad.parse::<OriginPattern>().is_err(), "{bad} should be refused");
        }
    }
}
