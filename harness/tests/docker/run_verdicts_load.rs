//! Verdicts that rest on the load's own figures, on the real stack: requests that could not be
//! sent on time (the in-flight bound was reached) or were never answered must never make
//! latency look better. The shared HTTP method type and `chaosgate load --json`, which need no
//! stack, are `tests/integration/run_verdicts_load.rs`.

use crate::common::*;
use crate::stack::*;

/// The p50 and p90 of a phase of the report, in ms.
fn phase_latency(report: &serde_json::Value, phase: &str) -> (f64, f64) {
    let p = report["phases"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == phase))
        .unwrap_or_else(|| panic!("no phase {phase} in {report:#}"));
    let ms = |q: &str| p["latency_ms"][q].as_f64().unwrap_or(f64::NAN);
    (ms("p50"), ms("p90"))
}

/// The gateway paused 5 s under 200/s with 20 in flight at most and a 2 s timeout: the
/// requests of the pause wait (for the gateway, or for a slot that requests to it hold)
/// until their timeout, so p50 and p90 of the pause are at the timeout. Formerly the 950-odd
/// requests beyond the bound were "dropped" into the histograms at ~0 ms, and the run PASSED
/// with p50 0 ms, p90 5.1 ms.
#[test]
fn a_paused_gateway_breaches_latency_even_with_a_small_in_flight_bound() {
    require_images();
    let reports = TempDir::new("pause-latency");
    let out = chaosgate()
        .args(["run", "harness/tests/data/pause-gateway-latency.yaml"])
        .arg("--report-dir")
        .arg(&reports.0)
        .output()
        .expect("chaosgate runs");
    let report = report_json(&run_dir(&reports.0));
    let project = report["stack"]["project"].as_str().unwrap_or_default();
    assert_eq!(leftovers(project), Vec::<String>::new(), "left behind");
    let (p50, p90) = phase_latency(&report, "during:freeze-gw");
    eprintln!(
        "exit {:?}; during freeze-gw p50 {p50:.1} ms, p90 {p90:.1} ms\n{}",
        out.status.code(),
        text(&out)
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(report["verdict"], "breached", "{report:#}");
    for expr in [
        "p50(latency, during=freeze-gw)",
        "p90(latency, during=freeze-gw)",
    ] {
        assert_eq!(slo(&report, expr)["verdict"], "breached", "{report:#}");
    }
    // Most of the pause's requests ended at the 2 s timeout, not at ~0.
    assert!(p50 >= 1000.0, "p50 {p50} ms");
    assert!(p90 >= 1900.0, "p90 {p90} ms");
}
