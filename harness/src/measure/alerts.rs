//! The alert readings of a run (`alert` events from the stack's Prometheus), per alert in
//! time order: what `detect_time` and `clear_time` are measured from.

use serde::Serialize;

use crate::prometheus::AlertState;

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
