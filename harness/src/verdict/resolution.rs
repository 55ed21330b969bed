//! Before a run: can the scenario resolve its own SLOs? The same rules as the verdict's
//! (`rules`), applied to the plan instead of the measurements, so `validate` warns about an
//! SLO that could only ever be inconclusive (too few requests for a percentile, requests or
//! probe checks further apart than the target, or than a zero target allows).

use std::time::Duration;

use super::rules::{admits_no_failure, samples_needed, zero_target_spacing};
use crate::plan::RunSpec;
use crate::slo::{Metric, Phase, Quantity, Slo};

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
    // A relative SLO's target is known only from the baseline's figures: its threshold (the
    // offset, or zero) is no target to hold the resolution against.
    for slo in slos.iter().filter(|s| !s.is_relative()) {
        let target = match slo.threshold {
            Quantity::Duration(d) => Some(d),
            _ => None,
        };
        // A window of known length: a `during=` of a fault with a duration, or the whole
        // load. A one-shot fault's or a phase's length is only known after the run.
        let fault_for = |fault: &str| {
            spec.faults
                .iter()
                .find(|f| f.name == fault)
                .and_then(|f| f.duration)
        };
        let window = match &slo.metric {
            Metric::Latency { scope, .. }
            | Metric::ErrorRate { scope }
            | Metric::Availability { scope } => match scope {
                Phase::During(fault) => fault_for(fault),
                Phase::Whole => load_for,
                _ => None,
            },
            Metric::FailoverTime { fault } => fault_for(fault),
            Metric::ProbeSuccess { during, .. } => match during {
                Some(fault) => fault_for(fault),
                None => Some(spec.duration),
            },
            _ => None,
        };
        match &slo.metric {
            // A zero target's resolution is the spacing (rules::zero_target_spacing), not the
            // gap-against-target comparison below, which a zero target always fails.
            Metric::FailoverTime { .. }
            | Metric::ErrorRate { .. }
            | Metric::Availability { .. }
                if admits_no_failure(slo, expected(rate, window)) =>
            {
                let samples = expected(rate, window);
                if let Some(why) = gap.and_then(|g| zero_target_spacing(slo, samples, g)) {
                    out.push(format!(
                        "`{}`: {why}; it can only be inconclusive unless a failure is seen — \
                         raise the load's rate",
                        slo.expression
                    ));
                }
            }
            Metric::ProbeSuccess { probe, .. } => {
                let Some(p) = spec.probes.iter().find(|p| &p.name == probe) else {
                    continue;
                };
                let checks = window.map(|w| (w.as_secs_f64() / p.every.as_secs_f64()) as u64);
                if let Some(why) = zero_target_spacing(slo, checks, p.every) {
                    out.push(format!(
                        "`{}`: {why}; it can only be inconclusive unless a check fails — probe \
                         `{}` more often",
                        slo.expression, p.name
                    ));
                }
            }
            Metric::FailoverTime { .. } => {
                if let (Some(gap), Some(target)) = (gap, target)
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
            Metric::Latency { percentile, .. } => {
                if let Some(expected) = expected(rate, window) {
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

/// About how many requests a window of `window` holds at `rate` a second.
fn expected(rate: Option<f64>, window: Option<Duration>) -> Option<u64> {
    Some((rate? * window?.as_secs_f64()).floor() as u64)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::scenario;

    fn scenarios() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
    }

    fn warnings_for(path: &Path, src: &str) -> Vec<String> {
        let s = scenario::parse_str(src, path).expect("valid");
        let spec = crate::plan::from_scenario(&s, 1, &Default::default()).expect("plans");
        super::warnings(&spec, &s.slos)
    }

    /// Issue 19, kind 5: the zero-downtime deploy's zero targets at 2 req/s can only be
    /// inconclusive, and `validate` says so; at its own 200 req/s they resolve.
    #[test]
    fn a_zero_target_the_load_rate_cannot_resolve_is_warned_about() {
        let path = scenarios().join("zero-downtime-deploy.yaml");
        let src = std::fs::read_to_string(&path).unwrap();
        assert!(warnings_for(&path, &src).is_empty());
        let sparse = src.replace("rate: 200/s", "rate: 2/s");
        assert_ne!(sparse, src);
        let w = warnings_for(&path, &sparse);
        assert_eq!(w.len(), 2, "{w:#?}");
        assert!(
            w[0].starts_with("`error_rate(during=deploy) <= 0%`"),
            "{w:#?}"
        );
        assert!(w[1].starts_with("`failover_time(deploy) <= 0ms`"), "{w:#?}");
        assert!(w.iter().all(|w| w.contains("500ms apart")), "{w:#?}");
        // 20 req/s is just fine enough (50 ms apart).
        assert!(warnings_for(&path, &src.replace("rate: 200/s", "rate: 20/s")).is_empty());
    }

    /// The bundled scenarios, compose and Kubernetes, resolve every SLO they state at their
    /// own rates.
    #[test]
    fn the_bundled_scenarios_resolve_their_slos() {
        for dir in [scenarios(), scenarios().join("kube")] {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "yaml") {
                    let src = std::fs::read_to_string(&path).unwrap();
                    let w = warnings_for(&path, &src);
                    assert!(w.is_empty(), "{}: {w:?}", path.display());
                }
            }
        }
    }
}
