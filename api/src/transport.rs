//! Transport security of the connections to Postgres and Redis: what a connection URL asks for,
//! whether a node may use it (production refuses an unverified connection that leaves the
//! machine unless the operator allowed it), and the PEM files that settings and database URLs
//! name, read and checked before anything connects (docs/security.md, "Encryption in transit").
//!
//! Nothing here connects. `Config::validate` asks it about `database.url` and Redis, the tenant
//! pools (`db::Databases`) about each tenant database's registered URL, and `redis_link` builds
//! its TLS settings from [`read_certificates`] and [`read_private_key`].

use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sqlx::postgres::{PgConnectOptions, PgSslMode};

use crate::config::Mode;

/// How a connection reaches its server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// A Unix socket or a loopback address: the traffic never leaves the machine.
    Local,
    /// TLS with the server's certificate checked against the trusted roots and its name against
    /// the host the URL names.
    Verified,
    /// Plain, or TLS without checking whom it talks to.
    Unverified,
}

/// A server as a connection URL names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The host (or socket path), for messages.
    pub host: String,
    /// What the URL asks for: `sslmode=…` for Postgres, `rediss://` or `redis://` for Redis.
    pub mode: String,
    /// What that amounts to.
    pub transport: Transport,
}

/// What a node requires of its connections to Postgres or Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Development: anything goes.
    #[default]
    Any,
    /// Production with `allow_insecure_transport`: an unverified connection off the machine is
    /// used, with a warning in the log.
    Warn,
    /// Production: an unverified connection off the machine is refused.
    RequireVerified,
}

impl Policy {
    /// The policy of a node in `mode`, with the operator's `allow_insecure_transport`.
    pub fn new(mode: Mode, allow_insecure_transport: bool) -> Self {
        match (mode, allow_insecure_transport) {
            (Mode::Development, _) => Self::Any,
            (Mode::Production, true) => Self::Warn,
            (Mode::Production, false) => Self::RequireVerified,
        }
    }

    /// Why `endpoint` may not be used (`what` names the connection and `allow` the setting that
    /// would allow it), or `None`.
    pub fn refusal(self, what: &str, allow: &str, endpoint: &Endpoint) -> Option<String> {
        match (&endpoint.transport, self) {
            (Transport::Unverified, Self::RequireVerified) => Some(format!(
                "{what} reaches `{}` with {}, which does not verify the server: production requires \
                 verified TLS to a server off this machine (Postgres: sslmode=verify-full, with \
                 sslrootcert for a private CA; Redis: rediss://; docs/security.md, \"Encryption in transit\"), \
                 or {allow} = true on a network you trust",
                endpoint.host, endpoint.mode
            )),
            _ => None,
        }
    }

    /// What to log when `endpoint` is used without verification because the operator allowed
    /// it, or `None`.
    pub fn warning(self, what: &str, endpoint: &Endpoint) -> Option<String> {
        match (&endpoint.transport, self) {
            (Transport::Unverified, Self::Warn) => Some(format!(
                "{what} reaches `{}` with {}, without verified TLS (allowed by allow_insecure_transport)",
                endpoint.host, endpoint.mode
            )),
            _ => None,
        }
    }
}

fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || IpAddr::from_str(host).is_ok_and(|ip| ip.is_loopback())
}

/// How a Postgres URL connects, as sqlx will use it (so libpq's `PGSSLMODE`/`PGHOST` apply
/// where the URL is silent, as they do when connecting). `verify-ca` is not verified: it does
/// not check the host name, and sqlx trusts the public web roots besides `sslrootcert`, so any
/// publicly issued certificate would pass.
pub fn postgres(url: &str) -> Result<Endpoint, String> {
    let options = PgConnectOptions::from_str(url).map_err(|error| format!("does not parse: {error}"))?;
    let mode = format!("sslmode={}", ssl_mode_name(options.get_ssl_mode()));
    let (host, local) = match options.get_socket() {
        Some(socket) => (socket.display().to_string(), true),
        None => {
            (options.get_host().to_owned(), is_loopback_host(options.get_host()) || options.get_host().starts_with('/'))
        }
    };
    let transport = match options.get_ssl_mode() {
        _ if local => Transport::Local,
        PgSslMode::VerifyFull => Transport::Verified,
        _ => Transport::Unverified,
    };
    Ok(Endpoint { host, mode, transport })
}

fn ssl_mode_name(mode: PgSslMode) -> &'static str {
    match mode {
        PgSslMode::Disable => "disable",
        PgSslMode::Allow => "allow",
        PgSslMode::Prefer => "prefer",
        PgSslMode::Require => "require",
        PgSslMode::VerifyCa => "verify-ca",
        PgSslMode::VerifyFull => "verify-full",
    }
}

