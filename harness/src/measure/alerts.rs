//! The readings of a run from the stack's Prometheus, in time order: each alert's (`alert`
//! events: what `detect_time` and `clear_time` are measured from) and each PromQL query's
//! (`query` events: what `prom` is measured from).

use serde::Serialize;

use crate::prometheus::AlertState;

/// One evaluation of one PromQL query (`prom(...)`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryReading {
    /// When it was asked for, run-clock ns.
    pub t: u64,
    /// Its value; `None`: no series, NaN, or the reading failed.
    pub value: Option<f64>,
    /// The longest scrape interval among Prometheus's targets, ns (0: unknown).
    pub scrape_ns: u64,
    /// Whether the reading failed (as opposed to answering with no series).
    pub failed: bool,
}

/// One reading of one alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertReading {
    /// When it was asked for, run-clock ns.
    pub t: u64,
    /// Its state; `None` when the reading failed.
    pub state: Option<AlertState>,
    /// When that state became active (Prometheus's `activeAt`), run-clock ns, negative before
    /// the run began.
    pub active_ns: Option<i64>,
    /// The rule's `for:`, ns.
    pub hold_ns: u64,
    /// The rule group's evaluation interval, ns.
    pub evaluation_ns: u64,
}

impl AlertReading {
    /// Whether this reading saw it firing.
    pub fn firing(&self) -> bool {
        self.state == Some(AlertState::Firing)
    }

    /// When it started firing by Prometheus's own account: active since `activeAt`, firing
    /// from the first evaluation at least `for:` later — so no earlier than `activeAt + for`
    /// and less than one evaluation interval after it. `None` unless firing with `activeAt`.
    pub fn fired_ns(&self) -> Option<i64> {
        self.firing()
            .then_some(self.active_ns?)
            .map(|a| a.saturating_add(i64::try_from(self.hold_ns).unwrap_or(i64::MAX)))
    }
}
