//! Resolved sites and their cache. A site key resolves (through the api's internal endpoint)
//! into an [`EdgeSite`]; the edge keeps it for `cache_secs`, then revalidates it with the ETag,
//! so an admin's save reaches visitors within seconds while a busy widget costs the api one
//! `304` per key every few seconds. Refusals (unknown key, suspended tenant) are cached as well,
//! so random keys cannot hammer the api.
//!
//! Time is passed in (milliseconds on any monotonic clock): Workers have no `Instant`.
//!
//! A runtime with a cache shared between processes (Cloudflare's Cache API, per data centre)
//! keeps [`Shared`] records there: [`SiteCache::export`] after asking the api,
//! [`SiteCache::import`] when this process has nothing. A record keeps the time the api was
//! asked, so adopting it never makes an answer fresh for longer than `cache_secs` in total; the
//! shared clock is then wall-clock milliseconds.
//!
//! With several regions, each region's api knows only the site keys of its own tenants (a
//! tenant's data never leaves its region): a key never seen is asked of every region at once,
//! and a known one is revalidated with its own region only ([`regions_to_ask`], [`combine`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kefu_protocol::widget::EdgeSite;
use kefu_protocol::{ErrorCode, SiteKeyId};
use serde::{Deserialize, Serialize};

use crate::config::RegionConfig;
use crate::error::EdgeError;

/// Most keys kept; beyond that expired entries are dropped first, then everything.
const MAX_ENTRIES: usize = 10_000;

/// What the cache says about a key.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// Fresh: use it.
    Fresh(Arc<EdgeSite>),
    /// Fresh refusal.
    Refused(EdgeError),
    /// Known but due for revalidation with this ETag.
    Stale {
        /// The last known site (served if the api cannot be reached).
        site: Arc<EdgeSite>,
        /// Its ETag.
        etag: String,
    },
    /// Never seen, or a refusal that expired.
    Missing,
}

/// What asking the api gave.
#[derive(Debug, Clone)]
pub enum Fetched {
    /// A (new) site with its ETag.
    Site(Box<EdgeSite>, String),
    /// `304`: what we have is current.
    NotModified,
    /// The api refused the key (unknown, revoked, suspended tenant).
    Refused(EdgeError),
}

/// One key's entry as kept in a cache shared between processes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shared {
    /// When the api gave this answer.
    pub checked_at_ms: u64,
    /// The answer.
    pub answer: SharedAnswer,
}

/// What the api said, in a [`Shared`] record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SharedAnswer {
    /// The site and its ETag.
    Site {
        /// The resolved site.
        site: Box<EdgeSite>,
        /// Its ETag.
        etag: String,
    },
    /// A refusal.
    Refused {
        /// Its code.
        code: ErrorCode,
        /// Its sentence.
        detail: String,
    },
}

#[derive(Debug, Clone)]
enum Cached {
    Site { site: Arc<EdgeSite>, etag: String },
    Refused(EdgeError),
}

#[derive(Debug)]
struct Entry {
    cached: Cached,
    checked_at_ms: u64,
}

/// The cache of resolved sites.
#[derive(Debug)]
pub struct SiteCache {
    entries: Mutex<HashMap<SiteKeyId, Entry>>,
    ttl_ms: u64,
}

