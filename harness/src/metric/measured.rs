//! What every metric measures from: a finished run's analysis, its fault records and the
//! write check, with the helpers they share (a proven fault, a phase's requests, sample
//! spacing). Each metric's own measuring is in its file; none guesses: no data or an unproven
//! fault is said, never turned into a figure.

use std::time::Duration;

use serde_json::json;

use super::{Evidence, Measurement};
use crate::fault::FaultRecord;
use crate::measure::{Analysis, PhaseStats, WriteCheck};
use crate::slo::Phase;

/// Answers metrics from a finished run's analysis.
pub struct RunMetrics<'a> {
    /// What was measured from the run's timeline.
    pub analysis: &'a Analysis,
    /// What happened to each fault (whether it was applied and proven).
    pub faults: &'a [FaultRecord],
    /// The lost-writes check, when the load wrote with unique ids.
    pub writes: Option<&'a WriteCheck>,
}

impl RunMetrics<'_> {
    /// The readings of `alert` from the stack's Prometheus, in time order; none is no data.
    pub(super) fn alert(
        &self,
        alert: &str,
    ) -> Result<&[crate::measure::alerts::AlertReading], Measurement> {
        self.analysis
            .alerts
            .get(alert)
            .filter(|r| !r.is_empty())
            .map(Vec::as_slice)
            .ok_or_else(|| Measurement::NoData {
                reason: format!("alert `{alert}` was never read from Prometheus"),
            })
    }

    /// The fault `name`, applied and proven; otherwise why its figures cannot be had.
    pub(super) fn fault(&self, name: &str) -> Result<&FaultRecord, Measurement> {
        let Some(f) = self.faults.iter().find(|f| f.name == name) else {
            return Err(Measurement::NoData {
                reason: format!("fault `{name}` was not part of this run"),
            });
        };
        if f.applied_ns.is_none() {
            return Err(Measurement::NoData {
                reason: format!(
                    "fault `{name}` was never applied{}",
                    f.error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ),
            });
        }
        if f.verified_ns.is_none() {
            return Err(Measurement::Inconclusive {
                reason: format!(
                    "fault `{name}` could not be proven applied (no evidence it took effect){}",
                    f.error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ),
            });
        }
        Ok(f)
    }

    /// The requests of `name`, when it has any (without faults, the whole run stands for
    /// `before` and `after`).
    pub(super) fn phase(&self, name: &Phase) -> Result<&PhaseStats, Measurement> {
        if let Phase::During(fault) = name {
            self.fault(fault)?;
        }
        let phase = self.analysis.phase(name).or_else(|| {
            // Without faults there are no before/after phases: the whole run is both.
            (self.analysis.faults.is_empty() && matches!(name, Phase::Before | Phase::After))
                .then(|| self.analysis.phase(&Phase::Whole))
                .flatten()
        });
        match phase {
            Some(p) if p.scheduled > 0 => Ok(p),
            Some(_) => Err(Measurement::NoData {
                reason: format!("no request was scheduled in phase `{name}`"),
            }),
            None => Err(Measurement::NoData {
                reason: format!("phase `{name}` has no load (is there a `load:` section?)"),
            }),
        }
    }
}

/// The mean spacing of `samples` spread over `[from, to)`: the window's sample resolution.
/// N samples cut a window into N + 1 gaps (the window's ends rarely fall on a sample), so
/// W / N overstates a steady grid's spacing (a 50 ms probe read 50.6 ms over a 1.5 s window)
/// and W / (N + 1) is the estimate. It is only ever used through [`at_least`], never finer
/// than the sampling's own over the whole run, so a window holding few samples of a sparse
/// load cannot read as finely sampled.
pub(super) fn spacing(from: u64, to: u64, samples: u64) -> Option<Duration> {
    (samples > 0 && to > from).then(|| Duration::from_nanos((to - from) / (samples + 1)))
}

/// A window's sample spacing, never finer than the sampling's own over the whole run: a
/// short window holding one or two samples would otherwise read as finely sampled (one
/// request in a 30 ms window is "30 ms apart" though the load sends one every 500 ms).
/// Coarser only ever makes a figure less decidable, never a pass.
pub(super) fn at_least(window: Option<Duration>, overall: Option<Duration>) -> Option<Duration> {
    match (window, overall) {
        (Some(w), Some(o)) => Some(w.max(o)),
        (w, o) => w.or(o),
    }
}

fn phase_evidence(p: &PhaseStats, load_window: Option<(u64, u64)>) -> Evidence {
    let mut e = Evidence {
        window_ns: Some((p.start_ns, p.end_ns.min(u64::MAX - 1))),
        ..Default::default()
    };
    e.details.insert("phase".into(), json!(p.name));
    e.details.insert("scheduled".into(), json!(p.scheduled));
    e.details.insert("ok".into(), json!(p.ok));
    e.details.insert("errors".into(), json!(p.errors));
    if !p.errors_by_kind.is_empty() {
        e.details
            .insert("errors_by_kind".into(), json!(p.errors_by_kind));
    }
    e.facts.harness_lag_p99 = harness_lag(p);
    e.facts.samples = Some(p.scheduled);
    e.facts.dropped = Some(p.dropped);
    // Only the part of the phase the load ran in holds requests (a fault window can start
    // before the load or outlast it).
    let (from, to) = load_window.map_or((p.start_ns, p.end_ns), |(s, e)| {
        (p.start_ns.max(s), p.end_ns.min(e.saturating_add(1)))
    });
    e.facts.resolution = spacing(from, to, p.scheduled);
    e
}

impl RunMetrics<'_> {
    /// The load's mean request spacing over the whole run.
    pub(super) fn load_gap(&self) -> Option<Duration> {
        let whole = self.analysis.phase(&Phase::Whole)?;
        let (from, to) = self.analysis.load_window?;
        // The schedule spans exactly its own window (N requests, N gaps): W / N is its gap.
        (whole.scheduled > 0 && to > from)
            .then(|| Duration::from_nanos((to - from) / whole.scheduled))
    }

    /// A phase's evidence, its spacing no finer than the load's.
    pub(super) fn phase_evidence(&self, p: &PhaseStats) -> Evidence {
        let mut e = phase_evidence(p, self.analysis.load_window);
        e.facts.resolution = at_least(e.facts.resolution, self.load_gap());
        e
    }
}

/// How late the harness itself began the window's requests (p99): the rules will not pin a
/// timing breach on the system when the harness was far behind its own schedule.
pub(super) fn harness_lag(p: &PhaseStats) -> Option<Duration> {
    p.lag_percentile_ns(99.0).map(Duration::from_nanos)
}

impl RunMetrics<'_> {
    /// The harness's lateness while the fault was in effect, when load ran then.
    pub(super) fn fault_window_lag(&self, fault: &str) -> Option<Duration> {
        self.analysis
            .phase(&Phase::during(fault))
            .filter(|p| p.scheduled > 0)
            .and_then(harness_lag)
    }
}
