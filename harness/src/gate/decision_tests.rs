//! The gate's one decision over typed per-run results, Docker-free: each case is an input from
//! issue 19 that gave a wrong verdict, asserted at the right one.

use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Done, Plan, Side, SingleRun};
use crate::report::gate::GateKind;
use crate::slo::Quantity;
use crate::verdict::{Evidence, Facts, RunIssue, SloResult, Verdict};

/// The bundled replica-crash scenario with its SLOs replaced by `slos`.
fn scenario(slos: &[&str]) -> crate::scenario::Scenario {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let text = std::fs::read_to_string(dir.join("replica-crash.yaml")).unwrap();
    let head = &text[..text.find("\nslos:").unwrap()];
    let list: String = slos.iter().map(|s| format!("  - {s}\n")).collect();
    crate::scenario::parse_str(
        &format!("{head}\nslos:\n{list}"),
        &dir.join("gate-test.yaml"),
    )
    .unwrap()
}

fn result(expression: &str, verdict: Verdict, value: Option<Quantity>, facts: Facts) -> SloResult {
    SloResult {
        expression: expression.into(),
        verdict,
        target: String::new(),
        measured: value,
        reason: None,
        evidence: Some(Box::new(Evidence {
            facts,
            ..Default::default()
        })),
    }
}

fn ms(v: u64) -> Option<Quantity> {
    Some(Quantity::Duration(Duration::from_millis(v)))
}

fn ratio(v: f64) -> Option<Quantity> {
    Some(Quantity::Ratio(v))
}

/// A finished run: its absolute and relative results by SLO index, and its run-level issues.
fn done(
    index: usize,
    absolute: Vec<(usize, SloResult)>,
    relative: Vec<(usize, SloResult)>,
    issues: Vec<RunIssue>,
) -> Done {
    let verdict = crate::verdict::run_verdict(absolute.iter().map(|(_, r)| r.verdict), &issues);
    Done {
        index,
        seed: index as u64,
        dir: std::env::temp_dir(),
        run: SingleRun {
            exit_code: issues.iter().map(|i| i.exit_code()).fold(
                crate::exit_codes::of_verdict(verdict),
                crate::exit_codes::worse,
            ),
            report: None,
            absolute,
            relative,
            issues,
            error: None,
            kept_stack: None,
        },
    }
}

/// A gate plan over `s` for judging only (nothing runs: no directory, no callback).
fn plan<'a>(
    s: &'a crate::scenario::Scenario,
    kind: GateKind,
    repeat: usize,
    sides: Vec<Side>,
) -> Plan<'a> {
    fn ignore(_: &str, _: &Done) {}
    Plan {
        scenario: s,
        kind,
        seed: 1,
        repeat,
        common: &[],
        sides,
        dir: Path::new("/nonexistent"),
        cancel: CancellationToken::new(),
        quiet: true,
        jitter: None,
        on_done: &ignore,
    }
}

fn side(name: &str) -> Side {
    Side {
        name: name.into(),
        set: vec![],
    }
}

fn judge_ab(s: &crate::scenario::Scenario, baseline: &[Done], candidate: &[Done]) -> Verdict {
    let plan = plan(
        s,
        GateKind::Ab,
        baseline.len(),
        vec![side("baseline"), side("candidate")],
    );
    let mut report = super::skeleton(&plan, &[], String::new(), Duration::ZERO);
    super::ab::judge(&plan, baseline, candidate, &mut report);
    report.verdict
}

fn judge_repeat(s: &crate::scenario::Scenario, runs: &[Done]) -> Verdict {
    let plan = plan(s, GateKind::Repeat, runs.len(), vec![side("repeat")]);
    let mut report = super::skeleton(&plan, &[], String::new(), Duration::ZERO);
    super::repeat::judge(&plan, runs, &mut report);
    report.verdict
}

fn unproven() -> RunIssue {
    RunIssue::FaultUnproven {
        fault: "crash-primary".into(),
        reason: Some("no container matched the label selector".into()),
    }
}

/// Kind 3: two good builds, no fault, only relative SLOs. A single run of it has no absolute
/// SLO (so on its own it is inconclusive), which is no run-level issue: the gate passes.
#[test]
fn a_gate_of_relative_slos_only_can_pass() {
    let s = scenario(&[
        "error_rate(phase=whole) <= baseline + 1%",
        "availability(phase=whole) >= baseline - 1%",
    ]);
    let side = |i| {
        done(
            i,
            vec![],
            vec![
                (0, result("", Verdict::Pass, ratio(0.0), Facts::default())),
                (1, result("", Verdict::Pass, ratio(1.0), Facts::default())),
            ],
            vec![],
        )
    };
    assert_eq!(judge_ab(&s, &[side(1)], &[side(1)]), Verdict::Pass);
}

