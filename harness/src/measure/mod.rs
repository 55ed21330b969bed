//! Measurement: reads the run's `events.jsonl` back (in bounded memory) and derives what
//! clients saw: latency and errors per phase, a per-second series, recovery per fault and
//! probe, failover per fault. Every figure here can be recomputed from that file alone.

pub mod alerts;
pub mod failover;
pub mod lost_writes;
mod phases;
pub mod probe_ticks;
pub mod recovery;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use hdrhistogram::Histogram;
use serde::Serialize;

pub use failover::Failover;
pub use lost_writes::WriteCheck;
pub use phases::{PhaseStats, RequestRecord, SecondStats};
pub use recovery::Recovery;

use crate::slo::Phase;
use crate::timeline::{DockerAction, EventKind, FaultStage, read_events};

/// A fault's window on the run clock: from when it was applied until its targets were back
/// (reverted, restarted, and healthy again where they have a healthcheck) or the run ended.
#[derive(Debug, Clone, Serialize)]
pub struct FaultWindow {
    /// The fault's name from the scenario.
    pub fault: String,
    /// Names of the containers (pods) it acted on.
    pub targets: Vec<String>,
    /// When it was applied (run-clock ns): the window's start.
    pub applied_ns: u64,
    /// When it was proven applied; `None` = never proven.
    pub verified_ns: Option<u64>,
    /// When it was reverted; `None` when it was not, or has nothing to undo.
    pub reverted_ns: Option<u64>,
    /// When every target was healthy (or running, without a healthcheck) again.
    pub settled_ns: Option<u64>,
    /// The window's end (run-clock ns): `settled_ns`, else the run's end.
    pub end_ns: u64,
    /// The fault's failure message from the timeline, when a stage failed.
    pub failed: Option<String>,
}

/// Everything measured from one run's `events.jsonl`; times are run-clock ns.
#[derive(Debug, Serialize)]
pub struct Analysis {
    /// The last event's time: the run's end.
    pub run_end_ns: u64,
    /// (first, last) intended send time of the load; `None` when no load ran.
    pub load_window: Option<(u64, u64)>,
    /// Request statistics per phase (`before`, `during:<fault>`, `after`, `whole`).
    pub phases: Vec<PhaseStats>,
    /// Request counts and latencies per second of the run clock, in order.
    pub series: Vec<SecondStats>,
    /// Each applied fault's window, in the order applied.
    pub faults: Vec<FaultWindow>,
    /// (fault, probe) → recovery.
    pub recovery: BTreeMap<(String, String), Recovery>,
    /// fault → the longest client outage in its window.
    pub failover: BTreeMap<String, Failover>,
    /// probe → (scheduled ticks, successful ticks) over the run: each check, and each tick
    /// it held while it ran, with its outcome ([`probe_ticks`]).
    pub probes: BTreeMap<String, (u64, u64)>,
    /// probe → (fault → (scheduled ticks, successful ticks)) inside the fault's window.
    pub probes_during: BTreeMap<String, BTreeMap<String, (u64, u64)>>,
    /// probe → (scheduled ticks, successful ticks) before the first fault was applied (the
    /// whole run without faults): a probe that never succeeded here points at a wrong
    /// address, not the system.
    pub probes_before: BTreeMap<String, (u64, u64)>,
    /// alert → its readings from the stack's Prometheus, in time order (`alert` events).
    pub alerts: BTreeMap<String, Vec<alerts::AlertReading>>,
    /// PromQL query → its evaluations by the stack's Prometheus, in time order (`query`
    /// events).
    pub queries: BTreeMap<String, Vec<alerts::QueryReading>>,
}

impl Analysis {
    /// The statistics of `phase`; `None` when the run had no such phase (no load, or no
    /// faults for `before`/`after`/`during`).
    pub fn phase(&self, phase: &Phase) -> Option<&PhaseStats> {
        self.phases.iter().find(|p| &p.name == phase)
    }

    /// The window of the fault called `name`; `None` when it was never applied.
    pub fn fault(&self, name: &str) -> Option<&FaultWindow> {
        self.faults.iter().find(|f| f.fault == name)
    }
}

