//! `chaosgate explore` against the reference stack: a short campaign over a small fault space
//! finds the interaction bad build (`GATEWAY_FAILOVER=lease`: fails over only while Redis
//! answers), shrinks it to exactly the two faults whose overlap breaks it, and writes a
//! `minimal.yaml` that `run` replays to the same failure; the good build passes the same
//! campaign. The long campaign over `scenarios/explore-trading.yaml` is the nightly's.

use crate::common::*;
use crate::stack::*;

/// Three templates in a one-second window: every valid three-fault schedule holds one fault
/// of each (two on one service would overlap), and the two pauses always overlap.
const SPACE: &str = r#"
load:
  requests:
    - url: http://gateway:8080/quote?symbol=BTCUSD
      headers: { cache-control: no-cache }
  rate: 100/s
  # Every fault is over by 5 s; 3 s more show the stack back (11 runs: 2 s less each).
  duration: 8s
  timeout: 1s
steady_state:
  - error_rate(phase=before) < 1%
slos:
  - error_rate(phase=whole) < 0.5%
  - p95(latency, phase=whole) < 100ms
explore:
  faults: { min: 3, max: 3 }
  window: [3s, 3s]
  space:
    - { action: pause, duration: [1s, 2s], target: { service: redis } }
    - { action: pause, duration: 1500ms, target: { service: marketdata-a } }
    - { action: latency, latency: 5ms, duration: 2s, target: { service: gateway }, to: marketdata-b:8081 }
"#;

/// Runs a campaign into `<dir>/<name>/`; returns its output, directory and `campaign.json`.
fn explore(
    dir: &TempDir,
    name: &str,
    file: &std::path::Path,
    extra: &[&str],
) -> (std::process::Output, std::path::PathBuf, serde_json::Value) {
    let reports = dir.0.join(name);
    std::fs::create_dir_all(&reports).unwrap();
    let out = chaosgate()
        .arg("explore")
        .arg(file)
        .args(["--seed", "5", "--budget", "15m", "--report-dir"])
        .arg(&reports)
        .args(extra)
        .output()
        .expect("chaosgate runs");
    let campaign = run_dir(&reports);
    let report: serde_json::Value = std::fs::read_to_string(campaign.join("campaign.json"))
        .map(|raw| serde_json::from_str(&raw).expect("campaign.json parses"))
        .unwrap_or_else(|e| panic!("no campaign.json ({e}):\n{}", text(&out)));
    // Every run of the campaign removed its stack and rules.
    for run in report["runs"].as_array().unwrap() {
        if let Some(d) = run["dir"].as_str() {
            assert_run_left_nothing(&report_json(&campaign.join(d)));
        }
    }
    (out, campaign, report)
}

#[test]
fn explore_finds_the_interaction_shrinks_it_to_two_faults_and_the_good_build_passes() {
    require_images();
    let dir = TempDir::new("explore");
    let file = dir.0.join("space.yaml");
    std::fs::write(&file, inline_scenario("explore-interaction", None, SPACE)).unwrap();

    let (out, campaign, report) =
        explore(&dir, "lease", &file, &["--set", "GATEWAY_FAILOVER=lease"]);
    let trace: Vec<String> = report["shrink"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{} → {}", s["step"], s["outcome"]))
        .collect();
    eprintln!(
        "lease build: exit {:?}, {} runs, exploring {:.0} s, shrinking {:.0} s\nshrink trace:\n  {}\nminimal: {}",
        out.status.code(),
        report["runs"].as_array().unwrap().len(),
        report["explore_s"].as_f64().unwrap_or(0.0),
        report["shrink_s"].as_f64().unwrap_or(0.0),
        trace.join("\n  "),
        report["minimal"]["faults"]
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(report["verdict"], "found");
    let minimal = &report["minimal"];
    assert_eq!(minimal["reproduced"], true, "{report:#}");
    let faults: Vec<&str> = minimal["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(faults.len(), 2, "{faults:?}");
    assert!(
        faults.iter().any(|f| f.contains("pause redis")),
        "{faults:?}"
    );
    assert!(
        faults.iter().any(|f| f.contains("pause marketdata-a")),
        "{faults:?}"
    );
    // The redis pause shrank to its range's low end.
    assert!(
        faults
            .iter()
            .any(|f| f.contains("pause redis, duration 1s")),
        "{faults:?}"
    );
    for file in ["campaign.md", "campaign.html", "junit.xml", "minimal.yaml"] {
        assert!(campaign.join(file).exists(), "{file} missing");
    }
    let junit = std::fs::read_to_string(campaign.join("junit.xml")).unwrap();
    assert!(
        junit.contains("<failure") && junit.contains("pause redis"),
        "{junit}"
    );

    // minimal.yaml is an ordinary scenario that fails the same build again.
    let reports = dir.0.join("replay");
    let out = chaosgate()
        .arg("run")
        .arg(campaign.join("minimal.yaml"))
        .args(["--set", "GATEWAY_FAILOVER=lease", "--report-dir"])
        .arg(&reports)
        .output()
        .expect("chaosgate runs");
    let replay = report_json(&run_dir(&reports));
    assert_run_left_nothing(&replay);
    eprintln!(
        "replay of minimal.yaml: exit {:?}, {}",
        out.status.code(),
        slo(&replay, "error_rate(phase=whole)")["measured"]["text"]
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // The good build: the same campaign finds nothing.
    let (out, _campaign, report) = explore(&dir, "good", &file, &["--runs", "1"]);
    eprintln!(
        "good build: exit {:?}, explored {}",
        out.status.code(),
        report["explored"]
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["verdict"], "none_found");
    assert_eq!(report["explored"], 1);
}
