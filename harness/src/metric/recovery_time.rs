//! `recovery_time(FAULT, probe=NAME)`: from the fault's start to the first of N consecutive
//! successful checks of the probe (every probe when none is named: the slowest counts).

use std::time::Duration;

use serde_json::json;

use super::live::{Live, duration_target, starved};
use super::{Evidence, Facts, Measurement, MetricInfo, MetricKind, Planned, RunMetrics, Written, holds};
use crate::measure::recovery;
use crate::slo::{Call, Quantity, RefKind, Slo, SloParseError, Unit};

/// `recovery_time(...)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecoveryTime {
    /// The fault whose start the recovery is timed from.
    pub fault: String,
    /// The probe whose checks decide recovery; `None`: every probe, the slowest counts.
    pub probe: Option<String>,
}

impl Written for RecoveryTime {
    const INFO: MetricInfo = MetricInfo {
        name: "recovery_time",
        call: "recovery_time(FAULT, probe=NAME)",
        named: &["probe"],
        measures: "fault start to the first of N consecutive successful probe checks",
    };

    fn from_call(call: &mut Call) -> Result<Self, SloParseError> {
        let mut args = call.args(Self::INFO.named)?;
        let fault = args.required("a fault name")?;
        args.no_more_positionals(1)?;
        call.refer(RefKind::Fault, &fault);
        let probe = args.take("probe").map(|p| {
            call.refer(RefKind::Probe, &p);
            p.value
        });
        Ok(Self {
            fault: fault.value,
            probe,
        })
    }
}

impl MetricKind for RecoveryTime {
    fn unit(&self) -> Unit {
        Unit::Duration
    }

    fn name(&self) -> String {
        Self::INFO.name.into()
    }

    fn measure(&self, run: &RunMetrics<'_>) -> Measurement {
        recovery_of(run, &self.fault, self.probe.as_deref()).unwrap_or_else(|m| m)
    }

    /// Without a probe named, every probe decides: there must be one.
    fn needs_probes(&self) -> bool {
        self.probe.is_none()
    }

    /// A recovery that breaches but would hold had the probe check that saw the service back
    /// begun on time.
    fn punctual(&self, slo: &Slo, measured: &str, _lag: &str, f: &Facts) -> Option<String> {
        f.recovery_if_punctual.filter(|d| holds(slo, *d)).map(|d| {
            format!(
                "measured {measured}, but the probe check that saw the recovery began late: \
                 a punctual harness could have measured as little as {}, within the \
                 target, so the breach is not the system's",
                Quantity::Duration(d)
            )
        })
    }

    /// The figure (first of N consecutive successes) is an upper bound; the check before it
    /// still saw the service down, so truth ≥ that check's time.
    fn outage_bounds(&self, _: &Slo, measured: Duration, f: &Facts) -> Option<(Duration, Duration)> {
        Some((f.lower_bound?, measured))
    }

    /// `recovery_time(f, probe=p) < T` (or `<=`).
    ///
    /// Proof sketch (`measure::recovery`, the same code): the figure is the start of the first
    /// run of N successful checks after the fault took effect, or, never recovered, the last check
    /// (a lower bound). A probe runs one check at a time and logs them in order, so a failed check
    /// seen at `t_f` with nothing unseen before it means any recovery starts after `t_f`: the
    /// figure is ≥ `t_f − start` whatever comes next. The coarse-resolution rule bounds the truth
    /// from below by the check before the recovery, itself ≥ `t_f`; the late-harness rule's
    /// punctual figure is ≥ that check too; so with `t_f − start` past the target every bound is.
    /// The fault must be verified, the lateness in its window so far within the limit. A
    /// recovery with several probes and none named is not covered (the slowest decides).
    fn certain_breach(&self, slo: &Slo, ctx: &Live<'_>) -> Option<String> {
        let RecoveryTime { fault, probe } = self;
        duration_target(slo)?;
        let probe = match (probe, ctx.plan.probes.as_slice()) {
            (Some(p), _) => p,
            (None, [only]) => only,
            _ => return None,
        };
        let w = ctx.verified(fault)?;
        if starved(ctx.fault_lag(fault)) {
            return None;
        }
        let checks = ctx.seen.probes.get(probe)?;
        let r = recovery::recovery(
            checks,
            w.applied,
            w.verified.unwrap_or(w.applied),
            ctx.plan.consecutive,
        )?;
        let failed_after = Duration::from_nanos(r.last_failure_ns?.saturating_sub(w.applied));
        (!slo.op.holds(
            Quantity::Duration(failed_after).as_f64(),
            slo.threshold.as_f64(),
        ))
        .then(|| {
            format!(
                "probe `{probe}` still failed {} after `{fault}` started: recovery cannot be {} \
                 any more",
                Quantity::Duration(failed_after),
                slo.target_text()
            )
        })
    }

