//! Splitting requests into phases (before, during each fault, after, whole) and seconds.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::{FaultWindow, percentile_ns};
use crate::slo::Phase;

/// The `error` of a request the load generator dropped (`chaosgate_load::ErrorKind`).
const DROPPED: &str = "dropped";

/// Latency histogram bounds: 1 µs .. 60 s at 3 significant digits.
fn histogram(sigfig: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1_000, 60_000_000_000, sigfig)
        .expect("static histogram bounds are valid")
}

/// Requests of one phase of the run: counts, errors, and latency histograms (HdrHistogram, 1 µs-60
/// s, values in ns).
#[derive(Debug, Clone, Serialize)]
pub struct PhaseStats {
    /// Which phase: written `before`, `during:<fault>`, `after` or `whole`.
    pub name: Phase,
    /// Phase start, run-clock ns: requests with intended send times from it belong to it,
    /// and, in a `during:` phase (which starts when its fault was applied), so do requests
    /// still in flight then (they are not in `before`): the fault may be what failed them.
    pub start_ns: u64,
    /// Phase end, run-clock ns.
    pub end_ns: u64,
    /// Requests the load plan scheduled in the phase (the denominator of the rates).
    pub scheduled: u64,
    /// Requests answered with a 2xx and no error.
    pub ok: u64,
    /// Requests that failed: a non-2xx status, a connection error, a timeout or a drop.
    pub errors: u64,
    /// Requests the load generator dropped (its queue of requests waiting for an in-flight
    /// slot overflowed). They are errors and in `latency` at the timeout, but how long they
    /// would have taken is unknown, so no latency figure of this phase can pass with any.
    pub dropped: u64,
    /// Why requests failed → how many: the load generator's error kind (`timeout`, ...) or
    /// `status_<code>` for a non-2xx answer.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// HTTP status → responses with it (requests without a response are not counted here).
    pub status_counts: BTreeMap<u16, u64>,
    /// Every request of the phase exactly once, from its intended send time to its response
    /// or error (errors, timeouts and drops included, each at its latency).
    #[serde(skip)]
    pub latency: Histogram<u64>,
    /// The same requests timed from when the harness actually began each one: the latency
    /// with the harness's own lateness taken out (a wait for an in-flight slot, which
    /// unanswered requests of the system hold, stays in).
    #[serde(skip)]
    pub from_send: Histogram<u64>,
    /// How late the harness began each request (intended → actual start).
    #[serde(skip)]
    pub lag: Histogram<u64>,
}

impl PhaseStats {
    fn new(name: Phase, start_ns: u64, end_ns: u64) -> Self {
        Self {
            name,
            start_ns,
            end_ns,
            scheduled: 0,
            ok: 0,
            errors: 0,
            dropped: 0,
            errors_by_kind: BTreeMap::new(),
            status_counts: BTreeMap::new(),
            latency: histogram(3),
            from_send: histogram(3),
            lag: histogram(3),
        }
    }

    fn contains(&self, t: u64) -> bool {
        t >= self.start_ns && t < self.end_ns
    }

    fn record(&mut self, r: &RequestRecord<'_>) {
        let RequestRecord {
            latency_ns,
            lag_ns,
            status,
            error,
            ok,
            ..
        } = *r;
        self.scheduled += 1;
        if ok {
            self.ok += 1;
        } else {
            self.errors += 1;
            let kind = match (error, status) {
                (Some(e), _) => e.to_string(),
                (None, Some(s)) => format!("status_{s}"),
                (None, None) => "unknown".into(),
            };
            *self.errors_by_kind.entry(kind).or_default() += 1;
        }
        if error == Some(DROPPED) {
            self.dropped += 1;
        }
        if let Some(s) = status {
            *self.status_counts.entry(s).or_default() += 1;
        }
        // Errors keep their latency too: a timeout is a 1 s request, not a missing sample.
        // The load generator records timeouts and drops at the timeout, never at ~0.
        self.latency.saturating_record(latency_ns.max(1_000));
        self.from_send
            .saturating_record(latency_ns.saturating_sub(lag_ns).max(1_000));
        self.lag.saturating_record(lag_ns.max(1_000));
    }

