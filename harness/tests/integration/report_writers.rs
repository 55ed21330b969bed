//! Every report writer, snapshotted from one fixed report, and the JSON report checked
//! against its published schema.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chaosgate::report::{
    self, EvidenceReport, FailoverReport, FaultReport, LatencySummary, MeasuredValue, PhaseReport,
    ProbeReport, RecoveryReport, Report, ScenarioInfo, SecondPoint, ServiceInfo, SloReport,
    StackInfo,
};
use chaosgate::verdict::Verdict;
use serde_json::json;

fn latency(p50: f64, p99: f64) -> LatencySummary {
    LatencySummary {
        p50,
        p90: p50 * 1.6,
        p95: p50 * 2.0,
        p99,
        p99_9: p99 * 1.3,
        max: p99 * 1.5,
    }
}

fn phase(
    name: &str,
    start_ms: f64,
    end_ms: f64,
    scheduled: u64,
    errors: u64,
    l: LatencySummary,
) -> PhaseReport {
    PhaseReport {
        name: name.parse().unwrap(),
        start_ms,
        end_ms,
        scheduled,
        ok: scheduled - errors,
        errors,
        error_rate: Some(errors as f64 / scheduled as f64),
        availability: Some((scheduled - errors) as f64 / scheduled as f64),
        latency_ms: Some(l),
        // The harness kept its schedule except in the whole run's tail.
        harness_lag_ms: Some(LatencySummary {
            p50: 0.12,
            p90: 0.2,
            p95: 0.31,
            p99: if name == "whole" { 2.0 } else { 1.6 },
            p99_9: 9.47,
            max: 18.1,
        }),
        errors_by_kind: if errors > 0 {
            BTreeMap::from([("status_5xx".into(), errors - 3), ("timeout".into(), 3)])
        } else {
            BTreeMap::new()
        },
        status_counts: BTreeMap::from([("200".into(), scheduled - errors)]),
    }
}

