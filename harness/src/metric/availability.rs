//! `availability(during=FAULT | phase=PHASE)`: successful / scheduled requests of the load
//! in a phase.

use super::error_rate::error_budget;
use super::live::{Live, is_upper_limit};
use super::zero_target::one_failure_breaches;
use super::{Measurement, MetricInfo, MetricKind, Planned, RunMetrics, Written};
use crate::slo::{Call, Phase, Quantity, Slo, SloParseError, Unit};

/// `availability(...)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Availability {
    /// The part of the run whose requests count.
    #[serde(rename = "scope", serialize_with = "crate::slo::phase::serialize_in_slo")]
    pub phase: Phase,
}

impl Written for Availability {
    const INFO: MetricInfo = MetricInfo {
        name: "availability",
        call: "availability(during=FAULT | phase=PHASE)",
        named: &["during", "phase"],
        measures: "successful / scheduled requests",
    };

    fn from_call(call: &mut Call) -> Result<Self, SloParseError> {
        let mut args = call.args(Self::INFO.named)?;
        args.no_more_positionals(0)?;
        let phase = call.phase(&mut args)?;
        Ok(Self { phase })
    }
}

impl MetricKind for Availability {
    fn unit(&self) -> Unit {
        Unit::Ratio
    }

    fn name(&self) -> String {
        Self::INFO.name.into()
    }

    fn measure(&self, run: &RunMetrics<'_>) -> Measurement {
        run.phase(&self.phase)
            .map(|p| Measurement::Value {
                value: Quantity::Ratio(p.availability().unwrap_or(0.0)),
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

    /// `availability(W) >= a` with 1 − 1/N < a: one failed request of N already breaches it.
    fn admits_no_failure(&self, slo: &Slo, samples: Option<u64>) -> bool {
        !is_upper_limit(slo.op) && one_failure_breaches(slo, samples, 1.0, -1.0)
    }

    /// The error budget of `error_rate`, seen from the other side (see `error_budget`).
    fn certain_breach(&self, slo: &Slo, live: &Live<'_>) -> Option<String> {
        if is_upper_limit(slo.op) {
            return None;
        }
        error_budget(slo, live, &self.phase, true)
    }

    fn resolution_warnings(&self, slo: &Slo, plan: &Planned<'_>) -> Vec<String> {
        plan.zero_target(slo, plan.phase_for(&self.phase))
            .unwrap_or_default()
    }
}
