//! Request budgets shared by every node (docs/api.md "Limits"): a one-minute window per key in
//! Redis (`INCR`, expiring with its window), so a workspace's API keys get the plan's number of
//! requests a minute whichever nodes serve them. Without Redis, or while it does not answer, each
//! node counts on its own with governor (fail open per node: a Redis outage multiplies the budget
//! by the number of nodes rather than refusing everyone).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

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
}

impl std::fmt::Debug for SharedLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimits").field("redis", &self.redis.is_some()).finish_non_exhaustive()
    }
}

impl SharedLimits {
    /// Budgets counted in `redis` when given, else on this node.
    pub fn new(redis: Option<RedisLink>) -> Self {
        Self { redis, local: Arc::default() }
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