/// A replica-crash run: the crash was applied and recovered, a second fault could not be
/// proven applied, one SLO breached and one had no data.
fn fixture() -> Report {
    // 30 s at 200/s; errors only in seconds 10 and 11 (the failover), latency up around them.
    let series = (0..30u64)
        .map(|t| {
            let errors = match t {
                10 => 61,
                11 => 9,
                _ => 0,
            };
            let slow = (10..=12).contains(&t);
            SecondPoint {
                t,
                sent: 200,
                ok: 200 - errors,
                errors,
                p50_ms: Some(if slow {
                    14.5
                } else {
                    3.2 + (t % 3) as f64 * 0.1
                }),
                p99_ms: if t == 20 {
                    None
                } else {
                    Some(if slow { 480.0 } else { 11.0 + (t % 4) as f64 })
                },
            }
        })
        .collect();
    Report {
        schema_version: report::SCHEMA_VERSION.into(),
        scenario: ScenarioInfo {
            name: "replica-crash".into(),
            file: "scenarios/replica-crash.yaml".into(),
            description:
                "Crash the primary market-data replica under load; the gateway must fail over."
                    .into(),
        },
        seed: 42,
        run_id: "replica-crash-20261123T091500Z".into(),
        started_at: "2026-11-23T09:15:00Z".into(),
        duration_ms: 52_310.0,
        verdict: Verdict::Breached,
        exit_code: 1,
        not_judged: None,
        run_issues: vec![],
        stopped_early: None,
        provenance: Some(provenance(
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        )),
        stack: StackInfo {
            project: "cg-replica-crash-1234".into(),
            compose_files: vec!["compose/trading.yml".into()],
            services: vec![
                ServiceInfo {
                    name: "gateway".into(),
                    containers: vec!["cg-replica-crash-1234_gateway_1".into()],
                },
                ServiceInfo {
                    name: "marketdata-a".into(),
                    containers: vec!["cg-replica-crash-1234_marketdata-a_1".into()],
                },
            ],
        },
        phases: vec![
            phase("before", 0.0, 10_000.0, 2000, 0, latency(3.2, 11.0)),
            phase(
                "during:crash-primary",
                10_000.0,
                15_000.0,
                1000,
                70,
                latency(9.8, 480.0),
            ),
            phase("after", 15_000.0, 30_000.0, 3000, 0, latency(3.3, 12.5)),
            phase("whole", 0.0, 30_000.0, 6000, 70, latency(3.3, 95.0)),
        ],
        faults: vec![
            FaultReport {
                name: "crash-primary".into(),
                action: "crash".into(),
                service: "marketdata-a".into(),
                labels: Default::default(),
                targets: vec!["cg-replica-crash-1234_marketdata-a_1".into()],
                scheduled_at_ms: 10_000.0,
                applied_at_ms: Some(10_002.4),
                verified_at_ms: Some(10_023.9),
                reverted_at_ms: None,
                applied: true,
                evidence: json!({ "docker_events": [{ "action": "die", "t_ms": 10023.9 }, { "action": "start", "t_ms": 10471.2 }] }),
                recovery: vec![RecoveryReport {
                    probe: "marketdata-a".into(),
                    recovered_at_ms: Some(11_540.0),
                    recovery_time_ms: Some(1_537.6),
                }],
                failover: Some(FailoverReport {
                    longest_outage_ms: 430.5,
                    outage_start_ms: Some(10_031.0),
                    outage_end_ms: Some(10_461.5),
                    failed_requests: 70,
                }),
            },
            FaultReport {
                name: "pause-redis".into(),
                action: "pause".into(),
                service: "redis".into(),
                labels: Default::default(),
                targets: vec![],
                scheduled_at_ms: 20_000.0,
                applied_at_ms: None,
                verified_at_ms: None,
                reverted_at_ms: None,
                applied: false,
                evidence: json!({ "error": "no container of service redis is running" }),
                recovery: vec![],
                failover: None,
            },
        ],
        steady_state: vec![],
        slos: vec![
            SloReport {
                expression: "p95(latency, during=crash-primary) < 100ms".into(),
                verdict: Verdict::Pass,
                target: "< 100ms".into(),
                measured: Some(MeasuredValue {
                    unit: "ms".into(),
                    value: 19.6,
                    text: "19.6ms".into(),
                }),
                reason: None,
                evidence: Some(EvidenceReport {
                    window_ms: Some((10_002.4, 15_002.4)),
                    details: BTreeMap::from([("samples".into(), json!(1000))]),
                }),
                advisory: false,
            },
            SloReport {
                expression: "error_rate(during=crash-primary) < 0.1%".into(),
                verdict: Verdict::Breached,
                target: "< 0.1%".into(),
                measured: Some(MeasuredValue {
                    unit: "ratio".into(),
                    value: 0.07,
                    text: "7%".into(),
                }),
                reason: Some("measured 7%, target < 0.1%".into()),
                evidence: Some(EvidenceReport {
                    window_ms: Some((10_002.4, 15_002.4)),
                    details: BTreeMap::from([
                        ("errors".into(), json!(70)),
                        ("scheduled".into(), json!(1000)),
                    ]),
                }),
                advisory: false,
            },
            SloReport {
                expression: "recovery_time(crash-primary, probe=marketdata-a) < 30s".into(),
                verdict: Verdict::Pass,
                target: "< 30s".into(),
                measured: Some(MeasuredValue {
                    unit: "ms".into(),
                    value: 1537.6,
                    text: "1.54s".into(),
                }),
                reason: None,
                evidence: None,
                advisory: false,
            },
            SloReport {
                expression: "failover_time(pause-redis) < 2s".into(),
                verdict: Verdict::Inconclusive,
                target: "< 2s".into(),
                measured: None,
                reason: Some("fault pause-redis was not proven applied".into()),
                evidence: None,
                advisory: false,
            },
        ],
        probes: vec![ProbeReport {
            name: "marketdata-a".into(),
            kind: "http".into(),
            service: "gateway".into(),
            checks: 600,
            ok: 571,
            failed: 29,
        }],
        series,
        notes: vec![
            "fault pause-redis: no container of service redis is running <at 20.000s>".into(),
        ],
    }
}

fn schema_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../schemas")
        .join(name)
}

#[test]
fn json_report() {
    let text = report::json::render(&fixture()).unwrap();
    insta::assert_snapshot!(text);
}

#[test]
fn junit_report() {
    insta::assert_snapshot!(report::junit::render(&fixture()).unwrap());
}

#[test]
fn markdown_summary() {
    insta::assert_snapshot!(report::markdown::render(&fixture()));
}

#[test]
fn terminal_summary() {
    insta::assert_snapshot!(report::render_terminal(&fixture()));
}

#[test]
fn html_report() {
    let html = report::html::render(&fixture());
    // Self-contained: nothing is fetched when the file is opened from a CI artifact.
    for forbidden in ["<script", "src=\"http", "href=\"http", "<link", "@import"] {
        assert!(
            !html.contains(forbidden),
            "report.html contains {forbidden}"
        );
    }
    // User text is escaped.
    assert!(html.contains("&lt;at 20.000s&gt;"));
    insta::assert_snapshot!(html);
}