/// Reads `events` and measures. `recovery_consecutive` is N in "first of N consecutive
/// successful probes".
pub fn analyze(
    events: &Path,
    run_end_ns: u64,
    recovery_consecutive: u32,
) -> std::io::Result<Analysis> {
    // Pass 1: everything but requests (small: probes, faults, docker events).
    let mut load_start = None;
    let mut load_end = None;
    let mut probe_checks: BTreeMap<String, Vec<recovery::Check>> = BTreeMap::new();
    let mut ticked: BTreeMap<String, Vec<probe_ticks::TickedCheck>> = BTreeMap::new();
    let mut fault_events: Vec<FaultEvent> = Vec::new();
    let mut docker: Vec<(u64, String, DockerAction)> = Vec::new();
    let mut alert_readings: BTreeMap<String, Vec<alerts::AlertReading>> = BTreeMap::new();
    let mut query_readings: BTreeMap<String, Vec<alerts::QueryReading>> = BTreeMap::new();
    for event in read_events(events)? {
        let e = event?;
        match e.kind {
            EventKind::Load { started: true } => load_start = Some(e.t),
            EventKind::Load { started: false } => load_end = Some(e.t),
            EventKind::Probe {
                probe,
                ok,
                lag_ns,
                skipped,
                ..
            } => {
                ticked
                    .entry(probe.clone())
                    .or_default()
                    .push(probe_ticks::TickedCheck {
                        t: e.t,
                        ok,
                        skipped,
                    });
                probe_checks
                    .entry(probe)
                    .or_default()
                    .push(recovery::Check { t: e.t, ok, lag_ns });
            }
            EventKind::Fault {
                fault,
                stage,
                targets,
                detail,
            } => fault_events.push((e.t, fault, stage, targets, detail)),
            EventKind::Docker {
                container, action, ..
            } => docker.push((e.t, container, action)),
            EventKind::Alert {
                alert,
                state,
                active_ns,
                hold_ns,
                evaluation_ns,
                ..
            } => alert_readings
                .entry(alert)
                .or_default()
                .push(alerts::AlertReading {
                    t: e.t,
                    state: crate::prometheus::AlertState::parse(&state),
                    active_ns,
                    hold_ns,
                    evaluation_ns,
                }),
            EventKind::Query {
                query,
                value,
                scrape_ns,
                error,
            } => query_readings
                .entry(query)
                .or_default()
                .push(alerts::QueryReading {
                    t: e.t,
                    value,
                    scrape_ns,
                    failed: error.is_some(),
                }),
            EventKind::Request { .. }
            | EventKind::Note { .. }
            | EventKind::Pod { .. }
            | EventKind::FaultClosed { .. } => {}
        }
    }
    for readings in alert_readings.values_mut() {
        readings.sort_by_key(|r| r.t);
    }
    for readings in query_readings.values_mut() {
        readings.sort_by_key(|r| r.t);
    }
    for checks in probe_checks.values_mut() {
        checks.sort_by_key(|c| c.t);
    }
    docker.sort_by_key(|d| d.0);
    let faults = fault_windows(&fault_events, &docker, run_end_ns);
    let load_window = load_start.map(|s| (s, load_end.unwrap_or(run_end_ns)));

    // Pass 2: requests, into per-phase histograms and the per-second series; requests from
    // each fault's start onwards are kept as (t, ok) for failover.
    let mut phase_set = phases::PhaseSet::new(load_window, &faults);
    let earliest_fault = faults.iter().map(|f| f.applied_ns).min();
    let mut outcomes: Vec<(u64, bool)> = Vec::new();
    for event in read_events(events)? {
        let e = event?;
        if let EventKind::Request {
            latency_ns,
            lag_ns,
            status,
            error,
            ..
        } = e.kind
        {
            let ok = error.is_none() && status.is_some_and(|s| (200..300).contains(&s));
            phase_set.record(&RequestRecord {
                t: e.t,
                latency_ns,
                lag_ns,
                status,
                error: error.as_deref(),
                ok,
            });
            if earliest_fault.is_some_and(|f| e.t >= f) {
                outcomes.push((e.t, ok));
            }
        }
    }
    outcomes.sort_by_key(|o| o.0);
    let (phases, series) = phase_set.finish();

    let mut recovery_map = BTreeMap::new();
    let mut probes_during: BTreeMap<String, BTreeMap<String, (u64, u64)>> = BTreeMap::new();
    for f in &faults {
        for (probe, checks) in &probe_checks {
            if let Some(r) = recovery::recovery(
                checks,
                f.applied_ns,
                f.verified_ns.unwrap_or(f.applied_ns),
                recovery_consecutive,
            ) {
                recovery_map.insert((f.fault.clone(), probe.clone()), r);
            }
        }
        for (probe, ticks) in &ticked {
            let (n, ok) = probe_ticks::tally(ticks, f.applied_ns, f.end_ns);
            probes_during
                .entry(probe.clone())
                .or_default()
                .insert(f.fault.clone(), (n, ok));
        }
    }
    let failover_map = faults
        .iter()
        .filter_map(|f| {
            failover::failover(&outcomes, (f.applied_ns, f.end_ns), recovery_consecutive)
                .map(|x| (f.fault.clone(), x))
        })
        .collect();
    let probes_before = ticked
        .iter()
        .map(|(name, c)| {
            let before = match earliest_fault {
                Some(0) => (0, 0),
                Some(f) => probe_ticks::tally(c, 0, f - 1),
                None => probe_ticks::tally(c, 0, u64::MAX),
            };
            (name.clone(), before)
        })
        .collect();
    let probes = ticked
        .iter()
        .map(|(name, c)| (name.clone(), probe_ticks::tally(c, 0, u64::MAX)))
        .collect();
    Ok(Analysis {
        run_end_ns,
        load_window,
        phases,
        series,
        faults,
        recovery: recovery_map,
        failover: failover_map,
        probes,
        probes_during,
        probes_before,
        alerts: alert_readings,
        queries: query_readings,
    })
}

