//! Relative SLOs (`<= baseline * 1.2`, `<= baseline + 20ms`): a candidate build's figures
//! judged against a baseline build's, run with the same seeds.
//!
//! Both sides are samples (one figure per run), summarised by the median's order-statistic
//! interval ([`super::interval`]). The judgement never calls noise a regression:
//! - **pass** when the candidate's worst end meets the bound computed from the baseline's
//!   opposite worst end (the tightest bound the baseline allows), every run trusted;
//! - **breach** when even the candidate's best end violates the bound computed from the
//!   baseline's best end (the loosest bound), untrusted runs counted in the candidate's
//!   favour;
//! - otherwise **inconclusive**: the difference is within run-to-run noise.
//!
//! With one run each the intervals are points (the report says so). When every figure on
//! both sides is zero (failover 0 ms vs 0 ms, error rate 0 vs 0) a "no worse" target passes.

use super::evaluate::SloResult;
use super::interval::{self, MedianInterval, RunFigure, lower_is_better, sample};
use super::rules;
use super::{Inputs, RunMetrics, Verdict};
use crate::slo::{Quantity, Relative, Slo};

/// A relative SLO judged.
#[derive(Debug, Clone, PartialEq)]
pub struct RelativeJudged {
    /// Pass, breached or inconclusive, as the module docs define them.
    pub verdict: Verdict,
    /// Why it is not a plain pass.
    pub reason: Option<String>,
    /// The baseline runs' median interval (trusted runs); `None` when none is trusted.
    pub baseline: Option<MedianInterval>,
    /// The candidate runs' median interval (trusted runs); `None` when none is trusted.
    pub candidate: Option<MedianInterval>,
    /// The bound from the baseline's worst end (what a pass had to meet).
    pub strict_bound: Option<f64>,
    /// The bound from the baseline's best end (what a breach had to violate).
    pub loose_bound: Option<f64>,
}

/// Each relative SLO's figure in one run, measured as an absolute figure (no target is
/// compared yet: the verdict of these results means nothing; `measured`, `reason` and the
/// evidence are what [`figure`] and [`recheck`] read). Absolute SLOs are skipped.
pub fn measure(input: &Inputs<'_>) -> Vec<(usize, SloResult)> {
    let metrics = RunMetrics {
        analysis: input.analysis,
        faults: input.faults,
        writes: input.writes,
    };
    input
        .slos
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_relative())
        .map(|(i, s)| {
            let absolute = Slo {
                relative: None,
                ..s.clone()
            };
            let r = super::evaluate(std::slice::from_ref(&absolute), &metrics).remove(0);
            (i, r)
        })
        .collect()
}

/// One run's figure, and whether it can be trusted whatever the target: nothing measured, a
/// recovery that never completed (a lower bound only), a latency window with requests never
/// sent, or a percentile from too few samples cannot.
pub fn figure(slo: &Slo, r: &SloResult) -> RunFigure {
    let Some(m) = r.measured else {
        return RunFigure::untrusted(
            None,
            r.reason
                .clone()
                .unwrap_or_else(|| "nothing measured".into()),
        );
    };
    let value = m.as_f64();
    let facts = r
        .evidence
        .as_ref()
        .map(|e| e.facts.clone())
        .unwrap_or_default();
    if facts.recovered == Some(false) {
        return RunFigure::at_least(
            value,
            format!("did not recover before the run ended; {m} is only a lower bound"),
        );
    }
    // What the metric itself says of its facts (a latency window with drops, a percentile
    // from too few samples).
    if let Some(why) = slo.metric.kind().untrusted_figure(&facts) {
        return RunFigure::untrusted(Some(value), why);
    }
    if !value.is_finite() {
        return RunFigure::untrusted(None, "the measured value is not a number");
    }
    RunFigure::trusted(value)
}

