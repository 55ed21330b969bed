//! `failover_time(FAULT)`: the longest window of failing client requests inside the fault's
//! window, as the load's requests saw it.

use std::time::Duration;

use serde_json::json;

use super::live::{Live, duration_target, is_upper_limit, starved, widest_gap_from};
use super::{
    Evidence, Facts, Measurement, MetricInfo, MetricKind, Planned, RunMetrics, Written,
    admits_no_failure,
};
use crate::measure::failover;
use crate::slo::{Call, Quantity, RefKind, Slo, SloParseError, Unit};

/// `failover_time(...)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FailoverTime {
    /// The fault whose window is searched.
    pub fault: String,
}

impl Written for FailoverTime {
    const INFO: MetricInfo = MetricInfo {
        name: "failover_time",
        call: "failover_time(FAULT)",
        named: &[],
        measures: "the longest window of failing client requests inside the fault's window",
    };

    fn from_call(call: &mut Call) -> Result<Self, SloParseError> {
        let args = call.args(Self::INFO.named)?;
        let fault = args.required("a fault name")?;
        args.no_more_positionals(1)?;
        call.refer(RefKind::Fault, &fault);
        Ok(Self { fault: fault.value })
    }
}

impl MetricKind for FailoverTime {
    fn unit(&self) -> Unit {
        Unit::Duration
    }

    fn name(&self) -> String {
        Self::INFO.name.into()
    }

    fn measure(&self, run: &RunMetrics<'_>) -> Measurement {
        failover_of(run, &self.fault).unwrap_or_else(|m| m)
    }

    fn needs_load(&self) -> bool {
        true
    }

    /// An outage can begin up to one request gap before the first failed request and end up
    /// to one gap after the last one, so truth ∈ [figure − gap, figure + gap]; an outage
    /// shorter than one gap can fall between two requests unseen, so with no failure seen,
    /// truth < gap. A zero target never has both ends on one side (truth ∈ [0, gap)), so it
    /// is left to the zero-target rule, which decides it on the spacing instead.
    fn outage_bounds(&self, slo: &Slo, measured: Duration, f: &Facts) -> Option<(Duration, Duration)> {
        let gap = f.resolution?;
        if admits_no_failure(slo, None) {
            return None;
        }
        let lo = f.lower_bound.unwrap_or(measured.saturating_sub(gap));
        Some((lo, measured + gap))
    }

    /// `failover_time(f) <= 0ms`: any failed request makes an outage longer than zero.
    fn admits_no_failure(&self, slo: &Slo, _: Option<u64>) -> bool {
        is_upper_limit(slo.op) && slo.threshold.as_f64() == 0.0
    }

    /// `failover_time(f) < T` (or `<=`).
    ///
    /// Proof sketch (`measure::failover`, the same code, on the requests known complete — every
    /// sequence number up to the last one seen in order): an outage starting inside the window
    /// ends only at the first of N consecutive successes, so its length is at least from its
    /// first failure to its last failure seen; later requests can only lengthen outages or add
    /// new ones, and the figure is the longest. The coarse-resolution rule reads the truth as the
    /// figure ± one request gap (the window's median gap, at most the schedule's widest gap from
    /// the fault on): a lower bound minus that gap still past the target is a breach under the
    /// rule too. A zero target ([`admits_no_failure`]) breaches on any failure in the window,
    /// whatever the request spacing: the zero-target rule (`zero_target_spacing`) only
    /// ever demotes a *pass* seen through sparse requests, never a failure a client saw.
    fn certain_breach(&self, slo: &Slo, ctx: &Live<'_>) -> Option<String> {
        let fault = &self.fault;
        duration_target(slo)?;
        let w = ctx.verified(fault)?;
        if starved(ctx.fault_lag(fault)) {
            return None;
        }
        let complete = ctx.seen.complete_until_ns?;
        let mut outcomes: Vec<(u64, bool)> = ctx
            .seen
            .requests
            .iter()
            .filter(|r| r.t >= w.applied && r.t <= complete)
            .map(|r| (r.t, r.ok))
            .collect();
        outcomes.sort_by_key(|o| o.0);
        let to = w.certain_end.min(complete);
        let f = failover::failover(&outcomes, (w.applied, to), ctx.plan.consecutive)?;
        let start = f.start_ns.filter(|_| f.failed_total > 0)?;
        let at_least = if f.unterminated {
            let last_failure = outcomes.iter().rev().find(|o| !o.1)?.0;
            last_failure.saturating_sub(start)
        } else {
            f.duration_ns
        };
        let gap = widest_gap_from(ctx, w.applied)?;
        // The final figure ends at a success after the last failure: strictly longer.
        let certain = if admits_no_failure(slo, None) {
            Duration::from_nanos(at_least + 1)
        } else {
            Duration::from_nanos(at_least.saturating_sub(gap))
        };
        (!slo
            .op
            .holds(Quantity::Duration(certain).as_f64(), slo.threshold.as_f64()))
        .then(|| {
            format!(
                "clients already saw an outage of at least {} in `{fault}` (requests {} apart): \
                 failover cannot be {} any more",
                Quantity::Duration(Duration::from_nanos(at_least)),
                Quantity::Duration(Duration::from_nanos(gap)),
                slo.target_text()
            )
        })
    }

