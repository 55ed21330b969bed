//! The typed facts a figure was measured with: what the demotion rules read. They travel
//! beside the free-form evidence (which is only for people) and are written into the
//! report's evidence under the same keys as before, so report readers see no change.

use std::time::Duration;

use serde_json::{Value, json};

/// When the harness began the requests of a window this late (p99), the machine was starved
/// of CPU and a timing breach in that window says as much about the harness as about the
/// system. Measured on replica-crash on a 2-core machine: p99 2 ms over a quiet run (8 ms
/// during the crash); 28–54 ms during the crash with a cargo build or 14 CPU hogs beside it.
pub const STARVED_LAG_P99: Duration = Duration::from_millis(50);

/// What is known about how a figure was measured. `None` means "does not apply to this
/// figure" (e.g. `recovered` for a latency percentile), never "zero".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// p99 of how late the harness itself began its requests (or probe checks) in the
    /// figure's window. Source: each event's `lag_ns`.
    pub harness_lag_p99: Option<Duration>,
    /// The same latency percentile timed from the actual sends instead of the intended ones.
    pub latency_from_send: Option<Duration>,
    /// The shortest recovery a punctual harness could have measured: the check that first
    /// saw the service back, had it begun on time.
    pub recovery_if_punctual: Option<Duration>,
    /// For recovery and failover: whether the outage ended inside the run. When it did not,
    /// the figure is only a lower bound.
    pub recovered: Option<bool>,
    /// How many samples the figure was computed from (requests or probe checks).
    pub samples: Option<u64>,
    /// The gap between two samples in the figure's window (request spacing, probe interval):
    /// an event shorter than this can fall between two samples unseen. Failover: the median
    /// gap between the window's requests; a phase's ratios and probe success: the window's
    /// length over its samples.
    pub resolution: Option<Duration>,
    /// For an outage time: the shortest outage consistent with the samples (the figure minus
    /// the time between the last failed sample and the first success).
    pub lower_bound: Option<Duration>,
    /// Requests in the window that were never sent (the schedule's queue overflowed).
    pub dropped: Option<u64>,
}

impl Facts {
    /// The facts as evidence entries, under the keys report readers know.
    pub fn to_details(&self) -> Vec<(&'static str, Value)> {
        let ns = |d: Duration| json!(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let mut out = Vec::new();
        if let Some(d) = self.harness_lag_p99 {
            out.push(("harness_lag_p99_ns", ns(d)));
        }
        if let Some(d) = self.latency_from_send {
            out.push(("latency_from_send_ns", ns(d)));
        }
        if let Some(d) = self.recovery_if_punctual {
            out.push(("recovery_if_punctual_ns", ns(d)));
        }
        if let Some(r) = self.recovered {
            out.push(("recovered", json!(r)));
        }
        if let Some(n) = self.samples {
            out.push(("samples", json!(n)));
        }
        if let Some(d) = self.resolution {
            out.push(("resolution_ns", ns(d)));
        }
        if let Some(d) = self.lower_bound {
            out.push(("lower_bound_ns", ns(d)));
        }
        if let Some(n) = self.dropped.filter(|n| *n > 0) {
            out.push(("dropped", json!(n)));
        }
        out
    }
}
