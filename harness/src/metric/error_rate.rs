//! `error_rate(during=FAULT | phase=PHASE)`: failed / scheduled requests of the load in a
//! phase (timeouts, connection errors and drops are failures, never missing samples).

use super::live::{Live, is_upper_limit, starved};
use super::zero_target::one_failure_breaches;
use super::{Measurement, MetricInfo, MetricKind, Planned, RunMetrics, Written};
use crate::slo::{Call, Phase, Quantity, Slo, SloParseError, Unit};

/// `error_rate(...)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ErrorRate {
    /// The part of the run whose requests count.
    #[serde(rename = "scope", serialize_with = "crate::slo::phase::serialize_in_slo")]
    pub phase: Phase,
}

impl Written for ErrorRate {
    const INFO: MetricInfo = MetricInfo {
        name: "error_rate",
        call: "error_rate(during=FAULT | phase=PHASE)",
        named: &["during", "phase"],
        measures: "failed / scheduled requests",
    };

    fn from_call(call: &mut Call) -> Result<Self, SloParseError> {
        let mut args = call.args(Self::INFO.named)?;
        args.no_more_positionals(0)?;
        let phase = call.phase(&mut args)?;
        Ok(Self { phase })
    }
}

impl MetricKind for ErrorRate {
    fn unit(&self) -> Unit {
        Unit::Ratio
    }

    fn name(&self) -> String {
        Self::INFO.name.into()
    }

    fn measure(&self, run: &RunMetrics<'_>) -> Measurement {
        run.phase(&self.phase)
            .map(|p| Measurement::Value {
                value: Quantity::Ratio(p.error_rate().unwrap_or(0.0)),
                evidence: Box::new(run.phase_evidence(p)),
            })
            .unwrap_or_else(|m| m)
    }

    fn load_phase_mut(&mut self) -> Option<&mut Phase> {
        Some(&mut self.phase)
    }

    fn needs_load(&self) -> bool {
        true
    }

    /// `error_rate(W) < t` with t ≤ 1/N: one failed request of N already breaches it.
    fn admits_no_failure(&self, slo: &Slo, samples: Option<u64>) -> bool {
        is_upper_limit(slo.op) && one_failure_breaches(slo, samples, 0.0, 1.0)
    }

    fn certain_breach(&self, slo: &Slo, live: &Live<'_>) -> Option<String> {
        if !is_upper_limit(slo.op) {
            return None;
        }
        error_budget(slo, live, &self.phase, false)
    }

    fn resolution_warnings(&self, slo: &Slo, plan: &Planned<'_>) -> Vec<String> {
        plan.zero_target(slo, plan.phase_for(&self.phase))
            .unwrap_or_default()
    }
}

/// `error_rate(W) < x` and `availability(W) >= y` (`availability` set).
///
/// Proof sketch: the final window holds N ≤ `max_requests` requests (the schedule) and at
/// least the E errors already seen in its certain part, so its error rate is ≥ E / max and
/// its availability ≤ 1 − E / max. With an upper limit on the error rate (a lower one on
/// availability), a bound already on the wrong side puts the final figure there too; the cut
/// run's window holds fewer requests and the same errors, so it breaches as well. Only the
/// late-harness rule demotes an error-rate breach: it is checked on the window so far (the
/// zero-target rule, `zero_target_spacing`, demotes only passes: a failed request seen
/// breaches a zero target at any request spacing).
pub(super) fn error_budget(
    slo: &Slo,
    ctx: &Live<'_>,
    phase: &Phase,
    availability: bool,
) -> Option<String> {
    let p = ctx.phase(phase)?;
    if starved(p.lag_p99) || p.max_requests == 0 {
        return None;
    }
    let errors = p.requests.iter().filter(|r| !r.ok).count() as u64;
    let error_bound = errors as f64 / p.max_requests as f64;
    let bound = if availability {
        1.0 - error_bound
    } else {
        error_bound
    };
    if errors == 0 || slo.op.holds(bound, slo.threshold.as_f64()) {
        return None;
    }
    Some(format!(
        "{errors} request(s) failed in `{}` already, and it can hold at most {} requests: \
         {} is {} {} whatever the rest of the run brings (target {})",
        p.name,
        p.max_requests,
        slo.metric.name(),
        if availability { "at most" } else { "at least" },
        Quantity::Ratio(bound),
        slo.target_text()
    ))
}
