//! HTTPS against the reference stack's edge (HAProxy terminating TLS with the certificate of
//! compose/tls/, HTTP/2 by ALPN; port 8444 asks for a client certificate): the bundled
//! https-edge scenario passes; a CA that did not sign the edge's certificate fails every
//! request with a `certificate` error and the run is not judged (exit 3); `--insecure` accepts
//! it and the report says so.

use crate::common::*;
use crate::stack::*;

/// The whole-run phase of a run without faults.
fn whole(report: &serde_json::Value) -> &serde_json::Value {
    report["phases"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "whole"))
        .unwrap_or_else(|| panic!("no whole phase: {report:#}"))
}

#[test]
fn https_load_probes_and_read_back_pass_through_the_edge() {
    let (out, report, _dir) = run("https-edge.yaml", &[]);
    let phase = whole(&report);
    eprintln!(
        "https-edge: {} scheduled, {} ok, latency {}",
        phase["scheduled"], phase["ok"], phase["latency_ms"]
    );
    assert_eq!(out.status.code(), Some(0), "{}\n{report:#}", text(&out));
    assert_eq!(phase["errors"], 0, "{phase:#}");
    assert!(
        phase["scheduled"].as_u64().unwrap_or(0) >= 1400,
        "{phase:#}"
    );
    assert_eq!(slo(&report, "lost_writes() <= 0")["verdict"], "pass");
    assert_eq!(
        slo(&report, "probe_success(edge-mtls) >= 99%")["verdict"],
        "pass"
    );
    let notes = report["notes"].to_string();
    assert!(!notes.contains("insecure"), "{notes}");
}

/// `https-edge` without the client certificate, trusting `ca` (relative to compose/tls/).
fn edge_scenario(name: &str, ca: &str) -> String {
    let tls = repo_root().join("compose/tls");
    format!(
        r#"name: {name}
seed: 8
stack:
  compose: [{}, {}]
  ready_timeout: 90s
tls:
  ca: {}
load:
  target: https://edge:8443/quote?symbol=BTCUSD
  rate: 50/s
  duration: 4s
  timeout: 1s
slos:
  - error_rate() <= 0%
"#,
        repo_root().join("compose/trading.yml").display(),
        repo_root().join("compose/edge.yml").display(),
        tls.join(ca).display()
    )
}

#[test]
fn a_wrong_ca_is_a_certificate_error_not_judged_and_insecure_is_reported() {
    let dir = TempDir::new("tls-wrong-ca");
    // The client certificate as the only trust anchor: it signed nothing the edge shows.
    let yaml = edge_scenario("tls-wrong-ca", "client.pem");
    let (out, _, report) = run_yaml_in(&dir, "wrong", &yaml, &[]);
    let phase = whole(&report);
    let output = text(&out);
    eprintln!("wrong CA: {}", phase["errors_by_kind"]);
    assert_eq!(out.status.code(), Some(3), "{output}\n{report:#}");
    assert_eq!(phase["ok"], 0, "{phase:#}");
    assert_eq!(
        phase["errors_by_kind"]["certificate"], phase["scheduled"],
        "{phase:#}"
    );
    assert!(output.contains("× certificate"), "{output}");
    assert!(output.contains("`tls:`"), "the fix is named: {output}");

    let dir = TempDir::new("tls-insecure");
    let (out, _, report) = run_yaml_in(&dir, "insecure", &yaml, &["--insecure"]);
    let output = text(&out);
    assert_eq!(out.status.code(), Some(0), "{output}\n{report:#}");
    assert_eq!(whole(&report)["errors"], 0);
    let notes = report["notes"].to_string();
    assert!(notes.contains("TLS: insecure"), "{notes}");
}
