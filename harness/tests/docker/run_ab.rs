//! The release gate end to end against the reference stack: `chaosgate ab` (a bad candidate
//! breaches a relative SLO; good vs good passes, twice) and `run --repeat N` (the aggregate
//! with per-run figures, medians and intervals).

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{self, TempDir, chaosgate, text};
use crate::stack::{assert_run_left_nothing, inline_scenario, require_images};

/// The one gate directory under `root`, its `gate.json`, and every run's `report.json`.
fn gate_of(root: &Path, out: &Output) -> (PathBuf, serde_json::Value) {
    let dir = common::run_dir(root);
    let gate: serde_json::Value = std::fs::read_to_string(dir.join("gate.json"))
        .map(|raw| serde_json::from_str(&raw).expect("gate.json parses"))
        .unwrap_or_else(|e| panic!("no gate.json ({e}):\n{}", text(out)));
    for side in gate["sides"].as_array().expect("sides") {
        for run in side["runs"].as_array().expect("runs") {
            let report = common::report_json(Path::new(run["dir"].as_str().expect("dir")));
            assert_run_left_nothing(&report);
        }
    }
    (dir, gate)
}

/// The bundled `replica-crash.yaml` with its load cut from 20 s to 16 s (the crash at 5 s,
/// the replica back in ~1 s): the same SLOs, relative ones included, for half the time per
/// run; an A/B test runs two, or four.
fn short_replica_crash(dir: &TempDir) -> PathBuf {
    let root = common::repo_root();
    let yaml = std::fs::read_to_string(root.join("scenarios/replica-crash.yaml"))
        .expect("the bundled scenario")
        .replace("  duration: 20s\n", "  duration: 16s\n")
        .replace("    at: 6s\n", "    at: 5s\n")
        .replace(
            "../compose/trading.yml",
            &root.join("compose/trading.yml").display().to_string(),
        );
    assert!(
        yaml.contains("duration: 16s") && yaml.contains("at: 5s"),
        "{yaml}"
    );
    let file = dir.0.join("replica-crash.yaml");
    std::fs::write(&file, yaml).expect("write the scenario");
    file
}

fn ab(reports: &TempDir, extra: &[&str]) -> (Output, PathBuf, serde_json::Value) {
    require_images();
    let scenario = short_replica_crash(reports);
    let runs = reports.0.join("runs");
    std::fs::create_dir_all(&runs).expect("report dir");
    let out = chaosgate()
        .arg("ab")
        .arg(&scenario)
        .arg("--report-dir")
        .arg(&runs)
        .args(extra)
        .output()
        .expect("chaosgate runs");
    let (dir, gate) = gate_of(&runs, &out);
    (out, dir, gate)
}

fn gate_slo<'a>(gate: &'a serde_json::Value, expression: &str) -> &'a serde_json::Value {
    gate["slos"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["expression"] == expression))
        .unwrap_or_else(|| panic!("no SLO {expression} in {gate:#}"))
}

