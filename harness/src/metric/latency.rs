//! `pNN(latency, during=FAULT | phase=PHASE)`: a latency percentile of the load's requests,
//! timed from their intended send times (open model: coordinated omission counted).

use std::time::Duration;

use super::live::{Live, duration_target, starved};
use super::{
    Facts, Measurement, MetricInfo, MetricKind, Planned, RunMetrics, Written, holds,
};
use crate::slo::{Call, Comparison, Phase, Quantity, Slo, SloParseError, Unit};

/// `p95(latency, ...)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Latency {
    /// The percentile, 0–100 (`p99.9` → 99.9), read from an HdrHistogram of the latencies.
    pub percentile: f64,
    /// The part of the run whose requests count.
    #[serde(rename = "scope", serialize_with = "crate::slo::phase::serialize_in_slo")]
    pub phase: Phase,
}

/// The fewest samples from which percentile `q` is more than the maximum: p99 of 20 samples
/// is simply the largest of them, which says nothing about the 99th percentile.
pub fn samples_needed(q: f64) -> u64 {
    if q >= 100.0 || q <= 0.0 {
        return 1;
    }
    // Rounded to a millionth first: 100 / (100 - 99.9) is 1000.0000000000001 in floating
    // point, and its ceiling would ask for one sample too many.
    let x = ((100.0 / (100.0 - q)) * 1e6).round() / 1e6;
    x.ceil() as u64
}

impl Written for Latency {
    const INFO: MetricInfo = MetricInfo {
        name: "pNN",
        call: "pNN(latency, during=FAULT | phase=PHASE)",
        named: &["during", "phase"],
        measures: "a latency percentile of the load's requests, from their intended send times",
    };

    /// `p` and a digit: `p95`, `p99.9`, and `p0` (refused as no percentile).
    fn writes(name: &str) -> bool {
        name.starts_with('p') && name[1..].starts_with(|c: char| c.is_ascii_digit())
    }

    fn from_call(call: &mut Call) -> Result<Self, SloParseError> {
        let name = call.name.clone();
        let percentile: f64 = name[1..]
            .parse()
            .ok()
            .filter(|p: &f64| *p > 0.0 && *p <= 100.0)
            .ok_or_else(|| {
                SloParseError::new(format!("`{name}` is not a percentile"), call.name_at.clone())
                    .help("write p50, p90, p95, p99, p99.9, ...")
            })?;
        let mut args = call.args(Self::INFO.named)?;
        let first = args.required("`latency`")?;
        if first.value != "latency" {
            return Err(SloParseError::new(
                format!("percentiles are taken of `latency`, not `{}`", first.value),
                first.at,
            ));
        }
        args.no_more_positionals(1)?;
        let phase = call.phase(&mut args)?;
        Ok(Self { percentile, phase })
    }
}

impl MetricKind for Latency {
    fn unit(&self) -> Unit {
        Unit::Duration
    }

    fn name(&self) -> String {
        format!("p{}", self.percentile)
    }

    fn measure(&self, run: &RunMetrics<'_>) -> Measurement {
        run.phase(&self.phase)
            .map(|p| {
                let ns = p.percentile_ns(self.percentile).unwrap_or(0);
                let mut evidence = run.phase_evidence(p);
                evidence.facts.latency_from_send = p
                    .from_send_percentile_ns(self.percentile)
                    .map(Duration::from_nanos);
                Measurement::Value {
                    value: Quantity::Duration(Duration::from_nanos(ns)),
                    evidence: Box::new(evidence),
                }
            })
            .unwrap_or_else(|m| m)
    }

    fn load_phase_mut(&mut self) -> Option<&mut Phase> {
        Some(&mut self.phase)
    }

    fn needs_load(&self) -> bool {
        true
    }

    /// Requests the harness never sent (its schedule's queue overflowed) were never measured,
    /// so a latency figure of that window could be better than what clients would have seen.
    fn unmeasured_drops(&self, measured: &str, dropped: u64) -> Option<String> {
        Some(format!(
            "measured {measured}, but {dropped} scheduled request(s) in this window were never sent \
             (the load generator's queue overflowed), so the latency they would have had is \
             unknown: a latency SLO cannot pass on what was not measured"
        ))
    }