#[test]
fn written_files_round_trip() {
    let dir = std::env::temp_dir().join(format!("chaosgate-report-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    struct Cleanup(PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _cleanup = Cleanup(dir.clone());
    let paths = report::write_all(&fixture(), &dir).unwrap();
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["report.json", "junit.xml", "summary.md", "report.html"]
    );
    let back = report::json::read(&dir.join("report.json")).unwrap();
    assert_eq!(back, fixture());
}

#[test]
fn produced_report_validates_against_the_published_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path("report.schema.json")).unwrap())
            .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let instance = serde_json::to_value(fixture()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The schema is not vacuous: a report missing its verdict or with an unknown verdict fails.
    let mut broken = instance.clone();
    broken["verdict"] = json!("maybe");
    assert!(!validator.is_valid(&broken));
    let mut broken = instance;
    broken.as_object_mut().unwrap().remove("slos");
    assert!(!validator.is_valid(&broken));
}

#[test]
fn published_report_schema_is_current() {
    crate::common::assert_schema_current(
        "report.schema.json",
        &report::json_schema(),
        "report_writers::published_report_schema_is_current",
    );
}

#[test]
fn compare_flags_regressions_beyond_tolerance() {
    // Both runs proven to have applied their faults (the fixture's second fault is not).
    let proven = || {
        let mut r = fixture();
        r.faults.truncate(1);
        r
    };
    let old = proven();
    let mut new = proven();
    // p99 during the crash up 50 %, recovery 3 s slower, the p95 SLO now breached, and the
    // whole-run p50 up by 0.3 ms (+9 %, below the tolerance and the noise floor).
    new.phases[1].latency_ms.as_mut().unwrap().p99 = 720.0;
    new.faults[0].recovery[0].recovery_time_ms = Some(4_537.6);
    new.slos[0].verdict = Verdict::Breached;
    new.phases[3].latency_ms.as_mut().unwrap().p50 = 3.6;
    // The error rate during the crash halves: an improvement.
    new.phases[1].error_rate = Some(0.035);
    let cmp = report::compare(&old, &new, 0.10);
    assert!(cmp.has_regressions());
    let what: Vec<&str> = cmp.regressions.iter().map(|c| c.what.as_str()).collect();
    assert_eq!(
        what,
        [
            "SLO p95(latency, during=crash-primary) < 100ms",
            "phase during:crash-primary p99",
            "fault crash-primary recovery (marketdata-a)"
        ]
    );
    assert_eq!(cmp.improvements.len(), 1);
    insta::assert_snapshot!(cmp.to_string());
    // A report compared with itself has nothing to say.
    let same = report::compare(&old, &old, 0.0);
    assert!(same.regressions.is_empty() && same.improvements.is_empty());
    assert!(same.compared > 10);
}

/// Issue 19, kind 1: NEW's fault never applied, so NEW measured a system with no fault and
/// "improved" (it was "0 regressions, 2 improvements", exit 0). The run verdict got worse:
/// a regression (exit 1), and no figure of a run that did not test what it says is an
/// improvement. An OLD that was inconclusive as a whole is no baseline: exit 4.
#[test]
fn compare_reads_the_run_level_verdict() {
    let old = fixture_passing();
    let mut new = fixture_passing();
    new.faults[0].applied = false;
    new.faults[0].verified_at_ms = None;
    new.verdict = Verdict::Inconclusive;
    new.exit_code = 4;
    new.phases[1].error_rate = Some(0.0);
    new.phases[1].latency_ms.as_mut().unwrap().p99 = 3.0;
    let cmp = report::compare(&old, &new, 0.10);
    assert_eq!(cmp.exit_code(), 1, "{cmp}");
    let what: Vec<&str> = cmp.regressions.iter().map(|c| c.what.as_str()).collect();
    assert_eq!(what, ["run verdict"]);
    assert!(cmp.improvements.is_empty(), "{cmp}");
    assert!(
        cmp.to_string()
            .contains("fault `crash-primary` could not be proven applied"),
        "{cmp}"
    );
    // The other way round: nothing to compare against.
    let back = report::compare(&new, &old, 0.10);
    assert!(back.regressions.is_empty(), "{back}");
    assert_eq!(back.exit_code(), 4, "{back}");
}

