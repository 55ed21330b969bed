//! `clear_time(FAULT, alert=NAME)`: from the fault's end (its revert; for a one-shot fault,
//! the target seen back) to the first reading of the stack's Prometheus without the alert
//! firing — how long on-call is paged after the system is whole again. The true moment lies
//! between the last reading that still saw it firing and the first that did not.

use std::time::Duration;

use serde_json::json;

use super::{Evidence, Facts, Measurement, MetricInfo, MetricKind, RunMetrics, Written};
use crate::slo::{Call, Quantity, Slo, SloParseError, Unit};

/// `clear_time(...)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClearTime {
    /// The fault whose end the clearing is timed from.
    pub fault: String,
    /// The Prometheus alerting rule that should stop firing.
    pub alert: String,
}

impl Written for ClearTime {
    const INFO: MetricInfo = MetricInfo {
        name: "clear_time",
        call: "clear_time(FAULT, alert=NAME)",
        named: &["alert"],
        measures: "fault end to the stack's Prometheus no longer firing the alert",
    };

    fn from_call(call: &mut Call) -> Result<Self, SloParseError> {
        let (fault, alert) = super::detect_time::alert_arg(call, Self::INFO.name)?;
        Ok(Self { fault, alert })
    }
}

impl MetricKind for ClearTime {
    fn unit(&self) -> Unit {
        Unit::Duration
    }

    fn name(&self) -> String {
        Self::INFO.name.into()
    }

    fn needs_prometheus(&self) -> Option<&str> {
        Some(&self.alert)
    }

    fn measure(&self, run: &RunMetrics<'_>) -> Measurement {
        clear(run, &self.fault, &self.alert).unwrap_or_else(|m| m)
    }

    /// Truth lies between the last reading still firing and the figure.
    fn outage_bounds(&self, _: &Slo, measured: Duration, f: &Facts) -> Option<(Duration, Duration)> {
        Some((f.lower_bound?, measured))
    }

    fn sampled_by(&self) -> &'static str {
        "alert readings"
    }
}

fn clear(run: &RunMetrics<'_>, fault: &str, alert: &str) -> Result<Measurement, Measurement> {
    let f = run.fault(fault)?;
    let Some(end) = f.reverted_ns.or(f.target_back_ns) else {
        return Err(Measurement::NoData {
            reason: format!("`{fault}` has no end in this run (not reverted, target not seen back)"),
        });
    };
    let readings = run.alert(alert)?;
    let applied = f.applied_ns.unwrap_or_default();
    let Some(fired) = readings.iter().find(|r| r.t > applied && r.firing()).map(|r| r.t) else {
        return Err(Measurement::NoData {
            reason: format!("alert `{alert}` never fired after `{fault}`: there was nothing to clear"),
        });
    };
    // Cleared means no longer firing after it fired: an alert that fires only after the
    // fault's end (its `for:` outlasting a short fault) clears after that.
    let after: Vec<_> = readings
        .iter()
        .filter(|r| r.t >= end && r.t > fired)
        .collect();
    let mut e = Evidence::default();
    e.details.insert("alert".into(), json!(alert));
    e.details.insert("fault_end_ns".into(), json!(end));
    e.details.insert("readings".into(), json!(after.len()));
    // The last reading before the first clear one that still saw it firing (at or before the
    // fault's end when none after it did).
    let mut last_firing = readings
        .iter()
        .filter(|r| r.t <= fired.max(end) && r.firing())
        .map(|r| r.t)
        .next_back()
        .unwrap_or(end)
        .max(end);
    for r in &after {
        match r.state {
            Some(s) if s != crate::prometheus::AlertState::Firing => {
                let figure = Duration::from_nanos(r.t - end);
                e.window_ns = Some((end, r.t));
                e.details.insert("seen_clear_ns".into(), json!(r.t));
                e.facts = Facts {
                    recovered: Some(true),
                    samples: Some(after.len() as u64),
                    lower_bound: Some(Duration::from_nanos(last_firing.saturating_sub(end))),
                    resolution: Some(Duration::from_nanos(r.t.saturating_sub(last_firing))),
                    ..Facts::default()
                };
                return Ok(Measurement::Value {
                    value: Quantity::Duration(figure),
                    evidence: Box::new(e),
                });
            }
            Some(_) => last_firing = r.t,
            // A failed reading says nothing either way.
            None => {}
        }
    }
    let lower = Duration::from_nanos(last_firing.saturating_sub(end));
    e.window_ns = Some((end, last_firing));
    e.details.insert("never_cleared".into(), json!(true));
    e.unfinished = Some(format!("alert `{alert}` never cleared"));
    e.facts = Facts {
        recovered: Some(false),
        samples: Some(after.len() as u64),
        ..Facts::default()
    };
    Ok(Measurement::Value {
        value: Quantity::Duration(lower),
        evidence: Box::new(e),
    })
}
