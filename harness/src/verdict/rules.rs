//! The demotion rules: after an SLO is compared with its figure, each rule may say the
//! comparison cannot be trusted and make the result *inconclusive*. No rule ever turns a
//! breach into a pass or an inconclusive into a pass; each is one function with its own tests.
//!
//! The rules only read the figure's typed [`Facts`]; they never see the run. What a rule
//! reads of a metric (which metrics drop, which are outage times, which targets are zero
//! targets) the metric says, in its file under `metric/` ([`crate::metric::MetricKind`]).

use super::Verdict;
use super::evaluate::SloResult;
use crate::metric::holds;
pub use crate::metric::{
    Facts, STARVED_LAG_P99, ZERO_TARGET_SPACING, admits_no_failure, samples_needed,
    zero_target_spacing,
};
use crate::slo::{Quantity, Slo};

/// One rule: `Some(reason)` when the result must become inconclusive.
type Rule = fn(&Slo, &SloResult, &Facts) -> Option<String>;

/// Every rule, in the order their reasons are worth reading.
const RULES: &[(&str, Rule)] = &[
    ("lower bound only", lower_bound_only),
    ("dropped requests", dropped_requests),
    ("too few samples", too_few_samples),
    ("late harness", late_harness),
    ("coarse resolution", coarse_resolution),
    ("zero target unresolved", zero_target_unresolved),
];

/// Applies every rule to a compared result; the first that fires makes it inconclusive.
pub fn apply(slo: &Slo, r: &mut SloResult) {
    if r.verdict == Verdict::Inconclusive {
        return;
    }
    let facts = r
        .evidence
        .as_ref()
        .map(|e| e.facts.clone())
        .unwrap_or_default();
    for (_, rule) in RULES {
        if let Some(reason) = rule(slo, r, &facts) {
            r.verdict = Verdict::Inconclusive;
            r.reason = Some(reason);
            return;
        }
    }
}

fn measured_text(r: &SloResult) -> String {
    r.measured.map(|m| m.to_string()).unwrap_or_default()
}

/// A recovery or failover that never completed was measured as a lower bound ("at least X");
/// if that lower bound is still within the target, the SLO is not known to pass.
fn lower_bound_only(_: &Slo, r: &SloResult, f: &Facts) -> Option<String> {
    (r.verdict == Verdict::Pass && f.recovered == Some(false)).then(|| {
        format!(
            "did not recover before the run ended; only a lower bound ({}) was observed",
            measured_text(r)
        )
    })
}

/// Requests the harness never sent (its schedule's queue overflowed) were never measured, so
/// a figure of that window could be better than what clients would have seen: a pass of a
/// metric they would have counted in (a latency percentile) cannot stand.
fn dropped_requests(slo: &Slo, r: &SloResult, f: &Facts) -> Option<String> {
    let dropped = f.dropped.filter(|n| *n > 0)?;
    if r.verdict != Verdict::Pass {
        return None;
    }
    slo.metric
        .kind()
        .unmeasured_drops(&measured_text(r), dropped)
}

/// A figure from fewer samples than it takes to resolve it (a percentile) decides neither way.
fn too_few_samples(slo: &Slo, r: &SloResult, f: &Facts) -> Option<String> {
    let n = f.samples?;
    slo.metric.kind().too_few_samples(&measured_text(r), n)
}