/// An advisory SLO that got worse is said, never a regression: it does not gate.
#[test]
fn compare_never_calls_an_advisory_slo_a_regression() {
    let mut old = fixture_passing();
    old.slos[0].advisory = true;
    let mut new = old.clone();
    new.slos[0].verdict = Verdict::Breached;
    let cmp = report::compare(&old, &new, 0.10);
    assert_eq!(cmp.exit_code(), 0, "{cmp}");
    assert!(cmp.to_string().contains("advisory SLO"), "{cmp}");
    new.slos[0].advisory = false;
    assert_eq!(report::compare(&old, &new, 0.10).exit_code(), 1);
}

/// The fixture with every SLO passing and a pass verdict.
fn fixture_passing() -> report::Report {
    let mut r = fixture();
    r.faults.truncate(1);
    for s in &mut r.slos {
        s.verdict = Verdict::Pass;
        s.reason = None;
    }
    r.verdict = Verdict::Pass;
    r.exit_code = 0;
    r
}

/// An inconclusive run whose SLOs all passed (a fault proven to have touched nothing): no
/// report may read green. JUnit carries the fault as an error testcase.
#[test]
fn every_report_tells_the_same_verdict() {
    let mut r = fixture();
    for s in &mut r.slos {
        s.verdict = Verdict::Pass;
        s.reason = None;
    }
    r.verdict = Verdict::Inconclusive;
    r.exit_code = 4;
    let junit = report::junit::render(&r).unwrap();
    assert!(junit.contains("errors=\"1\""), "{junit}");
    assert!(junit.contains("could not be proven applied"), "{junit}");
    // Every fault proven, every SLO green, yet not a pass (e.g. never answered, exit 3): a
    // `verdict` testcase says so.
    for f in &mut r.faults {
        f.applied = true;
    }
    r.exit_code = 3;
    r.not_judged = Some("never answered: the load target".into());
    let junit = report::junit::render(&r).unwrap();
    assert!(junit.contains(r#"<testcase name="verdict""#), "{junit}");
    assert!(junit.contains("exit code 3"), "{junit}");
    let md = report::markdown::render(&r);
    assert!(md.contains("NOT JUDGED"), "{md}");
    let html = report::html::render(&r);
    assert!(html.contains("NOT JUDGED"));
    let term = report::render_terminal(&r);
    assert!(term.contains("NOT JUDGED"), "{term}");
}

#[test]
fn user_text_is_escaped_in_markdown_and_html() {
    let mut r = fixture();
    r.scenario.description = "<script>alert('x')</script> & <img src=x onerror=y>".into();
    r.scenario.name = "a<b>c".into();
    let md = report::markdown::render(&r);
    assert!(!md.contains("<script>"), "{md}");
    assert!(!md.contains("<img"), "{md}");
    assert!(!md.contains("<b>"), "{md}");
    let html = report::html::render(&r);
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("<img src=x"));
}

fn provenance(scenario_sha: &str) -> chaosgate::provenance::Provenance {
    use chaosgate::provenance::*;
    Provenance {
        harness_version: "0.1.0".into(),
        scenario: FileProvenance {
            path: "scenarios/replica-crash.yaml".into(),
            sha256: Some(scenario_sha.into()),
            git_commit: Some("2d5fbf3e0e4c6a8b1f0d9c7b5a3e1f0d2c4b6a8e".into()),
            git_dirty: Some(false),
            ..Default::default()
        },
        compose_files: vec![FileProvenance {
            path: "compose/trading.yml".into(),
            sha256: Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into()),
            git_commit: Some("2d5fbf3e0e4c6a8b1f0d9c7b5a3e1f0d2c4b6a8e".into()),
            git_dirty: Some(true),
            ..Default::default()
        }],
        images: [(
            "gateway".to_string(),
            ImageProvenance {
                tag: "chaosgate/trading:0.1.0".into(),
                id: Some("sha256:4a5b6c".into()),
            },
        )]
        .into(),
        set: vec!["GATEWAY_FAILOVER=off".into()],
        host: HostProvenance {
            kernel: "6.1.0-28-amd64".into(),
            cores: 2,
            docker_version: Some("28.2.2".into()),
        },
    }
}

#[test]
fn compare_warns_when_the_scenarios_differ() {
    let old = fixture();
    let mut new = fixture();
    assert!(report::compare(&old, &new, 0.1).warnings.is_empty());
    new.provenance = Some(provenance("0000000000000000"));
    let cmp = report::compare(&old, &new, 0.1);
    assert_eq!(cmp.warnings.len(), 1, "{cmp}");
    assert!(
        cmp.to_string().contains("different scenario files"),
        "{cmp}"
    );
    new.provenance = None;
    assert!(
        report::compare(&old, &new, 0.1)
            .to_string()
            .contains("no provenance")
    );
}