/// A baseline run's figure: as [`figure`], and a timing figure from a window where the
/// harness itself ran late is untrusted unless it is 0. Lateness only ever adds to latency
/// and outage times, so a starved baseline looks worse than it is and would loosen the
/// bound (a candidate's starved figure only looks worse, which [`recheck`] handles: a
/// breach it caused is demoted, a pass stands).
pub fn baseline_figure(slo: &Slo, r: &SloResult) -> RunFigure {
    let f = figure(slo, r);
    let Some(value) = f.value.filter(|v| f.is_trusted() && *v > 0.0) else {
        return f;
    };
    let timing = slo.metric.kind().timing();
    let facts = r
        .evidence
        .as_ref()
        .map(|e| e.facts.clone())
        .unwrap_or_default();
    match facts
        .harness_lag_p99
        .filter(|l| timing && *l > rules::STARVED_LAG_P99)
    {
        Some(lag) => RunFigure::untrusted(
            Some(value),
            format!(
                "the harness ran up to {} behind its own schedule in this window (p99; limit \
                 {}): a CPU-starved baseline figure would loosen the bound",
                Quantity::Duration(lag),
                Quantity::Duration(rules::STARVED_LAG_P99)
            ),
        ),
        None => f,
    }
}

/// A candidate run's figure compared with a bound through the demotion rules (late
/// harness, coarse resolution, ...): `Some(reason)` when the comparison cannot be trusted.
pub fn recheck(slo: &Slo, r: &SloResult, bound: f64) -> Option<String> {
    let measured = r.measured?;
    let absolute = Slo {
        relative: None,
        threshold: Quantity::from_f64(slo.metric.unit(), bound),
        ..slo.clone()
    };
    let holds = slo.op.holds(measured.as_f64(), bound);
    let mut judged = SloResult {
        expression: r.expression.clone(),
        verdict: if holds {
            Verdict::Pass
        } else {
            Verdict::Breached
        },
        target: absolute.target_text(),
        measured: Some(measured),
        reason: None,
        evidence: r.evidence.clone(),
    };
    rules::apply(&absolute, &mut judged);
    (judged.verdict == Verdict::Inconclusive).then(|| {
        judged
            .reason
            .unwrap_or_else(|| "cannot be compared with the baseline".into())
    })
}

/// The bounds the baseline's figures allow: (strict, loose) — from the baseline end that
/// makes the bound tightest, and from the one that makes it loosest. `None` without a
/// trusted baseline figure.
pub fn bounds(slo: &Slo, rel: Relative, baseline: &[RunFigure]) -> Option<(f64, f64)> {
    let m = sample(baseline, 0.0).trusted?;
    let (strict, loose) = if lower_is_better(slo.op) {
        (m.low, m.high)
    } else {
        (m.high, m.low)
    };
    Some((rel.bound(strict), rel.bound(loose)))
}

