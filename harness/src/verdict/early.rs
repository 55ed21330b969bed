//! Fail fast: deciding, while the run is still going, that an SLO is **certainly** breached
//! whatever the rest of the run brings, so the run can stop early (`--fail-fast`).
//!
//! Pure: [`Seen`] takes the run's events as they are written, [`certain_breach`] reads them
//! with the [`Plan`] known in advance (the SLOs, the load's seeded open-model schedule, N
//! consecutive). Each metric's rule (`certain_breach` in its file under `metric/`, reading
//! [`crate::metric::live::Live`]) is one function with a proof sketch: it fires only when
//! the SLO's final figure is on the breach side of its target *for every possible rest of the
//! run*, and when the demotion rules (`rules`) cannot make that breach inconclusive — neither
//! on the whole run nor on the run cut short at the stop. A rule that cannot prove both
//! stays silent; silence costs minutes, a wrong stop would cost a release.
//!
//! Common ground for every rule:
//! - **Horizon.** An event timed before `horizon` (now − [`HORIZON_MARGIN`]) is assumed to be
//!   in the log already (Docker's events arrive with some delay; the harness's own events are
//!   sent within microseconds of their time). A fault window's end is only taken as known
//!   when the log shows it; otherwise the window is only known to reach the horizon.
//! - **Windows only grow or are known.** A `during=f` window is `[applied, end)` where `end`
//!   is when the targets settled, else when the fault was reverted, else the run's end
//!   (`measure::fault_windows`, the same code). `end` is at least the revert time once there
//!   is one; before that, at least the settle time seen so far (a later crash can only push it
//!   later) or the horizon. Requests before that bound are certainly in the final window.
//! - **The schedule is known.** The open model starts request `i` at `load start + offset(i)`
//!   whatever the system does, so a window from `a` can hold at most the schedule's requests
//!   from `a` on ([`Plan::schedule`], with 1 ms of slack for clock rounding).
//! - **The harness was on time.** A breach in a window whose requests the harness began more
//!   than [`crate::metric::STARVED_LAG_P99`] late (p99 over every request seen from the window's start) is
//!   demoted by the late-harness rule: no rule fires then. Lateness after the stop cannot undo
//!   failures that a punctual harness saw; requests begun late between the decision and the
//!   stop can still make the cut run's breach inconclusive, which the report then says
//!   ([`settle`]).
//! - **Unproven faults decide nothing.** A `during=f` SLO, a recovery or a failover of a
//!   fault not yet verified applied is never certain (the verdict would be inconclusive).
//! - **The run answered.** No stop before the load and every probe have had a success before
//!   the first fault: a run that never answered is "not judged" (exit 3), never a breach.
//!
//! Not covered, on purpose: `lost_writes()` (the read-back needs the system healed, after the
//! run), `probe_success`, and `before`/`after` scopes (their windows are fixed only once every
//! fault has run); a recovery with several probes and none named (the slowest decides).

use std::time::Duration;

use super::{Decision, Verdict, run_verdict};
use crate::metric::live::Live;
pub use crate::metric::live::{Plan, Seen};
use crate::slo::Quantity;

/// How far behind "now" an event may still be on its way into the log.
pub const HORIZON_MARGIN: Duration = Duration::from_secs(2);

/// Why and when a run was stopped early.
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyStop {
    /// Run-clock time of the decision (ns).
    pub at_ns: u64,
    /// The SLO expression certainly breached.
    pub slo: String,
    /// Why it cannot pass any more, in words.
    pub reason: String,
}

/// The first SLO (in the scenario's order) certainly breached by what `seen` holds, with
/// everything timed before `horizon` assumed logged.
pub fn certain_breach(plan: &Plan, seen: &Seen, horizon: u64) -> Option<EarlyStop> {
    let live = Live::new(plan, seen, horizon);
    if !live.answered() {
        return None;
    }
    // Each metric's own rule (metric/<metric>.rs), with its proof; a metric without one
    // (lost writes, probe success) never stops a run.
    for slo in &plan.slos {
        if let Some(reason) = slo.metric.kind().certain_breach(slo, &live) {
            return Some(EarlyStop {
                at_ns: horizon + HORIZON_MARGIN.as_nanos() as u64,
                slo: slo.expression.clone(),
                reason,
            });
        }
    }
    None
}

