//! Exit codes for what goes wrong before a run starts anything: bad input (2) and an
//! unreachable Docker (3, `DOCKER_HOST` pointed nowhere). The ones that need a real stack (one
//! that never gets healthy, Ctrl-C mid-run) are `tests/docker/run_errors.rs`.

use crate::common::*;

#[test]
fn unreachable_docker_is_an_infrastructure_error() {
    let reports = TempDir::new("nodocker");
    let out = chaosgate()
        .env("DOCKER_HOST", "unix:///nonexistent/chaosgate-test.sock")
        .args(["run", "scenarios/smoke.yaml", "--report-dir"])
        .arg(&reports.0)
        .output()
        .expect("chaosgate runs");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach the Docker daemon"), "{err}");
}

#[test]
fn a_broken_scenario_is_bad_input_and_starts_nothing() {
    let dir = TempDir::new("broken");
    let file = dir.0.join("broken.yaml");
    std::fs::write(
        &file,
        "name: broken\nstack:\n  compose: x.yml\nfautls: []\n",
    )
    .unwrap();
    let out = chaosgate().arg("run").arg(&file).output().expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.yaml:"),
        "names the file with line/column: {err}"
    );
}

#[test]
fn an_ab_gate_missing_a_side_is_bad_input_and_starts_nothing() {
    // A forgotten `--candidate` used to run the scenario's defaults as the candidate: a whole
    // gate spent comparing the baseline with something nobody asked for.
    for (given, missing) in [("--baseline", "--candidate"), ("--candidate", "--baseline")] {
        let out = chaosgate()
            .env("DOCKER_HOST", "unix:///nonexistent/chaosgate-test.sock")
            .args([
                "ab",
                "scenarios/replica-crash.yaml",
                given,
                "GATEWAY_FAILOVER=on",
            ])
            .output()
            .expect("chaosgate runs");
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(missing), "names {missing}: {err}");
    }
}

#[test]
fn explore_and_run_refuse_each_others_scenarios_and_start_nothing() {
    let reports = TempDir::new("explore-refusals");
    // A scenario without a fault space: nothing to explore.
    let out = chaosgate()
        .args(["explore", "scenarios/smoke.yaml", "--report-dir"])
        .arg(&reports.0)
        .output()
        .expect("chaosgate runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has no `explore:` section"), "{err}");
    // A fault space is not a schedule: `run` would inject nothing it describes.
    let out = chaosgate()
        .args(["run", "scenarios/explore-trading.yaml", "--report-dir"])
        .arg(&reports.0)
        .output()
        .expect("chaosgate runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("run it with `chaosgate explore"), "{err}");
    // A --set no compose file reads is refused before any stack comes up.
    let out = chaosgate()
        .args([
            "explore",
            "scenarios/explore-trading.yaml",
            "--set",
            "NO_SUCH_VARIABLE=1",
            "--report-dir",
        ])
        .arg(&reports.0)
        .output()
        .expect("chaosgate runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        std::fs::read_dir(&reports.0).unwrap().count(),
        0,
        "nothing was written"
    );
}

#[test]
fn explore_dry_run_prints_the_same_schedules_for_the_same_seed() {
    let dry = |seed: &str| {
        let out = chaosgate()
            .args([
                "explore",
                "scenarios/explore-trading.yaml",
                "--dry-run",
                "--runs",
                "4",
                "--seed",
                seed,
            ])
            .output()
            .expect("chaosgate runs");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let a = dry("7");
    assert_eq!(a, dry("7"));
    assert_ne!(a, dry("8"));
    assert_eq!(a.matches("schedule ").count(), 4, "{a}");
}