/// Kind 1: the baseline's fault matched no container, so the baseline ran no fault and looked
/// better; the candidate's real figures must not be called a regression. Inconclusive (exit 4).
#[test]
fn an_ab_whose_baseline_fault_never_applied_is_inconclusive_not_a_regression() {
    let s = scenario(&[
        "failover_time(crash-primary) <= baseline + 50ms",
        "error_rate(during=crash-primary) <= baseline + 0.1%",
    ]);
    let baseline = done(
        1,
        vec![],
        vec![
            (0, result("", Verdict::Pass, ms(0), Facts::default())),
            (1, result("", Verdict::Pass, ratio(0.0), Facts::default())),
        ],
        vec![unproven()],
    );
    let candidate = done(
        1,
        vec![],
        vec![
            (0, result("", Verdict::Pass, ms(0), Facts::default())),
            (1, result("", Verdict::Pass, ratio(0.02), Facts::default())),
        ],
        vec![],
    );
    assert_eq!(
        judge_ab(&s, &[baseline], &[candidate]),
        Verdict::Inconclusive
    );
}

/// Kind 1, repeat: one run of three whose fault never applied forbids a pass, even when
/// every SLO row of every run passed.
#[test]
fn a_repeat_with_an_unproven_run_cannot_pass() {
    let s = scenario(&["availability(phase=whole) >= 99%"]);
    let run = |i, issues| {
        done(
            i,
            vec![(0, result("", Verdict::Pass, ratio(1.0), Facts::default()))],
            vec![],
            issues,
        )
    };
    let runs = [run(1, vec![]), run(2, vec![unproven()]), run(3, vec![])];
    assert_eq!(judge_repeat(&s, &runs), Verdict::Inconclusive);
    let runs = [run(1, vec![]), run(2, vec![]), run(3, vec![])];
    assert_eq!(judge_repeat(&s, &runs), Verdict::Pass);
    // The CI false pass of 2026-12-06: a memory squeeze whose helper the OOM killer ended
    // halfway; every SLO held because the squeeze was gone. No gate path may pass it.
    let ended = RunIssue::FaultEndedEarly {
        fault: "squeeze".into(),
        reason: "1 of 6 helpers ended before the revert".into(),
    };
    let runs = [run(1, vec![]), run(2, vec![ended.clone()]), run(3, vec![])];
    assert_eq!(judge_repeat(&s, &runs), Verdict::Inconclusive);
    assert_eq!(ended.exit_code(), crate::exit_codes::INCONCLUSIVE);
}

/// Kind 2: the candidate's replica never came back (restart policy `no`): its recovery is
/// only known as "at least 14 s", already past twice the baseline's 0.45 s. Breached, in `ab`
/// and for an absolute target under `--repeat`.
#[test]
fn a_lower_bound_past_the_bound_breaches() {
    let never = Facts {
        recovered: Some(false),
        ..Default::default()
    };
    let back = Facts {
        recovered: Some(true),
        ..Default::default()
    };
    let s = scenario(&["recovery_time(crash-primary, probe=marketdata-a) <= baseline * 2"]);
    let baseline = done(
        1,
        vec![],
        vec![(0, result("", Verdict::Pass, ms(450), back.clone()))],
        vec![],
    );
    let candidate = done(
        1,
        vec![],
        vec![(0, result("", Verdict::Pass, ms(14_000), never.clone()))],
        vec![],
    );
    assert_eq!(judge_ab(&s, &[baseline], &[candidate]), Verdict::Breached);

    // The same lower bound *below* the bound decides nothing.
    let baseline = done(
        1,
        vec![],
        vec![(0, result("", Verdict::Pass, ms(9_000), back.clone()))],
        vec![],
    );
    let candidate = done(
        1,
        vec![],
        vec![(0, result("", Verdict::Pass, ms(14_000), never.clone()))],
        vec![],
    );
    assert_eq!(
        judge_ab(&s, &[baseline], &[candidate]),
        Verdict::Inconclusive
    );

    // Absolute, three runs that never recovered (at least 14-16 s) against < 10s: breached;
    // one lower bound under the target among good runs decides nothing.
    let s = scenario(&["recovery_time(crash-primary, probe=marketdata-a) < 10s"]);
    let run = |i, v, f: &Facts, verdict| {
        done(
            i,
            vec![(0, result("", verdict, ms(v), f.clone()))],
            vec![],
            vec![],
        )
    };
    let runs = [
        run(1, 14_000, &never, Verdict::Breached),
        run(2, 15_000, &never, Verdict::Breached),
        run(3, 16_000, &never, Verdict::Breached),
    ];
    assert_eq!(judge_repeat(&s, &runs), Verdict::Breached);
    let runs = [
        run(1, 4_000, &never, Verdict::Inconclusive),
        run(2, 500, &back, Verdict::Pass),
        run(3, 500, &back, Verdict::Pass),
    ];
    assert_eq!(judge_repeat(&s, &runs), Verdict::Inconclusive);
}

