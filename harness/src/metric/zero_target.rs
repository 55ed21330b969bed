//! Zero targets: a target one failed sample would already breach, and the sample spacing it
//! takes to pass one. Which targets are zero targets is each metric's
//! ([`super::MetricKind::admits_no_failure`]); the spacing rule is the same for all, and is
//! read by the verdict (`rules`), `validate`'s warnings (`resolution`) and fail-fast (`early`).

use std::time::Duration;

use crate::slo::{Quantity, Slo};

/// The widest sample spacing (requests, or probe checks) at which a zero target can pass:
/// "no client saw a failure" is read as "no outage of this length or longer", and only
/// samples at most this far apart cannot miss one. 50 ms is the resolution DESIGN.md asks of
/// failover and recovery figures, and the tightest non-zero failover target the bundled
/// scenarios set; it takes 20 requests a second.
pub const ZERO_TARGET_SPACING: Duration = Duration::from_millis(50);

/// Whether one failed sample would already breach `slo`: a *zero target*. `samples` is how
/// many samples (requests, probe checks) the window holds, when known.
///
/// - `failover_time(f) <= 0ms`: any failed request makes an outage longer than zero.
/// - `error_rate(W) < t`, `availability(W) >= a`, `probe_success(p) >= a`: a ratio of N
///   samples moves in steps of 1/N; when one step already crosses the target (t ≤ 1/N, e.g.
///   `< 0.1%` over 200 requests), the target allows no failure in that window, whatever it
///   says. With N unknown only an exact 0 % (100 %) target is known to be one.
///
/// Latency percentiles are not: their samples' resolution is `too_few_samples`'s. Counts
/// (`lost_writes`) are not sampled at all: every acknowledged write is read back.
pub fn admits_no_failure(slo: &Slo, samples: Option<u64>) -> bool {
    slo.metric.kind().admits_no_failure(slo, samples)
}

/// For a ratio of samples: whether the figure one failure among `samples` gives (`clean`
/// moved by `step / N`) breaches `slo`; with N unknown, whether the failure-free figure
/// `clean` is the target itself (only a target that even that breaches-by-a-hair counts).
pub(super) fn one_failure_breaches(slo: &Slo, samples: Option<u64>, clean: f64, step: f64) -> bool {
    let t = slo.threshold.as_f64();
    match samples {
        Some(n) if n > 0 => !slo.op.holds(clean + step / n as f64, t),
        _ => (clean - t).abs() <= 1e-12,
    }
}

/// Why a zero target cannot be judged from samples `spacing` apart, or `None` when it can.
///
/// The rule for zero targets: a target that one failed sample would breach
/// ([`admits_no_failure`]) can only pass when the samples in its window were at most
/// [`ZERO_TARGET_SPACING`] apart. No failure among samples `g` apart rules out only an
/// outage of `g` or longer (a shorter one can fall between two samples), so sparse samples
/// seeing nothing is "nothing seen", not "no client saw a failure". A failure that *was*
/// seen is certain, so a breach always stands (and fail-fast may stop on it).
///
/// Shared by the verdict, `validate`'s warnings (`resolution`) and fail-fast (`early`).
pub fn zero_target_spacing(slo: &Slo, samples: Option<u64>, spacing: Duration) -> Option<String> {
    if spacing <= ZERO_TARGET_SPACING || !admits_no_failure(slo, samples) {
        return None;
    }
    let what = slo.metric.kind().sampled_by();
    Some(format!(
        "its target allows no failure in the window, but the {what} were {} apart: an outage \
         shorter than that can fall between two of them unseen, so seeing none proves nothing; \
         a zero target needs {what} at most {} apart ({}/s or more)",
        Quantity::Duration(spacing),
        Quantity::Duration(ZERO_TARGET_SPACING),
        (1.0 / ZERO_TARGET_SPACING.as_secs_f64()).round()
    ))
}