/// Problems with the TLS files a Postgres URL names (`sslrootcert`, `sslcert`, `sslkey`): each
/// must be readable here and hold what it should, and a root certificate is useless unless the
/// mode checks the certificate (sqlx ignores it under `require`, where libpq would verify the
/// chain). `what` names the URL in the messages.
pub fn postgres_files(what: &str, url: &str) -> Vec<String> {
    let Ok(parsed) = url::Url::parse(url) else { return Vec::new() };
    let mut problems = Vec::new();
    let mut mode = None;
    let mut root = None;
    for (key, value) in parsed.query_pairs() {
        match &*key {
            "sslmode" | "ssl-mode" => mode = Some(value.into_owned()),
            "sslrootcert" | "ssl-root-cert" | "ssl-ca" => {
                root = Some(value.to_string());
                if let Err(problem) = certificates_in(&value) {
                    problems.push(format!("{what}: sslrootcert {problem}"));
                }
            }
            "sslcert" | "ssl-cert" => {
                if let Err(problem) = certificates_in(&value) {
                    problems.push(format!("{what}: sslcert {problem}"));
                }
            }
            "sslkey" | "ssl-key" => {
                if let Err(problem) = read_private_key(Path::new(&*value)) {
                    problems.push(format!("{what}: sslkey {problem}"));
                }
            }
            _ => {}
        }
    }
    if root.is_some() && !matches!(mode.as_deref(), Some("verify-full" | "verify-ca")) {
        problems.push(format!(
            "{what}: sslrootcert is given but sslmode is {}, which does not check the server's certificate \
             (libpq would, sqlx does not): use sslmode=verify-full",
            mode.as_deref().unwrap_or("prefer (the default)")
        ));
    }
    problems
}

/// A certificate parameter's value: inline PEM (sqlx takes a value starting with the PEM
/// header as the certificate itself) or a file.
fn certificates_in(value: &str) -> Result<Vec<u8>, String> {
    if value.starts_with("-----BEGIN CERTIFICATE-----") {
        parse_certificates(value.as_bytes().to_vec()).map_err(|problem| format!("(inline) {problem}"))
    } else {
        read_certificates(Path::new(value))
    }
}

/// Reads a PEM file of one or more certificates (a CA bundle, or a certificate with its
/// chain); the error names the file and what is wrong.
pub fn read_certificates(path: &Path) -> Result<Vec<u8>, String> {
    let pem = std::fs::read(path).map_err(|error| format!("`{}` cannot be read: {error}", path.display()))?;
    parse_certificates(pem).map_err(|problem| format!("`{}` {problem}", path.display()))
}

fn parse_certificates(pem: Vec<u8>) -> Result<Vec<u8>, String> {
    let mut count = 0;
    for certificate in CertificateDer::pem_slice_iter(&pem) {
        certificate.map_err(|error| format!("is not valid PEM: {error}"))?;
        count += 1;
    }
    if count == 0 {
        return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(pem)
}

/// Reads a PEM private key file (PKCS#8, PKCS#1 or SEC1); the error names the file, never the
/// key.
pub fn read_private_key(path: &Path) -> Result<Vec<u8>, String> {
    let pem = std::fs::read(path).map_err(|error| format!("`{}` cannot be read: {error}", path.display()))?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|error| format!("`{}` holds no usable PEM private key: {error}", path.display()))?;
    Ok(pem)
}

/// Whether connecting to Postgres failed on TLS: the server refused it under a mode that needs
/// it (`Tls`), or the handshake failed (rustls's errors reach sqlx as I/O errors of kind
/// `InvalidData`: a certificate from an unknown CA, for another name, expired). Waiting does not
/// cure these, unlike a refused connection.
pub fn is_tls_failure(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Tls(_) => true,
        sqlx::Error::Io(error) => error.kind() == std::io::ErrorKind::InvalidData,
        _ => false,
    }
}