    /// A probe checking no finer than the target cannot place a breach near it.
    fn resolution_warnings(&self, slo: &Slo, plan: &Planned<'_>) -> Vec<String> {
        let target = match slo.threshold {
            Quantity::Duration(d) => d,
            _ => return Vec::new(),
        };
        plan.probes
            .iter()
            .filter(|p| self.probe.as_deref().is_none_or(|n| n == p.name))
            .filter(|p| p.every >= target)
            .map(|p| {
                format!(
                    "`{}`: probe `{}` checks every {}, no finer than the target; a \
                     breach near it can only be inconclusive — probe more often",
                    slo.expression,
                    p.name,
                    Quantity::Duration(p.every)
                )
            })
            .collect()
    }
}

fn recovery_of(run: &RunMetrics<'_>, fault: &str, probe: Option<&str>) -> Result<Measurement, Measurement> {
    run.fault(fault)?;
    let probes: Vec<&String> = match probe {
        Some(p) => vec![
            run.analysis
                .probes
                .keys()
                .find(|k| k.as_str() == p)
                .ok_or_else(|| Measurement::NoData {
                    reason: format!("probe `{p}` recorded no checks"),
                })?,
        ],
        None => run.analysis.probes.keys().collect(),
    };
    if probes.is_empty() {
        return Err(Measurement::NoData {
            reason: "the scenario has no probes to observe recovery with".into(),
        });
    }
    // With several probes the slowest decides: recovered means every probe recovered.
    let mut worst: Option<(&String, &crate::measure::Recovery)> = None;
    for p in probes {
        let Some(r) = run.analysis.recovery.get(&(fault.to_string(), p.clone())) else {
            return Err(Measurement::NoData {
                reason: format!("probe `{p}` has no check after `{fault}` started"),
            });
        };
        let key = |r: &crate::measure::Recovery| r.duration_ns().unwrap_or(u64::MAX);
        if worst.is_none_or(|(_, w)| key(r) > key(w)) {
            worst = Some((p, r));
        }
    }
    let Some((probe, r)) = worst else {
        unreachable!("probes is not empty")
    };
    let mut e = Evidence {
        window_ns: Some((r.from_ns, r.recovered_ns.unwrap_or(r.observed_until_ns))),
        ..Default::default()
    };
    e.details.insert("probe".into(), json!(probe));
    e.details.insert("fault_start_ns".into(), json!(r.from_ns));
    e.details
        .insert("recovered_at_ns".into(), json!(r.recovered_ns));
    e.details
        .insert("first_failure_ns".into(), json!(r.first_failure_ns));
    e.details
        .insert("last_failure_ns".into(), json!(r.last_failure_ns));
    e.details
        .insert("failed_checks".into(), json!(r.failed_checks));
    e.details.insert("consecutive".into(), json!(r.consecutive));
    e.details.insert("checks".into(), json!(r.checks));
    if r.recovered_ns.is_none() {
        e.unfinished = Some(format!("probe `{probe}` never recovered"));
    }
    e.facts = Facts {
        recovered: Some(r.recovered_ns.is_some()),
        recovery_if_punctual: r.punctual_duration_ns().map(Duration::from_nanos),
        harness_lag_p99: run.fault_window_lag(fault),
        samples: Some(r.checks),
        // The check before the successful run still saw the fault (none: the first
        // check after the fault took effect already saw the service back, so the truth
        // may be anywhere from the fault's start).
        lower_bound: r.recovered_ns.map(|_| {
            Duration::from_nanos(r.check_before_ns.map_or(0, |b| b.saturating_sub(r.from_ns)))
        }),
        ..Facts::default()
    };
    let value = match r.duration_ns() {
        Some(ns) => ns,
        // Not recovered: all we know is it took at least this long. The judge turns a
        // pass on a lower bound into "inconclusive".
        None => r.observed_until_ns.saturating_sub(r.from_ns),
    };
    Ok(Measurement::Value {
        value: Quantity::Duration(Duration::from_nanos(value)),
        evidence: Box::new(e),
    })
}
