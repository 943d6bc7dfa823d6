//! Request budgets shared by every node (docs/api.md "Limits"): a one-minute window per key in
//! Redis (`INCR`, expiring with its window), so a workspace's API keys get the plan's number of
//! requests a minute whichever nodes serve them. Without Redis, or while it does not answer, each
//! node counts on its own with governor (fail open per node: a Redis outage multiplies the budget
//! by the number of nodes rather than refusing everyone). A caller whose budget is spent is
//! remembered on the node until its window ends ([`SharedLimits::spent`]), so a flood of refused
//! requests costs neither a database lookup nor a Redis round trip each; an uploader refused for
//! too many unsent files is remembered the same way for a few seconds
//! ([`SharedLimits::remember_refusal`]).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use kefu_protocol::ErrorCode;

use crate::error::{ApiError, Policy};
use crate::redis_link::RedisLink;

/// How long Redis may take before a check falls back to this node's count.
const REDIS_WAIT: Duration = Duration::from_millis(250);

/// The budgets of this node, shared through Redis when it has one.
#[derive(Clone)]
pub struct SharedLimits {
    redis: Option<RedisLink>,
    /// This node's own limiters, one per budget size (plans have few distinct numbers).
    local: Arc<Mutex<HashMap<u32, Arc<DefaultKeyedRateLimiter<String>>>>>,
    /// Callers refused here, until their window ends: `(until, refusal)` by caller (an API key's
    /// digest, an uploader). Only callers that were authenticated and then refused get an entry.
    refused: Arc<Mutex<Refused>>,
}

/// Callers refused on this node: until when, and what they are answered meanwhile.
type Refused = HashMap<Vec<u8>, (Instant, Refusal)>;

/// A remembered refusal.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// A budget ran out: `429` until its window ends.
    Budget(Policy),
    /// A client error answered again as it was.
    Client(ErrorCode, &'static str),
}

impl std::fmt::Debug for SharedLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimits").field("redis", &self.redis.is_some()).finish_non_exhaustive()
    }
}

impl SharedLimits {
    /// Budgets counted in `redis` when given, else on this node.
    pub fn new(redis: Option<RedisLink>) -> Self {
        Self { redis, local: Arc::default(), refused: Arc::default() }
    }

    /// The refusal of a caller whose budget was found spent on this node and whose window has
    /// not ended (checked before any lookup).
    pub fn spent(&self, caller: &[u8]) -> Option<ApiError> {
        let refused = self.refused.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (until, refusal) = refused.get(caller)?;
        let left = until.checked_duration_since(Instant::now())?;
        Some(match *refusal {
            Refusal::Budget(policy) => ApiError::over(policy, left.as_secs().max(1)),
            Refusal::Client(code, detail) => ApiError::client(code, detail),
        })
    }

    /// Remembers that `caller`'s budget is spent, if `refusal` says so, until its window ends.
    pub fn remember(&self, caller: &[u8], refusal: &ApiError) {
        if let ApiError::RateLimited { retry_after_secs, policy: Some(policy) } = refusal {
            let until = Instant::now() + Duration::from_secs(*retry_after_secs);
            let mut refused = self.refused.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            refused.insert(caller.to_owned(), (until, Refusal::Budget(*policy)));
        }
    }

    /// Remembers that `caller` is refused with `code` and `detail` for the next `period`, so
    /// the same refusal is answered without reading anything.
    pub fn remember_refusal(&self, caller: &[u8], code: ErrorCode, detail: &'static str, period: Duration) {
        let mut refused = self.refused.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        refused.insert(caller.to_owned(), (Instant::now() + period, Refusal::Client(code, detail)));
    }

    /// Spends one request of `key`'s budget of `per_minute`; `429` with the budget in headers
    /// when it is spent. A budget of 0 refuses everything.
    pub async fn check(&self, key: &str, per_minute: u32) -> Result<(), ApiError> {
        let policy = Policy { limit: per_minute, window_secs: 60 };
        let Some(limit) = NonZeroU32::new(per_minute) else { return Err(ApiError::over(policy, 60)) };
        if let Some(redis) = &self.redis {
            match tokio::time::timeout(REDIS_WAIT, count(redis, key)).await {
                Ok(Ok((used, reset))) => {
                    return if used <= i64::from(per_minute) { Ok(()) } else { Err(ApiError::over(policy, reset)) };
                }
                Ok(Err(error)) => tracing::warn!(%error, "Redis did not count a request; counting on this node"),
                Err(_) => tracing::warn!("Redis was slow to count a request; counting on this node"),
            }
        }
        let limiter = {
            let mut local = self.local.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            local
                .entry(per_minute)
                .or_insert_with(|| Arc::new(RateLimiter::keyed(Quota::per_minute(limit).allow_burst(limit))))
                .clone()
        };
        limiter.check_key(&key.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
            ApiError::over(policy, wait.as_secs())
        })
    }

    /// Forgets this node's keys back at a full allowance (every minute, with the other
    /// limiters), so memory follows the keys active in the last minute.
    pub fn forget_idle_keys(&self) {
        let local = self.local.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for limiter in local.values() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        drop(local);
        let now = Instant::now();
        let mut refused = self.refused.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        refused.retain(|_, (until, _)| *until > now);
        refused.shrink_to_fit();
    }
}

/// Counts one request in the current minute's window; returns the count and the seconds until
/// the window ends.
async fn count(redis: &RedisLink, key: &str) -> redis::RedisResult<(i64, u64)> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    let (minute, into) = (now / 60, now % 60);
    // The braces keep one key's windows in one Redis Cluster slot.
    let window = format!("kefu:limit:{{{key}}}:{minute}");
    let mut conn = redis.clone();
    let (used,): (i64,) = redis::pipe()
        .cmd("INCR")
        .arg(&window)
        .cmd("EXPIRE")
        .arg(&window)
        .arg(120)
        .ignore()
        .query_async(&mut conn)
        .await?;
    Ok((used, 60 - into))
}
