//! Deploys under load (`rollout`, issue 13 item 2) against the real stack with the edge
//! (compose/edge.yml: HAProxy in front of two gateway replicas): the bundled
//! zero-downtime-deploy scenario passes with the good gateway and catches the bad build that
//! exits at once on SIGTERM; every strategy is proven by Docker's events and leaves nothing
//! behind. A network fault on a path through a rolled-out service is refused by `validate`,
//! without a stack: `tests/integration/run_rollout.rs`.

use crate::common::*;
use crate::stack::*;

/// The report's rollout fault, checked proven: every new container started and healthy, every
/// old one died, and the window closed when the last old one was gone.
fn proven_rollout(report: &serde_json::Value, replicas: usize) -> &serde_json::Value {
    proven_rollout_named(report, replicas, true)
}

/// [`proven_rollout`]; `fresh_names` when the new containers must have new names (with
/// `recreate`, compose reuses the numbers of the removed ones).
fn proven_rollout_named(
    report: &serde_json::Value,
    replicas: usize,
    fresh_names: bool,
) -> &serde_json::Value {
    let fault = report["faults"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["action"] == "rollout"))
        .unwrap_or_else(|| panic!("no rollout in {report:#}"));
    assert_eq!(fault["applied"], true, "not proven: {fault:#}");
    let evidence = &fault["evidence"];
    assert!(evidence.get("error").is_none(), "{fault:#}");
    let old: Vec<&str> = fault["targets"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t.as_str()).collect())
        .unwrap_or_default();
    let new: Vec<&str> = evidence["new_containers"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t.as_str()).collect())
        .unwrap_or_default();
    assert_eq!((old.len(), new.len()), (replicas, replicas), "{fault:#}");
    for c in &new {
        assert!(
            !fresh_names || !old.contains(c),
            "{c} is both old and new: {fault:#}"
        );
        assert!(
            evidence[format!("{c}.start_event_ns")].is_u64(),
            "{fault:#}"
        );
        assert!(
            evidence[format!("{c}.healthy_event_ns")].is_u64(),
            "{fault:#}"
        );
    }
    for c in &old {
        assert!(evidence[format!("{c}.die_event_ns")].is_u64(), "{fault:#}");
    }
    fault
}

/// Requests that failed during the deploy, from the error-rate SLO's evidence.
fn errors_during_deploy(report: &serde_json::Value) -> u64 {
    let e = slo(report, "error_rate(during=deploy)");
    e["evidence"]["details"]["errors"]
        .as_u64()
        .unwrap_or_else(|| panic!("no error count: {e:#}"))
}

#[test]
fn good_build_deploys_with_zero_errors_and_the_bad_build_is_caught() {
    let (out, report, _dir) = run("zero-downtime-deploy.yaml", &[]);
    let fault = proven_rollout(&report, 2);
    let errors = errors_during_deploy(&report);
    eprintln!(
        "good build: {errors} errors during the deploy; fault {}",
        fault["evidence"]
    );
    assert_eq!(out.status.code(), Some(0), "{}\n{report:#}", text(&out));
    assert_eq!(errors, 0);
    assert_eq!(slo(&report, "error_rate(during=deploy)")["verdict"], "pass");

    let (out, report, _dir) = run(
        "zero-downtime-deploy.yaml",
        &["--set", "GATEWAY_GRACEFUL_SHUTDOWN=off"],
    );
    proven_rollout(&report, 2);
    let errors = errors_during_deploy(&report);
    eprintln!("bad build: {errors} errors during the deploy");
    assert_eq!(out.status.code(), Some(1), "{}\n{report:#}", text(&out));
    assert!(errors > 0, "{report:#}");
    assert_eq!(
        slo(&report, "error_rate(during=deploy)")["verdict"],
        "breached",
        "{report:#}"
    );
    assert!(
        text(&out).contains("error_rate(during=deploy)"),
        "the breached SLO is named:\n{}",
        text(&out)
    );
}

