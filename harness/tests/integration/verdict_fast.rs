//! The fast tier: event logs written the way a run writes them (`events.jsonl`), read back
//! by `measure::analyze` and judged by `verdict::decide`, in milliseconds and without Docker.
//! One log per kind of run: a good one, a breach, an unproven fault, a starved harness, a
//! window with dropped requests, a load too sparse for its SLO, a target that never answered.

use std::io::Write;
use std::path::Path;

use chaosgate::fault::FaultRecord;
use chaosgate::measure::analyze;
use chaosgate::slo::{Slo, parse};
use chaosgate::timeline::{Event, EventKind, FaultStage};
use chaosgate::verdict::{Decision, Inputs, Verdict, decide};

const MS: u64 = 1_000_000;

/// Writes a run's events: load at `rate_hz` from 0 to `end_ms`, a probe every `probe_ms`, and
/// one fault applied at `fault_ms` and reverted at `revert_ms`. `request(t_ms)` gives each
/// request's (latency ms, lag ms, ok); `probe(t_ms)` each check's success.
struct Run {
    end_ms: u64,
    rate_hz: u64,
    probe_ms: u64,
    fault: Option<(u64, u64, bool)>,
    request: Box<dyn Fn(u64) -> (u64, u64, Outcome)>,
    probe: Box<dyn Fn(u64) -> bool>,
    /// Readings of alert `QuoteErrorRatioHigh` (`for: 2s`, evaluated every 1 s): (t ms,
    /// state, activeAt ms).
    alerts: Vec<(u64, &'static str, Option<i64>)>,
}

#[derive(Clone, Copy)]
enum Outcome {
    Ok,
    Status(u16),
    Error(&'static str),
}

impl Run {
    fn healthy(end_ms: u64, rate_hz: u64) -> Self {
        Self {
            end_ms,
            rate_hz,
            probe_ms: 50,
            fault: Some((3_000, 4_000, true)),
            request: Box::new(|_| (2, 0, Outcome::Ok)),
            probe: Box::new(|_| true),
            alerts: Vec::new(),
        }
    }

    fn write(&self, path: &Path) -> Vec<FaultRecord> {
        let mut events: Vec<Event> = Vec::new();
        events.push(Event {
            t: 0,
            kind: EventKind::Load { started: true },
        });
        let gap_ns = 1_000_000_000 / self.rate_hz;
        let mut t = 0;
        let mut seq = 0;
        while t < self.end_ms * MS {
            let (lat, lag, outcome) = (self.request)(t / MS);
            let (status, error) = match outcome {
                Outcome::Ok => (Some(200), None),
                Outcome::Status(s) => (Some(s), None),
                Outcome::Error(e) => (None, Some(e.to_string())),
            };
            events.push(Event {
                t,
                kind: EventKind::Request {
                    seq,
                    template: 0,
                    id: None,
                    latency_ns: lat * MS,
                    lag_ns: lag * MS,
                    status,
                    error,
                },
            });
            seq += 1;
            t += gap_ns;
        }
        let mut p = 0;
        while p < self.end_ms {
            events.push(Event {
                t: p * MS,
                kind: EventKind::Probe {
                    probe: "gateway".into(),
                    ok: (self.probe)(p),
                    latency_ns: MS,
                    lag_ns: 0,
                    detail: None,
                    skipped: None,
                },
            });
            p += self.probe_ms;
        }
        for (t, state, active) in &self.alerts {
            events.push(Event {
                t: t * MS,
                kind: EventKind::Alert {
                    alert: "QuoteErrorRatioHigh".into(),
                    state: (*state).into(),
                    active_ns: active.map(|a| a * MS as i64),
                    hold_ns: 2_000 * MS,
                    evaluation_ns: 1_000 * MS,
                    error: None,
                },
            });
        }
        let mut records = Vec::new();
        if let Some((at, until, proven)) = self.fault {
            let stage = |t: u64, stage| Event {
                t: t * MS,
                kind: EventKind::Fault {
                    fault: "crash".into(),
                    stage,
                    targets: vec!["md-1".into()],
                    detail: None,
                },
            };
            events.push(stage(at, FaultStage::Applied));
            events.push(stage(
                at + 1,
                if proven {
                    FaultStage::Verified
                } else {
                    FaultStage::Unverified
                },
            ));
            events.push(stage(until.max(at + 2), FaultStage::Reverted));
            records.push(FaultRecord {
                name: "crash".into(),
                action: "crash".into(),
                targets: vec!["md-1".into()],
                scheduled_ns: at * MS,
                applied_ns: Some(at * MS),
                verified_ns: proven.then_some((at + 1) * MS),
                reverted_ns: Some(until.max(at + 2) * MS),
                target_back_ns: None,
                error: (!proven).then(|| "no die event within 15s".into()),
                ended_early: None,
                evidence: Default::default(),
            });
        }
        events.push(Event {
            t: self.end_ms * MS,
            kind: EventKind::Load { started: false },
        });
        events.sort_by_key(|e| e.t);
        let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
        for e in events {
            serde_json::to_writer(&mut f, &e).unwrap();
            f.write_all(b"\n").unwrap();
        }
        records
    }

