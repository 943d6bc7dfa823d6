//! Where webhooks may go (docs/security.md, "Outgoing requests"): an endpoint's URL is checked
//! when it is saved, and every connection is made only to an address this module checked,
//! because the HTTP client resolves names through [`GuardedResolver`] (so a name that resolves
//! to a private address at delivery time, DNS rebinding, is refused there too).
//!
//! Refused unless the operator allows private targets (`webhooks.allow_private_targets`):
//! loopback, private (RFC 1918), shared (CGNAT, 100.64/10), link-local (with 169.254.169.254,
//! the cloud metadata address), unique-local, multicast, unspecified, broadcast, documentation
//! and benchmarking ranges, and the IPv6 forms that embed such an IPv4 address (IPv4-mapped,
//! IPv4-compatible, NAT64, 6to4).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

/// Longest endpoint URL.
pub const MAX_URL_LEN: usize = 2048;

/// Whether an address is one a webhook may be sent to (public unicast).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // "this network", 0.0.0.0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    // IPv4-compatible (deprecated, ::a.b.c.d), which includes :: and ::1.
    if segments[..6].iter().all(|s| *s == 0) {
        return false;
    }
    // NAT64 (64:ff9b::/96): the IPv4 address in the last 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(Ipv4Addr::new(
            (segments[6] >> 8) as u8,
            segments[6] as u8,
            (segments[7] >> 8) as u8,
            segments[7] as u8,
        ));
    }
    // 6to4 (2002::/16): the IPv4 address in bits 16–48.
    if segments[0] == 0x2002 {
        return is_public_v4(Ipv4Addr::new(
            (segments[1] >> 8) as u8,
            segments[1] as u8,
            (segments[2] >> 8) as u8,
            segments[2] as u8,
        ));
    }
    !((segments[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (segments[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (segments[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || (segments[0] & 0xff00) == 0xff00 // multicast
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || (segments[0] == 0x0100 && segments[1..4] == [0, 0, 0])) // discard-only 100::/64
}

/// Why a URL or an address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Not a URL.
    #[error("Not a valid URL.")]
    Invalid,
    /// Longer than [`MAX_URL_LEN`].
    #[error("At most {MAX_URL_LEN} characters.")]
    TooLong,
    /// Not https (or http where private targets are allowed).
    #[error("Must be an https:// URL.")]
    Scheme,
    /// Carries a user name or password.
    #[error("Must not contain a user name or password.")]
    Credentials,
    /// Names or resolves to an address webhooks may not reach.
    #[error("Points to a private, loopback, link-local or otherwise internal address, which webhooks may not reach.")]
    Private,
}

/// The checks, with the operator's setting.
#[derive(Debug, Clone, Copy)]
pub struct Guard {
    /// `webhooks.allow_private_targets`: internal addresses and plain http are allowed.
    pub allow_private: bool,
}

impl Guard {
    /// Whether an address may be connected to.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allow_private || is_public(ip)
    }

    /// Checks an endpoint URL's form and, for an IP literal or a `localhost` name, its target
    /// (names are checked again at every connection, by [`GuardedResolver`]).
    pub fn check_url(&self, raw: &str) -> Result<Url, Refused> {
        if raw.len() > MAX_URL_LEN {
            return Err(Refused::TooLong);
        }
        let url = Url::parse(raw).map_err(|_| Refused::Invalid)?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_private => {}
            _ => return Err(Refused::Scheme),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refused::Credentials);
        }
        match url.host() {
            None => return Err(Refused::Invalid),
            Some(Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip))?,
            Some(Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip))?,
            Some(Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if !self.allow_private && (name == "localhost" || name.ends_with(".localhost")) {
                    return Err(Refused::Private);
                }
            }
        }
        Ok(url)
    }

    fn check_ip(&self, ip: IpAddr) -> Result<(), Refused> {
        if self.allows(ip) { Ok(()) } else { Err(Refused::Private) }
    }

    /// Resolves a name and keeps the addresses that may be connected to; none left is an error.
    pub async fn resolve(&self, host: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|error| ResolveError::Lookup(error.to_string()))?
            .collect();
        let allowed: Vec<SocketAddr> = resolved.iter().copied().filter(|a| self.allows(a.ip())).collect();
        if allowed.is_empty() {
            return Err(if resolved.is_empty() {
                ResolveError::Lookup("no address".into())
            } else {
                ResolveError::Private(host.to_owned())
            });
        }
        Ok(allowed)
    }
}

/// Why a name gave no address to connect to.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The lookup failed.
    #[error("DNS lookup failed: {0}")]
    Lookup(String),
    /// Every address it resolves to is internal.
    #[error("refused: {0} resolves only to private, loopback, link-local or otherwise internal addresses")]
    Private(String),
}

/// The HTTP client's resolver: resolves with the system resolver and hands the client only the
/// addresses the guard allows, so the connection goes to a checked address.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    /// The checks.
    pub guard: Guard,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.guard;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = guard.resolve(&host).await?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(raw: &str) -> Option<Refused> {
        Guard { allow_private: false }.check_url(raw).err()
    }

    #[test]
    fn internal_addresses_are_refused_in_every_spelling() {
        for url in [
            "https://127.0.0.1/hook",
            "https://127.1.2.3/",
            "https://0.0.0.0/",
            "https://10.0.0.5/",
            "https://172.16.0.1/",
            "https://172.31.255.255/",
            "https://192.168.1.1/",
            "https://100.64.0.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://224.0.0.1/",
            "https://255.255.255.255/",
            "https://[::1]/",
            "https://[::]/",
            "https://[fe80::1]/",
            "https://[fd00::1]/",
            "https://[ff02::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://[::ffff:10.0.0.1]/",
            "https://[64:ff9b::a00:1]/",
            "https://[2002:7f00:1::]/",
            "https://localhost/",
            "https://LOCALHOST./",
            "https://api.localhost/",
            // Other spellings of 127.0.0.1 that URL parsing normalises.
            "https://2130706433/",
            "https://0x7f.0.0.1/",
            "https://127.1/",
        ] {
            assert_eq!(refused(url), Some(Refused::Private), "{url}");
        }
    }

    #[test]
    fn public_https_urls_pass_and_the_form_is_checked() {
        for url in ["https://hooks.example.com/kefu", "https://93.184.216.34:8443/x?y=1", "https://[2606:4700::1111]/"]
        {
            assert_eq!(refused(url), None, "{url}");
        }
        assert_eq!(refused("http://hooks.example.com/"), Some(Refused::Scheme));
        assert_eq!(refused("ftp://hooks.example.com/"), Some(Refused::Scheme));
        assert_eq!(refused("https://user:pw@hooks.example.com/"), Some(Refused::Credentials));
        assert_eq!(refused("not a url"), Some(Refused::Invalid));
        assert_eq!(refused(&format!("https://example.com/{}", "a".repeat(MAX_URL_LEN))), Some(Refused::TooLong));
    }

    #[test]
    fn the_operator_may_allow_private_targets() {
        let guard = Guard { allow_private: true };
        assert!(guard.check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(guard.check_url("http://localhost:9000/hook").is_ok());
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_at_connection_time() {
        let guard = Guard { allow_private: false };
        let error = guard.resolve("localhost").await.expect_err("refused");
        assert!(matches!(error, ResolveError::Private(_)), "{error}");
        assert!(!Guard { allow_private: true }.resolve("localhost").await.expect("allowed").is_empty());
    }
}