/// A timing breach the harness may have caused itself is not a verdict on the system:
/// - a latency percentile that breaches from the intended send times but holds from the
///   actual sends was made by the harness beginning requests late;
/// - a recovery time that breaches but would hold had the probe check that saw the service
///   back begun on time;
/// - any timing figure breached in a window where the harness ran more than
///   [`STARVED_LAG_P99`] behind its schedule was taken on a CPU-starved machine, which slows
///   the system under test as much as the harness.
///
/// Only breaches are demoted: lateness only ever adds to latency and outage times, so a
/// pass measured by a late harness still holds. Lost writes are never excused. The first two
/// are the metrics' own ([`crate::metric::MetricKind::punctual`]).
fn late_harness(slo: &Slo, r: &SloResult, f: &Facts) -> Option<String> {
    let metric = slo.metric.kind();
    if r.verdict != Verdict::Breached || !metric.excused_by_late_harness() {
        return None;
    }
    let measured = measured_text(r);
    let lag_text = f
        .harness_lag_p99
        .map(|l| format!(" (p99 {})", Quantity::Duration(l)))
        .unwrap_or_default();
    let punctual = metric.punctual(slo, &measured, &lag_text, f);
    if punctual.is_some() {
        return punctual;
    }
    let lag = f.harness_lag_p99.filter(|l| *l > STARVED_LAG_P99)?;
    Some(format!(
        "measured {measured}, target {}, but the harness ran up to {} behind its own \
             schedule in this window (p99; limit {}): the machine was starved of CPU, so the \
             breach cannot be pinned on the system; rerun on a quieter machine",
        r.target,
        Quantity::Duration(lag),
        Quantity::Duration(STARVED_LAG_P99)
    ))
}

/// An outage time is known only to within the gap between two samples: the truth lies
/// between the figure's lower bound and the figure plus one sample gap. A verdict is given
/// only when that whole interval is on one side of the target.
///
/// Each outage metric says its interval ([`crate::metric::MetricKind::outage_bounds`]):
/// - failover: truth ∈ [figure − gap, figure + gap]; a zero target is left to
///   [`zero_target_unresolved`], which decides it on the spacing instead;
/// - recovery: truth between the check before the recovery and the figure.
fn coarse_resolution(slo: &Slo, r: &SloResult, f: &Facts) -> Option<String> {
    let Some(Quantity::Duration(measured)) = r.measured else {
        return None;
    };
    let (lo, hi) = slo.metric.kind().outage_bounds(slo, measured, f)?;
    // Both ends on the same side of the target: the figure's own comparison stands (for a
    // monotone comparison the figure, which lies between them, is on that side too).
    if holds(slo, lo) == holds(slo, hi) {
        return None;
    }
    let gap_text = f
        .resolution
        .map(|g| format!(" (samples {} apart)", Quantity::Duration(g)))
        .unwrap_or_default();
    Some(format!(
        "measured {}, but the samples{gap_text} only place the true value between {} and {}, \
         which straddles the target {}: the measurement is too coarse to decide; sample more \
         often (a higher load rate or a shorter probe interval)",
        measured_text(r),
        Quantity::Duration(lo),
        Quantity::Duration(hi),
        r.target
    ))
}

