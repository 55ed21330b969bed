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
