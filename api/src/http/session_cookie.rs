//! The console's refresh token as a cookie: `kefu_rt`, `HttpOnly` (scripts never see it),
//! `SameSite=Strict` (never sent from another site), `Path=/api/v1/auth` (sent only to refresh and
//! logout), `Secure` unless the api is served over plain HTTP on a non-loopback host (a LAN
//! development setup; browsers treat `localhost` and `127.0.0.1` as secure). The console keeps its
//! access token in memory and gets a new one from `POST /api/v1/auth/refresh` with this cookie.

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::{DateTime, Utc};
use cookie::{Cookie, SameSite};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::config::Config;

/// The cookie's name.
pub const NAME: &str = "kefu_rt";
/// The only path it is sent to.
pub const PATH: &str = "/api/v1/auth";

/// How a new session's refresh token is handed over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenDelivery {
    /// In the response body (`refresh_token`), for programs that keep it themselves.
    #[default]
    Body,
    /// In the `kefu_rt` cookie only (browsers: the console); `refresh_token` is `null`.
    Cookie,
}

fn secure(config: &Config) -> bool {
    match url::Url::parse(&config.public_url) {
        Ok(url) if url.scheme() == "http" => is_loopback(&url),
        _ => true,
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn header_value(cookie: &Cookie<'_>) -> HeaderValue {
    // A refresh token is `kefu_rt_` + URL-safe base64: always a valid header value.
    HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` that hands `token` over until `expires_at`.
pub fn set(config: &Config, token: &str, expires_at: DateTime<Utc>) -> HeaderMap {
    let seconds = (expires_at - Utc::now()).num_seconds().max(0);
    let cookie = Cookie::build((NAME, token.to_owned()))
        .path(PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure(config))
        .max_age(cookie::time::Duration::seconds(seconds))
        .build();
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, header_value(&cookie));
    headers
}

/// The `Set-Cookie` that removes it (logout, a refused refresh).
pub fn clear(config: &Config) -> HeaderMap {
    let cookie = Cookie::build((NAME, ""))
        .path(PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure(config))
        .max_age(cookie::time::Duration::ZERO)
        .build();
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, header_value(&cookie));
    headers
}

/// The refresh token the request's `Cookie` header carries, if any.
pub fn read(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == NAME)
        .map(|cookie| cookie.value().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(public_url: &str) -> Config {
        Config { public_url: public_url.into(), ..Config::default() }
    }

    #[test]
    fn the_cookie_is_http_only_strict_on_the_auth_path_and_secure_off_loopback_http() {
        let at = Utc::now() + chrono::Duration::days(1);
        for (url, secure) in [
            ("https://app.kefu.example", true),
            ("http://127.0.0.1:8080", true),
            ("http://localhost:8080", true),
            ("http://192.168.1.20:8080", false),
        ] {
            let headers = set(&config(url), "kefu_rt_abc", at);
            let text = headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            assert!(text.starts_with("kefu_rt=kefu_rt_abc;"), "{text}");
            for part in ["HttpOnly", "SameSite=Strict", "Path=/api/v1/auth", "Max-Age="] {
                assert!(text.contains(part), "{url}: {text} lacks {part}");
            }
            assert_eq!(text.contains("Secure"), secure, "{url}: {text}");
        }
        let cleared = clear(&config("https://x.example"));
        assert!(
            cleared.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default().contains("Max-Age=0")
        );
    }

    #[test]
    fn the_token_is_read_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("theme=dark; kefu_rt=kefu_rt_xyz; other=1"));
        assert_eq!(read(&headers).as_deref(), Some("kefu_rt_xyz"));
        assert_eq!(read(&HeaderMap::new()), None);
    }
}