/// A scenario on the stack with the edge, quotes through it, one rollout of the gateway.
fn edge_scenario(name: &str, strategy: &str) -> String {
    let root = repo_root();
    format!(
        r#"name: {name}
seed: 5
stack:
  compose: [{}, {}]
  ready_timeout: 90s
load:
  target: http://edge:8080/quote?symbol=BTCUSD
  rate: 100/s
  duration: 25s
  timeout: 1s
faults:
  - name: deploy
    at: 5s
    action: rollout
    target: {{ service: gateway }}
    strategy: {strategy}
    set: {{ GATEWAY_VERSION: "2" }}
slos:
  - error_rate(during=deploy) <= 0%
"#,
        root.join("compose/trading.yml").display(),
        root.join("compose/edge.yml").display()
    )
}

#[test]
fn blue_green_is_proven_and_serves_without_errors() {
    let dir = TempDir::new("rollout-bg");
    let (out, _, report) = run_yaml_in(&dir, "bg", &edge_scenario("rollout-bg", "blue-green"), &[]);
    proven_rollout(&report, 2);
    let errors = errors_during_deploy(&report);
    eprintln!("blue-green: {errors} errors during the deploy");
    assert_eq!(out.status.code(), Some(0), "{}\n{report:#}", text(&out));
}

#[test]
fn recreate_is_proven_and_its_outage_is_seen() {
    let dir = TempDir::new("rollout-recreate");
    let (out, _, report) = run_yaml_in(
        &dir,
        "recreate",
        &edge_scenario("rollout-recreate", "recreate"),
        &[],
    );
    proven_rollout_named(&report, 2, false);
    // Every old replica is stopped before a new one starts: the edge has no gateway for the
    // new containers' start-up, so requests fail and the zero-error SLO is breached.
    let errors = errors_during_deploy(&report);
    eprintln!("recreate: {errors} errors during the deploy");
    assert!(errors > 0, "{report:#}");
    assert_eq!(out.status.code(), Some(1), "{}\n{report:#}", text(&out));
}

/// `then: rollback`: the new version is deployed, then the previous one back, the same way,
/// under the same load, judged per request across both. A new version that deploys cleanly
/// but exits at once on SIGTERM (`GATEWAY_GRACEFUL_SHUTDOWN=off` in it only) is caught on
/// the way back, which a deploy-only gate never sees.
#[test]
fn a_rollback_is_judged_like_the_deploy_in_both_directions() {
    let scenario = |name: &str, set: &str| {
        edge_scenario(name, "rolling")
            .replace(
                "set: { GATEWAY_VERSION: \"2\" }",
                &format!("set: {{ GATEWAY_VERSION: \"2\"{set} }}\n    then: rollback"),
            )
            // The deploy and the rollback are done by ~17 s (measured 16.5 s).
            .replace("duration: 25s", "duration: 30s")
    };
    let dir = TempDir::new("rollout-back");
    let (out, _, report) = run_yaml_in(&dir, "back", &scenario("rollout-back", ""), &[]);
    let fault = report["faults"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["action"] == "rollout"))
        .cloned()
        .expect("a rollout");
    let errors = errors_during_deploy(&report);
    eprintln!(
        "rollback, good versions: {errors} errors; {}",
        fault["evidence"]
    );
    assert_eq!(out.status.code(), Some(0), "{}\n{report:#}", text(&out));
    assert_eq!(fault["applied"], true, "{fault:#}");
    // Two new containers, then two of the previous version replacing them.
    assert_eq!(
        fault["evidence"]["new_containers"].as_array().map(Vec::len),
        Some(4),
        "{fault:#}"
    );
    assert_eq!(
        fault["evidence"]["rolled_back"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(errors, 0);

    let dir = TempDir::new("rollout-back-bad");
    let (out, _, report) = run_yaml_in(
        &dir,
        "back-bad",
        &scenario("rollout-back-bad", ", GATEWAY_GRACEFUL_SHUTDOWN: \"off\""),
        &[],
    );
    let errors = errors_during_deploy(&report);
    eprintln!("rollback of a version that dies on SIGTERM: {errors} errors");
    assert_eq!(out.status.code(), Some(1), "{}\n{report:#}", text(&out));
    assert!(errors > 0, "{report:#}");
}
