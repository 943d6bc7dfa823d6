//! A lock-free latency histogram: log-linear buckets (64 per power of two, under 1 % relative
//! error), so thousands of connection tasks record with one atomic add each, without a lock or a
//! flush at the end of a step.

use std::sync::atomic::{AtomicU64, Ordering};

/// Exact below 128 µs, then 64 buckets per power of two up to about 2^38 µs.
const BUCKETS: usize = 128 + 31 * 64;

/// Latencies in microseconds.
pub struct Hist {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    max: AtomicU64,
}

impl Default for Hist {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }
}

fn index(micros: u64) -> usize {
    if micros < 128 {
        return micros as usize;
    }
    let msb = 63 - micros.leading_zeros() as usize;
    let shift = msb - 6;
    let mantissa = (micros >> shift) as usize;
    (128 + (shift - 1) * 64 + (mantissa - 64)).min(BUCKETS - 1)
}

fn value(index: usize) -> u64 {
    if index < 128 {
        return index as u64;
    }
    let shift = (index - 128) / 64 + 1;
    let mantissa = ((index - 128) % 64 + 64) as u64;
    (mantissa << shift) + ((1u64 << shift) - 1) / 2
}

impl Hist {
    /// Records one latency.
    pub fn record(&self, micros: u64) {
        self.buckets[index(micros)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.max.fetch_max(micros, Ordering::Relaxed);
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The `p` quantile (0–1) in milliseconds; NaN when empty.
    pub fn ms(&self, p: f64) -> f64 {
        let count = self.count();
        if count == 0 {
            return f64::NAN;
        }
        let rank = ((p * count as f64).ceil() as u64).clamp(1, count);
        let mut seen = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            seen += bucket.load(Ordering::Relaxed);
            if seen >= rank {
                return value(i).min(self.max.load(Ordering::Relaxed)) as f64 / 1000.0;
            }
        }
        self.max_ms()
    }

    /// The largest sample in milliseconds; NaN when empty.
    pub fn max_ms(&self) -> f64 {
        if self.count() == 0 { f64::NAN } else { self.max.load(Ordering::Relaxed) as f64 / 1000.0 }
    }

    /// p50, p99, p99.9 and max, in milliseconds.
    pub fn summary(&self) -> Quantiles {
        Quantiles { p50: self.ms(0.5), p99: self.ms(0.99), p999: self.ms(0.999), max: self.max_ms() }
    }
}

/// The quantiles every table reports, in milliseconds.
#[derive(Clone, Copy, Debug)]
pub struct Quantiles {
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Quantiles {
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({ "p50": finite(self.p50), "p99": finite(self.p99), "p999": finite(self.p999), "max": finite(self.max) })
    }
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// A latency in milliseconds for a table cell.
pub fn ms(x: f64) -> String {
    if !x.is_finite() {
        "–".into()
    } else if x < 10.0 {
        format!("{x:.2}")
    } else if x < 100.0 {
        format!("{x:.1}")
    } else {
        crate::report::thousands(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_round_trip_within_one_percent() {
        for v in [0u64, 1, 127, 128, 129, 1000, 12_345, 999_999, 60_000_000] {
            let back = value(index(v));
            let error = (back as f64 - v as f64).abs() / (v.max(1) as f64);
            assert!(error < 0.01, "{v} -> {back}");
        }
        let h = Hist::default();
        for v in 1..=1000 {
            h.record(v);
        }
        assert!((h.ms(0.5) - 0.5).abs() < 0.01);
        assert!((h.ms(0.99) - 0.99).abs() < 0.01);
        assert_eq!(h.max_ms(), 1.0);
    }
}
