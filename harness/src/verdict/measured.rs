//! The measured side of SLO evaluation: answers each [`Metric`] from the run's analysis,
//! refusing to answer (no data / inconclusive) rather than guessing.

use std::time::Duration;

use serde_json::json;

use super::{Evidence, Facts, Measurement, MetricSource};
use crate::fault::FaultRecord;
use crate::measure::{Analysis, PhaseStats, WriteCheck};
use crate::slo::{Metric, Phase, Quantity};

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
    fn fault(&self, name: &str) -> Result<&FaultRecord, Measurement> {
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

    fn phase(&self, name: &Phase) -> Result<&PhaseStats, Measurement> {
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
fn spacing(from: u64, to: u64, samples: u64) -> Option<Duration> {
    (samples > 0 && to > from).then(|| Duration::from_nanos((to - from) / (samples + 1)))
}

/// A window's sample spacing, never finer than the sampling's own over the whole run: a
/// short window holding one or two samples would otherwise read as finely sampled (one
/// request in a 30 ms window is "30 ms apart" though the load sends one every 500 ms).
/// Coarser only ever makes a figure less decidable, never a pass.
fn at_least(window: Option<Duration>, overall: Option<Duration>) -> Option<Duration> {
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
    fn load_gap(&self) -> Option<Duration> {
        let whole = self.analysis.phase(&Phase::Whole)?;
        let (from, to) = self.analysis.load_window?;
        // The schedule spans exactly its own window (N requests, N gaps): W / N is its gap.
        (whole.scheduled > 0 && to > from)
            .then(|| Duration::from_nanos((to - from) / whole.scheduled))
    }

    /// A phase's evidence, its spacing no finer than the load's.
    fn phase_evidence(&self, p: &PhaseStats) -> Evidence {
        let mut e = phase_evidence(p, self.analysis.load_window);
        e.facts.resolution = at_least(e.facts.resolution, self.load_gap());
        e
    }
}

/// How late the harness itself began the window's requests (p99): the rules will not pin a
/// timing breach on the system when the harness was far behind its own schedule.
fn harness_lag(p: &PhaseStats) -> Option<Duration> {
    p.lag_percentile_ns(99.0).map(Duration::from_nanos)
}

impl MetricSource for RunMetrics<'_> {
    fn measure(&self, metric: &Metric) -> Measurement {
        let r = match metric {
            Metric::Latency { percentile, scope } => self.phase(scope).map(|p| {
                let ns = p.percentile_ns(*percentile).unwrap_or(0);
                let mut evidence = self.phase_evidence(p);
                evidence.facts.latency_from_send = p
                    .from_send_percentile_ns(*percentile)
                    .map(Duration::from_nanos);
                Measurement::Value {
                    value: Quantity::Duration(Duration::from_nanos(ns)),
                    evidence: Box::new(evidence),
                }
            }),
            Metric::ErrorRate { scope } => self.phase(scope).map(|p| Measurement::Value {
                value: Quantity::Ratio(p.error_rate().unwrap_or(0.0)),
                evidence: Box::new(self.phase_evidence(p)),
            }),
            Metric::Availability { scope } => self.phase(scope).map(|p| Measurement::Value {
                value: Quantity::Ratio(p.availability().unwrap_or(0.0)),
                evidence: Box::new(self.phase_evidence(p)),
            }),
            Metric::RecoveryTime { fault, probe } => self.recovery(fault, probe.as_deref()),
            Metric::FailoverTime { fault } => self.failover(fault),
            Metric::ProbeSuccess { probe, during } => self.probe_success(probe, during.as_deref()),
            Metric::LostWrites => self.lost_writes(),
        };
        r.unwrap_or_else(|m| m)
    }
}

impl RunMetrics<'_> {
    /// The harness's lateness while the fault was in effect, when load ran then.
    fn fault_window_lag(&self, fault: &str) -> Option<Duration> {
        self.analysis
            .phase(&Phase::during(fault))
            .filter(|p| p.scheduled > 0)
            .and_then(harness_lag)
    }

    fn recovery(&self, fault: &str, probe: Option<&str>) -> Result<Measurement, Measurement> {
        self.fault(fault)?;
        let probes: Vec<&String> = match probe {
            Some(p) => vec![
                self.analysis
                    .probes
                    .keys()
                    .find(|k| k.as_str() == p)
                    .ok_or_else(|| Measurement::NoData {
                        reason: format!("probe `{p}` recorded no checks"),
                    })?,
            ],
            None => self.analysis.probes.keys().collect(),
        };
        if probes.is_empty() {
            return Err(Measurement::NoData {
                reason: "the scenario has no probes to observe recovery with".into(),
            });
        }
        // With several probes the slowest decides: recovered means every probe recovered.
        let mut worst: Option<(&String, &crate::measure::Recovery)> = None;
        for p in probes {
            let Some(r) = self.analysis.recovery.get(&(fault.to_string(), p.clone())) else {
                return Err(Measurement::NoData {
                    reason: format!("probe `{p}` has no check after `{fault}` started"),
                });
            };
            let key = |r: &crate::measure::Recovery| r.duration_ns().unwrap_or(u64::MAX);
            if worst.is_none_or(|(_, w)| key(r) > key(w)) {
                worst = Some((p, r));
            }
        }
        let Some((probe, r)) = worst else {
            unreachable!("probes is not empty")
        };
        let mut e = Evidence {
            window_ns: Some((r.from_ns, r.recovered_ns.unwrap_or(r.observed_until_ns))),
            ..Default::default()
        };
        e.details.insert("probe".into(), json!(probe));
        e.details.insert("fault_start_ns".into(), json!(r.from_ns));
        e.details
            .insert("recovered_at_ns".into(), json!(r.recovered_ns));
        e.details
            .insert("first_failure_ns".into(), json!(r.first_failure_ns));
        e.details
            .insert("last_failure_ns".into(), json!(r.last_failure_ns));
        e.details
            .insert("failed_checks".into(), json!(r.failed_checks));
        e.details.insert("consecutive".into(), json!(r.consecutive));
        e.details.insert("checks".into(), json!(r.checks));
        e.facts = Facts {
            recovered: Some(r.recovered_ns.is_some()),
            recovery_if_punctual: r.punctual_duration_ns().map(Duration::from_nanos),
            harness_lag_p99: self.fault_window_lag(fault),
            samples: Some(r.checks),
            // The check before the successful run still saw the fault (none: the first
            // check after the fault took effect already saw the service back, so the truth
            // may be anywhere from the fault's start).
            lower_bound: r.recovered_ns.map(|_| {
                Duration::from_nanos(r.check_before_ns.map_or(0, |b| b.saturating_sub(r.from_ns)))
            }),
            ..Facts::default()
        };
        let value = match r.duration_ns() {
            Some(ns) => ns,
            // Not recovered: all we know is it took at least this long. The judge turns a
            // pass on a lower bound into "inconclusive".
            None => r.observed_until_ns.saturating_sub(r.from_ns),
        };
        Ok(Measurement::Value {
            value: Quantity::Duration(Duration::from_nanos(value)),
            evidence: Box::new(e),
        })
    }

    fn lost_writes(&self) -> Result<Measurement, Measurement> {
        let w = self.writes.ok_or_else(|| Measurement::NoData {
            reason: "the load has no write carrying a unique `{{id}}` to read back".into(),
        })?;
        if w.acknowledged == 0 {
            return Err(Measurement::NoData {
                reason: "no write was acknowledged".into(),
            });
        }
        if w.unconfirmed > 0 {
            return Err(Measurement::Inconclusive {
                reason: format!(
                    "{} acknowledged write(s) could not be read back from {}",
                    w.unconfirmed, w.read_url
                ),
            });
        }
        let mut e = Evidence::default();
        e.details
            .insert("acknowledged".into(), json!(w.acknowledged));
        e.details.insert("lost".into(), json!(w.lost));
        e.details.insert("read_url".into(), json!(w.read_url));
        if !w.lost_ids.is_empty() {
            e.details.insert("lost_ids".into(), json!(w.lost_ids));
        }
        Ok(Measurement::Value {
            value: Quantity::Count(w.lost),
            evidence: Box::new(e),
        })
    }

    fn failover(&self, fault: &str) -> Result<Measurement, Measurement> {
        self.fault(fault)?;
        let f = self
            .analysis
            .failover
            .get(fault)
            .ok_or_else(|| Measurement::NoData {
                reason: format!("no client request was scheduled inside `{fault}`'s window"),
            })?;
        let w = self.analysis.fault(fault);
        let mut e = Evidence {
            window_ns: w.map(|w| (w.applied_ns, w.end_ns)),
            ..Default::default()
        };
        e.details
            .insert("outage_start_ns".into(), json!(f.start_ns));
        e.details.insert("outage_end_ns".into(), json!(f.end_ns));
        e.details
            .insert("failed_in_outage".into(), json!(f.failed_in_window));
        e.details
            .insert("failed_in_window".into(), json!(f.failed_total));
        e.details
            .insert("requests_in_window".into(), json!(f.requests));
        // With fewer than two requests in the window there is no gap to speak of: an outage
        // could have been anywhere in it.
        let resolution_ns = if f.requests >= 2 {
            f.resolution_ns
        } else {
            let window = w.map_or(u64::MAX, |w| w.end_ns.saturating_sub(w.applied_ns));
            let load = self.load_gap().map_or(0, |g| g.as_nanos() as u64);
            window.max(load)
        };
        e.facts = Facts {
            recovered: Some(!f.unterminated),
            resolution: Some(Duration::from_nanos(resolution_ns)),
            samples: Some(f.requests),
            harness_lag_p99: self.fault_window_lag(fault),
            ..Facts::default()
        };
        Ok(Measurement::Value {
            value: Quantity::Duration(Duration::from_nanos(f.duration_ns)),
            evidence: Box::new(e),
        })
    }

    fn probe_success(&self, probe: &str, during: Option<&str>) -> Result<Measurement, Measurement> {
        let ((checks, ok), window) = match during {
            Some(fault) => {
                self.fault(fault)?;
                let counts = self
                    .analysis
                    .probes_during
                    .get(probe)
                    .and_then(|m| m.get(fault))
                    .copied()
                    .unwrap_or((0, 0));
                let w = self.analysis.fault(fault);
                (counts, w.map(|w| (w.applied_ns, w.end_ns)))
            }
            None => (
                self.analysis.probes.get(probe).copied().unwrap_or((0, 0)),
                Some((0, self.analysis.run_end_ns)),
            ),
        };
        if checks == 0 {
            return Err(Measurement::NoData {
                reason: format!("probe `{probe}` made no check in that window"),
            });
        }
        let mut e = Evidence::default();
        e.details.insert("checks".into(), json!(checks));
        e.details.insert("ok".into(), json!(ok));
        e.facts.samples = Some(checks);
        let every = self
            .analysis
            .probes
            .get(probe)
            .and_then(|(all, _)| spacing(0, self.analysis.run_end_ns, *all));
        e.facts.resolution = at_least(
            window.and_then(|(from, to)| spacing(from, to, checks)),
            every,
        );
        Ok(Measurement::Value {
            value: Quantity::Ratio(ok as f64 / checks as f64),
            evidence: Box::new(e),
        })
    }
}
