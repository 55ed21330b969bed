//! What fail-fast knows while the run is still going: the plan known in advance ([`Plan`]:
//! the SLOs, the load's seeded open-model schedule, N consecutive), the events logged so far
//! ([`Seen`]) and, from both, what is already certain at a horizon ([`Live`]): each fault's
//! window as far as it is known, the requests certainly inside a phase's final window and the
//! most it can hold. Each metric's fail-fast rule reads [`Live`]; the rules' common ground
//! (horizon, windows, schedule, punctual harness) is told in `verdict::early`.

use std::collections::BTreeMap;
use std::time::Duration;

use chaosgate_load::Schedule;
use hdrhistogram::Histogram;

use super::STARVED_LAG_P99;
use crate::measure::{FaultEvent, FaultWindow, fault_windows, percentile_ns, recovery};
use crate::slo::{Comparison, Phase, Quantity, Slo};
use crate::timeline::{DockerAction, Event, EventKind};

/// Slack when mapping run-clock times onto the schedule (rounding of instants to ns).
const SCHEDULE_SLACK_NS: u64 = 1_000_000;

/// What is known before the run starts.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The SLOs watched during the run (`--fail-fast`), in the scenario's order.
    pub slos: Vec<Slo>,
    /// The load's open-model schedule (`None` without a load).
    pub schedule: Option<Schedule>,
    /// N in "first of N consecutive successes".
    pub consecutive: u32,
    /// Every probe's name.
    pub probes: Vec<String>,
}

/// One request as fail-fast keeps it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Req {
    pub(super) t: u64,
    pub(super) ok: bool,
    pub(super) latency_ns: u64,
    pub(super) lag_ns: u64,
}

/// The run's events so far, as the log has them.
#[derive(Debug, Default)]
pub struct Seen {
    pub(super) requests: Vec<Req>,
    /// Run-clock time of the schedule's offset 0 (from any request: `t - offset(seq)`).
    pub(super) load_origin_ns: Option<i128>,
    /// Requests are complete up to (not including) this sequence number...
    pub(super) next_seq: u64,
    /// ...whose predecessor was scheduled at this time.
    pub(super) complete_until_ns: Option<u64>,
    pub(super) early_seqs: BTreeMap<u64, u64>,
    pub(super) probes: BTreeMap<String, Vec<recovery::Check>>,
    pub(super) faults: Vec<FaultEvent>,
    pub(super) docker: Vec<(u64, String, DockerAction)>,
}

impl Seen {
    /// Takes one event of the log (in the log's order).
    pub fn push(&mut self, e: Event, schedule: Option<&Schedule>) {
        match e.kind {
            EventKind::Request {
                seq,
                latency_ns,
                lag_ns,
                status,
                error,
                ..
            } => {
                let ok = error.is_none() && status.is_some_and(|s| (200..300).contains(&s));
                self.requests.push(Req {
                    t: e.t,
                    ok,
                    latency_ns,
                    lag_ns,
                });
                if self.load_origin_ns.is_none()
                    && let Some(s) = schedule
                {
                    self.load_origin_ns = Some(e.t as i128 - s.offset(seq).as_nanos() as i128);
                }
                self.early_seqs.insert(seq, e.t);
                while let Some(t) = self.early_seqs.remove(&self.next_seq) {
                    self.complete_until_ns = Some(t);
                    self.next_seq += 1;
                }
            }
            EventKind::Probe {
                probe, ok, lag_ns, ..
            } => self
                .probes
                .entry(probe)
                .or_default()
                .push(recovery::Check { t: e.t, ok, lag_ns }),
            EventKind::Fault {
                fault,
                stage,
                targets,
                detail,
            } => self.faults.push((e.t, fault, stage, targets, detail)),
            EventKind::Docker {
                container, action, ..
            } => self.docker.push((e.t, container, action)),
            EventKind::Load { .. }
            | EventKind::Alert { .. }
            | EventKind::Query { .. }
            | EventKind::Note { .. }
            | EventKind::Pod { .. }
            | EventKind::FaultClosed { .. } => {}
        }
    }
}

/// A fault's window as far as it is certain.
pub(super) struct Window {
    pub(super) applied: u64,
    pub(super) verified: Option<u64>,
    /// The final window certainly reaches (at least) this far.
    pub(super) certain_end: u64,
}

/// The requests certainly inside a phase's final window, and the most it can hold.
pub(super) struct PhaseSoFar {
    pub(super) name: Phase,
    pub(super) requests: Vec<Req>,
    /// Upper bound of the requests the final window can hold.
    pub(super) max_requests: u64,
    pub(super) lag_p99: Option<Duration>,
}

/// What is certain at a horizon: the rules' view of the run so far.
pub struct Live<'a> {
    pub(super) plan: &'a Plan,
    pub(super) seen: &'a Seen,
    pub(super) horizon: u64,
    pub(super) windows: BTreeMap<String, Window>,
}

impl<'a> Live<'a> {
    /// What is certain at `horizon`, from what `seen` holds.
    pub fn new(plan: &'a Plan, seen: &'a Seen, horizon: u64) -> Self {
        let mut docker = seen.docker.clone();
        docker.sort_by_key(|d| d.0);
        let windows = fault_windows(&seen.faults, &docker, horizon)
            .into_iter()
            .map(|w: FaultWindow| {
                let certain_end = match w.reverted_ns {
                    // Settled, reverted and the run's end are each at least the revert.
                    Some(r) => r,
                    // A later crash can only delay the settle time, never advance it.
                    None => w.settled_ns.unwrap_or(horizon),
                }
                .min(horizon);
                (
                    w.fault,
                    Window {
                        applied: w.applied_ns,
                        verified: w.verified_ns,
                        certain_end,
                    },
                )
            })
            .collect();
        Self {
            plan,
            seen,
            horizon,
            windows,
        }
    }

