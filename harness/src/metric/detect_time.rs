//! `detect_time(FAULT, alert=NAME)`: from the fault's application to the moment the stack's
//! Prometheus had the alert firing — "would we have noticed, and how fast". Measured from the
//! run's `alert` events (readings of `/api/v1/rules` every `prometheus.every`): the first
//! reading after the fault that sees the alert firing gives Prometheus's own `activeAt`; the
//! alert fired at the first evaluation `for:` after it, so the true time lies in
//! `[activeAt + for, activeAt + for + evaluation interval]` from the fault's start (the
//! coarse-resolution rule judges against that interval). Cross-checked against the reading
//! itself: a firing seen before `activeAt + for` means the two clocks disagree, and the figure
//! is not trusted.

use std::time::Duration;

use serde_json::json;

use super::{Evidence, Facts, Measurement, MetricInfo, MetricKind, Planned, RunMetrics, Written};
use crate::slo::{Call, Quantity, RefKind, Slo, SloParseError, Unit};

/// `detect_time(...)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DetectTime {
    /// The fault whose application the detection is timed from.
    pub fault: String,
    /// The Prometheus alerting rule that should fire.
    pub alert: String,
}

/// Reads `alert=NAME` of a call, required.
pub(super) fn alert_arg(call: &mut Call, metric: &str) -> Result<(String, String), SloParseError> {
    let mut args = call.args(&["alert"])?;
    let fault = args.required("a fault name")?;
    args.no_more_positionals(1)?;
    call.refer(RefKind::Fault, &fault);
    let Some(alert) = args.take("alert") else {
        return Err(SloParseError::new(
            format!("`{metric}` needs the alert it waits for: `alert=NAME`"),
            call.name_at.clone(),
        )
        .help(format!("e.g. `{metric}({}, alert=QuoteErrorRatioHigh) < 30s`", fault.value)));
    };
    Ok((fault.value, alert.value))
}

impl Written for DetectTime {
    const INFO: MetricInfo = MetricInfo {
        name: "detect_time",
        call: "detect_time(FAULT, alert=NAME)",
        named: &["alert"],
        measures: "fault start to the stack's Prometheus firing the alert",
    };

    fn from_call(call: &mut Call) -> Result<Self, SloParseError> {
        let (fault, alert) = alert_arg(call, Self::INFO.name)?;
        Ok(Self { fault, alert })
    }
}

impl MetricKind for DetectTime {
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
        detect(run, &self.fault, &self.alert).unwrap_or_else(|m| m)
    }

    /// Truth lies between the figure (`activeAt + for`) and one evaluation interval later.
    fn outage_bounds(&self, _: &Slo, measured: Duration, f: &Facts) -> Option<(Duration, Duration)> {
        Some((measured, measured + f.resolution?))
    }

    fn sampled_by(&self) -> &'static str {
        "alert readings"
    }

    /// A run too short after the fault to see the target pass.
    fn resolution_warnings(&self, slo: &Slo, plan: &Planned<'_>) -> Vec<String> {
        let Quantity::Duration(target) = slo.threshold else {
            return Vec::new();
        };
        (plan.duration < target)
            .then(|| {
                format!(
                    "`{}`: the run ({}) is shorter than the target: an alert that never fires \
                     can only be inconclusive — lengthen the run past the fault's start plus {}",
                    slo.expression,
                    Quantity::Duration(plan.duration),
                    Quantity::Duration(target)
                )
            })
            .into_iter()
            .collect()
    }
}

fn detect(run: &RunMetrics<'_>, fault: &str, alert: &str) -> Result<Measurement, Measurement> {
    let f = run.fault(fault)?;
    let applied = f.applied_ns.unwrap_or_default();
    let readings = run.alert(alert)?;
    if let Some(early) = readings.iter().find(|r| {
        r.t <= applied && r.firing()
            || r.t > applied && r.active_ns.is_some_and(|a| a < applied as i64)
    }) {
        return Err(Measurement::Inconclusive {
            reason: format!(
                "alert `{alert}` was already active before `{fault}` (seen {} at {}): its firing \
                 cannot be put down to the fault",
                early.state.map_or("unknown", |s| s.as_str()),
                Quantity::Duration(Duration::from_nanos(early.t))
            ),
        });
    }
    let after: Vec<_> = readings.iter().filter(|r| r.t > applied).collect();
    let failed = after.iter().filter(|r| r.state.is_none()).count() as u64;
    let mut e = Evidence::default();
    e.details.insert("alert".into(), json!(alert));
    e.details.insert("fault_applied_ns".into(), json!(applied));
    e.details.insert("readings".into(), json!(after.len()));
    e.details.insert("failed_readings".into(), json!(failed));
    let Some(first) = after.iter().find(|r| r.firing()) else {
        // Never fired while it was watched: at least as long as the watch lasted.
        let last = after.last().map_or(applied, |r| r.t);
        let lower = Duration::from_nanos(last.saturating_sub(applied));
        e.window_ns = Some((applied, last));
        e.details.insert("never_fired".into(), json!(true));
        e.unfinished = Some(format!("alert `{alert}` never fired"));
        e.facts = Facts {
            recovered: Some(false),
            samples: Some(after.len() as u64),
            ..Facts::default()
        };
        return Ok(Measurement::Value {
            value: Quantity::Duration(lower),
            evidence: Box::new(e),
        });
    };
    let Some(fired) = first.fired_ns() else {
        return Err(Measurement::Inconclusive {
            reason: format!("alert `{alert}` was firing but Prometheus gave no activeAt"),
        });
    };
    // Prometheus cannot report a firing alert before activeAt + for (one clock's rounding
    // allowed): if it did, its clock and ours disagree and the figure means nothing.
    let slack = 50_000_000i64;
    if fired > first.t as i64 + slack {
        return Err(Measurement::Inconclusive {
            reason: format!(
                "alert `{alert}` was seen firing at {}, before its own activeAt + for ({}): \
                 Prometheus's clock and the harness's disagree",
                Quantity::Duration(Duration::from_nanos(first.t)),
                Quantity::Duration(Duration::from_nanos(fired.max(0) as u64))
            ),
        });
    }
    let figure = Duration::from_nanos((fired - applied as i64).max(0) as u64);
    e.window_ns = Some((applied, first.t));
    e.details.insert("active_at_ns".into(), json!(first.active_ns));
    e.details.insert("hold_ns".into(), json!(first.hold_ns));
    e.details.insert("seen_firing_ns".into(), json!(first.t));
    e.facts = Facts {
        recovered: Some(true),
        samples: Some(after.len() as u64),
        resolution: Some(Duration::from_nanos(first.evaluation_ns)),
        ..Facts::default()
    };
    Ok(Measurement::Value {
        value: Quantity::Duration(figure),
        evidence: Box::new(e),
    })
}