/// Judges a relative SLO on the two samples. `show` renders a figure in the SLO's unit.
pub fn judge(
    slo: &Slo,
    rel: Relative,
    baseline: &[RunFigure],
    candidate: &[RunFigure],
    show: &dyn Fn(f64) -> String,
) -> RelativeJudged {
    let lower = lower_is_better(slo.op);
    let (worst, best) = if lower {
        (f64::INFINITY, f64::NEG_INFINITY)
    } else {
        (f64::NEG_INFINITY, f64::INFINITY)
    };
    let b = sample(baseline, 0.0);
    let c = sample(candidate, 0.0);
    let mut out = RelativeJudged {
        verdict: Verdict::Inconclusive,
        reason: None,
        baseline: b.trusted,
        candidate: c.trusted,
        strict_bound: None,
        loose_bound: None,
    };
    let all_trusted = b.all_trusted && c.all_trusted;
    let zero = |runs: &[RunFigure]| runs.iter().all(|r| r.value == Some(0.0));
    if lower && all_trusted && zero(baseline) && zero(candidate) {
        out.verdict = Verdict::Pass;
        out.reason = Some("0 on both sides in every run".into());
        return out;
    }
    let target = slo.target_text();
    let sides = |bm: &MedianInterval, cm: &MedianInterval| {
        format!(
            "candidate median {} [{}, {}] vs baseline median {} [{}, {}]",
            show(cm.median),
            show(cm.low),
            show(cm.high),
            show(bm.median),
            show(bm.low),
            show(bm.high)
        )
    };
    if let (Some(bm), Some(cm)) = (b.trusted, c.trusted) {
        let (strict_end, loose_end) = if lower {
            (bm.low, bm.high)
        } else {
            (bm.high, bm.low)
        };
        out.strict_bound = Some(rel.bound(strict_end));
        out.loose_bound = Some(rel.bound(loose_end));
        let c_worst = if lower { cm.high } else { cm.low };
        if all_trusted && slo.op.holds(c_worst, rel.bound(strict_end)) {
            out.verdict = Verdict::Pass;
            return out;
        }
    }
    // Breach: untrusted candidate runs count as perfect, untrusted baseline runs as the
    // worst the baseline could have done (the loosest bound).
    let bf = sample(baseline, worst);
    let cf = sample(candidate, best);
    if let (Some(bm), Some(cm)) = (bf.with_favourable, cf.with_favourable) {
        let loose_end = if lower { bm.high } else { bm.low };
        let c_best = if lower { cm.low } else { cm.high };
        let bound = rel.bound(loose_end);
        if !slo.op.holds(c_best, bound) {
            out.verdict = Verdict::Breached;
            out.reason = Some(format!(
                "even the candidate's best end {} violates {target} from the baseline's best end {} (bound {}): {}",
                show(c_best),
                show(loose_end),
                show(bound),
                match (b.trusted, c.trusted) {
                    (Some(bm), Some(cm)) => sides(&bm, &cm),
                    _ => format!(
                        "untrusted runs counted in the candidate's favour: {}",
                        interval::untrusted_list(candidate)
                    ),
                }
            ));
            return out;
        }
    }
    out.reason = Some(if !all_trusted {
        let mut why = Vec::new();
        if !b.all_trusted {
            why.push(format!("baseline {}", interval::untrusted_list(baseline)));
        }
        if !c.all_trusted {
            why.push(format!("candidate {}", interval::untrusted_list(candidate)));
        }
        format!("not every run's figure can be trusted: {}", why.join("; "))
    } else {
        match (b.trusted, c.trusted) {
            (Some(bm), Some(cm)) => format!(
                "within run-to-run noise: {}; {target} neither holds from the baseline's worst end nor fails from its best",
                sides(&bm, &cm)
            ),
            _ => "within run-to-run noise".into(),
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::parse;

    fn ms(v: f64) -> String {
        format!("{}ms", (v * 1000.0).round())
    }

    fn figs(v: &[f64]) -> Vec<RunFigure> {
        v.iter().map(|v| RunFigure::trusted(*v)).collect()
    }

    fn judged(expr: &str, b: &[f64], c: &[f64]) -> RelativeJudged {
        let slo = parse(expr).unwrap();
        judge(&slo, slo.relative.unwrap(), &figs(b), &figs(c), &ms)
    }

    #[test]
    fn a_clear_regression_breaches() {
        let j = judged(
            "failover_time(f) <= baseline + 50ms",
            &[0.0, 0.0, 0.0],
            &[0.6, 0.4, 0.7],
        );
        assert_eq!(j.verdict, Verdict::Breached);
        assert!(j.reason.unwrap().contains("best end 400ms"));
        // One run each: points.
        let j = judged("failover_time(f) <= baseline + 50ms", &[0.0], &[0.4]);
        assert_eq!(j.verdict, Verdict::Breached);
    }

    #[test]
    fn equal_builds_pass() {
        let j = judged(
            "p99(latency, during=f) <= baseline + 50ms",
            &[0.011, 0.013, 0.012],
            &[0.012, 0.014, 0.010],
        );
        assert_eq!(j.verdict, Verdict::Pass, "{:?}", j.reason);
        assert!((j.strict_bound.unwrap() - 0.061).abs() < 1e-12);
    }

    #[test]
    fn both_zero_passes_even_a_strict_or_scaled_target() {
        for expr in [
            "failover_time(f) <= baseline * 1.2",
            "error_rate(during=f) < baseline",
            "error_rate(during=f) <= baseline",
            "failover_time(f) < baseline - 10ms",
        ] {
            assert_eq!(
                judged(expr, &[0.0, 0.0], &[0.0, 0.0]).verdict,
                Verdict::Pass,
                "{expr}"
            );
        }
    }

    #[test]
    fn overlapping_samples_are_noise() {
        // Recovery 0.45–0.84 s on both sides; a 20 % ratio cannot tell them apart.
        let j = judged(
            "recovery_time(f) <= baseline * 1.2",
            &[0.45, 0.84, 0.60],
            &[0.50, 0.80, 0.70],
        );
        assert_eq!(j.verdict, Verdict::Inconclusive);
        assert!(j.reason.unwrap().contains("within run-to-run noise"));
    }

    #[test]
    fn higher_is_better_mirrors() {
        let j = judged(
            "availability() >= baseline - 0.1%",
            &[1.0, 1.0, 0.9995],
            &[0.9999, 1.0, 0.9998],
        );
        assert_eq!(j.verdict, Verdict::Pass, "{:?}", j.reason);
        let j = judged(
            "availability() >= baseline - 0.1%",
            &[1.0, 1.0, 0.9995],
            &[0.95, 0.96, 0.97],
        );
        assert_eq!(j.verdict, Verdict::Breached);
    }

    #[test]
    fn untrusted_runs_forbid_a_pass_but_a_regression_still_breaches() {
        let slo = parse("failover_time(f) <= baseline + 50ms").unwrap();
        let rel = slo.relative.unwrap();
        let b = figs(&[0.0, 0.0, 0.0]);
        let mut c = figs(&[0.0, 0.0]);
        c.push(RunFigure::untrusted(Some(0.0), "fault not proven"));
        let j = judge(&slo, rel, &b, &c, &ms);
        assert_eq!(j.verdict, Verdict::Inconclusive);
        assert!(
            j.reason
                .unwrap()
                .contains("candidate run 3: fault not proven")
        );
        let mut c = figs(&[0.5, 0.6, 0.55, 0.6, 0.5, 0.7, 0.6, 0.5, 0.6]);
        c.push(RunFigure::untrusted(None, "no data"));
        let b = figs(&[0.0; 10]);
        assert_eq!(judge(&slo, rel, &b, &c, &ms).verdict, Verdict::Breached);
        // An untrusted baseline run could have been anything: no breach from 3 runs.
        let mut b = figs(&[0.0, 0.0]);
        b.push(RunFigure::untrusted(None, "no data"));
        assert_eq!(
            judge(&slo, rel, &b, &figs(&[0.5, 0.6, 0.7]), &ms).verdict,
            Verdict::Inconclusive
        );
    }

    #[test]
    fn bounds_come_from_the_baseline_ends() {
        let slo = parse("recovery_time(f) <= baseline * 2").unwrap();
        let b = figs(&[0.5, 0.7, 0.6]);
        assert_eq!(bounds(&slo, slo.relative.unwrap(), &b), Some((1.0, 1.4)));
    }

    #[test]
    fn figures_without_trust() {
        let slo = parse("failover_time(f) <= baseline").unwrap();
        let r = SloResult {
            expression: slo.expression.clone(),
            verdict: Verdict::Inconclusive,
            target: slo.target_text(),
            measured: None,
            reason: Some("no data: fault `f` was never applied".into()),
            evidence: None,
        };
        let f = figure(&slo, &r);
        assert!(!f.is_trusted());
        assert_eq!(
            f.untrusted.as_deref(),
            Some("no data: fault `f` was never applied")
        );
        let r = SloResult {
            measured: Some(Quantity::Duration(std::time::Duration::from_millis(3))),
            ..r
        };
        assert!(figure(&slo, &r).is_trusted());
        assert_eq!(recheck(&slo, &r, 0.05), None);
        let mut starved = r.clone();
        starved.evidence = Some(Box::new(crate::verdict::Evidence {
            facts: crate::verdict::Facts {
                harness_lag_p99: Some(std::time::Duration::from_millis(83)),
                ..Default::default()
            },
            ..Default::default()
        }));
        assert!(
            figure(&slo, &starved).is_trusted(),
            "a late candidate only looks worse"
        );
        let f = baseline_figure(&slo, &starved);
        assert!(f.untrusted.unwrap().contains("83ms behind"));
        let mut zero = starved.clone();
        zero.measured = Some(Quantity::Duration(std::time::Duration::ZERO));
        assert!(
            baseline_figure(&slo, &zero).is_trusted(),
            "0 cannot be lower"
        );
    }
}