    /// A percentile from fewer samples than it takes to resolve it decides neither way.
    fn too_few_samples(&self, measured: &str, n: u64) -> Option<String> {
        let percentile = self.percentile;
        let needed = samples_needed(percentile);
        (n < needed).then(|| {
            format!(
                "measured {measured} from only {n} request(s): p{percentile} needs at least {needed} to be \
                 more than their maximum; raise the rate or lengthen the window"
            )
        })
    }

    /// A percentile that breaches from the intended send times but holds from the actual
    /// sends was made by the harness beginning requests late.
    fn punctual(&self, slo: &Slo, measured: &str, lag: &str, f: &Facts) -> Option<String> {
        f.latency_from_send.filter(|d| holds(slo, *d)).map(|d| {
            format!(
                "measured {measured} from the intended send times but {} from the actual \
                 sends: the harness began requests late{lag}, so the breach is not the system's",
                Quantity::Duration(d)
            )
        })
    }

    /// `pQ(latency, W) < T` (or `<=`).
    ///
    /// Proof sketch: every request of the window counts in the percentile at its latency (errors
    /// and timeouts included). If B requests already took at least T *from their actual send*
    /// (so the harness's own lateness is not in it) and B > (1 − Q)·max + 1, fewer than Q·N of the
    /// final N ≤ max requests are below T, so the Q-quantile (HdrHistogram: the first bucket
    /// whose cumulative count reaches ⌈Q·N⌉, reported at its highest value) is ≥ T — from the
    /// intended and from the actual sends alike, so the late-harness rule's "punctual" exception
    /// cannot apply. The cut run has N' ≤ max, the same B; it must hold enough samples for the
    /// percentile (too-few-samples rule) and a punctual harness so far.
    fn certain_breach(&self, slo: &Slo, ctx: &Live<'_>) -> Option<String> {
        let percentile = self.percentile;
        let target = duration_target(slo)?;
        let p = ctx.phase(&self.phase)?;
        if starved(p.lag_p99) || (p.requests.len() as u64) < samples_needed(percentile) {
            return None;
        }
        let t = target.as_nanos() as u64;
        let slow = p
            .requests
            .iter()
            .filter(|r| {
                let from_send = r.latency_ns.saturating_sub(r.lag_ns);
                match slo.op {
                    Comparison::Less => from_send >= t,
                    _ => from_send > t,
                }
            })
            .count() as u64;
        let allowed = (1.0 - percentile / 100.0) * p.max_requests as f64 + 1.0;
        ((slow as f64) > allowed).then(|| {
            format!(
                "{slow} request(s) in `{}` already took {} or more, more than the {:.0}% the \
                 percentile allows of the at most {} requests the window can hold: p{percentile} \
                 cannot be {} any more",
                p.name,
                Quantity::Duration(target),
                100.0 - percentile,
                p.max_requests,
                slo.target_text()
            )
        })
    }

    /// Too few requests expected in a window of known length for the percentile.
    fn resolution_warnings(&self, slo: &Slo, plan: &Planned<'_>) -> Vec<String> {
        let percentile = self.percentile;
        let Some(expected) = plan.expected(plan.phase_for(&self.phase)) else {
            return Vec::new();
        };
        let needed = samples_needed(percentile);
        if expected >= needed {
            return Vec::new();
        }
        vec![format!(
            "`{}`: about {expected} request(s) fall in its window, but \
             p{percentile} needs at least {needed}; it can only be \
             inconclusive — raise the rate or lengthen the window",
            slo.expression
        )]
    }

    /// A window with requests never sent, or a percentile from too few samples.
    fn untrusted_figure(&self, facts: &Facts) -> Option<String> {
        if facts.dropped.is_some_and(|d| d > 0) {
            return Some(
                "requests in the window were never sent (the load generator's queue overflowed)"
                    .into(),
            );
        }
        facts
            .samples
            .filter(|n| *n < samples_needed(self.percentile))
            .map(|n| format!("p{} from only {n} request(s)", self.percentile))
    }
}