impl SiteCache {
    /// A cache that trusts an entry for `ttl_secs`.
    pub fn new(ttl_secs: u64) -> Self {
        Self { entries: Mutex::default(), ttl_ms: ttl_secs * 1000 }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<SiteKeyId, Entry>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What is known about `key` at `now_ms`.
    pub fn lookup(&self, key: SiteKeyId, now_ms: u64) -> Lookup {
        let entries = self.entries();
        let Some(entry) = entries.get(&key) else { return Lookup::Missing };
        let fresh = now_ms.saturating_sub(entry.checked_at_ms) < self.ttl_ms;
        match (&entry.cached, fresh) {
            (Cached::Site { site, .. }, true) => Lookup::Fresh(site.clone()),
            (Cached::Site { site, etag }, false) => Lookup::Stale { site: site.clone(), etag: etag.clone() },
            (Cached::Refused(error), true) => Lookup::Refused(error.clone()),
            (Cached::Refused(_), false) => Lookup::Missing,
        }
    }

    /// The entry for `key`, as a record for a shared cache.
    pub fn export(&self, key: SiteKeyId) -> Option<Shared> {
        let entries = self.entries();
        let entry = entries.get(&key)?;
        let answer = match &entry.cached {
            Cached::Site { site, etag } => SharedAnswer::Site { site: Box::new((**site).clone()), etag: etag.clone() },
            Cached::Refused(error) => SharedAnswer::Refused { code: error.code, detail: error.detail.clone() },
        };
        Some(Shared { checked_at_ms: entry.checked_at_ms, answer })
    }

    /// Adopts a record from a shared cache, as of the time the api gave it, and returns what to
    /// serve.
    pub fn import(&self, key: SiteKeyId, shared: Shared) -> Result<Arc<EdgeSite>, EdgeError> {
        let fetched = match shared.answer {
            SharedAnswer::Site { site, etag } => Fetched::Site(site, etag),
            SharedAnswer::Refused { code, detail } => Fetched::Refused(EdgeError::new(code, detail)),
        };
        self.store(key, fetched, shared.checked_at_ms)
    }

    /// Records what the api answered and returns what to serve.
    pub fn store(&self, key: SiteKeyId, fetched: Fetched, now_ms: u64) -> Result<Arc<EdgeSite>, EdgeError> {
        let mut entries = self.entries();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            let ttl = self.ttl_ms;
            entries.retain(|_, e| now_ms.saturating_sub(e.checked_at_ms) < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        let cached = match fetched {
            Fetched::Site(site, etag) => Cached::Site { site: Arc::new(*site), etag },
            Fetched::Refused(error) => Cached::Refused(error),
            Fetched::NotModified => match entries.get(&key) {
                Some(entry) => entry.cached.clone(),
                None => return Err(EdgeError::upstream()),
            },
        };
        entries.insert(key, Entry { cached: cached.clone(), checked_at_ms: now_ms });
        match cached {
            Cached::Site { site, .. } => Ok(site),
            Cached::Refused(error) => Err(error),
        }
    }
}

/// The regions to ask about a key: the region of the site we know (revalidating it), else every
/// region (a key never seen, or a refusal that expired).
pub fn regions_to_ask<'a>(regions: &'a [RegionConfig], known: Option<&EdgeSite>) -> Vec<&'a RegionConfig> {
    if let Some(region) = known.and_then(|site| regions.iter().find(|r| r.name == site.region)) {
        return vec![region];
    }
    regions.iter().collect()
}

