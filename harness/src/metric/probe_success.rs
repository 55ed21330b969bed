//! `probe_success(PROBE, during=FAULT)`: successful / total checks of a probe, over the run or
//! inside one fault's window.

use serde_json::json;

use super::live::is_upper_limit;
use super::measured::{at_least, spacing};
use super::zero_target::{one_failure_breaches, zero_target_spacing};
use super::{Evidence, Measurement, MetricInfo, MetricKind, Planned, RunMetrics, Written};
use crate::slo::{Call, Quantity, RefKind, Slo, SloParseError, Unit};

/// `probe_success(...)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProbeSuccess {
    /// The probe whose checks are counted.
    pub probe: String,
    /// Only the checks inside this fault's window; `None`: every check of the run.
    pub during: Option<String>,
}

impl Written for ProbeSuccess {
    const INFO: MetricInfo = MetricInfo {
        name: "probe_success",
        call: "probe_success(PROBE, during=FAULT)",
        named: &["during"],
        measures: "successful / total checks of a probe",
    };

    fn from_call(call: &mut Call) -> Result<Self, SloParseError> {
        let mut args = call.args(Self::INFO.named)?;
        let probe = args.required("a probe name")?;
        args.no_more_positionals(1)?;
        call.refer(RefKind::Probe, &probe);
        let during = args.take("during").map(|d| {
            call.refer(RefKind::Fault, &d);
            d.value
        });
        Ok(Self {
            probe: probe.value,
            during,
        })
    }
}

impl MetricKind for ProbeSuccess {
    fn unit(&self) -> Unit {
        Unit::Ratio
    }

    fn name(&self) -> String {
        Self::INFO.name.into()
    }

    fn measure(&self, run: &RunMetrics<'_>) -> Measurement {
        probe_success(run, &self.probe, self.during.as_deref()).unwrap_or_else(|m| m)
    }

    /// `probe_success(p) >= a` with 1 − 1/N < a: one failed check of N already breaches it.
    fn admits_no_failure(&self, slo: &Slo, samples: Option<u64>) -> bool {
        !is_upper_limit(slo.op) && one_failure_breaches(slo, samples, 1.0, -1.0)
    }

    fn sampled_by(&self) -> &'static str {
        "probe checks"
    }

    // No fail-fast rule, on purpose.

    /// A zero target the probe's interval cannot resolve.
    fn resolution_warnings(&self, slo: &Slo, plan: &Planned<'_>) -> Vec<String> {
        let Some(p) = plan.probes.iter().find(|p| p.name == self.probe) else {
            return Vec::new();
        };
        let window = match &self.during {
            Some(fault) => plan.fault_for(fault),
            None => Some(plan.duration),
        };
        let checks = window.map(|w| (w.as_secs_f64() / p.every.as_secs_f64()) as u64);
        zero_target_spacing(slo, checks, p.every)
            .map(|why| {
                format!(
                    "`{}`: {why}; it can only be inconclusive unless a check fails — probe \
                     `{}` more often",
                    slo.expression, p.name
                )
            })
            .into_iter()
            .collect()
    }
}

fn probe_success(run: &RunMetrics<'_>, probe: &str, during: Option<&str>) -> Result<Measurement, Measurement> {
    let ((checks, ok), window) = match during {
        Some(fault) => {
            run.fault(fault)?;
            let counts = run
                .analysis
                .probes_during
                .get(probe)
                .and_then(|m| m.get(fault))
                .copied()
                .unwrap_or((0, 0));
            let w = run.analysis.fault(fault);
            (counts, w.map(|w| (w.applied_ns, w.end_ns)))
        }
        None => (
            run.analysis.probes.get(probe).copied().unwrap_or((0, 0)),
            Some((0, run.analysis.run_end_ns)),
        ),
    };
    if checks == 0 {
        return Err(Measurement::NoData {
            reason: format!("probe `{probe}` made no check in that window"),
        });
    }
    let mut e = Evidence::default();
    e.details.insert("checks".into(), json!(checks));
    e.details.insert("ok".into(), json!(ok));
    e.facts.samples = Some(checks);
    let every = run
        .analysis
        .probes
        .get(probe)
        .and_then(|(all, _)| spacing(0, run.analysis.run_end_ns, *all));
    e.facts.resolution = at_least(
        window.and_then(|(from, to)| spacing(from, to, checks)),
        every,
    );
    Ok(Measurement::Value {
        value: Quantity::Ratio(ok as f64 / checks as f64),
        evidence: Box::new(e),
    })
}
