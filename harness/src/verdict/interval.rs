//! Repeats with confidence: the median of N runs' figures and a distribution-free confidence
//! interval for it by order statistics, and an SLO judged on that interval.
//!
//! For N figures sorted x₍₁₎ ≤ … ≤ x₍N₎ the true median lies in [x₍j₎, x₍N+1−j₎] with
//! probability P(j ≤ B ≤ N−j), B ~ Binomial(N, ½), whatever the figures' distribution (the
//! only assumption: runs are independent draws of the same process). The narrowest such pair
//! with coverage ≥ 95 % is used; when N is too small for 95 % (N ≤ 5) the widest pair
//! [min, max] is used and its achieved coverage is reported (N=3: 75 %, N=5: 93.75 %; N=1 is
//! a single point with no coverage at all).
//!
//! Judging is conservative: an SLO passes only when the whole interval is within its target
//! and no run's own figure was untrusted (inconclusive: unproven fault, late harness, no
//! data); it is breached when the interval is entirely outside even counting every untrusted
//! run as a perfect figure; anything else is inconclusive.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Verdict;
use crate::slo::{Comparison, Slo};

/// The coverage aimed for.
pub const TARGET_COVERAGE: f64 = 0.95;

/// The most runs a sample may have (the binomial sums stay exact in f64 well beyond).
pub const MAX_RUNS: usize = 1000;

/// The median of a sample and its order-statistic confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MedianInterval {
    /// Sample size.
    pub n: usize,
    /// The sample median (the mean of the two middle figures for even N).
    pub median: f64,
    /// x₍j₎ (1-based rank `low_rank`).
    pub low: f64,
    /// x₍N+1−j₎.
    pub high: f64,
    /// j: 1-based rank of `low` in the sorted sample.
    pub low_rank: usize,
    /// N+1−j: 1-based rank of `high` in the sorted sample.
    pub high_rank: usize,
    /// P(true median ∈ [low, high]) = P(j ≤ B ≤ N−j), B ~ Binomial(N, ½); 0 for N = 1.
    pub coverage: f64,
}

/// P(j ≤ B ≤ n−j) for B ~ Binomial(n, ½).
pub fn coverage(n: usize, j: usize) -> f64 {
    if j == 0 || 2 * j > n {
        return if j == 0 { 1.0 } else { 0.0 };
    }
    // pmf(i) = C(n, i) / 2^n, computed in logs so large n cannot overflow.
    let ln_fact = |k: usize| (1..=k).map(|i| (i as f64).ln()).sum::<f64>();
    let ln_n = ln_fact(n);
    let ln_half_n = n as f64 * 0.5f64.ln();
    (j..=n - j)
        .map(|i| (ln_n - ln_fact(i) - ln_fact(n - i) + ln_half_n).exp())
        .sum::<f64>()
        .min(1.0)
}

/// The rank j of the narrowest symmetric pair (x₍j₎, x₍n+1−j₎) covering the median with at
/// least [`TARGET_COVERAGE`], or 1 (min, max) when no pair reaches it.
pub fn rank_for(n: usize) -> usize {
    let mut best = 1;
    for j in 1..=n.div_ceil(2) {
        if coverage(n, j) >= TARGET_COVERAGE {
            best = j;
        } else {
            break;
        }
    }
    best
}

/// The median and its interval; `None` for an empty sample or one with a NaN.
pub fn median_interval(values: &[f64]) -> Option<MedianInterval> {
    if values.is_empty() || values.iter().any(|v| v.is_nan()) || values.len() > MAX_RUNS {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        let (a, b) = (v[n / 2 - 1], v[n / 2]);
        if a == b { a } else { a / 2.0 + b / 2.0 }
    };
    let j = rank_for(n);
    Some(MedianInterval {
        n,
        median,
        low: v[j - 1],
        high: v[n - j],
        low_rank: j,
        high_rank: n + 1 - j,
        coverage: coverage(n, j),
    })
}

/// Whether smaller figures are better for this comparison (`<`, `<=`).
pub fn lower_is_better(op: Comparison) -> bool {
    matches!(op, Comparison::Less | Comparison::LessOrEqual)
}

/// An interval against an absolute target: pass when both ends hold, breach when neither
/// does, inconclusive when it straddles.
pub fn judge(op: Comparison, threshold: f64, low: f64, high: f64) -> Verdict {
    match (op.holds(low, threshold), op.holds(high, threshold)) {
        (true, true) => Verdict::Pass,
        (false, false) => Verdict::Breached,
        _ => Verdict::Inconclusive,
    }
}