/// Asks `ask` of the regions [`regions_to_ask`] names, all at once, and [`combine`]s the answers.
pub async fn ask_regions<'a, F, Fut>(
    regions: &'a [RegionConfig],
    known: Option<&EdgeSite>,
    ask: F,
) -> Result<Fetched, String>
where
    F: Fn(&'a RegionConfig) -> Fut,
    Fut: std::future::Future<Output = Result<Fetched, String>>,
{
    combine(futures_util::future::join_all(regions_to_ask(regions, known).into_iter().map(ask)).await)
}

/// One answer from the regions' answers (asked at once): a site wins; else a region that
/// knows the key and refuses it (a suspended tenant); else, if any region could not be asked,
/// an error (the key may live there); else the key is unknown everywhere.
pub fn combine(answers: Vec<Result<Fetched, String>>) -> Result<Fetched, String> {
    let mut refusal: Option<EdgeError> = None;
    let mut failure: Option<String> = None;
    let mut not_modified = false;
    for answer in answers {
        match answer {
            Ok(Fetched::Site(site, etag)) => return Ok(Fetched::Site(site, etag)),
            Ok(Fetched::NotModified) => not_modified = true,
            Ok(Fetched::Refused(error)) => {
                if refusal.as_ref().is_none_or(|known| known.code == ErrorCode::ResourceNotFound) {
                    refusal = Some(error);
                }
            }
            Err(error) => failure = Some(error),
        }
    }
    if not_modified {
        return Ok(Fetched::NotModified);
    }
    match (refusal, failure) {
        (Some(refusal), _) if refusal.code != ErrorCode::ResourceNotFound => Ok(Fetched::Refused(refusal)),
        (_, Some(failure)) => Err(failure),
        (Some(refusal), None) => Ok(Fetched::Refused(refusal)),
        (None, None) => Err("no region is configured".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_protocol::widget::WidgetSettings;
    use kefu_protocol::{ErrorCode, TenantId};

    fn site(key: SiteKeyId, version: i64) -> EdgeSite {
        EdgeSite {
            site_key: key,
            tenant_id: TenantId::from_uuid(uuid::Uuid::now_v7()),
            region: "local".into(),
            version,
            settings: WidgetSettings::default(),
            identity_secret: None,
        }
    }

    #[test]
    fn fresh_then_stale_then_revalidated() {
        let cache = SiteCache::new(5);
        let key = SiteKeyId::from_uuid(uuid::Uuid::now_v7());
        assert!(matches!(cache.lookup(key, 0), Lookup::Missing));
        cache.store(key, Fetched::Site(Box::new(site(key, 1)), "\"v1\"".into()), 1_000).expect("site");
        assert!(matches!(cache.lookup(key, 5_999), Lookup::Fresh(s) if s.version == 1));
        let Lookup::Stale { etag, .. } = cache.lookup(key, 6_000) else { panic!("stale after the ttl") };
        assert_eq!(etag, "\"v1\"");
        let kept = cache.store(key, Fetched::NotModified, 6_000).expect("304 keeps the site");
        assert_eq!(kept.version, 1);
        assert!(matches!(cache.lookup(key, 6_001), Lookup::Fresh(_)));
        cache.store(key, Fetched::Site(Box::new(site(key, 2)), "\"v2\"".into()), 12_000).expect("site");
        assert!(matches!(cache.lookup(key, 12_001), Lookup::Fresh(s) if s.version == 2));
    }

    #[test]
    fn shared_records_carry_their_age() {
        let (one, other) = (SiteCache::new(5), SiteCache::new(5));
        let key = SiteKeyId::from_uuid(uuid::Uuid::now_v7());
        assert_eq!(one.export(key), None);
        one.store(key, Fetched::Site(Box::new(site(key, 3)), "\"v3\"".into()), 10_000).expect("site");
        let record = one.export(key).expect("exported");
        let text = serde_json::to_string(&record).expect("serializes");
        let back: Shared = serde_json::from_str(&text).expect("deserializes");
        assert_eq!(back, record);
        assert_eq!(other.import(key, back).expect("site").version, 3);
        assert!(matches!(other.lookup(key, 14_999), Lookup::Fresh(_)));
        assert!(matches!(other.lookup(key, 15_000), Lookup::Stale { .. }), "adopting does not extend freshness");

        let unknown = SiteKeyId::from_uuid(uuid::Uuid::now_v7());
        let _ = one.store(unknown, Fetched::Refused(EdgeError::unknown_site()), 20_000);
        let refused = other.import(unknown, one.export(unknown).expect("exported")).expect_err("refused");
        assert_eq!(refused, EdgeError::unknown_site());
    }

    #[test]
    fn refusals_are_cached_briefly() {
        let cache = SiteCache::new(5);
        let key = SiteKeyId::from_uuid(uuid::Uuid::now_v7());
        let refused = cache.store(key, Fetched::Refused(EdgeError::unknown_site()), 0).expect_err("refused");
        assert_eq!(refused.code, ErrorCode::ResourceNotFound);
        assert!(matches!(cache.lookup(key, 4_999), Lookup::Refused(_)));
        assert!(matches!(cache.lookup(key, 5_000), Lookup::Missing));
        assert!(cache.store(key, Fetched::NotModified, 5_000).is_err(), "a 304 for nothing known is an upstream error");
    }

    fn region(name: &str) -> RegionConfig {
        RegionConfig { name: name.into(), api_url: format!("http://{name}.invalid"), visitor_keys: String::new() }
    }

    #[test]
    fn a_new_key_is_asked_of_every_region_and_a_known_one_of_its_own() {
        let regions = [region("eu"), region("cn")];
        let names = |asked: Vec<&RegionConfig>| asked.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(regions_to_ask(&regions, None)), ["eu", "cn"]);
        let key = SiteKeyId::from_uuid(uuid::Uuid::now_v7());
        let mut known = site(key, 1);
        known.region = "cn".into();
        assert_eq!(names(regions_to_ask(&regions, Some(&known))), ["cn"]);
        // A region no longer configured: ask everyone rather than no one.
        known.region = "gone".into();
        assert_eq!(names(regions_to_ask(&regions, Some(&known))), ["eu", "cn"]);
    }

    #[test]
    fn the_regions_answers_combine_into_one() {
        let key = SiteKeyId::from_uuid(uuid::Uuid::now_v7());
        let unknown = || Ok(Fetched::Refused(EdgeError::unknown_site()));
        let suspended = || Ok(Fetched::Refused(EdgeError::new(ErrorCode::TenantInactive, "suspended")));
        let found = || Ok(Fetched::Site(Box::new(site(key, 4)), "\"v4\"".into()));
        let down = || Err::<Fetched, String>("the api answered 502".into());
        assert!(matches!(combine(vec![unknown(), found()]), Ok(Fetched::Site(s, _)) if s.version == 4));
        assert!(matches!(combine(vec![down(), found()]), Ok(Fetched::Site(..))));
        assert!(
            matches!(combine(vec![unknown(), suspended()]), Ok(Fetched::Refused(e)) if e.code == ErrorCode::TenantInactive)
        );
        // Unknown where asked, but one region did not answer: the key may be its: not a refusal
        // (a refusal would be cached and shut the site's widget off).
        assert!(combine(vec![unknown(), down()]).is_err());
        assert!(
            matches!(combine(vec![unknown(), unknown()]), Ok(Fetched::Refused(e)) if e.code == ErrorCode::ResourceNotFound)
        );
        assert!(matches!(combine(vec![Ok(Fetched::NotModified)]), Ok(Fetched::NotModified)));
        assert!(combine(vec![]).is_err());
    }
}