/// A run that never answered (exit 3) on either side is a run-level issue the gate reports
/// typed, with its side and index.
#[test]
fn run_issues_are_kept_typed_with_their_side() {
    let s = scenario(&["availability(phase=whole) >= 99%"]);
    let plan = plan(&s, GateKind::Ab, 1, vec![]);
    let b = done(
        1,
        vec![(0, result("", Verdict::Pass, ratio(1.0), Facts::default()))],
        vec![],
        vec![RunIssue::NeverAnswered {
            detail: "never answered: the load target".into(),
        }],
    );
    let c = done(
        1,
        vec![(0, result("", Verdict::Pass, ratio(1.0), Facts::default()))],
        vec![],
        vec![],
    );
    let mut report = super::skeleton(&plan, &[], String::new(), Duration::ZERO);
    super::ab::judge(&plan, &[b], &[c], &mut report);
    assert_eq!(report.verdict, Verdict::Inconclusive);
    assert_eq!(report.run_issues.len(), 1);
    assert_eq!(report.run_issues[0].side, "baseline");
    assert!(
        report.notes.iter().any(|n| n.contains("baseline run 1")),
        "{:?}",
        report.notes
    );
}

#[test]
fn jitter_shifts_every_fault_alike_and_refuses_a_schedule_it_would_push_out() {
    let s = scenario(&["availability(phase=whole) >= 99%"]);
    let spec = crate::plan::from_scenario(&s, 7, &Default::default()).unwrap();
    let mut a = spec.clone();
    let off = super::jitter_faults(&mut a, 7, Duration::from_secs(2)).unwrap();
    assert!(off <= Duration::from_secs(2));
    assert_eq!(a.faults[0].at, spec.faults[0].at + off);
    let mut b = spec.clone();
    assert_eq!(
        super::jitter_faults(&mut b, 7, Duration::from_secs(2)).unwrap(),
        off,
        "the same seed gives the same offset"
    );
    let offsets: std::collections::BTreeSet<Duration> = (0..20)
        .map(|seed| super::jitter_faults(&mut spec.clone(), seed, Duration::from_secs(2)).unwrap())
        .collect();
    assert!(offsets.len() > 5, "{offsets:?}");
    let err = super::jitter_faults(&mut spec.clone(), 7, Duration::from_secs(25)).unwrap_err();
    assert!(err.contains("at most 14s"), "{err}");
}

/// `{ slo: ..., severity: advisory }` parses, and an advisory breach never fails a gate.
#[test]
fn an_advisory_slo_never_gates_a_repeat() {
    let s = scenario(&[
        "availability(phase=whole) >= 99%",
        "{ slo: \"p95(latency, during=crash-primary) < 1ms\", severity: advisory }",
    ]);
    assert!(s.slos[0].gates());
    assert_eq!(s.slos[1].severity, crate::slo::Severity::Advisory);
    let run = |i| {
        done(
            i,
            vec![
                (0, result("", Verdict::Pass, ratio(1.0), Facts::default())),
                (1, result("", Verdict::Breached, ms(40), Facts::default())),
            ],
            vec![],
            vec![],
        )
    };
    assert_eq!(judge_repeat(&s, &[run(1), run(2), run(3)]), Verdict::Pass);
}

/// Kind 4: the same variables on both sides are an A/A run (allowed: it measures noise), and
/// the gate says so; a misspelt variable never gets this far (`crate::plan::from_scenario` refuses it).
#[test]
fn an_ab_of_one_build_with_itself_says_so() {
    let s = scenario(&["availability(phase=whole) >= 99%"]);
    let side = |name: &str, v: &str| Side {
        name: name.into(),
        set: vec![("GATEWAY_FAILOVER_DELAY".into(), v.into())],
    };
    let note = |b: &str, c: &str| {
        let plan = plan(
            &s,
            GateKind::Ab,
            1,
            vec![side("baseline", b), side("candidate", c)],
        );
        super::skeleton(&plan, &[], String::new(), Duration::ZERO)
            .notes
            .iter()
            .any(|n| n.contains("A/A"))
    };
    assert!(note("0s", "0s"));
    assert!(!note("0s", "5s"));
}

/// A steady state is judged before the first fault: a bare metric means `phase=before`, and an
/// explicit other window (`phase=whole` included) is refused rather than silently narrowed.
#[test]
fn a_steady_state_is_the_window_before_the_first_fault() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let text = std::fs::read_to_string(dir.join("replica-crash.yaml")).unwrap();
    let with = |steady: &str| {
        let src = text.replace(
            "steady_state:\n  - error_rate(phase=before) < 1%\n",
            &format!("steady_state:\n  - {steady}\n"),
        );
        crate::scenario::parse_str(&src, &dir.join("steady-test.yaml"))
    };
    let s = with("error_rate() < 1%").unwrap();
    assert!(matches!(
        s.steady_state[0].metric,
        crate::slo::Metric::ErrorRate(crate::metric::ErrorRate {
            phase: crate::slo::Phase::Before
        })
    ));
    for bad in [
        "error_rate(phase=whole) < 1%",
        "error_rate(during=crash-primary) < 1%",
        "recovery_time(crash-primary) < 1s",
    ] {
        assert!(with(bad).is_err(), "{bad} was accepted");
    }
}