/// The verdict of a run that fail-fast stopped: the SLO found certainly breached keeps its
/// breach (judged on the cut run by the same code as ever, which the rule's proof guarantees);
/// every other figure covers only part of its window, so it is neither a pass nor a breach.
/// A stopped run never passes.
pub fn settle(decision: &mut Decision, stop: &EarlyStop) {
    let at = Quantity::Duration(Duration::from_nanos(stop.at_ns));
    for r in &mut decision.results {
        if r.expression == stop.slo && r.verdict == Verdict::Breached {
            continue;
        }
        if r.verdict != Verdict::Inconclusive {
            r.reason = Some(format!(
                "not judged: the run was stopped early (fail-fast) at {at}{}",
                r.measured
                    .map(|m| format!("; {m} measured until then"))
                    .unwrap_or_default()
            ));
            r.verdict = Verdict::Inconclusive;
        }
    }
    decision.verdict = run_verdict(decision.results.iter().map(|r| r.verdict), &decision.issues)
        .max(Verdict::Inconclusive);
    // The cut run's window holds requests begun after the decision: a harness starved in
    // that last stretch makes the breach inconclusive after all (late-harness rule). Said,
    // never overridden.
    if let Some(r) = decision
        .results
        .iter()
        .find(|r| r.expression == stop.slo && r.verdict != Verdict::Breached)
    {
        decision.notes.push(format!(
            "fail-fast stopped the run on `{}`, but judged on the cut run it is {}{}",
            stop.slo,
            r.verdict,
            r.reason
                .as_deref()
                .map(|w| format!(": {w}"))
                .unwrap_or_default()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::parse;
    use crate::timeline::{DockerAction, Event, EventKind, FaultStage};
    use chaosgate_load::{Rate, Schedule};

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;

    /// 200/s for 30 s, a probe every 50 ms, a crash at 10 s verified at once; the replica is
    /// healthy again at `healthy_at` (if given).
    struct Run {
        plan: Plan,
        seen: Seen,
        /// The schedule's gap between two requests.
        gap: u64,
    }

    impl Run {
        fn new(slos: &[&str]) -> Self {
            Self::at_rate(slos, 200)
        }

        fn at_rate(slos: &[&str], per_second: u64) -> Self {
            Self {
                gap: S / per_second,
                plan: Plan {
                    slos: slos.iter().map(|s| parse(s).unwrap()).collect(),
                    schedule: Some(
                        Schedule::new(Rate::Constant(per_second as f64), Duration::from_secs(30))
                            .unwrap(),
                    ),
                    consecutive: 3,
                    probes: vec!["replica".into()],
                },
                seen: Seen::default(),
            }
        }

        fn push(&mut self, t: u64, kind: EventKind) {
            let schedule = self.plan.schedule;
            self.seen.push(Event { t, kind }, schedule.as_ref());
        }

        /// Requests from `from` until `to` (run-clock ns), one schedule gap apart, failing
        /// where `fails(t)`, each taking `latency`.
        fn requests(&mut self, from: u64, to: u64, fails: impl Fn(u64) -> bool, latency: u64) {
            let mut seq = from.div_ceil(self.gap);
            let mut t = seq * self.gap;
            while t < to {
                let failed = fails(t);
                self.push(
                    t,
                    EventKind::Request {
                        seq,
                        template: 0,
                        id: None,
                        latency_ns: latency,
                        lag_ns: 20_000,
                        status: (!failed).then_some(200),
                        error: failed.then(|| "connect_refused".to_string()),
                    },
                );
                seq += 1;
                t += self.gap;
            }
        }

        fn probes(&mut self, from: u64, to: u64, down: impl Fn(u64) -> bool) {
            let mut t = from;
            while t < to {
                self.push(
                    t,
                    EventKind::Probe {
                        probe: "replica".into(),
                        ok: !down(t),
                        latency_ns: MS,
                        lag_ns: 0,
                        detail: None,
                        skipped: None,
                    },
                );
                t += 50 * MS;
            }
        }

        fn fault(&mut self, t: u64, stage: FaultStage) {
            self.push(
                t,
                EventKind::Fault {
                    fault: "crash".into(),
                    stage,
                    targets: vec!["replica-1".into()],
                    detail: None,
                },
            );
        }

        fn docker(&mut self, t: u64, action: DockerAction) {
            self.push(
                t,
                EventKind::Docker {
                    container: "replica-1".into(),
                    service: "replica".into(),
                    action,
                    exit_code: None,
                },
            );
        }

        /// A quiet first 10 s, then the crash (applied, died, verified).
        fn crashed(slos: &[&str]) -> Self {
            Self::crashed_at_rate(slos, 200)
        }

        fn crashed_at_rate(slos: &[&str], per_second: u64) -> Self {
            let mut r = Self::at_rate(slos, per_second);
            r.requests(0, 10 * S, |_| false, 2 * MS);
            r.probes(0, 10 * S, |_| false);
            r.fault(10 * S, FaultStage::Applied);
            r.docker(10 * S + MS, DockerAction::Die);
            r.fault(10 * S + 2 * MS, FaultStage::Verified);
            r
        }

        fn check(&self, horizon: u64) -> Option<EarlyStop> {
            certain_breach(&self.plan, &self.seen, horizon)
        }
    }

    #[test]
    fn an_error_budget_spent_for_the_rest_of_the_run_stops_it() {
        // 0.1% of the 4000 requests from 10 s to 30 s is 4: four errors are enough (the
        // rate can only be 0.1% or more, never under it)...
        let mut r = Run::crashed(&["error_rate(during=crash) < 0.1%"]);
        r.requests(10 * S, 10 * S + 15 * MS, |_| true, MS);
        assert_eq!(
            r.check(10 * S + 100 * MS),
            None,
            "3 errors fit in the budget"
        );
        r.requests(10 * S + 15 * MS, 10 * S + 50 * MS, |_| true, MS);
        let stop = r
            .check(10 * S + 100 * MS)
            .expect("10 errors of at most 4000");
        assert_eq!(stop.slo, "error_rate(during=crash) < 0.1%");
        assert!(
            stop.reason.contains("10 request(s) failed"),
            "{}",
            stop.reason
        );
        // ...but only those before the horizon, where the window certainly still ran.
        assert_eq!(r.check(10 * S + 12 * MS), None);
    }

    #[test]
    fn errors_after_the_window_settled_do_not_count() {
        let mut r = Run::crashed(&["error_rate(during=crash) < 0.1%"]);
        r.docker(10 * S + 500 * MS, DockerAction::Start);
        r.docker(11 * S, DockerAction::Healthy);
        r.requests(10 * S, 11 * S, |_| false, MS);
        r.requests(11 * S, 12 * S, |_| true, MS);
        assert_eq!(r.check(14 * S), None, "the window ended at 11 s");
        // The whole run's budget sees them: 200 errors of at most 6000 > 0.1%.
        let mut r2 = Run::crashed(&["error_rate() < 0.1%"]);
        r2.requests(10 * S, 11 * S, |_| true, MS);
        assert!(r2.check(14 * S).is_some());
        // A large enough budget is never certain to be spent.
        let mut r3 = Run::crashed(&["availability() >= 90%"]);
        r3.requests(10 * S, 11 * S, |_| true, MS);
        assert_eq!(r3.check(14 * S), None, "200 of 6000 is 3.3%, < 10%");
        let mut r4 = Run::crashed(&["availability() >= 99%"]);
        r4.requests(10 * S, 11 * S, |_| true, MS);
        assert!(r4.check(14 * S).unwrap().reason.contains("at most"));
    }

    #[test]
    fn an_unverified_fault_or_a_late_harness_never_stops_a_run() {
        let mut r = Run::new(&["error_rate(during=crash) < 0.1%"]);
        r.requests(0, 10 * S, |_| false, 2 * MS);
        r.probes(0, 10 * S, |_| false);
        r.fault(10 * S, FaultStage::Applied);
        r.requests(10 * S, 11 * S, |_| true, MS);
        assert_eq!(r.check(14 * S), None, "not verified");
        r.fault(10 * S + 2 * MS, FaultStage::Verified);
        assert!(r.check(14 * S).is_some());

        // The same errors, the harness 80 ms behind its schedule: not the system's, maybe.
        let mut late = Run::crashed(&["error_rate(during=crash) < 0.1%"]);
        for i in 0..200u64 {
            let seq = 2000 + i;
            late.push(
                10 * S + i * 5 * MS,
                EventKind::Request {
                    seq,
                    template: 0,
                    id: None,
                    latency_ns: 90 * MS,
                    lag_ns: 80 * MS,
                    status: None,
                    error: Some("timeout".into()),
                },
            );
        }
        assert_eq!(late.check(14 * S), None);

        // Punctual errors before the horizon, a starved harness after it: the cut run would
        // hold both and call the breach the harness's, so no stop.
        let mut r = Run::crashed(&["error_rate(during=crash) < 0.1%"]);
        r.requests(10 * S, 11 * S, |_| true, MS);
        assert!(r.check(11 * S).is_some());
        for i in 0..100u64 {
            r.push(
                11 * S + i * 5 * MS,
                EventKind::Request {
                    seq: 2200 + i,
                    template: 0,
                    id: None,
                    latency_ns: 90 * MS,
                    lag_ns: 80 * MS,
                    status: None,
                    error: Some("timeout".into()),
                },
            );
        }
        assert_eq!(r.check(11 * S), None);
    }

    #[test]
    fn a_run_that_never_answered_is_never_stopped() {
        let mut r = Run::new(&["error_rate() < 0.1%"]);
        r.requests(0, 5 * S, |_| true, MS);
        r.probes(0, 5 * S, |_| true);
        assert_eq!(r.check(6 * S), None, "no success yet: exit 3, not a breach");
        r.requests(5 * S, 6 * S, |_| false, MS);
        assert_eq!(r.check(7 * S), None, "the probe has not answered yet");
        r.probes(5 * S, 6 * S, |_| false);
        assert!(r.check(7 * S).is_some());
    }

    #[test]
    fn a_latency_percentile_stops_when_too_many_requests_were_slow() {
        // p95 < 100ms over the crash window (at most 4000 requests): 5% is 200.
        let mut r = Run::crashed(&["p95(latency, during=crash) < 100ms"]);
        r.requests(10 * S, 11 * S, |_| false, 150 * MS);
        assert_eq!(
            r.check(14 * S),
            None,
            "200 slow requests are just within 5%"
        );
        r.requests(11 * S, 11 * S + 20 * MS, |_| false, 150 * MS);
        let stop = r.check(14 * S).expect("204 slow of at most 4000");
        assert!(stop.reason.contains("204 request(s)"), "{}", stop.reason);
        // Slow only because the harness began them late: never.
        let mut late = Run::crashed(&["p95(latency, during=crash) < 100ms"]);
        for i in 0..400u64 {
            let seq = 2000 + i;
            late.push(
                10 * S + i * 5 * MS,
                EventKind::Request {
                    seq,
                    template: 0,
                    id: None,
                    latency_ns: 150 * MS,
                    lag_ns: if i % 10 == 0 { 140 * MS } else { 10 * MS },
                    status: Some(200),
                    error: None,
                },
            );
        }
        assert_eq!(late.check(14 * S), None);
    }

    #[test]
    fn a_recovery_deadline_is_passed_only_by_a_failed_check_after_it() {
        let mut r = Run::crashed(&["recovery_time(crash, probe=replica) < 2s"]);
        r.requests(10 * S, 13 * S, |_| false, MS);
        // Down since the crash; the check at 11.95 s failed, still under 2 s.
        r.probes(10 * S, 12 * S, |_| true);
        assert_eq!(r.check(13 * S), None);
        r.probes(12 * S, 12 * S + 100 * MS, |_| true);
        let stop = r
            .check(13 * S)
            .expect("failed at 12.05 s, 2.05 s after the crash");
        assert!(stop.reason.contains("still failed"), "{}", stop.reason);
        // Back at 11 s: a recovery of 1 s, final, never a breach.
        let mut ok = Run::crashed(&["recovery_time(crash, probe=replica) < 2s"]);
        ok.requests(10 * S, 13 * S, |_| false, MS);
        ok.probes(10 * S, 13 * S, |t| t < 11 * S);
        assert_eq!(ok.check(13 * S), None);
    }

    #[test]
    fn a_failover_outage_stops_once_longer_than_the_target_and_a_gap() {
        let mut r = Run::crashed(&["failover_time(crash) < 100ms"]);
        let outage = |ms: u64| move |t: u64| (10 * S..10 * S + ms * MS).contains(&t);
        // 100 ms of failures (last one at 95 ms): within 100 ms + one gap, not certain.
        r.requests(10 * S, 10 * S + 400 * MS, outage(100), MS);
        assert_eq!(r.check(11 * S), None);
        let mut r = Run::crashed(&["failover_time(crash) < 100ms"]);
        r.requests(10 * S, 10 * S + 400 * MS, outage(300), MS);
        let stop = r.check(11 * S).expect("a 300 ms outage");
        assert!(stop.reason.contains("at least 300ms"), "{}", stop.reason);
        // Still failing (unterminated) counts from its first to its last failure.
        let mut r = Run::crashed(&["failover_time(crash) < 100ms"]);
        r.requests(10 * S, 10 * S + 200 * MS, |_| true, MS);
        assert!(r.check(11 * S).is_some());
        // Requests still missing in the middle: nothing is known past the gap.
        let mut r = Run::crashed(&["failover_time(crash) < 100ms"]);
        r.requests(10 * S, 10 * S + 50 * MS, |_| true, MS);
        r.requests(10 * S + 55 * MS, 10 * S + 300 * MS, |_| true, MS);
        assert_eq!(r.check(11 * S), None);
        // A zero target: any failure in the window.
        let mut r = Run::crashed(&["failover_time(crash) <= 0ms"]);
        r.requests(10 * S, 10 * S + 50 * MS, |t| t == 10 * S + 10 * MS, MS);
        assert!(r.check(11 * S).is_some());
    }

    /// Issue 19, kind 5: a zero target at 2 req/s. Seeing no failure proves nothing (the
    /// verdict says inconclusive), but a failure seen is a breach, so fail-fast stops on it
    /// at any rate, and never stops on a sparse run that saw none.
    #[test]
    fn a_zero_target_stops_on_a_failure_seen_at_any_rate_and_never_without_one() {
        for slo in [
            "failover_time(crash) <= 0ms",
            "error_rate(during=crash) <= 0%",
            "availability(during=crash) >= 100%",
        ] {
            let mut r = Run::crashed_at_rate(&[slo], 2);
            r.requests(10 * S, 14 * S, |_| false, MS);
            assert_eq!(r.check(16 * S), None, "{slo}: nothing seen");
            let mut r = Run::crashed_at_rate(&[slo], 2);
            r.requests(10 * S, 14 * S, |t| t == 11 * S, MS);
            let stop = r
                .check(16 * S)
                .unwrap_or_else(|| panic!("{slo}: one failure"));
            assert_eq!(stop.slo, slo);
        }
    }

    #[test]
    fn a_good_run_never_stops() {
        let mut r = Run::crashed(&[
            "p95(latency, during=crash) < 100ms",
            "error_rate(during=crash) < 0.1%",
            "recovery_time(crash, probe=replica) < 30s",
            "failover_time(crash) < 100ms",
            "availability() >= 99.9%",
            "lost_writes() <= 0",
        ]);
        r.probes(10 * S, 11 * S, |t| t < 10 * S + 800 * MS);
        r.docker(10 * S + 600 * MS, DockerAction::Start);
        r.docker(10 * S + 900 * MS, DockerAction::Healthy);
        r.requests(10 * S, 30 * S, |_| false, 3 * MS);
        r.probes(11 * S, 30 * S, |_| false);
        for h in [11, 15, 20, 28, 30] {
            assert_eq!(r.check(h * S), None);
        }
    }
    #[test]
    fn a_stopped_run_keeps_only_the_certain_breach_and_never_passes() {
        use crate::verdict::SloResult;
        let result = |e: &str, verdict| SloResult {
            expression: e.into(),
            verdict,
            target: String::new(),
            measured: Some(Quantity::Ratio(0.5)),
            reason: None,
            evidence: None,
        };
        let mut d = Decision {
            results: vec![
                result("a", Verdict::Pass),
                result("b", Verdict::Breached),
                result("c", Verdict::Breached),
            ],
            verdict: Verdict::Breached,
            notes: vec![],
            never_answered: None,
            issues: vec![],
            steady_state: vec![],
        };
        let stop = EarlyStop {
            at_ns: 12 * S,
            slo: "b".into(),
            reason: "spent".into(),
        };
        settle(&mut d, &stop);
        let verdicts: Vec<Verdict> = d.results.iter().map(|r| r.verdict).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Inconclusive,
                Verdict::Breached,
                Verdict::Inconclusive
            ]
        );
        assert!(
            d.results[0]
                .reason
                .as_deref()
                .unwrap()
                .contains("stopped early")
        );
        assert_eq!(d.verdict, Verdict::Breached);
        assert!(d.notes.is_empty());
        // Demoted on the cut run (a late harness): said, and the run is inconclusive.
        d.results[1].verdict = Verdict::Inconclusive;
        d.results[1].reason = Some("late".into());
        settle(&mut d, &stop);
        assert_eq!(d.verdict, Verdict::Inconclusive);
        assert!(d.notes[0].contains("judged on the cut run it is inconclusive: late"));
    }
}
