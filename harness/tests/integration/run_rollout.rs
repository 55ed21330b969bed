//! Deploys (`rollout`, issue 13 item 2) as `validate` sees them, without a stack: a network
//! fault on a path through a rolled-out service is refused, at its position. The deploys
//! themselves, under load on the real stack, are `tests/docker/run_rollout.rs`.

use crate::common::*;

#[test]
fn a_network_fault_through_a_rolled_out_service_is_refused() {
    let dir = TempDir::new("rollout-network");
    let root = repo_root();
    let file = dir.0.join("bad.yaml");
    let yaml = format!(
        r#"name: rollout-network
stack:
  compose: [{}, {}]
load:
  target: http://edge:8080/quote?symbol=BTCUSD
  rate: 10/s
  duration: 20s
faults:
  - name: deploy
    at: 5s
    action: rollout
    target: {{ service: gateway }}
  - name: slow-db
    at: 5s
    duration: 5s
    action: latency
    latency: 100ms
    target: {{ service: postgres }}
    port: 5432
  - name: slow-cache
    at: 12s
    duration: 5s
    action: latency
    latency: 100ms
    target: {{ service: gateway }}
    to: redis:6379
"#,
        root.join("compose/trading.yml").display(),
        root.join("compose/edge.yml").display()
    );
    std::fs::write(&file, yaml).expect("write the scenario");
    let out = chaosgate()
        .arg("validate")
        .arg(&file)
        .output()
        .expect("chaosgate runs");
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    // The latency on the gateway → redis path, at its `action:` (line 23, after `    action: `).
    let at = format!("{}:23:13", file.display());
    assert!(shown.contains(&at), "expected {at} in:\n{shown}");
    assert!(
        shown.contains("network fault `latency` on a path through `gateway`"),
        "{shown}"
    );
    // The fault on postgres's own port does not go through the gateway.
    assert!(!shown.contains("fault `slow-db`"), "{shown}");
}