    /// Requests further apart than the target, or than a zero target allows.
    fn resolution_warnings(&self, slo: &Slo, plan: &Planned<'_>) -> Vec<String> {
        let window = plan.fault_for(&self.fault);
        if let Some(zero) = plan.zero_target(slo, window) {
            return zero;
        }
        let target = match slo.threshold {
            Quantity::Duration(d) => d,
            _ => return Vec::new(),
        };
        match plan.gap {
            Some(gap) if gap >= target => vec![format!(
                "`{}`: requests are {} apart, so an outage shorter than that can fall \
                 between two of them unseen; it can only be inconclusive — raise the \
                 load's rate above {}/s",
                slo.expression,
                Quantity::Duration(gap),
                (1.0 / target.as_secs_f64()).ceil()
            )],
            _ => Vec::new(),
        }
    }
}

fn failover_of(run: &RunMetrics<'_>, fault: &str) -> Result<Measurement, Measurement> {
    run.fault(fault)?;
    let f = run
        .analysis
        .failover
        .get(fault)
        .ok_or_else(|| Measurement::NoData {
            reason: format!("no client request was scheduled inside `{fault}`'s window"),
        })?;
    let w = run.analysis.fault(fault);
    let mut e = Evidence {
        window_ns: w.map(|w| (w.applied_ns, w.end_ns)),
        ..Default::default()
    };
    e.details
        .insert("outage_start_ns".into(), json!(f.start_ns));
    e.details.insert("outage_end_ns".into(), json!(f.end_ns));
    e.details
        .insert("failed_in_outage".into(), json!(f.failed_in_window));
    e.details
        .insert("failed_in_window".into(), json!(f.failed_total));
    e.details
        .insert("requests_in_window".into(), json!(f.requests));
    // With fewer than two requests in the window there is no gap to speak of: an outage
    // could have been anywhere in it.
    let resolution_ns = if f.requests >= 2 {
        f.resolution_ns
    } else {
        let window = w.map_or(u64::MAX, |w| w.end_ns.saturating_sub(w.applied_ns));
        let load = run.load_gap().map_or(0, |g| g.as_nanos() as u64);
        window.max(load)
    };
    if f.unterminated {
        e.unfinished = Some("the client-visible outage never ended".into());
    }
    e.facts = Facts {
        recovered: Some(!f.unterminated),
        resolution: Some(Duration::from_nanos(resolution_ns)),
        samples: Some(f.requests),
        harness_lag_p99: run.fault_window_lag(fault),
        ..Facts::default()
    };
    Ok(Measurement::Value {
        value: Quantity::Duration(Duration::from_nanos(f.duration_ns)),
        evidence: Box::new(e),
    })
}
