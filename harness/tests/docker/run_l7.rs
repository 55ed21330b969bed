//! The L7 faults (`http-abort`, `http-delay`) on the reference stack through the real binary:
//! each bundled scenario passes the good gateway and fails its bad build, the proxy's request
//! counters prove the fault and its size, and the requests it does not match (the replicas'
//! health checks, on the same connections) pass untouched.

use crate::common::*;
use crate::stack::*;

/// The request counters the proxy left as the fault's evidence.
fn requests(report: &serde_json::Value, fault: &str) -> serde_json::Value {
    report["faults"][0]["evidence"]["proxy"]["toxics"][fault]["requests"].clone()
}

fn measured(report: &serde_json::Value, expression: &str) -> f64 {
    slo(report, expression)["measured"]["value"]
        .as_f64()
        .unwrap_or(f64::NAN)
}

#[test]
fn http_abort_passes_a_gateway_that_retries_and_fails_one_that_does_not() {
    let (out, report, _dir) = run("http-abort.yaml", &["--seed", "21"]);
    let counts = requests(&report, "quote-503");
    eprintln!(
        "good build: exit {:?}, errors during {:.3} %, p95 {:.1} ms, requests {counts}",
        out.status.code(),
        measured(&report, "error_rate(during=quote-503) < 0.1%") * 100.0,
        measured(&report, "p95(latency, during=quote-503) < 100ms"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["faults"][0]["applied"], true, "{report:#}");
    let (matched, acted) = (
        counts["matched"].as_u64().unwrap_or(0),
        counts["acted"].as_u64().unwrap_or(0),
    );
    // A good gateway moves off the primary after an aborted quote (its breaker and health
    // marks), so only tens of requests reach it (35 in a 10 s window): the
    // share is checked within 4 standard deviations of a fair draw here; the proxy's own test
    // measures it within 5 points over 1000 requests on one connection.
    assert!(matched >= 10, "{counts}");
    let share = acted as f64 / matched as f64;
    let bound = 4.0 * (0.25 / matched as f64).sqrt();
    assert!(
        (share - 0.5).abs() <= bound,
        "{acted} of {matched} aborted, 50 % asked: {counts}"
    );

    let (out, report, _dir) = run(
        "http-abort.yaml",
        &["--seed", "21", "--set", "GATEWAY_MAX_ATTEMPTS=1"],
    );
    eprintln!(
        "no-retry build: exit {:?}, errors during {:.3} %, requests {}",
        out.status.code(),
        measured(&report, "error_rate(during=quote-503) < 0.1%") * 100.0,
        requests(&report, "quote-503"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        slo(&report, "error_rate(during=quote-503) < 0.1%")["verdict"],
        "breached",
        "{report:#}"
    );
}

#[test]
fn http_delay_passes_a_gateway_with_a_call_time_limit_and_fails_one_without() {
    let (out, report, _dir) = run("http-delay.yaml", &["--seed", "22"]);
    let counts = requests(&report, "slow-quotes");
    eprintln!(
        "good build: exit {:?}, p95 {:.1} ms, p99 {:.1} ms, requests {counts}",
        out.status.code(),
        measured(&report, "p95(latency, during=slow-quotes) < 100ms"),
        measured(&report, "p99(latency, during=slow-quotes) < 500ms"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(counts["acted"].as_u64().unwrap_or(0) > 0, "{counts}");
    // The probe of the gateway's /health passed throughout: the replicas' health checks share
    // the delayed connections and were not held.
    assert_eq!(
        slo(&report, "error_rate(during=slow-quotes) < 0.1%")["verdict"],
        "pass"
    );

    let (out, report, _dir) = run(
        "http-delay.yaml",
        &["--seed", "22", "--set", "GATEWAY_ATTEMPT_TIMEOUT=0s"],
    );
    let p95 = measured(&report, "p95(latency, during=slow-quotes) < 100ms");
    eprintln!(
        "no-time-limit build: exit {:?}, p95 {p95:.1} ms, requests {}",
        out.status.code(),
        requests(&report, "slow-quotes"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // Every quote the primary served waited the whole 2 s.
    assert!(p95 >= 2000.0, "p95 {p95} ms");
}

/// `dns` on the reference stack: the good gateway keeps its replica connections open and
/// never looks their names up again (0 errors), the no-keep-alive build resolves per call
/// and fails; the canary lookup from the gateway's namespace proves the fault either way.
#[test]
fn dns_outage_passes_a_gateway_that_keeps_its_connections_and_fails_one_that_does_not() {
    let (out, report, _dir) = run("dns-outage.yaml", &["--seed", "23"]);
    let fault = &report["faults"][0];
    eprintln!(
        "good build: exit {:?}, errors during {:.3} %, evidence {}",
        out.status.code(),
        measured(&report, "error_rate(during=no-dns) < 0.1%") * 100.0,
        fault["evidence"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(fault["applied"], true, "{fault:#}");
    let canary = fault["evidence"]
        .as_object()
        .and_then(|e| e.iter().find(|(k, _)| k.ends_with(".dns_canary")))
        .map(|(_, v)| v.clone())
        .expect("a canary lookup in the evidence");
    assert_eq!(canary["outcome"], "refused", "{canary}");
    assert!(
        fault["evidence"]["rules"]["rules"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["packets"].as_u64().unwrap_or(0) > 0)),
        "the canary's query is counted by a rule: {fault:#}"
    );

    // The bad build under the answering mode (chaosgate's resolver in the gateway's namespace
    // says NXDOMAIN): the same scenario with `mode: nxdomain`, so one good and one bad run
    // cover both kinds of mechanism.
    let yaml = std::fs::read_to_string(repo_root().join("scenarios/dns-outage.yaml"))
        .expect("the bundled scenario")
        .replace("mode: refused", "mode: nxdomain")
        .replace(
            "../compose/trading.yml",
            &repo_root()
                .join("compose/trading.yml")
                .display()
                .to_string(),
        );
    assert!(yaml.contains("mode: nxdomain"));
    let dir = TempDir::new("dns-nxdomain");
    let (out, _run, report) = run_yaml_in(
        &dir,
        "dns-outage",
        &yaml,
        &["--seed", "23", "--set", "GATEWAY_UPSTREAM_KEEPALIVE=off"],
    );
    let errors = measured(&report, "error_rate(during=no-dns) < 0.1%");
    let evidence = &report["faults"][0]["evidence"];
    let answered = evidence
        .as_object()
        .and_then(|e| e.iter().find(|(k, _)| k.ends_with(".dns_answered")))
        .and_then(|(_, v)| v.as_u64())
        .unwrap_or(0);
    eprintln!(
        "no-keep-alive build, nxdomain: exit {:?}, errors during {:.3} %, lookups answered NXDOMAIN {answered}, evidence {evidence}",
        out.status.code(),
        errors * 100.0
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        evidence.to_string().contains("\"outcome\":\"NXDOMAIN\""),
        "{evidence}"
    );
    // Every call resolves anew: the gateway's own lookups were answered with the failure.
    assert!(answered > 10, "{evidence}");
    assert_eq!(
        slo(&report, "error_rate(during=no-dns) < 0.1%")["verdict"],
        "breached",
        "{report:#}"
    );
}