    /// `errors / scheduled`, 0.0-1.0; `None` when nothing was scheduled.
    pub fn error_rate(&self) -> Option<f64> {
        (self.scheduled > 0).then(|| self.errors as f64 / self.scheduled as f64)
    }

    /// `ok / scheduled`, 0.0-1.0; `None` when nothing was scheduled.
    pub fn availability(&self) -> Option<f64> {
        (self.scheduled > 0).then(|| self.ok as f64 / self.scheduled as f64)
    }

    /// Latency in ns at percentile `p` (0-100) from intended send times (so coordinated omission is
    /// counted, as HdrHistogram's `value_at_quantile`); `None` when the phase had no requests.
    pub fn percentile_ns(&self, p: f64) -> Option<u64> {
        percentile_ns(&self.latency, p)
    }

    /// The latency percentile timed from the harness's actual sends.
    pub fn from_send_percentile_ns(&self, p: f64) -> Option<u64> {
        percentile_ns(&self.from_send, p)
    }

    /// The harness's lateness at percentile `p` (1 µs resolution floor).
    pub fn lag_percentile_ns(&self, p: f64) -> Option<u64> {
        percentile_ns(&self.lag, p)
    }
}

/// One request as read back from the event log.
#[derive(Debug, Clone, Copy)]
pub struct RequestRecord<'a> {
    /// Intended send time on the run clock.
    pub t: u64,
    /// From intended send time to response or error, ns.
    pub latency_ns: u64,
    /// How late the harness began the request after its intended send time, ns.
    pub lag_ns: u64,
    /// HTTP status, when a response came.
    pub status: Option<u16>,
    /// Error kind, when the request failed without a usable response.
    pub error: Option<&'a str>,
    /// Whether it succeeded: a 2xx and no error.
    pub ok: bool,
}

/// Requests whose intended send time falls in one second of the run clock.
#[derive(Debug, Clone, Serialize)]
pub struct SecondStats {
    /// The second since the run clock's start (`t / 1e9`).
    pub second: u64,
    /// Requests scheduled in it.
    pub sent: u64,
    /// Of those, successes.
    pub ok: u64,
    /// Of those, failures.
    pub errors: u64,
    /// Median latency in ns (from intended send time); `None` for a second with no requests.
    pub p50_ns: Option<u64>,
    /// 99th-percentile latency in ns; `None` for a second with no requests.
    pub p99_ns: Option<u64>,
}

pub(super) struct PhaseSet {
    phases: Vec<PhaseStats>,
    /// How each phase (same index) takes requests.
    roles: Vec<Role>,
    seconds: BTreeMap<u64, (u64, u64, u64, Histogram<u64>)>,
}

/// How a phase decides which requests are its own.
#[derive(Debug, Clone, Copy)]
enum Role {
    /// Requests sent in its window.
    Sent,
    /// Requests sent in its window and not still in flight when the first fault was applied
    /// (at the window's end).
    Before,
    /// Requests sent in its window, and those in flight when its fault was applied (its start).
    During,
}

/// Whether a request sent (intended) at `t` that ended `latency_ns` later was still in flight
/// at `at`.
fn in_flight_at(t: u64, latency_ns: u64, at: u64) -> bool {
    t < at && t.saturating_add(latency_ns) > at
}

impl PhaseSet {
    pub fn new(load: Option<(u64, u64)>, faults: &[FaultWindow]) -> Self {
        let (start, end) = load.unwrap_or((0, u64::MAX));
        let first_fault = faults.iter().map(|f| f.applied_ns).min();
        let last_end = faults.iter().map(|f| f.end_ns).max();
        let mut phases = vec![PhaseStats::new(Phase::Whole, start, end.saturating_add(1))];
        let mut roles = vec![Role::Sent];
        if !faults.is_empty() {
            phases.push(PhaseStats::new(
                Phase::Before,
                start,
                first_fault.unwrap_or(end).max(start),
            ));
            roles.push(Role::Before);
            for f in faults {
                phases.push(PhaseStats::new(
                    Phase::During(f.fault.clone()),
                    f.applied_ns,
                    f.end_ns.max(f.applied_ns + 1),
                ));
                roles.push(Role::During);
            }
            phases.push(PhaseStats::new(
                Phase::After,
                last_end.unwrap_or(end),
                end.saturating_add(1),
            ));
            roles.push(Role::Sent);
        }
        Self {
            phases,
            roles,
            seconds: BTreeMap::new(),
        }
    }