/// How a Redis URL connects: `rediss://` is verified (redis-rs checks the chain and the name;
/// Kefu is built without its `#insecure` escape hatch, so such a URL fails to connect), a Unix
/// socket or a loopback `redis://` is local, any other `redis://` is plain.
pub fn redis(url: &str) -> Result<Endpoint, String> {
    let parsed = url::Url::parse(url).map_err(|error| format!("does not parse: {error}"))?;
    let host = parsed.host_str().unwrap_or_default().to_owned();
    let transport = match parsed.scheme() {
        "rediss" => Transport::Verified,
        "redis+unix" | "unix" => Transport::Local,
        _ if is_loopback_host(&host) => Transport::Local,
        _ => Transport::Unverified,
    };
    let mode = format!("{}://", parsed.scheme());
    let host = if host.is_empty() { parsed.path().to_owned() } else { host };
    Ok(Endpoint { host, mode, transport })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(url: &str) -> Transport {
        postgres(url).expect("parses").transport
    }

    #[test]
    fn postgres_urls_are_local_verified_or_not() {
        assert_eq!(pg("postgres://k:p@127.0.0.1:5432/db"), Transport::Local);
        assert_eq!(pg("postgres://k:p@localhost/db"), Transport::Local);
        assert_eq!(pg("postgres://k:p@[::1]:5432/db"), Transport::Local);
        assert_eq!(pg("postgres://k@%2Fvar%2Frun%2Fpostgresql/db"), Transport::Local);
        assert_eq!(pg("postgres:///db?host=/var/run/postgresql"), Transport::Local);
        assert_eq!(pg("postgres://k:p@db.internal/db?sslmode=verify-full&sslrootcert=/ca.pem"), Transport::Verified);
        for mode in ["require", "verify-ca", "disable", "prefer"] {
            let endpoint = postgres(&format!("postgres://k:p@db.internal/db?sslmode={mode}")).expect("parses");
            assert_eq!((endpoint.transport, endpoint.mode), (Transport::Unverified, format!("sslmode={mode}")));
        }
        let local = postgres("postgres://k@localhost/db?sslmode=verify-full").expect("parses");
        assert_eq!((local.transport, local.mode.as_str()), (Transport::Local, "sslmode=verify-full"));
        assert!(postgres("postgres://k:p@db.internal/db?sslmode=bogus").is_err());
    }

    #[test]
    fn redis_urls_are_local_verified_or_not() {
        let redis = |url: &str| redis(url).expect("parses").transport;
        assert_eq!(redis("redis://127.0.0.1:6379"), Transport::Local);
        assert_eq!(redis("redis://localhost:6379/0"), Transport::Local);
        assert_eq!(redis("redis+unix:///run/redis.sock"), Transport::Local);
        assert_eq!(redis("rediss://cache.internal:6380"), Transport::Verified);
        assert_eq!(redis("redis://cache.internal:6379"), Transport::Unverified);
    }

    #[test]
    fn production_refuses_unverified_remote_connections_unless_allowed() {
        let remote = postgres("postgres://k:p@db.internal/db").expect("parses");
        let local = postgres("postgres://k:p@127.0.0.1/db").expect("parses");
        let strict = Policy::new(Mode::Production, false);
        let text = strict.refusal("database.url", "database.allow_insecure_transport", &remote).expect("refused");
        assert!(text.contains("db.internal") && text.contains("sslmode=prefer"), "{text}");
        assert!(!text.contains(":p@"), "no password: {text}");
        assert_eq!(strict.refusal("x", "y", &local), None);
        let allowed = Policy::new(Mode::Production, true);
        assert_eq!(allowed.refusal("x", "y", &remote), None);
        assert!(allowed.warning("x", &remote).is_some());
        assert_eq!(allowed.warning("x", &local), None);
        assert_eq!(Policy::new(Mode::Development, false).refusal("x", "y", &remote), None);
        assert_eq!(Policy::new(Mode::Development, false).warning("x", &remote), None);
    }

    #[test]
    fn postgres_files_must_exist_parse_and_be_used() {
        let dir = std::env::temp_dir().join(format!("kefu-transport-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        let not_pem = dir.join("not.pem");
        std::fs::write(&not_pem, "hello").expect("write");
        let missing = dir.join("missing.pem");
        let problems = postgres_files(
            "DATABASE_URL",
            &format!(
                "postgres://k@db/x?sslmode=verify-full&sslrootcert={}&sslkey={}",
                not_pem.display(),
                missing.display()
            ),
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("sslrootcert") && problems[0].contains("no PEM certificate"), "{problems:?}");
        assert!(problems[1].contains("sslkey") && problems[1].contains("cannot be read"), "{problems:?}");
        let problems =
            postgres_files("u", &format!("postgres://k@db/x?sslmode=require&sslrootcert={}", not_pem.display()));
        assert!(problems.iter().any(|p| p.contains("use sslmode=verify-full")), "{problems:?}");
        assert!(postgres_files("u", "postgres://k@db/x?sslmode=verify-full").is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }
}
