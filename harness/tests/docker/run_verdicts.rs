//! Verdicts of whole runs against the real reference stack, for the kinds of wrong verdict
//! a unit test cannot show on its own: a scenario that points at the wrong place is not a
//! verdict on the system (exit 3, every report agrees).

use crate::common::*;
use crate::stack::*;

#[test]
fn a_load_target_that_never_answered_is_an_infrastructure_error_in_every_report() {
    let dir = TempDir::new("never-answered");
    // The service is right, the path is not: every request gets a 404. Before, this run
    // exited 1 with "error_rate 100 %", a verdict on a system that was never measured.
    let yaml = inline_scenario(
        "never-answered",
        None,
        "load:\n  target: http://gateway:8080/no-such-path\n  rate: 50/s\n  duration: 3s\n  \
         timeout: 1s\nslos:\n  - error_rate() < 0.1%\n  - p95(latency) < 100ms\n",
    );
    let (out, run, report) = run_yaml_in(&dir, "never-answered", &yaml, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("never answered"), "{all}");
    assert_eq!(report["exit_code"], 3);
    assert!(
        report["not_judged"]
            .as_str()
            .is_some_and(|w| w.contains("the load target: 0 of ") && w.contains("status_404")),
        "{report:#}"
    );
    for s in report["slos"].as_array().unwrap() {
        assert_eq!(s["verdict"], "inconclusive", "{s:#}");
    }
    let junit = std::fs::read_to_string(run.join("junit.xml")).unwrap();
    assert!(!junit.contains("errors=\"0\""), "{junit}");
    let md = std::fs::read_to_string(run.join("summary.md")).unwrap();
    assert!(md.contains("NOT JUDGED"), "{md}");
    // What was tested is recorded whatever the verdict: image IDs, file hashes, host.
    let prov = &report["provenance"];
    assert!(
        prov["images"]["gateway"]["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("sha256:")),
        "{prov:#}"
    );
    assert_eq!(prov["images"]["gateway"]["tag"], "chaosgate/trading:0.1.0");
    assert_eq!(prov["scenario"]["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(
        prov["compose_files"][0]["sha256"].as_str().map(str::len),
        Some(64)
    );
    assert!(prov["host"]["docker_version"].is_string(), "{prov:#}");
    assert!(prov["host"]["cores"].as_u64().is_some_and(|n| n >= 1));
}