    fn judge(&self, slos: &[&str]) -> Decision {
        self.judge_with(slos, &[], &[])
    }

    /// As `judge`, with steady-state SLOs (on the window before the first fault) and the
    /// indexes of `slos` that are advisory.
    fn judge_with(&self, slos: &[&str], steady: &[&str], advisory: &[usize]) -> Decision {
        let dir = tempdir();
        let path = dir.join("events.jsonl");
        let faults = self.write(&path);
        let analysis = analyze(&path, self.end_ms * MS, 3).unwrap();
        let mut slos: Vec<Slo> = slos.iter().map(|s| parse(s).unwrap()).collect();
        for i in advisory {
            slos[*i].severity = chaosgate::slo::Severity::Advisory;
        }
        let steady: Vec<Slo> = steady.iter().map(|s| parse(s).unwrap()).collect();
        let d = decide(&Inputs {
            slos: &slos,
            analysis: &analysis,
            faults: &faults,
            writes: None,
            steady_state: &steady,
        });
        let _ = std::fs::remove_dir_all(&dir);
        d
    }
}

fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "chaosgate-verdict-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn verdicts(d: &Decision) -> Vec<Verdict> {
    d.results.iter().map(|r| r.verdict).collect()
}

const CRASH_SLOS: &[&str] = &[
    "p95(latency, during=crash) < 100ms",
    "error_rate(during=crash) < 0.1%",
    "recovery_time(crash, probe=gateway) < 30s",
    "failover_time(crash) < 100ms",
];

#[test]
fn a_good_run_passes() {
    let mut run = Run::healthy(8_000, 200);
    // The probe sees the service down for 600 ms after the crash.
    run.probe = Box::new(|t| !(3_000..3_600).contains(&t));
    let d = run.judge(CRASH_SLOS);
    assert_eq!(d.verdict, Verdict::Pass, "{d:#?}");
    assert_eq!(d.never_answered, None);
    let recovery = d.results[2].measured.unwrap().to_string();
    assert_eq!(recovery, "600ms");
}

#[test]
fn an_outage_seen_by_clients_is_a_breach() {
    let mut run = Run::healthy(8_000, 200);
    run.request = Box::new(|t| {
        if (3_000..3_400).contains(&t) {
            (1, 0, Outcome::Error("refused"))
        } else {
            (2, 0, Outcome::Ok)
        }
    });
    let d = run.judge(CRASH_SLOS);
    assert_eq!(d.verdict, Verdict::Breached);
    assert_eq!(
        verdicts(&d),
        [
            Verdict::Pass,
            Verdict::Breached,
            Verdict::Pass,
            Verdict::Breached
        ]
    );
    assert_eq!(d.results[3].measured.unwrap().to_string(), "400ms");
}

/// The steady-state hypothesis: a system already failing before the first fault is not
/// judged (exit 3, every SLO "not judged"), instead of the fault being blamed; a healthy one
/// is judged as usual.
#[test]
fn a_system_unhealthy_before_the_fault_is_not_judged() {
    let mut run = Run::healthy(8_000, 200);
    // 10 % of requests fail all along, fault or not.
    run.request = Box::new(|t| {
        if t % 10 == 0 {
            (1, 0, Outcome::Status(503))
        } else {
            (2, 0, Outcome::Ok)
        }
    });
    let steady = ["error_rate(phase=before) < 1%"];
    let d = run.judge_with(CRASH_SLOS, &steady, &[]);
    assert_eq!(d.steady_state[0].verdict, Verdict::Breached, "{d:#?}");
    assert!(matches!(
        d.issues.as_slice(),
        [chaosgate::verdict::RunIssue::SteadyStateFailed { .. }]
    ));
    assert_eq!(chaosgate::exit_codes::of_decision(&d), 3);
    assert!(verdicts(&d).iter().all(|v| *v == Verdict::Inconclusive));
    let healthy = Run::healthy(8_000, 200).judge_with(CRASH_SLOS, &steady, &[]);
    assert_eq!(healthy.verdict, Verdict::Pass, "{healthy:#?}");
    assert!(healthy.issues.is_empty());
}

/// `severity: advisory`: judged and reported, never the run's verdict.
#[test]
fn an_advisory_breach_is_reported_and_does_not_gate() {
    let run = Run::healthy(8_000, 200);
    let slos = ["p95(latency) < 1ms", "error_rate() < 0.1%"];
    let d = run.judge_with(&slos, &[], &[0]);
    assert_eq!(verdicts(&d), [Verdict::Breached, Verdict::Pass]);
    assert_eq!(d.verdict, Verdict::Pass);
    let d = run.judge_with(&slos, &[], &[]);
    assert_eq!(d.verdict, Verdict::Breached);
}

#[test]
fn an_unproven_fault_makes_the_run_inconclusive_even_when_its_slos_pass() {
    let mut run = Run::healthy(8_000, 200);
    run.fault = Some((3_000, 4_000, false));
    let d = run.judge(&["p95(latency) < 100ms", "error_rate() < 0.1%"]);
    assert_eq!(verdicts(&d), [Verdict::Pass, Verdict::Pass]);
    assert_eq!(d.verdict, Verdict::Inconclusive);
    assert!(d.notes.iter().any(|n| n.contains("could not be proven")));
    // And SLOs about the fault itself are inconclusive, not passes.
    let d = run.judge(CRASH_SLOS);
    assert!(verdicts(&d).iter().all(|v| *v == Verdict::Inconclusive));
}

#[test]
fn a_breach_made_by_a_starved_harness_is_inconclusive() {
    let mut run = Run::healthy(8_000, 200);
    // From 3 s to 4 s the harness began every request 300 ms late; the system answered in
    // 2 ms each time.
    run.request = Box::new(|t| {
        if (3_000..4_000).contains(&t) {
            (302, 300, Outcome::Ok)
        } else {
            (2, 0, Outcome::Ok)
        }
    });
    let d = run.judge(&["p95(latency, during=crash) < 100ms"]);
    assert_eq!(d.verdict, Verdict::Inconclusive, "{d:#?}");
    // The same latency with a punctual harness is the system's: breached.
    run.request = Box::new(|t| {
        if (3_000..4_000).contains(&t) {
            (302, 0, Outcome::Ok)
        } else {
            (2, 0, Outcome::Ok)
        }
    });
    let d = run.judge(&["p95(latency, during=crash) < 100ms"]);
    assert_eq!(d.verdict, Verdict::Breached);
}

#[test]
fn dropped_requests_never_let_a_latency_slo_pass() {
    let mut run = Run::healthy(8_000, 200);
    run.request = Box::new(|t| {
        if (3_000..3_500).contains(&t) {
            (0, 0, Outcome::Error("dropped"))
        } else {
            (2, 0, Outcome::Ok)
        }
    });
    let d = run.judge(&["p50(latency, during=crash) < 100ms"]);
    assert_ne!(d.verdict, Verdict::Pass, "{d:#?}");
    assert!(d.notes.iter().any(|n| n.contains("never sent")));
}

#[test]
fn a_load_too_sparse_for_its_failover_target_is_inconclusive() {
    // 2 req/s cannot see a 300 ms outage between two requests.
    let mut run = Run::healthy(8_000, 2);
    run.request = Box::new(|t| {
        if (3_100..3_400).contains(&t) {
            (1, 0, Outcome::Error("refused"))
        } else {
            (2, 0, Outcome::Ok)
        }
    });
    let d = run.judge(&["failover_time(crash) < 100ms"]);
    assert_eq!(d.verdict, Verdict::Inconclusive, "{d:#?}");
    assert!(
        d.results[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("too coarse")
    );
}

/// Issue 19, kind 5: zero targets have a resolution too. At 2 req/s a 1 s crash window holds
/// two requests 500 ms apart: none failing is "nothing seen", not "no client saw a failure".
const ZERO_SLOS: &[&str] = &[
    "failover_time(crash) <= 0ms",
    "error_rate(during=crash) <= 0%",
    "availability(during=crash) >= 100%",
    // One failure in two requests is 50 %: 0.1 % allows none, so it is a zero target here.
    "error_rate(during=crash) < 0.1%",
];

#[test]
fn a_zero_target_seen_through_sparse_requests_is_inconclusive() {
    let d = Run::healthy(8_000, 2).judge(ZERO_SLOS);
    assert_eq!(d.verdict, Verdict::Inconclusive, "{d:#?}");
    for r in &d.results {
        assert_eq!(r.verdict, Verdict::Inconclusive, "{r:#?}");
        let why = r.reason.as_deref().unwrap();
        assert!(why.contains("500ms apart"), "{why}");
    }
    // A 30 ms window that happens to hold one of those requests is still sampled 500 ms
    // apart, not 30 ms.
    let mut run = Run::healthy(8_000, 2);
    run.fault = Some((3_000, 3_030, true));
    let d = run.judge(ZERO_SLOS);
    assert!(
        verdicts(&d).iter().all(|v| *v == Verdict::Inconclusive),
        "{d:#?}"
    );
}

#[test]
fn a_zero_target_seen_through_dense_requests_passes_and_any_failure_breaches() {
    let d = Run::healthy(8_000, 200).judge(ZERO_SLOS);
    assert_eq!(d.verdict, Verdict::Pass, "{d:#?}");
    // A failure a client saw is certain at any rate.
    for rate in [2, 200] {
        let mut run = Run::healthy(8_000, rate);
        run.request = Box::new(|t| {
            if t == 3_500 {
                (1, 0, Outcome::Error("refused"))
            } else {
                (2, 0, Outcome::Ok)
            }
        });
        let d = run.judge(ZERO_SLOS);
        assert_eq!(d.verdict, Verdict::Breached, "{rate}/s: {d:#?}");
        assert!(
            verdicts(&d).iter().all(|v| *v == Verdict::Breached),
            "{rate}/s: {d:#?}"
        );
    }
}

#[test]
fn p99_of_twenty_requests_decides_nothing() {
    let mut run = Run::healthy(2_000, 10);
    run.fault = None;
    let d = run.judge(&["p99(latency) < 100ms", "p50(latency) < 100ms"]);
    assert_eq!(verdicts(&d), [Verdict::Inconclusive, Verdict::Pass]);
}

#[test]
fn a_target_that_never_answered_is_not_a_verdict_on_the_system() {
    let mut run = Run::healthy(8_000, 200);
    run.request = Box::new(|_| (1, 0, Outcome::Error("refused")));
    let d = run.judge(CRASH_SLOS);
    let why = d.never_answered.expect("never answered");
    assert!(why.contains("the load target: 0 of 600"), "{why}");
    // A probe pointed at the wrong place is the same mistake.
    let mut run = Run::healthy(8_000, 200);
    run.probe = Box::new(|_| false);
    let why = run
        .judge(CRASH_SLOS)
        .never_answered
        .expect("never answered");
    assert!(why.contains("probe `gateway`: 0 of 60"), "{why}");
    // 404s for every request: answered, but not what the scenario expects.
    let mut run = Run::healthy(8_000, 200);
    run.request = Box::new(|_| (1, 0, Outcome::Status(404)));
    assert!(run.judge(CRASH_SLOS).never_answered.is_some());
    // A run that answered before the fault and then failed is the system's.
    let mut run = Run::healthy(8_000, 200);
    run.request = Box::new(|t| {
        if t >= 3_000 {
            (1, 0, Outcome::Error("refused"))
        } else {
            (2, 0, Outcome::Ok)
        }
    });
    let d = run.judge(CRASH_SLOS);
    assert_eq!(d.never_answered, None);
    assert_eq!(d.verdict, Verdict::Breached);
}

/// Alert readings every 500 ms: inactive, then pending from `pending_ms` (activeAt
/// `active_ms`), firing from `firing_ms`, inactive again from `clear_ms`.
fn alert_story(
    end_ms: u64,
    active_ms: i64,
    pending_ms: u64,
    firing_ms: u64,
    clear_ms: u64,
) -> Vec<(u64, &'static str, Option<i64>)> {
    (0..end_ms)
        .step_by(500)
        .map(|t| {
            if t >= clear_ms {
                (t, "inactive", None)
            } else if t >= firing_ms {
                (t, "firing", Some(active_ms))
            } else if t >= pending_ms {
                (t, "pending", Some(active_ms))
            } else {
                (t, "inactive", None)
            }
        })
        .collect()
}

#[test]
fn detect_time_is_active_at_plus_for_and_judged_on_the_evaluation_interval() {
    let mut run = Run::healthy(20_000, 50);
    // The fault at 3 s; the alert active at 4.2 s, firing (for: 2s) from 6.2 s, seen at 6.5 s;
    // cleared (seen) at 9.5 s, after the fault's end at 4 s.
    run.alerts = alert_story(20_000, 4_200, 4_500, 6_500, 9_500);
    let d = run.judge(&[
        "detect_time(crash, alert=QuoteErrorRatioHigh) < 30s",
        "detect_time(crash, alert=QuoteErrorRatioHigh) < 4s",
        "detect_time(crash, alert=QuoteErrorRatioHigh) < 3s",
        "clear_time(crash, alert=QuoteErrorRatioHigh) < 10s",
        "clear_time(crash, alert=QuoteErrorRatioHigh) < 5200ms",
    ]);
    assert_eq!(d.results[0].measured.unwrap().to_string(), "3.2s");
    assert_eq!(d.results[3].measured.unwrap().to_string(), "5.5s");
    assert_eq!(
        verdicts(&d),
        [
            Verdict::Pass,
            // 3.2 s to 4.2 s (one evaluation interval) straddles 4 s: too coarse to decide.
            Verdict::Inconclusive,
            Verdict::Breached,
            Verdict::Pass,
            // Last seen firing at 9 s (5 s after the end), clear at 9.5 s: straddles 5.2 s.
            Verdict::Inconclusive,
        ],
        "{d:#?}"
    );
}

#[test]
fn an_alert_that_never_fires_breaches_once_the_watch_outlasts_the_target() {
    let mut run = Run::healthy(20_000, 50);
    run.alerts = alert_story(20_000, 0, u64::MAX, u64::MAX, u64::MAX);
    let d = run.judge(&[
        "detect_time(crash, alert=QuoteErrorRatioHigh) < 10s",
        "detect_time(crash, alert=QuoteErrorRatioHigh) < 30s",
        "clear_time(crash, alert=QuoteErrorRatioHigh) < 10s",
    ]);
    // Watched 16.5 s after the fault (last reading at 19.5 s) without firing.
    assert_eq!(d.results[0].measured.unwrap().to_string(), "16.5s");
    // The breach says what never happened, in the verdict's reason every report shows.
    assert_eq!(
        d.results[0].reason.as_deref(),
        Some(
            "measured at least 16.5s (alert `QuoteErrorRatioHigh` never fired before the watch \
             ended), target < 10s"
        )
    );
    assert_eq!(
        verdicts(&d),
        [
            Verdict::Breached,
            // The run ended before 30 s had passed: only a lower bound, never a pass.
            Verdict::Inconclusive,
            // Nothing fired, so nothing to clear: no data, not a pass.
            Verdict::Inconclusive,
        ],
        "{d:#?}"
    );
}

#[test]
fn an_alert_already_active_before_the_fault_is_not_put_down_to_it() {
    let mut run = Run::healthy(20_000, 50);
    run.alerts = alert_story(20_000, 1_000, 1_000, 3_000, u64::MAX);
    let d = run.judge(&["detect_time(crash, alert=QuoteErrorRatioHigh) < 30s"]);
    assert_eq!(verdicts(&d), [Verdict::Inconclusive], "{d:#?}");
    let reason = d.results[0].reason.clone().unwrap_or_default();
    assert!(reason.contains("already active before"), "{reason}");
    // Pending (not yet firing) before the fault is the same: activeAt is before it.
    run.alerts = alert_story(20_000, 2_000, 2_500, 4_500, u64::MAX);
    let d = run.judge(&["detect_time(crash, alert=QuoteErrorRatioHigh) < 30s"]);
    assert_eq!(verdicts(&d), [Verdict::Inconclusive], "{d:#?}");
}

/// A probe that never came back after the crash: its recovery time is a lower bound that
/// already exceeds the target, a breach that says the probe never recovered.
#[test]
fn a_probe_that_never_recovers_breaches_saying_so() {
    let mut run = Run::healthy(8_000, 200);
    run.probe = Box::new(|t| t < 3_000);
    let d = run.judge(&["recovery_time(crash, probe=gateway) < 2s"]);
    assert_eq!(verdicts(&d), [Verdict::Breached], "{d:#?}");
    let reason = d.results[0].reason.clone().unwrap_or_default();
    assert!(
        reason.starts_with("measured at least ")
            && reason.contains("(probe `gateway` never recovered before the watch ended)"),
        "{reason}"
    );
}
