//! Before a run: can the scenario resolve its own SLOs? The same rules as the verdict's
//! (`rules`), applied to the plan instead of the measurements, so `validate` warns about an
//! SLO that could only ever be inconclusive (too few requests for a percentile, requests or
//! probe checks further apart than the target).

use std::time::Duration;

use super::rules::samples_needed;
use crate::run::RunSpec;
use crate::slo::{Metric, Quantity, Scope, Slo};

/// One warning per SLO the plan cannot resolve, saying why and what to change.
pub fn warnings(spec: &RunSpec, slos: &[Slo]) -> Vec<String> {
    let mut out = Vec::new();
    // The slowest the load ever runs decides the widest gap between two requests.
    let rate = spec.load.as_ref().map(|l| match l.rate {
        chaosgate_load::Rate::Constant(r) => r,
        chaosgate_load::Rate::Ramp { from, to } => from.min(to).max(f64::MIN_POSITIVE),
    });
    let load_for = spec.load.as_ref().map(|l| l.duration.min(spec.duration));
    let gap = rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(1.0 / r));
    for slo in slos {
        let target = match slo.threshold {
            Quantity::Duration(d) => Some(d),
            _ => None,
        };
        match &slo.metric {
            Metric::FailoverTime { .. } => {
                if let (Some(gap), Some(target)) = (gap, target)
                    && !target.is_zero()
                    && gap >= target
                {
                    out.push(format!(
                        "`{}`: requests are {} apart, so an outage shorter than that can fall \
                         between two of them unseen; it can only be inconclusive — raise the \
                         load's rate above {}/s",
                        slo.expression,
                        Quantity::Duration(gap),
                        (1.0 / target.as_secs_f64()).ceil()
                    ));
                }
            }
            Metric::RecoveryTime { probe, .. } => {
                let probes = spec
                    .probes
                    .iter()
                    .filter(|p| probe.as_deref().is_none_or(|n| n == p.name));
                for p in probes {
                    if let Some(target) = target
                        && p.every >= target
                    {
                        out.push(format!(
                            "`{}`: probe `{}` checks every {}, no finer than the target; a \
                             breach near it can only be inconclusive — probe more often",
                            slo.expression,
                            p.name,
                            Quantity::Duration(p.every)
                        ));
                    }
                }
            }
            Metric::Latency { percentile, scope } => {
                let window = match scope {
                    Scope::During(fault) => spec
                        .faults
                        .iter()
                        .find(|f| &f.name == fault)
                        .and_then(|f| f.duration),
                    // A phase without a fixed length (before/after, one-shot faults) is
                    // judged after the run.
                    Scope::Whole => load_for,
                    _ => None,
                };
                if let (Some(rate), Some(window)) = (rate, window) {
                    let expected = (rate * window.as_secs_f64()).floor() as u64;
                    let needed = samples_needed(*percentile);
                    if expected < needed {
                        out.push(format!(
                            "`{}`: about {expected} request(s) fall in its window, but \
                             p{percentile} needs at least {needed}; it can only be \
                             inconclusive — raise the rate or lengthen the window",
                            slo.expression
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    out
}
