//! The native runtime: the edge core served by axum on tokio (what `make dev` runs on
//! 127.0.0.1:8787, and what the behavioural tests drive). Site lookups go to the api over
//! reqwest, WebSockets are proxied with tokio-tungstenite, rate limits use governor.

pub mod proxy;
pub mod routes;
pub mod sites;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use kefu_protocol::SiteKeyId;
use kefu_protocol::token::TokenKeys;

use crate::assets::WidgetAssets;
use crate::config::{EdgeConfig, RegionConfig};
use crate::error::EdgeError;
use crate::site::SiteCache;

/// Everything the handlers share.
#[derive(Clone)]
pub struct EdgeState {
    /// Configuration.
    pub config: Arc<EdgeConfig>,
    /// Regions with their token keys.
    pub regions: Arc<Vec<(RegionConfig, TokenKeys)>>,
    /// Resolved sites.
    pub sites: Arc<SiteCache>,
    /// Client for the api.
    pub http: reqwest::Client,
    /// Monotonic clock origin for the cache.
    pub started: std::time::Instant,
    /// Per-IP limiter.
    pub per_ip: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// Per-site-key limiter.
    pub per_site: Arc<DefaultKeyedRateLimiter<SiteKeyId>>,
    /// The widget's loader code and UI bundle.
    pub widget: Arc<Widget>,
}

/// The widget's built files, read once at start.
pub struct Widget {
    /// Loader code and manifest.
    pub assets: WidgetAssets,
    /// The UI bundle's bytes.
    pub ui: axum::body::Bytes,
}

impl Widget {
    /// Reads `dir` (edge/widget's `dist/`).
    pub fn read(dir: &str) -> Result<Self, String> {
        let dir = std::path::Path::new(dir);
        let read = |path: &str| {
            std::fs::read_to_string(dir.join(path)).map_err(|e| {
                format!(
                    "widget file {} cannot be read ({e}); build the widget with `npm run build` in edge/widget \
                     (make dev and make test do) or set widget_dir",
                    dir.join(path).display()
                )
            })
        };
        let assets = WidgetAssets::new(&read("widget/manifest.json")?, read("widget/loader.js")?)?;
        let ui = read(&assets.manifest.ui)?.into();
        Ok(Self { assets, ui })
    }
}

fn per_minute(n: u32) -> Quota {
    let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(n).allow_burst(n)
}

impl EdgeState {
    /// Builds the state from a configuration, or lists every problem with it.
    pub fn new(config: EdgeConfig) -> Result<Self, Vec<String>> {
        let (per_ip, per_site) = (config.per_ip_per_minute, config.per_site_per_minute);
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(problems);
        }
        let regions = config
            .regions
            .iter()
            .filter_map(|r| crate::crypto::token_keys(&r.visitor_keys).map(|keys| (r.clone(), keys)))
            .collect();
        let widget = Widget::read(&config.widget_dir).map_err(|e| vec![e])?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| vec![format!("http client: {e}")])?;
        Ok(Self {
            sites: Arc::new(SiteCache::new(config.cache_secs)),
            config: Arc::new(config),
            regions: Arc::new(regions),
            http,
            started: std::time::Instant::now(),
            per_ip: Arc::new(RateLimiter::keyed(per_minute(per_ip))),
            per_site: Arc::new(RateLimiter::keyed(per_minute(per_site))),
            widget: Arc::new(widget),
        })
    }

    /// Milliseconds since start (the cache's clock).
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// `rate_limited` with a `Retry-After`, or nothing.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), EdgeError> {
        limited(self.per_ip.check_key(&ip))
    }

    /// Same for a site key.
    pub fn check_site(&self, key: SiteKeyId) -> Result<(), EdgeError> {
        limited(self.per_site.check_key(&key))
    }

    /// Every minute (a task for the process's life), forgets the limiters' keys that are back to
    /// a full allowance, so their memory follows the addresses and sites active in the last minute.
    pub fn forget_idle_keys(&self) {
        let (per_ip, per_site) = (self.per_ip.clone(), self.per_site.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                per_ip.retain_recent();
                per_site.retain_recent();
                per_ip.shrink_to_fit();
                per_site.shrink_to_fit();
            }
        });
    }
}

fn limited(result: Result<(), governor::NotUntil<governor::clock::QuantaInstant>>) -> Result<(), EdgeError> {
    result.map_err(|not_until| {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
        EdgeError::new(kefu_protocol::ErrorCode::RateLimited, "Too many requests; slow down.")
            .retry_after(wait.as_secs().max(1))
    })
}
