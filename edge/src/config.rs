//! The edge's configuration: its public URL, the secret it shows the api, the secret behind
//! returning-visitor proofs, token lifetime, cache time, and the regions it routes to.

use serde::Deserialize;

/// One region: an api cluster and the keys its nodes verify visitor tokens with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionConfig {
    /// Region name, as in a tenant's home region and a token's `region` claim.
    pub name: String,
    /// The region's api base URL (`http://127.0.0.1:8080`); WebSockets go to its `ws` form.
    pub api_url: String,
    /// The region's visitor keys as `kid:secret[,kid:secret…]` (the first signs), the same
    /// value as the region's `KEFU_AUTH__VISITOR_KEYS`. The edge holds no other keys: it can
    /// mint visitor tokens and verify chat links, never make a member's token.
    pub visitor_keys: String,
}

/// Everything the edge needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeConfig {
    /// The edge's own public base URL, used in the loader and in WebSocket URLs.
    pub public_url: String,
    /// The secret presented to every region's `/internal/edge/…` (its `KEFU_EDGE__SECRET`).
    pub api_secret: String,
    /// Secret behind returning-visitor proofs (at least 32 bytes).
    pub visitor_secret: String,
    /// Visitor token lifetime in seconds (60–3600).
    #[serde(default = "default_token_ttl")]
    pub token_ttl_secs: i64,
    /// Seconds a resolved site is served from cache before it is revalidated (0–60).
    #[serde(default = "default_cache_secs")]
    pub cache_secs: u64,
    /// Session and WebSocket requests per minute per client IP.
    #[serde(default = "default_per_ip")]
    pub per_ip_per_minute: u32,
    /// Session requests per minute per site key.
    #[serde(default = "default_per_site")]
    pub per_site_per_minute: u32,
    /// The regions. A site key is looked up in every region at once until the edge knows its own.
    pub regions: Vec<RegionConfig>,
    /// Native runtime only: the widget's built files (edge/widget's `dist/`, with
    /// `widget/manifest.json`). Workers read them from the `ASSETS` binding instead.
    #[serde(default = "default_widget_dir")]
    pub widget_dir: String,
}

fn default_widget_dir() -> String {
    "edge/widget/dist".into()
}

fn default_per_ip() -> u32 {
    60
}

fn default_per_site() -> u32 {
    1200
}

fn default_token_ttl() -> i64 {
    600
}

fn default_cache_secs() -> u64 {
    5
}

impl EdgeConfig {
    /// Every problem, worded for the person starting the edge.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            problems.push("public_url must be an http(s) URL".to_owned());
        }
        if self.api_secret.len() < 32 {
            problems.push("api_secret must be at least 32 bytes (the api's KEFU_EDGE__SECRET)".to_owned());
        }
        if self.visitor_secret.len() < 32 {
            problems.push("visitor_secret must be at least 32 bytes".to_owned());
        }
        if !(60..=3600).contains(&self.token_ttl_secs) {
            problems.push("token_ttl_secs must be between 60 and 3600".to_owned());
        }
        if self.cache_secs > 60 {
            problems.push("cache_secs must be at most 60".to_owned());
        }
        if self.per_ip_per_minute == 0 || self.per_site_per_minute == 0 {
            problems.push("per_ip_per_minute and per_site_per_minute must be at least 1".to_owned());
        }
        if self.regions.is_empty() {
            problems.push("at least one region is needed".to_owned());
        }
        for region in &self.regions {
            if !(region.api_url.starts_with("http://") || region.api_url.starts_with("https://")) {
                problems.push(format!("region {}: api_url must be an http(s) URL", region.name));
            }
            if crate::crypto::parse_keys(&region.visitor_keys).is_none() {
                problems
                    .push(format!("region {}: visitor_keys must be kid:secret pairs, secrets ≥ 32 bytes", region.name));
            }
        }
        problems
    }

    /// The region called `name`.
    pub fn region(&self, name: &str) -> Option<&RegionConfig> {
        self.regions.iter().find(|r| r.name == name)
    }
}

impl RegionConfig {
    /// The visitor WebSocket URL of this region's api.
    pub fn visitor_ws_url(&self) -> String {
        let base = self.api_url.trim_end_matches('/');
        let ws = base.replacen("https://", "wss://", 1).replacen("http://", "ws://", 1);
        format!("{ws}/ws/visitor")
    }
}
