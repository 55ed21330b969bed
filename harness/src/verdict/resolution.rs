//! Before a run: can the scenario resolve its own SLOs? The same rules as the verdict's
//! (`rules`), applied to the plan instead of the measurements, so `validate` warns about an
//! SLO that could only ever be inconclusive (too few requests for a percentile, requests or
//! probe checks further apart than the target, or than a zero target allows).

use std::time::Duration;

use crate::metric::{Planned, PlannedProbe};
use crate::plan::RunSpec;
use crate::slo::Slo;

/// One warning per SLO the plan cannot resolve, saying why and what to change (each
/// metric's own rule, `resolution_warnings` in its file under `metric/`).
pub fn warnings(spec: &RunSpec, slos: &[Slo]) -> Vec<String> {
    let planned = planned(spec);
    // A relative SLO's target is known only from the baseline's figures: its threshold (the
    // offset, or zero) is no target to hold the resolution against.
    slos.iter()
        .filter(|s| !s.is_relative())
        .flat_map(|slo| slo.metric.kind().resolution_warnings(slo, &planned))
        .collect()
}

/// The plan's sampling, as the metrics read it.
fn planned(spec: &RunSpec) -> Planned<'_> {
    // The slowest the load ever runs decides the widest gap between two requests.
    let rate = spec.load.as_ref().map(|l| match l.rate {
        chaosgate_load::Rate::Constant(r) => r,
        chaosgate_load::Rate::Ramp { from, to } => from.min(to).max(f64::MIN_POSITIVE),
    });
    Planned {
        rate,
        gap: rate
            .filter(|r| *r > 0.0)
            .map(|r| Duration::from_secs_f64(1.0 / r)),
        load_for: spec.load.as_ref().map(|l| l.duration.min(spec.duration)),
        duration: spec.duration,
        faults: spec
            .faults
            .iter()
            .map(|f| (f.name.as_str(), f.duration))
            .collect(),
        probes: spec
            .probes
            .iter()
            .map(|p| PlannedProbe {
                name: p.name.as_str(),
                every: p.every,
            })
            .collect(),
    }
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
        // The HTTPS scenario names the stack's TLS files (compose/make-tls.sh makes them).
        let made = std::process::Command::new("bash")
            .arg(scenarios().join("../compose/make-tls.sh"))
            .status()
            .expect("bash runs");
        assert!(made.success(), "compose/make-tls.sh failed");
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