    /// Whether the load and every probe have already succeeded before the first fault, so
    /// that the final run cannot be "never answered" (exit 3, not judged).
    pub fn answered(&self) -> bool {
        let first_fault = self
            .windows
            .values()
            .map(|w| w.applied)
            .min()
            .unwrap_or(self.horizon)
            .min(self.horizon);
        let load = self.plan.schedule.is_none()
            || self.seen.requests.iter().any(|r| r.ok && r.t < first_fault);
        load && self.plan.probes.iter().all(|p| {
            self.seen
                .probes
                .get(p)
                .is_some_and(|c| c.iter().any(|c| c.ok && c.t < first_fault))
        })
    }

    /// A verified fault's window.
    pub(super) fn verified(&self, fault: &str) -> Option<&Window> {
        self.windows.get(fault).filter(|w| w.verified.is_some())
    }

    /// How many of the schedule's requests start at or after run-clock time `from`.
    pub(super) fn schedule_from(&self, from: u64) -> Option<u64> {
        let s = self.plan.schedule.as_ref()?;
        let origin = self.seen.load_origin_ns?;
        let first = first_at_or_after(s, from as i128 - origin - SCHEDULE_SLACK_NS as i128);
        Some(s.total() - first)
    }

    pub(super) fn phase(&self, scope: &Phase) -> Option<PhaseSoFar> {
        let (from, to, with_in_flight) = match scope {
            Phase::Whole => (0, u64::MAX, false),
            Phase::During(fault) => {
                let w = self.verified(fault)?;
                (w.applied, w.certain_end, true)
            }
            Phase::Before | Phase::After => return None,
        };
        // A `during` window also holds the requests in flight when its fault was applied
        // (`measure::phases`): any request scheduled before it not yet seen ended by then.
        let in_flight = |r: &Req| with_in_flight && r.t < from && r.t + r.latency_ns > from;
        let requests: Vec<Req> = self
            .seen
            .requests
            .iter()
            .filter(|r| (r.t >= from && r.t < to) || in_flight(r))
            .copied()
            .collect();
        let mut max_requests = self.schedule_from(from)?;
        if with_in_flight {
            let total = self.plan.schedule.as_ref()?.total();
            let ended_before = self
                .seen
                .requests
                .iter()
                .filter(|r| r.t < from && r.t + r.latency_ns <= from)
                .count() as u64;
            max_requests = total.saturating_sub(ended_before).max(max_requests);
        }
        // The harness's lateness is read over every request seen from the window's start
        // (up to its end when it has one): the cut run's window will hold those too, and a
        // harness late after the certain part would make the cut run's breach inconclusive.
        let lag_until = if to < self.horizon { to } else { u64::MAX };
        let lag_over: Vec<Req> = self
            .seen
            .requests
            .iter()
            .filter(|r| r.t >= from && r.t < lag_until)
            .copied()
            .collect();
        Some(PhaseSoFar {
            name: scope.clone(),
            lag_p99: lag_p99(&lag_over),
            max_requests,
            requests,
        })
    }

    /// The harness's lateness (p99 so far) in a fault's window, when load ran in it.
    pub(super) fn fault_lag(&self, fault: &str) -> Option<Duration> {
        self.phase(&Phase::During(fault.to_string()))
            .and_then(|p| p.lag_p99)
    }
}

/// The first request index whose offset is at least `at_ns` (schedule offsets never fall).
pub(super) fn first_at_or_after(s: &Schedule, at_ns: i128) -> u64 {
    let (mut lo, mut hi) = (0u64, s.total());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if (s.offset(mid).as_nanos() as i128) < at_ns {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

pub(super) fn lag_p99(requests: &[Req]) -> Option<Duration> {
    let mut h = Histogram::<u64>::new_with_bounds(1_000, 60_000_000_000, 3)
        .expect("static histogram bounds are valid");
    for r in requests {
        h.saturating_record(r.lag_ns.max(1_000));
    }
    percentile_ns(&h, 99.0).map(Duration::from_nanos)
}

pub(super) fn starved(lag: Option<Duration>) -> bool {
    lag.is_some_and(|l| l > STARVED_LAG_P99)
}

pub(super) fn is_upper_limit(op: Comparison) -> bool {
    matches!(op, Comparison::Less | Comparison::LessOrEqual)
}

pub(super) fn duration_target(slo: &Slo) -> Option<Duration> {
    match slo.threshold {
        Quantity::Duration(d) if is_upper_limit(slo.op) => Some(d),
        _ => None,
    }
}

/// The widest gap between two scheduled requests from run-clock time `from` on (ns), 1 µs
/// of slack included. A rate is constant or linear, so the gaps only grow or only shrink:
/// the widest is at one end.
pub(super) fn widest_gap_from(ctx: &Live<'_>, from: u64) -> Option<u64> {
    let s = ctx.plan.schedule.as_ref()?;
    let origin = ctx.seen.load_origin_ns?;
    let first = first_at_or_after(s, from as i128 - origin).saturating_sub(1);
    let last = s.total().checked_sub(1)?;
    if last <= first {
        return None;
    }
    let gap = |i: u64| s.offset(i + 1).saturating_sub(s.offset(i)).as_nanos() as u64;
    Some(gap(first).max(gap(last - 1)) + 1_000)
}
