//! Comparing each SLO with its measurement. Measurement is behind [`MetricSource`], so this is
//! tested without a run, and "no data" can never turn into a pass. The demotions that follow
//! the comparison (late harness, coarse resolution, ...) are in `rules`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::metric::RunMetrics;
pub use crate::metric::{Evidence, Measurement};
use crate::slo::{Metric, Quantity, Slo};

/// Where the measured figures come from (the runner's timeline in production).
pub trait MetricSource {
    /// The figure for `metric`, or why there is none; never panics on a missing window.
    fn measure(&self, metric: &Metric) -> Measurement;
}

/// A finished run: each metric measures itself from its analysis.
impl MetricSource for RunMetrics<'_> {
    fn measure(&self, metric: &Metric) -> Measurement {
        metric.kind().measure(self)
    }
}

/// Ordered by severity, so the worst of several verdicts is their maximum.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Met (exit 0 when every SLO passes).
    Pass,
    /// Could not be judged: no data, fault not proven applied, too coarse a resolution, or a late
    /// harness (exit 4). A run whose target never answered is inconclusive too but exits 3 (its
    /// report's `not_judged` says why): gate on `exit_code`, which tells the two apart.
    Inconclusive,
    /// Certainly not met (exit 1).
    Breached,
}

impl Verdict {
    /// The verdict as reports spell it: `pass`, `inconclusive` or `breached`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Inconclusive => "inconclusive",
            Self::Breached => "breached",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One SLO judged.
#[derive(Debug, Clone, PartialEq)]
pub struct SloResult {
    /// The SLO as written in the scenario (`p99(latency) < 100ms`).
    pub expression: String,
    /// This SLO's verdict.
    pub verdict: Verdict,
    /// `< 100ms`.
    pub target: String,
    /// The figure compared with the target; `None` when nothing was measured.
    pub measured: Option<Quantity>,
    /// Why the verdict is not a plain comparison (no data, inconclusive), or what was breached.
    pub reason: Option<String>,
    /// What the figure was computed from; `None` when nothing was measured.
    pub evidence: Option<Box<Evidence>>,
}

/// Why a relative SLO (`<= baseline * 1.2`) is not judged by a single run.
pub const NEEDS_BASELINE: &str = "needs a baseline (chaosgate ab)";

/// Judges each SLO against `source`, one result per SLO in the same order. A relative SLO is
/// inconclusive here ([`NEEDS_BASELINE`]): it needs `chaosgate ab`.
pub fn evaluate(slos: &[Slo], source: &dyn MetricSource) -> Vec<SloResult> {
    slos.iter().map(|slo| evaluate_one(slo, source)).collect()
}

fn evaluate_one(slo: &Slo, source: &dyn MetricSource) -> SloResult {
    let target = slo.target_text();
    let result = |verdict, measured, reason, evidence| SloResult {
        expression: slo.expression.clone(),
        verdict,
        target: target.clone(),
        measured,
        reason,
        evidence,
    };
    if slo.is_relative() {
        // A relative target has no meaning without a baseline's figure: never judged here.
        return result(
            Verdict::Inconclusive,
            None,
            Some(NEEDS_BASELINE.into()),
            None,
        );
    }
    match source.measure(&slo.metric) {
        Measurement::NoData { reason } => result(
            Verdict::Inconclusive,
            None,
            Some(format!("no data: {reason}")),
            None,
        ),
        Measurement::Inconclusive { reason } => {
            result(Verdict::Inconclusive, None, Some(reason), None)
        }
        Measurement::Value { value, evidence } => {
            if value.unit() != slo.threshold.unit() {
                return result(
                    Verdict::Inconclusive,
                    Some(value),
                    Some(format!(
                        "measured {value} ({}) cannot be compared with {target}",
                        value.unit()
                    )),
                    Some(evidence),
                );
            }
            let measured = value.as_f64();
            if !measured.is_finite() {
                return result(
                    Verdict::Inconclusive,
                    Some(value),
                    Some("the measured value is not a number".into()),
                    Some(evidence),
                );
            }
            if slo.op.holds(measured, slo.threshold.as_f64()) {
                result(Verdict::Pass, Some(value), None, Some(evidence))
            } else {
                let reason = match &evidence.unfinished {
                    Some(what) => format!(
                        "measured at least {value} ({what} before the watch ended), target {target}"
                    ),
                    None => format!("measured {value}, target {target}"),
                };
                result(Verdict::Breached, Some(value), Some(reason), Some(evidence))
            }
        }
    }
}

/// The run's verdict: any breach fails it; otherwise anything unproven makes it
/// inconclusive; an empty set of results proves nothing and is inconclusive too.
pub fn overall(results: &[SloResult]) -> Verdict {
    results
        .iter()
        .map(|r| r.verdict)
        .max()
        .unwrap_or(Verdict::Inconclusive)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::slo::parse;

    /// A source with fixed answers per metric name, as the runner's measurements would be.
    struct Fixed(BTreeMap<String, Measurement>);

    impl MetricSource for Fixed {
        fn measure(&self, metric: &Metric) -> Measurement {
            self.0
                .get(&metric.name())
                .cloned()
                .unwrap_or(Measurement::NoData {
                    reason: "nothing recorded".into(),
                })
        }
    }

    fn value(q: Quantity) -> Measurement {
        Measurement::Value {
            value: q,
            evidence: Box::default(),
        }
    }

    #[test]
    fn verdicts_follow_the_comparison() {
        let slos: Vec<Slo> = [
            "p95(latency) < 100ms",
            "error_rate() < 0.1%",
            "availability() >= 99.9%",
            "lost_writes() <= 0",
        ]
        .iter()
        .map(|s| parse(s).unwrap())
        .collect();
        let source = Fixed(BTreeMap::from([
            (
                "p95".into(),
                value(Quantity::Duration(Duration::from_millis(87))),
            ),
            ("error_rate".into(), value(Quantity::Ratio(0.004))),
            ("availability".into(), value(Quantity::Ratio(0.999))),
        ]));
        let results = evaluate(&slos, &source);
        let verdicts: Vec<Verdict> = results.iter().map(|r| r.verdict).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Pass,
                Verdict::Breached,
                Verdict::Pass,
                Verdict::Inconclusive
            ]
        );
        assert_eq!(
            results[1].reason.as_deref(),
            Some("measured 0.4%, target < 0.1%")
        );
        assert_eq!(
            results[3].reason.as_deref(),
            Some("no data: nothing recorded")
        );
        assert_eq!(overall(&results), Verdict::Breached);
    }

    #[test]
    fn unproven_never_passes() {
        let slos = vec![
            parse("failover_time(f) < 2s").unwrap(),
            parse("p95(latency) < 1s").unwrap(),
        ];
        let source = Fixed(BTreeMap::from([
            (
                "failover_time".into(),
                Measurement::Inconclusive {
                    reason: "fault f was not proven applied".into(),
                },
            ),
            (
                "p95".into(),
                value(Quantity::Duration(Duration::from_millis(5))),
            ),
        ]));
        let results = evaluate(&slos, &source);
        assert_eq!(results[0].verdict, Verdict::Inconclusive);
        assert_eq!(overall(&results), Verdict::Inconclusive);
        assert_eq!(overall(&[]), Verdict::Inconclusive);
        assert_eq!(overall(&results[1..]), Verdict::Pass);
    }

    #[test]
    fn a_source_returning_the_wrong_unit_is_inconclusive() {
        let slos = vec![parse("p95(latency) < 1s").unwrap()];
        let source = Fixed(BTreeMap::from([("p95".into(), value(Quantity::Count(3)))]));
        assert_eq!(evaluate(&slos, &source)[0].verdict, Verdict::Inconclusive);
        let slos = vec![parse("error_rate() < 1%").unwrap()];
        let nan = Fixed(BTreeMap::from([(
            "error_rate".into(),
            value(Quantity::Ratio(f64::NAN)),
        )]));
        assert_eq!(evaluate(&slos, &nan)[0].verdict, Verdict::Inconclusive);
    }
}