/// A zero target passed, from samples too far apart to have seen a failure (see
/// [`zero_target_spacing`]). A pass of a zero target means no sample failed: one would have
/// breached it.
fn zero_target_unresolved(slo: &Slo, r: &SloResult, f: &Facts) -> Option<String> {
    if r.verdict != Verdict::Pass {
        return None;
    }
    let why = zero_target_spacing(slo, f.samples, f.resolution?)?;
    Some(format!("measured {}, but {why}", measured_text(r)))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::slo::parse;
    use crate::verdict::Evidence;

    const MS: Duration = Duration::from_millis(1);

    fn result(slo: &Slo, verdict: Verdict, measured: Quantity, facts: Facts) -> SloResult {
        SloResult {
            expression: slo.expression.clone(),
            verdict,
            target: slo.target_text(),
            measured: Some(measured),
            reason: None,
            evidence: Some(Box::new(Evidence {
                facts,
                ..Default::default()
            })),
        }
    }

    /// Compares as `evaluate` would, then applies the rules.
    fn judged(expr: &str, measured: Quantity, facts: Facts) -> SloResult {
        let slo = parse(expr).unwrap();
        let verdict = if slo.op.holds(measured.as_f64(), slo.threshold.as_f64()) {
            Verdict::Pass
        } else {
            Verdict::Breached
        };
        let mut r = result(&slo, verdict, measured, facts);
        apply(&slo, &mut r);
        r
    }

    fn d(ms: u64) -> Quantity {
        Quantity::Duration(Duration::from_millis(ms))
    }

    #[test]
    fn a_latency_breach_made_of_the_harness_being_late_is_inconclusive() {
        let r = judged(
            "p95(latency, during=crash) < 100ms",
            d(672),
            Facts {
                latency_from_send: Some(40 * MS),
                harness_lag_p99: Some(640 * MS),
                samples: Some(1000),
                ..Default::default()
            },
        );
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert!(r.reason.unwrap().contains("from the actual sends"));
    }

    #[test]
    fn a_breach_on_a_starved_machine_is_inconclusive() {
        let r = judged(
            "p95(latency) < 100ms",
            d(650),
            Facts {
                latency_from_send: Some(350 * MS),
                harness_lag_p99: Some(300 * MS),
                samples: Some(1000),
                ..Default::default()
            },
        );
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert!(r.reason.unwrap().contains("starved"));
        let r = judged(
            "failover_time(crash) < 100ms",
            d(900),
            Facts {
                harness_lag_p99: Some(80 * MS),
                ..Default::default()
            },
        );
        assert_eq!(r.verdict, Verdict::Inconclusive);
    }

    #[test]
    fn a_breach_by_a_punctual_harness_stands() {
        let r = judged(
            "p95(latency) < 100ms",
            d(280),
            Facts {
                latency_from_send: Some(279 * MS),
                harness_lag_p99: Some(MS),
                samples: Some(1000),
                ..Default::default()
            },
        );
        assert_eq!(r.verdict, Verdict::Breached);
        // Nothing recorded about lateness (an older event log): nothing excuses the breach.
        let r = judged("failover_time(crash) < 100ms", d(900), Facts::default());
        assert_eq!(r.verdict, Verdict::Breached);
    }

    #[test]
    fn a_recovery_breach_made_of_a_late_probe_check_is_inconclusive() {
        let late = |punctual| Facts {
            recovery_if_punctual: Some(punctual),
            recovered: Some(true),
            ..Default::default()
        };
        let r = judged(
            "recovery_time(crash, probe=md) < 1s",
            d(1400),
            late(900 * MS),
        );
        assert_eq!(r.verdict, Verdict::Inconclusive);
        let r = judged(
            "recovery_time(crash, probe=md) < 1s",
            d(1400),
            late(1390 * MS),
        );
        assert_eq!(r.verdict, Verdict::Breached);
    }

    #[test]
    fn lost_writes_are_never_excused() {
        let r = judged(
            "lost_writes() <= 0",
            Quantity::Count(3),
            Facts {
                harness_lag_p99: Some(900 * MS),
                ..Default::default()
            },
        );
        assert_eq!(r.verdict, Verdict::Breached);
    }

    #[test]
    fn a_pass_by_a_late_harness_still_passes() {
        let r = judged(
            "p95(latency) < 100ms",
            d(60),
            Facts {
                harness_lag_p99: Some(500 * MS),
                samples: Some(1000),
                ..Default::default()
            },
        );
        assert_eq!(r.verdict, Verdict::Pass);
    }

    #[test]
    fn an_unrecovered_lower_bound_never_passes() {
        let r = judged(
            "recovery_time(f) < 30s",
            d(5000),
            Facts {
                recovered: Some(false),
                ..Default::default()
            },
        );
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert!(r.reason.unwrap().contains("lower bound"));
        // A lower bound that already breaches is a breach.
        let r = judged(
            "recovery_time(f) < 3s",
            d(5000),
            Facts {
                recovered: Some(false),
                ..Default::default()
            },
        );
        assert_eq!(r.verdict, Verdict::Breached);
    }

    #[test]
    fn a_latency_pass_with_dropped_requests_is_inconclusive() {
        let facts = |dropped| Facts {
            samples: Some(1000),
            dropped: Some(dropped),
            ..Default::default()
        };
        let r = judged("p90(latency, during=f) < 100ms", d(1), facts(970));
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert!(r.reason.unwrap().contains("970"));
        // A breach stays a breach; no drops, no demotion; other metrics unaffected.
        assert_eq!(
            judged("p90(latency) < 100ms", d(900), facts(970)).verdict,
            Verdict::Breached
        );
        assert_eq!(
            judged("p90(latency) < 100ms", d(1), facts(0)).verdict,
            Verdict::Pass
        );
        assert_eq!(
            judged("error_rate() < 1%", Quantity::Ratio(0.0), facts(970)).verdict,
            Verdict::Pass
        );
    }

    #[test]
    fn a_percentile_from_too_few_samples_decides_nothing() {
        assert_eq!(samples_needed(99.0), 100);
        assert_eq!(samples_needed(95.0), 20);
        assert_eq!(samples_needed(50.0), 2);
        assert_eq!(samples_needed(99.9), 1000);
        let facts = |n| Facts {
            samples: Some(n),
            ..Default::default()
        };
        // p99 of 20 samples is their maximum: neither a pass nor a breach.
        let r = judged("p99(latency) < 100ms", d(20), facts(20));
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert!(r.reason.unwrap().contains("needs at least 100"));
        assert_eq!(
            judged("p99(latency) < 100ms", d(900), facts(20)).verdict,
            Verdict::Inconclusive
        );
        assert_eq!(
            judged("p99(latency) < 100ms", d(20), facts(100)).verdict,
            Verdict::Pass
        );
        assert_eq!(
            judged("p50(latency) < 100ms", d(20), facts(2)).verdict,
            Verdict::Pass
        );
    }

    #[test]
    fn a_failover_figure_coarser_than_its_target_decides_nothing() {
        let gap = |ms: u64| Facts {
            resolution: Some(Duration::from_millis(ms)),
            recovered: Some(true),
            ..Default::default()
        };
        // 2 req/s: a 300 ms outage can sit between two requests; "0 ms" proves nothing.
        let r = judged("failover_time(f) < 100ms", d(0), gap(500));
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert!(r.reason.unwrap().contains("too coarse"));
        // 200 req/s: 5 ms apart resolves a 100 ms target both ways.
        assert_eq!(
            judged("failover_time(f) < 100ms", d(0), gap(5)).verdict,
            Verdict::Pass
        );
        assert_eq!(
            judged("failover_time(f) < 100ms", d(300), gap(5)).verdict,
            Verdict::Breached
        );
        // Near the target the gap decides nothing: 98 ms ± 5 ms straddles 100 ms.
        assert_eq!(
            judged("failover_time(f) < 100ms", d(98), gap(5)).verdict,
            Verdict::Inconclusive
        );
        assert_eq!(
            judged("failover_time(f) < 100ms", d(103), gap(5)).verdict,
            Verdict::Inconclusive
        );
    }

    /// Issue 19's inputs: 2 req/s seeing nothing is "nothing seen"; 200 req/s seeing nothing
    /// is "no client saw a failure"; a failure seen breaches at any rate.
    #[test]
    fn a_zero_target_passes_only_on_samples_fine_enough_to_see_an_outage() {
        let failover = |ms: u64| Facts {
            resolution: Some(Duration::from_millis(ms)),
            recovered: Some(true),
            samples: Some(10_000 / ms),
            ..Default::default()
        };
        let r = judged("failover_time(f) <= 0ms", d(0), failover(500));
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert!(r.reason.unwrap().contains("500ms apart"));
        assert_eq!(
            judged("failover_time(f) <= 0ms", d(0), failover(5)).verdict,
            Verdict::Pass
        );
        // 20 req/s, exactly the limit, passes; a failure seen breaches whatever the spacing.
        assert_eq!(
            judged("failover_time(f) <= 0ms", d(0), failover(50)).verdict,
            Verdict::Pass
        );
        assert_eq!(
            judged("failover_time(f) <= 0ms", d(500), failover(500)).verdict,
            Verdict::Breached
        );
        assert_eq!(
            judged("failover_time(f) <= 0ms", d(5), failover(5)).verdict,
            Verdict::Breached
        );

        // 2 req/s over a 4 s fault window: 8 requests, none failed.
        let phase = |n: u64, ms: u64| Facts {
            samples: Some(n),
            resolution: Some(Duration::from_millis(ms)),
            ..Default::default()
        };
        for expr in [
            "error_rate(during=f) <= 0%",
            "availability(during=f) >= 100%",
            // One failure in 8 is 12.5 %: a 0.1 % target allows none, so it is a zero target.
            "error_rate(during=f) < 0.1%",
            "availability(during=f) >= 99.9%",
        ] {
            let clean = if expr.starts_with("error") { 0.0 } else { 1.0 };
            let r = judged(expr, Quantity::Ratio(clean), phase(8, 500));
            assert_eq!(r.verdict, Verdict::Inconclusive, "{expr}");
            assert!(r.reason.unwrap().contains("allows no failure"), "{expr}");
            // 200 req/s: 800 requests 5 ms apart, none failed.
            assert_eq!(
                judged(expr, Quantity::Ratio(clean), phase(800, 5)).verdict,
                Verdict::Pass,
                "{expr}"
            );
        }
        // A failure seen is a breach at any rate.
        assert_eq!(
            judged(
                "error_rate(during=f) <= 0%",
                Quantity::Ratio(0.125),
                phase(8, 500)
            )
            .verdict,
            Verdict::Breached
        );
        // A target that allows failures in this window is decided by the count as before:
        // 1 % of 8000 requests is 80 of them.
        assert_eq!(
            judged("error_rate() < 1%", Quantity::Ratio(0.0), phase(8_000, 500)).verdict,
            Verdict::Pass
        );
        // Probe checks every 500 ms cannot back "the probe never failed".
        let r = judged(
            "probe_success(p, during=f) >= 100%",
            Quantity::Ratio(1.0),
            phase(8, 500),
        );
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert!(r.reason.unwrap().contains("probe checks were 500ms apart"));
        // Counts are not sampled: every acknowledged write is read back.
        assert_eq!(
            judged("lost_writes() <= 0", Quantity::Count(0), phase(8, 500)).verdict,
            Verdict::Pass
        );
    }

    #[test]
    fn which_targets_allow_no_failure() {
        let zero = |expr: &str, n| admits_no_failure(&parse(expr).unwrap(), n);
        assert!(zero("failover_time(f) <= 0ms", None));
        assert!(!zero("failover_time(f) < 1ms", None));
        assert!(zero("error_rate() <= 0%", None));
        assert!(!zero("error_rate() < 0.1%", None));
        assert!(zero("error_rate() < 0.1%", Some(1_000)));
        assert!(!zero("error_rate() < 0.1%", Some(1_001)));
        assert!(!zero("error_rate() <= 0.1%", Some(1_000)));
        assert!(zero("availability() >= 100%", None));
        assert!(zero("availability() >= 99.9%", Some(999)));
        assert!(!zero("availability() >= 99.9%", Some(1_000)));
        assert!(!zero("p99(latency) < 1ms", Some(1)));
        assert!(!zero("lost_writes() <= 0", Some(1)));
        assert!(!zero("recovery_time(f) <= 0ms", Some(1)));
    }

    #[test]
    fn a_recovery_breach_is_only_a_breach_past_the_check_that_last_saw_the_fault() {
        let seen_down_at = |ms: u64| Facts {
            lower_bound: Some(Duration::from_millis(ms)),
            recovered: Some(true),
            ..Default::default()
        };
        // Probes 5 s apart: down at 8 s, up at 13 s; the truth may be 9 s (< 10 s).
        let r = judged("recovery_time(f) < 10s", d(13_000), seen_down_at(8_000));
        assert_eq!(r.verdict, Verdict::Inconclusive);
        // Still down at 11 s: a breach whatever the probe interval.
        let r = judged("recovery_time(f) < 10s", d(13_000), seen_down_at(11_000));
        assert_eq!(r.verdict, Verdict::Breached);
        // The figure is an upper bound, so a pass is a pass.
        let r = judged("recovery_time(f) < 10s", d(9_000), seen_down_at(4_000));
        assert_eq!(r.verdict, Verdict::Pass);
    }
}
