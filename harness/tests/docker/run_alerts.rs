//! Alerts as SLOs against the reference stack with its Prometheus (`compose/observability.yml`):
//! `scenarios/alert-detection.yaml` passes the good build — QuoteErrorRatioHigh fires within
//! 10 s of freezing both replicas, and its figure agrees with Prometheus's own `ALERTS` series
//! within one evaluation interval — and fails the lying-metrics build (`GATEWAY_METRICS=off`),
//! whose alert never fires.

use std::process::Command;

use crate::common::*;
use crate::stack::*;

/// Removes the kept stack of `project` when dropped, whatever the test did.
struct Kept(String);

impl Drop for Kept {
    fn drop(&mut self) {
        remove_project(&self.0);
    }
}

/// The wall-clock instant (Unix seconds) `ms` run-clock milliseconds after the run began.
fn wall(report: &serde_json::Value, ms: f64) -> f64 {
    let started = report["started_at"].as_str().unwrap();
    let t = time::OffsetDateTime::parse(started, &time::format_description::well_known::Rfc3339)
        .unwrap();
    t.unix_timestamp_nanos() as f64 / 1e9 + ms / 1000.0
}

/// Prometheus's own record of when `alert` fired: the first raw sample of
/// `ALERTS{alertname, alertstate="firing"}` (Unix seconds), read from the kept stack.
fn first_firing(project: &str, alert: &str) -> Option<f64> {
    let out = Command::new("docker")
        .args(["port", &format!("{project}_prometheus_1"), "9090"])
        .output()
        .expect("docker runs");
    let addr = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()?
        .trim()
        .to_string();
    let query = format!("ALERTS{{alertname=\"{alert}\",alertstate=\"firing\"}}[10m]");
    let out = Command::new("curl")
        .args(["-fsS", "--max-time", "5", "-G"])
        .arg(format!("http://{addr}/api/v1/query"))
        .args(["--data-urlencode", &format!("query={query}")])
        .output()
        .expect("curl runs");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["data"]["result"]
        .as_array()?
        .iter()
        .filter_map(|series| series["values"][0][0].as_f64())
        .reduce(f64::min)
}

#[test]
fn alert_detection_times_the_alert_and_fails_metrics_that_lie() {
    let (out, report, _dir) = {
        let (out, reports) = run_scenario("alert-detection.yaml", &["--keep"]);
        let report = report_json(&run_dir(&reports.0));
        (out, report, reports)
    };
    let project = report["stack"]["project"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let kept = Kept(project.clone());
    let detect = slo(&report, "detect_time(freeze-a");
    let clear = slo(&report, "clear_time(freeze-a");
    let applied_ms = report["faults"][0]["applied_at_ms"]
        .as_f64()
        .unwrap_or(f64::NAN);
    assert_eq!(detect["measured"]["unit"], "ms", "{report:#}");
    let detect_s = detect["measured"]["value"].as_f64().unwrap_or(f64::NAN) / 1000.0;
    let fired = first_firing(&project, "QuoteErrorRatioHigh");
    eprintln!(
        "good build: exit {:?}, detect_time {} ({}), clear_time {} ({}), ALERTS first firing {:?} s after the freeze",
        out.status.code(),
        detect["measured"]["text"],
        detect["verdict"],
        clear["measured"]["text"],
        clear["verdict"],
        fired.map(|f| f - wall(&report, applied_ms)),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Prometheus's own series: firing no earlier than the figure (activeAt + for) and within
    // one evaluation interval (1 s) after it, with 100 ms for the two clocks' rounding.
    let fired = fired.expect("Prometheus recorded the alert firing");
    let after_freeze = fired - wall(&report, applied_ms);
    assert!(
        after_freeze >= detect_s - 0.1 && after_freeze <= detect_s + 1.1,
        "ALERTS says {after_freeze:.3} s, detect_time says {detect_s:.3} s"
    );
    // The query's figure: Prometheus's peak rate of quote errors in the freeze, from the
    // `query` events of the log.
    let prom = slo(&report, "prom(");
    eprintln!(
        "good build: prom {} ({}), evidence {}",
        prom["measured"]["text"], prom["verdict"], prom["evidence"]["details"]
    );
    assert_eq!(prom["verdict"], "pass", "{prom:#}");
    assert_eq!(prom["measured"]["unit"], "number", "{prom:#}");
    assert_eq!(prom["evidence"]["details"]["aggregate"], "max", "{prom:#}");
    let events = std::fs::read_to_string(run_dir(&_dir.0).join("events.jsonl")).unwrap();
    assert!(
        events
            .lines()
            .any(|l| l.contains(r#""type":"query""#) && l.contains(r#""value":"#)),
        "no query event with a value"
    );
    drop(kept);
    assert_run_left_nothing(&report);

    let (out, report, _dir) = run("alert-detection.yaml", &["--set", "GATEWAY_METRICS=off"]);
    let detect = slo(&report, "detect_time(freeze-a");
    eprintln!(
        "lying-metrics build: exit {:?}, detect_time {} ({}), evidence {}",
        out.status.code(),
        detect["measured"]["text"],
        detect["verdict"],
        detect["evidence"]
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(detect["verdict"], "breached", "{report:#}");
    // Its counters never move: Prometheus shows no errors while clients get 503s.
    let prom = slo(&report, "prom(");
    eprintln!(
        "lying-metrics build: prom {} ({})",
        prom["measured"]["text"], prom["verdict"]
    );
    assert_eq!(prom["verdict"], "breached", "{prom:#}");
    assert_eq!(
        detect["evidence"]["details"]["never_fired"], true,
        "{report:#}"
    );
}
