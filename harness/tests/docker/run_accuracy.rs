//! Measurement accuracy against ground truth: a service that stays unhealthy for a known time
//! after it starts is crashed; chaosgate's recovery must match the moment the restarted
//! process became healthy within ±100 ms (the DESIGN's resolution target is ≤ 50 ms per probe).
//!
//! The truth is the restarted process's own start-up log line (its clock is the host's) plus
//! the known warm-up. Docker's `start` event is not used as truth: on a loaded machine it was
//! seen ~280 ms after the process had started.

use crate::common::*;
use crate::stack::*;

const WARMUP_MS: f64 = 2000.0;

#[test]
fn recovery_time_matches_docker_ground_truth_within_100ms() {
    require_images();
    let dir = TempDir::new("accuracy");
    std::fs::write(
        dir.0.join("slow.yml"),
        format!(
            "services:\n  slow:\n    image: chaosgate/trading:0.1.0\n    command: [\"marketdata\"]\n    \
             restart: always\n    environment:\n      MARKETDATA_WARMUP: \"{}ms\"\n    \
             ports:\n      - \"127.0.0.1::8081\"\n",
            WARMUP_MS as u64
        ),
    )
    .unwrap();
    std::fs::write(
        dir.0.join("accuracy.yaml"),
        "name: accuracy\nstack:\n  compose: slow.yml\n  ready_timeout: 30s\nduration: 9s\n\
         recovery: { consecutive: 1 }\nprobes:\n  - name: slow\n    \
         http: { url: http://slow:8081/health, status: 200 }\n    every: 20ms\n    timeout: 200ms\n\
         faults:\n  - name: crash-slow\n    at: 3s\n    action: crash\n    target: { service: slow }\n\
         slos:\n  - recovery_time(crash-slow, probe=slow) < 30s\n",
    )
    .unwrap();
    // --keep: the restarted container's log is read after the run, then removed here.
    let out = chaosgate()
        .arg("run")
        .arg(dir.0.join("accuracy.yaml"))
        .arg("--report-dir")
        .arg(&dir.0)
        .arg("--keep")
        .output()
        .expect("runs");
    let run = run_dir(&dir.0);
    let report = report_json(&run);
    let _stack = ProjectGuard(
        report["stack"]["project"]
            .as_str()
            .unwrap_or("-")
            .to_string(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let fault = &report["faults"][0];
    let measured = fault["recovery"][0]["recovered_at_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("no recovery measured: {fault:#}"));

    // Docker's view, printed beside the truth (its `start` event can lag the process).
    let events = std::fs::read_to_string(run.join("events.jsonl")).unwrap();
    let mut died = None;
    let mut started = None;
    for line in events.lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        if e["type"] != "docker" {
            continue;
        }
        let t = e["t"].as_f64().unwrap_or(0.0) / 1e6;
        match e["action"].as_str() {
            Some("die") if died.is_none() => died = Some(t),
            Some("start") if died.is_some() && started.is_none() => started = Some(t),
            _ => {}
        }
    }
    let started = started.unwrap_or_else(|| panic!("no start event after the crash:\n{events}"));

    let container = fault["targets"][0]
        .as_str()
        .expect("the fault names its target");
    let logs = std::process::Command::new("docker")
        .args(["logs", container])
        .output()
        .expect("docker logs");
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&logs.stdout),
        String::from_utf8_lossy(&logs.stderr)
    );
    let last_start = logs
        .lines()
        .rfind(|l| l.contains("market data listening"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no start-up line in the logs:\n{logs}"));
    let process_start = unix_ns(last_start);
    let origin = unix_ns(report["started_at"].as_str().expect("started_at"));
    let process_start_ms = (process_start - origin) as f64 / 1e6;
    let truth = process_start_ms + WARMUP_MS;
    let error = measured - truth;
    eprintln!(
        "die {:.1} ms, process start {process_start_ms:.1} ms, docker start event {started:.1} ms, \
         true recovery {truth:.1} ms, measured {measured:.1} ms, error {error:+.1} ms",
        died.unwrap_or(0.0)
    );
    assert!(
        error.abs() <= 100.0,
        "measured {measured} vs truth {truth}: error {error} ms"
    );
}

/// The harness itself is stalled (SIGSTOP for a known time) while the system stays healthy.
/// Naively measured, the open-model latency shows the stall and the latency SLO breaches;
/// chaosgate must see that the harness, not the system, was late: the stall shows in the
/// phase's `harness_lag_ms` (truth: the stop's length) and the verdict is inconclusive.
#[test]
fn a_stalled_harness_is_measured_and_not_blamed_on_the_system() {
    const STALL_MS: u64 = 600;
    require_images();
    let dir = TempDir::new("stall");
    std::fs::write(
        dir.0.join("md.yml"),
        "services:\n  md:\n    image: chaosgate/trading:0.1.0\n    command: [\"marketdata\"]\n    \
         ports:\n      - \"127.0.0.1::8081\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.0.join("stall.yaml"),
        "name: stall\nstack:\n  compose: md.yml\n  ready_timeout: 30s\n\
         load:\n  target: http://md:8081/health\n  rate: 100/s\n  duration: 8s\n  timeout: 2s\n\
         probes:\n  - name: md\n    http: { url: http://md:8081/health, status: 200 }\n    every: 50ms\n\
         slos:\n  - p99(latency) < 100ms\n  - error_rate() < 1%\n",
    )
    .unwrap();
    let child = chaosgate()
        .arg("run")
        .arg(dir.0.join("stall.yaml"))
        .arg("--report-dir")
        .arg(&dir.0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    // Stall once the load has been running for 2 s (the event log says when it started).
    let waited = std::time::Instant::now();
    loop {
        let started = std::fs::read_dir(&dir.0)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_dir())
            .any(|e| {
                std::fs::read_to_string(e.path().join("events.jsonl"))
                    .is_ok_and(|log| log.contains(r#""type":"load","started":true"#))
            });
        if started {
            break;
        }
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(120),
            "the load never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    let pid = child.id().to_string();
    let signal = |name: &str| {
        let status = std::process::Command::new("kill")
            .args([name, &pid])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {name} {pid}");
    };
    signal("-STOP");
    std::thread::sleep(std::time::Duration::from_millis(STALL_MS));
    signal("-CONT");
    let out = child.wait_with_output().expect("finishes");
    let run = run_dir(&dir.0);
    let report = report_json(&run);
    assert_eq!(
        leftovers(report["stack"]["project"].as_str().unwrap_or("-")),
        Vec::<String>::new()
    );
    // The probe's check due during the stall ran when the process resumed, and says so.
    let probe_lag_ms = std::fs::read_to_string(run.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["type"] == "probe")
        .filter_map(|e| e["lag_ns"].as_f64())
        .fold(0.0f64, f64::max)
        / 1e6;

    let whole = report["phases"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "whole"))
        .unwrap_or_else(|| panic!("no whole phase: {report:#}"));
    let lag_max = whole["harness_lag_ms"]["max"].as_f64().unwrap_or(0.0);
    let latency_p99 = whole["latency_ms"]["p99"].as_f64().unwrap_or(0.0);
    eprintln!(
        "stall {STALL_MS} ms: harness lag max {lag_max:.1} ms, p99 {:.1} ms; probe lag max {probe_lag_ms:.1} ms; latency p99 {latency_p99:.1} ms; verdict {}",
        whole["harness_lag_ms"]["p99"], report["verdict"]
    );
    // The first request due after the stop began was sent when the process resumed.
    assert!(
        (STALL_MS as f64 - 100.0..=STALL_MS as f64 + 300.0).contains(&lag_max),
        "harness lag max {lag_max} ms for a {STALL_MS} ms stall: {whole:#}"
    );
    assert!(
        latency_p99 >= 100.0,
        "the stall must show in the intended-time latency: {whole:#}"
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let latency_slo = &report["slos"][0];
    assert_eq!(latency_slo["verdict"], "inconclusive", "{latency_slo:#}");
    let reason = latency_slo["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("harness"), "{reason}");
    assert_eq!(
        report["slos"][1]["verdict"], "pass",
        "{:#}",
        report["slos"][1]
    );
}

fn unix_ns(rfc3339: &str) -> i128 {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339}: {e}"))
        .unix_timestamp_nanos()
}

/// Removes a stack left up with `--keep`, also when the test fails.
struct ProjectGuard(String);

impl Drop for ProjectGuard {
    fn drop(&mut self) {
        remove_project(&self.0);
        assert_eq!(leftovers(&self.0), Vec::<String>::new());
    }
}

/// Issue 19, kinds 6 and 9 on a real stack: redis paused 6 s under a `tcp` probe every 100 ms
/// (timeout 500 ms). One check at a time, the probe's hanging checks held the ticks that fell
/// due meanwhile; counted as checks made, probe success in the pause's window read 54 % while
/// redis answered ~15 % of it. Judged over every scheduled tick, it is the answered share give
/// or take one timeout. The same run's load (`rate: 100/s` for as long as the run) must
/// schedule all its requests: it starts a moment after the run clock, and was cut at the
/// run's end (1980 of 2000 for 20 s).
#[test]
fn a_paused_service_probe_success_is_its_answered_share_and_the_load_runs_out() {
    let dir = TempDir::new("probe-co");
    let yaml = inline_scenario(
        "probe-co",
        Some(1),
        "duration: 10s\nload:\n  target: http://gateway:8080/health\n  rate: 100/s\n  \
         duration: 10s\n  timeout: 1s\nprobes:\n  - name: redis\n    tcp: { address: redis:6379 }\n    \
         every: 100ms\n    timeout: 500ms\nfaults:\n  - name: freeze\n    at: 2s\n    \
         action: pause\n    duration: 6s\n    target: { service: redis }\nslos:\n  - \
         probe_success(redis, during=freeze) >= 1%\n",
    );
    let (out, _run, report) = run_yaml_in(&dir, "probe-co", &yaml, &[]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));

    let whole = report["phases"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "whole"))
        .expect("a whole phase");
    assert_eq!(whole["scheduled"].as_u64(), Some(1000), "{whole:#}");

    let fault = &report["faults"][0];
    let applied = fault["verified_at_ms"].as_f64().expect("pause proven");
    let unpaused = fault["reverted_at_ms"].as_f64().expect("unpaused");
    let end = fault["evidence"]["window_end_ms"]
        .as_f64()
        .expect("window end");
    let window = end - fault["applied_at_ms"].as_f64().expect("applied");
    let answered = (end - unpaused) / window;
    let measured = slo(&report, "probe_success(redis")["measured"]["value"]
        .as_f64()
        .expect("probe success measured");
    let slack = (500.0 + 100.0) / window + 0.02;
    eprintln!(
        "paused {applied:.0}–{unpaused:.0} ms, window to {end:.0} ms: answered {:.1} %, \
         probe success {:.1} %",
        answered * 100.0,
        measured * 100.0
    );
    assert!(
        (measured - answered).abs() <= slack,
        "probe success {measured:.3}, answered share {answered:.3} (slack {slack:.3})"
    );
}