/// One run's figure for one SLO.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFigure {
    /// In the unit's base (seconds, ratio, count); `None` when nothing was measured.
    pub value: Option<f64>,
    /// Why this run's figure cannot be trusted (its own verdict was inconclusive, or the run
    /// failed); `None` when it can.
    pub untrusted: Option<String>,
    /// The figure is only a lower bound (a target that never recovered before the run
    /// ended): the true value is `value` or more. Untrusted as a point, yet it still decides
    /// a breach when the bound alone already crosses the target.
    pub at_least: bool,
}

impl RunFigure {
    /// A figure that can be trusted.
    pub fn trusted(value: f64) -> Self {
        Self {
            value: Some(value),
            untrusted: None,
            at_least: false,
        }
    }

    /// A figure (or none) that cannot be trusted, and why.
    pub fn untrusted(value: Option<f64>, why: impl Into<String>) -> Self {
        Self {
            value,
            untrusted: Some(why.into()),
            at_least: false,
        }
    }

    /// A lower bound: the true figure is `value` or more, and why it is only that.
    pub fn at_least(value: f64, why: impl Into<String>) -> Self {
        Self {
            value: Some(value),
            untrusted: Some(why.into()),
            at_least: true,
        }
    }

    /// What stands in for this figure when judging against `favourable` (the value that
    /// helps the verdict most): a trusted figure itself; an untrusted one `favourable`,
    /// except that a lower bound cannot be made smaller than itself.
    pub fn substitute(&self, favourable: f64) -> f64 {
        match (self.is_trusted(), self.value) {
            (true, Some(v)) => v,
            (false, Some(v)) if self.at_least && v.is_finite() => favourable.max(v),
            _ => favourable,
        }
    }

    /// Trusted and measured.
    pub fn is_trusted(&self) -> bool {
        self.untrusted.is_none() && self.value.is_some()
    }
}

/// The trusted figures' interval (for reports) and, for judging, the interval with every
/// untrusted run replaced by `favourable` (the figure that helps the verdict most).
pub struct Sample {
    /// The interval over the trusted runs only; `None` when no run is trusted.
    pub trusted: Option<MedianInterval>,
    /// Every run was trusted.
    pub all_trusted: bool,
    /// The interval with untrusted runs counted as `favourable`; `None` for no runs.
    pub with_favourable: Option<MedianInterval>,
}

/// The [`Sample`] of `runs`, `favourable` standing in for each untrusted run's figure (in the
/// unit's base; a lower bound stands for itself when `favourable` is below it).
pub fn sample(runs: &[RunFigure], favourable: f64) -> Sample {
    let trusted: Vec<f64> = runs
        .iter()
        .filter(|r| r.is_trusted())
        .filter_map(|r| r.value)
        .collect();
    let substituted: Vec<f64> = runs.iter().map(|r| r.substitute(favourable)).collect();
    Sample {
        trusted: median_interval(&trusted),
        all_trusted: trusted.len() == runs.len(),
        with_favourable: median_interval(&substituted),
    }
}

/// An absolute SLO judged on N runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    /// Pass only when the trusted interval is within the target and every run was trusted; breached
    /// when even the favourable interval is outside; else inconclusive.
    pub verdict: Verdict,
    /// Why it is not a plain pass.
    pub reason: Option<String>,
    /// The trusted runs' median and interval.
    pub interval: Option<MedianInterval>,
}