    pub fn record(&mut self, r: &RequestRecord<'_>) {
        let RequestRecord {
            t, latency_ns, ok, ..
        } = *r;
        for (p, role) in self.phases.iter_mut().zip(&self.roles) {
            let mine = match role {
                Role::Sent => p.contains(t),
                Role::Before => p.contains(t) && !in_flight_at(t, latency_ns, p.end_ns),
                Role::During => p.contains(t) || in_flight_at(t, latency_ns, p.start_ns),
            };
            if mine {
                p.record(r);
            }
        }
        let second = t / 1_000_000_000;
        let s = self
            .seconds
            .entry(second)
            .or_insert_with(|| (0, 0, 0, histogram(2)));
        s.0 += 1;
        if ok {
            s.1 += 1;
        } else {
            s.2 += 1;
        }
        s.3.saturating_record(latency_ns.max(1_000));
    }

    pub fn finish(self) -> (Vec<PhaseStats>, Vec<SecondStats>) {
        let series = self
            .seconds
            .into_iter()
            .map(|(second, (sent, ok, errors, h))| SecondStats {
                second,
                sent,
                ok,
                errors,
                p50_ns: percentile_ns(&h, 50.0),
                p99_ns: percentile_ns(&h, 99.0),
            })
            .collect();
        (self.phases, series)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(name: &str, a: u64, b: u64) -> FaultWindow {
        FaultWindow {
            fault: name.into(),
            targets: vec![],
            applied_ns: a,
            verified_ns: Some(a),
            reverted_ns: None,
            settled_ns: Some(b),
            end_ns: b,
            failed: None,
        }
    }

    #[test]
    fn requests_land_in_their_phases() {
        let s = 1_000_000_000;
        let mut set = PhaseSet::new(Some((0, 10 * s)), &[window("f", 4 * s, 6 * s)]);
        set.record(&req(s, 2_000_000, 0, Some(200), None));
        set.record(&req(5 * s, 900_000_000, 0, None, Some("timeout")));
        set.record(&req(7 * s, 3_000_000, 0, Some(503), None));
        let (phases, series) = set.finish();
        let get = |n: Phase| phases.iter().find(|p| p.name == n).unwrap();
        assert_eq!(get(Phase::Whole).scheduled, 3);
        assert_eq!(get(Phase::Before).ok, 1);
        let during = get(Phase::during("f"));
        assert_eq!((during.scheduled, during.errors), (1, 1));
        assert_eq!(during.errors_by_kind.get("timeout"), Some(&1));
        assert!(during.percentile_ns(95.0).unwrap() >= 899_000_000);
        assert_eq!(get(Phase::After).errors_by_kind.get("status_503"), Some(&1));
        assert_eq!(get(Phase::After).error_rate(), Some(1.0));
        assert_eq!(series.len(), 3);
        assert!(series.iter().all(|s| s.sent == 1));
    }

    fn req<'a>(
        t: u64,
        latency_ns: u64,
        lag_ns: u64,
        status: Option<u16>,
        error: Option<&'a str>,
    ) -> RequestRecord<'a> {
        RequestRecord {
            t,
            latency_ns,
            lag_ns,
            status,
            error,
            ok: error.is_none() && status.is_some_and(|s| (200..300).contains(&s)),
        }
    }

    /// A request sent 0.2 ms before a kill and failed by it belongs to the kill's window, not
    /// to `before` (whose `error_rate <= 0%` the fault itself would otherwise breach); every
    /// request is still in `whole` once and in exactly one of before / during / after.
    #[test]
    fn a_request_in_flight_when_the_fault_applies_counts_in_its_window() {
        let ms = 1_000_000;
        let kill = 4_000 * ms;
        let mut set = PhaseSet::new(Some((0, 10_000 * ms)), &[window("kill", kill, 6_000 * ms)]);
        // Answered before the kill.
        set.record(&req(kill - 10 * ms, 3 * ms, 0, Some(200), None));
        // Sent 0.2 ms before the kill, reset by it 1 ms later.
        set.record(&req(kill - ms / 5, 12 * ms / 10, 0, None, Some("reset")));
        // Sent 5 ms before, still waiting at the kill, answered after it (by a replica).
        set.record(&req(kill - 5 * ms, 20 * ms, 0, Some(200), None));
        // Ended exactly at the kill: not in flight any more.
        set.record(&req(kill - 2 * ms, 2 * ms, 0, Some(200), None));
        set.record(&req(kill + ms, 2 * ms, 0, None, Some("connect_refused")));
        set.record(&req(7_000 * ms, 2 * ms, 0, Some(200), None));
        let (phases, _) = set.finish();
        let get = |n: Phase| phases.iter().find(|p| p.name == n).unwrap();
        let before = get(Phase::Before);
        assert_eq!((before.scheduled, before.errors), (2, 0));
        assert_eq!(before.error_rate(), Some(0.0));
        let during = get(Phase::during("kill"));
        assert_eq!((during.scheduled, during.errors), (3, 2));
        assert_eq!(during.errors_by_kind.get("reset"), Some(&1));
        assert_eq!(get(Phase::After).scheduled, 1);
        assert_eq!(get(Phase::Whole).scheduled, 6);
        assert_eq!(
            before.scheduled + during.scheduled + get(Phase::After).scheduled,
            get(Phase::Whole).scheduled
        );
    }

    #[test]
    fn every_request_is_in_the_latency_once_and_drops_are_counted() {
        let mut set = PhaseSet::new(Some((0, 10_000)), &[window("f", 4_000, 6_000)]);
        let s = 1_000_000_000;
        // During the fault: one answered, one refused quickly, one timed out after waiting
        // for an in-flight slot, one dropped; all but the first at the 2 s timeout.
        set.record(&req(4_100, 3_000_000, 0, Some(200), None));
        set.record(&req(4_200, 4_000_000, 0, None, Some("connect_refused")));
        set.record(&req(4_300, 2 * s, 0, None, Some("timeout")));
        set.record(&req(4_400, 2 * s, 0, None, Some(DROPPED)));
        set.record(&req(7_000, 1_000_000, 0, Some(200), None));
        let (phases, _) = set.finish();
        let get = |n: Phase| phases.iter().find(|p| p.name == n).unwrap();
        let during = get(Phase::during("f"));
        assert_eq!(during.latency.len(), during.scheduled);
        assert_eq!(during.from_send.len(), during.scheduled);
        assert_eq!((during.dropped, during.errors), (1, 3));
        assert_eq!(get(Phase::Whole).dropped, 1);
        assert_eq!(get(Phase::After).dropped, 0);
        // Half of the phase took 2 s: its p50 cannot look fast.
        assert!(during.percentile_ns(90.0).unwrap() >= 1_990_000_000);
        assert!(during.from_send_percentile_ns(90.0).unwrap() >= 1_990_000_000);
    }

    #[test]
    fn the_harness_lateness_is_kept_apart_from_the_latency() {
        let mut set = PhaseSet::new(Some((0, 10_000)), &[]);
        // 100 requests of 2 ms, the last 10 begun 400 ms late by a starved harness.
        for i in 0..100u64 {
            let lag = if i >= 90 { 400_000_000 } else { 20_000 };
            set.record(&req(i, 2_000_000 + lag, lag, Some(200), None));
        }
        let (phases, _) = set.finish();
        let whole = &phases[0];
        assert!(whole.percentile_ns(95.0).unwrap() >= 400_000_000);
        let from_send = whole.from_send_percentile_ns(95.0).unwrap();
        assert!((1_990_000..=2_010_000).contains(&from_send), "{from_send}");
        assert!(whole.lag_percentile_ns(99.0).unwrap() >= 399_000_000);
        assert!(whole.lag_percentile_ns(50.0).unwrap() <= 21_000);
    }
}