pub(crate) type FaultEvent = (u64, String, FaultStage, Vec<String>, Option<String>);

pub(crate) fn fault_windows(
    events: &[FaultEvent],
    docker: &[(u64, String, DockerAction)],
    run_end_ns: u64,
) -> Vec<FaultWindow> {
    let mut order: Vec<String> = Vec::new();
    let mut windows: HashMap<String, FaultWindow> = HashMap::new();
    for (t, fault, stage, targets, detail) in events {
        let w = windows.entry(fault.clone()).or_insert_with(|| {
            order.push(fault.clone());
            FaultWindow {
                fault: fault.clone(),
                targets: targets.clone(),
                applied_ns: *t,
                verified_ns: None,
                reverted_ns: None,
                settled_ns: None,
                end_ns: run_end_ns,
                failed: None,
            }
        });
        match stage {
            FaultStage::Applied => w.applied_ns = *t,
            FaultStage::Verified => w.verified_ns = Some(*t),
            FaultStage::Reverted => w.reverted_ns = Some(*t),
            FaultStage::Failed => w.failed = detail.clone(),
            // The window stays the planned one: the verdict says the fault ended early.
            FaultStage::Unverified | FaultStage::EndedEarly => {}
            // Ends the window like a revert does (a deploy is never reverted).
            FaultStage::Completed => w.reverted_ns = Some(*t),
            // The window's settling is read from the targets' own events.
            FaultStage::Back => {}
        }
    }
    let mut out = Vec::new();
    for name in order {
        let Some(mut w) = windows.remove(&name) else {
            continue;
        };
        w.settled_ns = settled(&w, docker);
        w.end_ns = w
            .settled_ns
            .or(w.reverted_ns)
            .unwrap_or(run_end_ns)
            .min(run_end_ns);
        out.push(w);
    }
    out
}

/// When every target was back: for each target, the first `healthy` after its last
/// `die`/`pause`/`stop` following the fault (or the `start`/`unpause` when the container
/// never reports health).
fn settled(w: &FaultWindow, docker: &[(u64, String, DockerAction)]) -> Option<u64> {
    let mut latest = w.reverted_ns.unwrap_or(w.applied_ns);
    for target in &w.targets {
        let mine: Vec<&(u64, String, DockerAction)> = docker
            .iter()
            .filter(|(t, c, _)| c == target && *t >= w.applied_ns)
            .collect();
        let has_health = docker.iter().any(|(_, c, a)| {
            c == target && matches!(a, DockerAction::Healthy | DockerAction::Unhealthy)
        });
        let down = mine
            .iter()
            .filter(|(_, _, a)| {
                matches!(
                    a,
                    DockerAction::Die
                        | DockerAction::Pause
                        | DockerAction::Stop
                        | DockerAction::Kill
                )
            })
            .map(|(t, _, _)| *t)
            .max()
            .unwrap_or(w.applied_ns);
        let back = mine.iter().find(|(t, _, a)| {
            *t >= down
                && if has_health {
                    *a == DockerAction::Healthy
                } else {
                    matches!(a, DockerAction::Start | DockerAction::Unpause)
                }
        })?;
        latest = latest.max(back.0);
    }
    Some(latest)
}

/// Percentile of a histogram in nanoseconds; `None` when it is empty.
pub fn percentile_ns(h: &Histogram<u64>, p: f64) -> Option<u64> {
    (!h.is_empty()).then(|| h.value_at_quantile(p / 100.0))
}