/// Checks the gate's JSON against the published schema.
fn assert_schema(gate: &serde_json::Value) {
    let raw = std::fs::read_to_string(common::repo_root().join("schemas/gate.schema.json"))
        .expect("schemas/gate.schema.json");
    let schema: serde_json::Value = serde_json::from_str(&raw).expect("schema parses");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator.iter_errors(gate).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn a_candidate_that_fails_over_late_breaches_its_relative_slo() {
    let reports = TempDir::new("ab-bad");
    let (out, dir, gate) = ab(
        &reports,
        &[
            "--baseline",
            "GATEWAY_FAILOVER_DELAY=0s",
            "--candidate",
            "GATEWAY_FAILOVER_DELAY=5s",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_schema(&gate);
    assert_eq!(gate["kind"], "ab");
    assert_eq!(gate["verdict"], "breached");
    // The error rate tells this build apart (16-19 % of requests fail in the crash window
    // against 0 %), so it must breach.
    let errors = gate_slo(&gate, "error_rate(during=crash-primary) <= baseline + 0.1%");
    assert_eq!(errors["verdict"], "breached", "{errors:#}");
    assert_eq!(errors["relative"], true);
    // The load asks for uncached quotes, so the gateway's quote cache cannot split the
    // candidate's outage into short pieces (with it, this build once measured 45 ms and passed
    // the 50 ms margin). 100 ms seen since; should one straddle the margin at 5 ms resolution,
    // the honest verdict is inconclusive. Never a pass, and both sides are shown side by side.
    let rel = gate_slo(&gate, "failover_time(crash-primary) <= baseline + 50ms");
    assert!(
        rel["verdict"] == "breached" || rel["verdict"] == "inconclusive",
        "{rel:#}"
    );
    assert_eq!(rel["relative"], true);
    assert_eq!(rel["samples"][0]["side"], "baseline");
    assert_eq!(rel["samples"][0]["values"][0], 0.0, "{rel:#}");
    assert!(
        rel["samples"][1]["values"][0].as_f64().unwrap() > 0.0,
        "{rel:#}"
    );
    // Same seed on both sides.
    assert_eq!(
        gate["sides"][0]["runs"][0]["seed"],
        gate["sides"][1]["runs"][0]["seed"]
    );
    let junit = std::fs::read_to_string(dir.join("junit.xml")).expect("junit.xml");
    assert!(
        junit.contains("failover_time(crash-primary) &lt;= baseline + 50ms"),
        "{junit}"
    );
    assert!(junit.contains("<failure"), "{junit}");
    let md = std::fs::read_to_string(dir.join("summary.md")).expect("summary.md");
    assert!(md.contains("| candidate |"), "{md}");
    assert!(md.contains("use --repeat for noise"), "{md}");
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(html.contains("<td>baseline</td>") && html.contains("<td>candidate</td>"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error_rate(during=crash-primary) <= baseline + 0.1%"),
        "{stderr}"
    );
}

#[test]
fn good_against_good_passes_twice() {
    for attempt in 1..=2 {
        let reports = TempDir::new("ab-good");
        let (out, _, gate) = ab(
            &reports,
            &[
                "--baseline",
                "GATEWAY_FAILOVER_DELAY=0s",
                "--candidate",
                "GATEWAY_FAILOVER_DELAY=0s",
                "--seed",
                &(100 + attempt).to_string(),
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "attempt {attempt}: {}",
            text(&out)
        );
        assert_eq!(gate["verdict"], "pass", "{gate:#}");
        assert!(
            gate["slos"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["relative"] == true)
                .count()
                >= 3
        );
    }
}

#[test]
fn repeat_three_times_gives_medians_and_intervals() {
    require_images();
    // A short crash scenario (~15 s of load a run) keeps three runs within the CI budget.
    let yaml = inline_scenario(
        "repeat-crash",
        Some(9),
        "load:\n  target: http://gateway:8080/quote?symbol=BTCUSD\n  rate: 100/s\n  duration: 12s\n  timeout: 1s\n\
         faults:\n  - name: crash-primary\n    at: 4s\n    action: crash\n    target: { service: marketdata-a }\n\
         slos:\n  - error_rate(during=crash-primary) < 1%\n  - failover_time(crash-primary) < 100ms\n  - failover_time(crash-primary) <= baseline + 50ms\n",
    );
    let tmp = TempDir::new("repeat");
    let file = tmp.0.join("repeat-crash.yaml");
    std::fs::write(&file, yaml).expect("write the scenario");
    let reports = tmp.0.join("reports");
    let out = chaosgate()
        .arg("run")
        .arg(&file)
        .args(["--repeat", "3", "--report-dir"])
        .arg(&reports)
        .output()
        .expect("chaosgate runs");
    let (dir, gate) = gate_of(&reports, &out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_schema(&gate);
    assert_eq!(gate["kind"], "repeat");
    assert_eq!(gate["repeat"], 3);
    let runs = gate["sides"][0]["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0]["seed"], 9, "run 1 replays the scenario's seed");
    assert_ne!(runs[1]["seed"], runs[2]["seed"]);
    for (i, r) in runs.iter().enumerate() {
        assert!(
            Path::new(r["dir"].as_str().unwrap()).ends_with(format!("repeat-{}", i + 1)),
            "{r:#}"
        );
    }
    let f = gate_slo(&gate, "failover_time(crash-primary) < 100ms");
    let s = &f["samples"][0];
    assert_eq!(s["values"].as_array().unwrap().len(), 3);
    assert!(
        (s["coverage"].as_f64().unwrap() - 0.75).abs() < 1e-9,
        "{s:#}"
    );
    assert!(
        s["low"].as_f64() <= s["median"].as_f64() && s["median"].as_f64() <= s["high"].as_f64()
    );
    // The relative SLO is listed, not judged.
    assert!(
        gate["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("needs a baseline (chaosgate ab)")),
        "{gate:#}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(html.contains("<th>run 3</th>"), "{html}");
}
