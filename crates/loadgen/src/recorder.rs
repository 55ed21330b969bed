//! `LatencyRecorder`: an HdrHistogram with the bounds every latency in chaosgate uses, so
//! per-phase and per-run histograms can be merged and compared.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Lowest distinguishable latency, in microseconds.
const LOWEST_US: u64 = 1;
/// Highest trackable latency: 60 s in microseconds; longer ones are recorded as 60 s.
const HIGHEST_US: u64 = 60_000_000;

/// Latencies in microseconds from 1 µs to 60 s. Memory is fixed by the precision, not by
/// how many values are recorded.
#[derive(Debug, Clone)]
pub struct LatencyRecorder {
    histogram: Histogram<u64>,
}

impl LatencyRecorder {
    /// 3 significant digits (0.1 % error): what run-wide and per-phase figures use.
    pub fn new() -> Self {
        Self::with_significant_digits(3)
    }

    /// Fewer digits cost less memory (2 digits: ~20 KB instead of ~140 KB), for the many
    /// short-lived histograms of a per-second series.
    pub fn with_significant_digits(digits: u8) -> Self {
        let histogram = Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, digits.clamp(1, 5))
            .expect("constant bounds with 1..=5 significant digits are valid");
        LatencyRecorder { histogram }
    }

    /// Records one latency, rounded down to whole µs; above 60 s it counts as 60 s.
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.histogram.saturating_record(micros);
    }

    /// Adds every value of `other`; both must come from this type, so the bounds match.
    pub fn merge(&mut self, other: &LatencyRecorder) {
        let merged = self.histogram.add(&other.histogram);
        debug_assert!(merged.is_ok(), "recorders share bounds");
    }

    /// Empties the histogram, keeping its bounds and precision.
    pub fn reset(&mut self) {
        self.histogram.reset();
    }

    /// How many latencies were recorded.
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// Whether nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.histogram.is_empty()
    }

    /// The latency at quantile `q` (0.0..=1.0); zero when empty.
    pub fn quantile(&self, q: f64) -> Duration {
        Duration::from_micros(self.histogram.value_at_quantile(q.clamp(0.0, 1.0)))
    }

    /// The largest recorded latency (to the histogram's precision); zero when empty.
    pub fn max(&self) -> Duration {
        Duration::from_micros(self.histogram.max())
    }

    /// The smallest recorded latency; zero when empty.
    pub fn min(&self) -> Duration {
        Duration::from_micros(self.histogram.min())
    }

    /// The arithmetic mean of the recorded latencies; zero when empty.
    pub fn mean(&self) -> Duration {
        Duration::from_secs_f64(self.histogram.mean().max(0.0) / 1e6)
    }

    /// How many recorded values are at most `latency`.
    pub fn count_at_most(&self, latency: Duration) -> u64 {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.histogram.count_between(0, micros.min(HIGHEST_US))
    }

    /// The usual percentiles, for reports.
    pub fn summary(&self) -> LatencySummary {
        let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        LatencySummary {
            count: self.count(),
            min_us: us(self.min()),
            mean_us: us(self.mean()),
            p50_us: us(self.quantile(0.50)),
            p90_us: us(self.quantile(0.90)),
            p95_us: us(self.quantile(0.95)),
            p99_us: us(self.quantile(0.99)),
            p999_us: us(self.quantile(0.999)),
            max_us: us(self.max()),
        }
    }
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

/// Percentiles of a latency distribution, in microseconds (all 0 when `count` is 0).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct LatencySummary {
    /// How many latencies the figures cover.
    pub count: u64,
    /// Smallest recorded latency, µs.
    pub min_us: u64,
    /// Arithmetic mean, µs.
    pub mean_us: u64,
    /// Median (50th percentile), µs.
    pub p50_us: u64,
    /// 90th percentile, µs.
    pub p90_us: u64,
    /// 95th percentile, µs.
    pub p95_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// 99.9th percentile, µs.
    pub p999_us: u64,
    /// Largest recorded latency, µs.
    pub max_us: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_within_the_precision() {
        let mut r = LatencyRecorder::new();
        for ms in 1..=1000u64 {
            r.record(Duration::from_millis(ms));
        }
        let s = r.summary();
        assert_eq!(s.count, 1000);
        let near = |got: u64, want: u64| got.abs_diff(want) <= want / 1000 + 1;
        assert!(near(s.p50_us, 500_000), "{s:?}");
        assert!(near(s.p99_us, 990_000), "{s:?}");
        assert!(near(s.max_us, 1_000_000), "{s:?}");
        assert!(near(s.min_us, 1_000), "{s:?}");
    }

    #[test]
    fn huge_latencies_saturate_instead_of_failing() {
        let mut r = LatencyRecorder::new();
        r.record(Duration::from_secs(3600));
        assert_eq!(r.count(), 1);
        assert!(r.max() >= Duration::from_secs(59));
        assert!(r.max() <= Duration::from_secs(61));
    }

    #[test]
    fn merge_adds_counts() {
        let mut a = LatencyRecorder::new();
        let mut b = LatencyRecorder::new();
        a.record(Duration::from_millis(1));
        b.record(Duration::from_millis(100));
        b.record(Duration::from_millis(100));
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.count_at_most(Duration::from_millis(2)), 1);
    }

    #[test]
    fn empty_summary_is_zero() {
        assert_eq!(LatencyRecorder::new().summary(), LatencySummary::default());
    }
}