/// The untrusted runs, listed for a reason: `run 2: no data: …`.
pub fn untrusted_list(runs: &[RunFigure]) -> String {
    runs.iter()
        .enumerate()
        .filter(|(_, r)| !r.is_trusted())
        .map(|(i, r)| {
            format!(
                "run {}: {}",
                i + 1,
                r.untrusted.as_deref().unwrap_or("nothing measured")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Judges an absolute SLO on its runs' figures. `show` renders a figure in the SLO's unit.
pub fn judge_absolute(slo: &Slo, runs: &[RunFigure], show: &dyn Fn(f64) -> String) -> Judged {
    let favourable = if lower_is_better(slo.op) {
        f64::NEG_INFINITY
    } else {
        f64::INFINITY
    };
    let s = sample(runs, favourable);
    let threshold = slo.threshold.as_f64();
    let target = slo.target_text();
    let describe = |m: &MedianInterval| {
        format!(
            "median {} of {} run(s), interval [{}, {}] ({})",
            show(m.median),
            m.n,
            show(m.low),
            show(m.high),
            coverage_text(m)
        )
    };
    // Lost writes are data loss, never noise: one run that lost writes breaches.
    if slo.metric.kind().never_noise()
        && let Some((i, v)) = runs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_trusted())
            .filter_map(|(i, r)| r.value.map(|v| (i, v)))
            .find(|(_, v)| !slo.op.holds(*v, threshold))
    {
        return Judged {
            verdict: Verdict::Breached,
            reason: Some(format!(
                "run {} measured {}, target {target}: lost writes are never noise",
                i + 1,
                show(v)
            )),
            interval: s.trusted,
        };
    }
    if s.all_trusted
        && let Some(m) = s.trusted
    {
        let verdict = judge(slo.op, threshold, m.low, m.high);
        let reason = match verdict {
            Verdict::Pass => None,
            Verdict::Breached => Some(format!("{}, entirely outside {target}", describe(&m))),
            Verdict::Inconclusive => Some(format!(
                "{}, which straddles {target}: within run-to-run noise; more runs (--repeat) narrow it",
                describe(&m)
            )),
        };
        return Judged {
            verdict,
            reason,
            interval: Some(m),
        };
    }
    let untrusted = untrusted_list(runs);
    if let Some(m) = s.with_favourable
        && judge(slo.op, threshold, m.low, m.high) == Verdict::Breached
    {
        return Judged {
            verdict: Verdict::Breached,
            reason: Some(format!(
                "breached even counting the untrusted run(s) as perfect ({untrusted}): interval [{}, {}] ({}), entirely outside {target}",
                show(m.low),
                show(m.high),
                coverage_text(&m)
            )),
            interval: s.trusted,
        };
    }
    Judged {
        verdict: Verdict::Inconclusive,
        reason: Some(format!(
            "not every run's figure can be trusted ({untrusted}){}",
            s.trusted
                .map(|m| format!("; the trusted runs' {}", describe(&m)))
                .unwrap_or_default()
        )),
        interval: s.trusted,
    }
}

/// `95.3% coverage`, `75% coverage (3 runs cannot reach 95%)`, `one run: a point`.
pub fn coverage_text(m: &MedianInterval) -> String {
    if m.n == 1 {
        return "one run: a point, no coverage; use --repeat for noise".into();
    }
    let pct = crate::slo::Quantity::Ratio(m.coverage).to_string();
    if m.coverage >= TARGET_COVERAGE {
        format!(
            "order statistics x({})..x({}), {pct} coverage",
            m.low_rank, m.high_rank
        )
    } else {
        format!(
            "order statistics min..max, {pct} coverage: {} runs cannot reach 95%",
            m.n
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::parse;

    fn ms(v: f64) -> String {
        format!("{}ms", v * 1000.0)
    }

    #[test]
    fn coverage_is_the_binomial_sum() {
        assert_eq!(coverage(1, 1), 0.0);
        assert!((coverage(2, 1) - 0.5).abs() < 1e-12);
        assert!((coverage(3, 1) - 0.75).abs() < 1e-12);
        assert!((coverage(5, 1) - 0.9375).abs() < 1e-12);
        assert!((coverage(6, 1) - 0.96875).abs() < 1e-12);
        // n = 10: P(2 ≤ B ≤ 8) = 1 − 2·(1 + 10)/1024.
        assert!((coverage(10, 2) - (1.0 - 22.0 / 1024.0)).abs() < 1e-12);
        assert!(coverage(500, 200) > 0.99);
    }

    #[test]
    fn the_narrowest_pair_reaching_95_percent() {
        assert_eq!(rank_for(1), 1);
        assert_eq!(rank_for(3), 1);
        assert_eq!(rank_for(5), 1);
        assert_eq!(rank_for(6), 1);
        assert_eq!(rank_for(9), 2); // P(2 ≤ B ≤ 7) = 0.961; P(3 ≤ B ≤ 6) = 0.820
        assert_eq!(rank_for(10), 2);
        assert_eq!(rank_for(20), 6); // the textbook (6, 15) pair, 95.9 %
        for n in 6..200 {
            let j = rank_for(n);
            assert!(coverage(n, j) >= TARGET_COVERAGE, "n={n}");
            assert!(coverage(n, j + 1) < TARGET_COVERAGE, "n={n}");
        }
    }

    #[test]
    fn medians_and_intervals() {
        let m = median_interval(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((m.median, m.low, m.high), (2.0, 1.0, 3.0));
        assert!((m.coverage - 0.75).abs() < 1e-12);
        let m = median_interval(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(m.median, 2.5);
        let m = median_interval(&[7.0]).unwrap();
        assert_eq!((m.median, m.low, m.high, m.coverage), (7.0, 7.0, 7.0, 0.0));
        assert!(median_interval(&[]).is_none());
        assert!(median_interval(&[1.0, f64::NAN]).is_none());
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        let m = median_interval(&ten).unwrap();
        assert_eq!((m.low, m.high, m.low_rank, m.high_rank), (2.0, 9.0, 2, 9));
    }

    #[test]
    fn an_interval_passes_inside_breaches_outside_and_straddling_decides_nothing() {
        assert_eq!(judge(Comparison::Less, 1.0, 0.2, 0.9), Verdict::Pass);
        assert_eq!(judge(Comparison::Less, 1.0, 1.1, 1.5), Verdict::Breached);
        assert_eq!(
            judge(Comparison::Less, 1.0, 0.5, 1.5),
            Verdict::Inconclusive
        );
        assert_eq!(
            judge(Comparison::GreaterOrEqual, 0.999, 0.9995, 1.0),
            Verdict::Pass
        );
        assert_eq!(
            judge(Comparison::GreaterOrEqual, 0.999, 0.99, 0.999),
            Verdict::Inconclusive
        );
    }

    #[test]
    fn absolute_slos_on_repeats() {
        let slo = parse("failover_time(f) < 100ms").unwrap();
        let figs = |v: &[f64]| v.iter().map(|v| RunFigure::trusted(*v)).collect::<Vec<_>>();
        let j = judge_absolute(&slo, &figs(&[0.0, 0.01, 0.02]), &ms);
        assert_eq!(j.verdict, Verdict::Pass);
        let j = judge_absolute(&slo, &figs(&[0.2, 0.5, 0.7]), &ms);
        assert_eq!(j.verdict, Verdict::Breached);
        let j = judge_absolute(&slo, &figs(&[0.0, 0.5, 0.02]), &ms);
        assert_eq!(j.verdict, Verdict::Inconclusive);
        assert!(j.reason.unwrap().contains("75% coverage"));
        // One run: the interval is the point, the same verdict as the run's own.
        assert_eq!(
            judge_absolute(&slo, &figs(&[0.02]), &ms).verdict,
            Verdict::Pass
        );
    }

    #[test]
    fn an_untrusted_run_forbids_a_pass_but_not_a_clear_breach() {
        let slo = parse("failover_time(f) < 100ms").unwrap();
        let runs = vec![
            RunFigure::trusted(0.0),
            RunFigure::untrusted(Some(0.5), "late harness"),
            RunFigure::trusted(0.0),
        ];
        let j = judge_absolute(&slo, &runs, &ms);
        assert_eq!(j.verdict, Verdict::Inconclusive);
        assert!(j.reason.as_deref().unwrap().contains("run 2: late harness"));
        // Two clear breaches out of three: whatever the third, the median is outside...
        let runs = vec![
            RunFigure::trusted(0.3),
            RunFigure::untrusted(None, "no data"),
            RunFigure::trusted(0.4),
        ];
        // ...but the interval [min, max] is what is judged, and min could be anything.
        assert_eq!(
            judge_absolute(&slo, &runs, &ms).verdict,
            Verdict::Inconclusive
        );
        let slo = parse("lost_writes() <= 0").unwrap();
        let runs = vec![
            RunFigure::trusted(0.0),
            RunFigure::trusted(2.0),
            RunFigure::trusted(0.0),
        ];
        assert_eq!(
            judge_absolute(&slo, &runs, &|v| v.to_string()).verdict,
            Verdict::Breached
        );
    }

    #[test]
    fn an_untrusted_run_counted_as_perfect_still_breaches() {
        let slo = parse("p95(latency) < 100ms").unwrap();
        let mut runs: Vec<RunFigure> = (0..9).map(|_| RunFigure::trusted(0.5)).collect();
        runs.push(RunFigure::untrusted(Some(0.5), "late harness"));
        // n = 10: [x(2), x(9)] ignores the one perfect stand-in.
        let j = judge_absolute(&slo, &runs, &ms);
        assert_eq!(j.verdict, Verdict::Breached, "{:?}", j.reason);
        assert!(j.reason.unwrap().contains("counting the untrusted"));
    }
}
