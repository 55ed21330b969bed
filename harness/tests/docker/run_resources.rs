//! The resource faults (`cpu-stress`, `memory-stress`, `disk-fill`) on the reference stack
//! through the real binary: each bundled scenario passes the good build and fails its bad
//! build, and the kernel's counters in the report prove each fault and its size (CPU seen in the
//! cgroup's usage, memory held within 5 %, the disk filled within 1 %). No helper outlives the
//! run (`run` checks the host is left clean).

use crate::common::*;
use crate::stack::*;

/// The fault's evidence value `what` of its one target.
fn evidence(report: &serde_json::Value, what: &str) -> serde_json::Value {
    let ev = &report["faults"][0]["evidence"];
    ev.as_object()
        .and_then(|m| m.iter().find(|(k, _)| k.ends_with(&format!(".{what}"))))
        .map(|(_, v)| v.clone())
        .unwrap_or(serde_json::Value::Null)
}

fn measured(report: &serde_json::Value, expression: &str) -> f64 {
    slo(report, expression)["measured"]["value"]
        .as_f64()
        .unwrap_or(f64::NAN)
}

/// No helper process of the run is left on the host.
fn helpers_gone(report: &serde_json::Value) {
    for pid in evidence(report, "helper_pids")
        .as_array()
        .into_iter()
        .flatten()
    {
        let pid = pid.as_u64().unwrap();
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "helper {pid} outlived the run"
        );
    }
}

#[test]
fn cpu_stress_passes_a_gateway_with_cpu_to_spare_and_fails_one_without() {
    let (out, report, _dir) = run("cpu-stress.yaml", &[]);
    let held = evidence(&report, "cgroup_cpu_cores_held")
        .as_f64()
        .unwrap_or(0.0);
    eprintln!(
        "good build: exit {:?}, p95 {:.1} ms, cgroup cores held {held}, helpers {}",
        out.status.code(),
        measured(&report, "p95(latency, during=noisy-neighbour) < 100ms"),
        evidence(&report, "helper_cpu_seconds"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["faults"][0]["applied"], true, "{report:#}");
    // Two spinning helpers on a 2-core machine that also runs the stack and the load: at least
    // one core's worth shows in the gateway's own cgroup counter.
    assert!(held >= 1.0, "{report:#}");
    helpers_gone(&report);

    let (out, report, _dir) = run("cpu-stress.yaml", &["--set", "GATEWAY_CPUS=0.1"]);
    let held = evidence(&report, "cgroup_cpu_cores_held")
        .as_f64()
        .unwrap_or(f64::NAN);
    eprintln!(
        "no-headroom build: exit {:?}, p95 {:.1} ms, cgroup cores held {held}, helpers at the \
         proof {} of a limit {}",
        out.status.code(),
        measured(&report, "p95(latency, during=noisy-neighbour) < 100ms"),
        evidence(&report, "helper_cpu_cores_at_proof"),
        evidence(&report, "cgroup_cpu_limit_cores"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // Proven although the cgroup sat at its limit: 0.1 core is all the helpers could get (CI
    // once judged this run inconclusive, its counter 0.0998 against 5 % of the 2 cores asked).
    assert_eq!(report["faults"][0]["applied"], true, "{report:#}");
    assert_eq!(
        evidence(&report, "cgroup_cpu_limit_cores"),
        0.1,
        "{report:#}"
    );
    assert_eq!(
        slo(&report, "p95(latency, during=noisy-neighbour) < 100ms")["verdict"],
        "breached",
        "{report:#}"
    );
    // The limit is what held the cgroup: its counter never went past 0.1 core (plus rounding).
    assert!(held <= 0.12, "{report:#}");
    helpers_gone(&report);
}

#[test]
fn memory_stress_passes_a_gateway_with_room_and_fails_one_without() {
    const ASKED: f64 = (192u64 << 20) as f64;
    let (out, report, _dir) = run("memory-stress.yaml", &[]);
    let held = evidence(&report, "memory_held_bytes")
        .as_f64()
        .unwrap_or(0.0);
    let charged = evidence(&report, "memory_after_bytes")
        .as_f64()
        .unwrap_or(0.0)
        - evidence(&report, "memory_before_bytes")
            .as_f64()
            .unwrap_or(0.0);
    eprintln!(
        "good build: exit {:?}, held {held}, charged to the cgroup {charged}, errors {:.3} %",
        out.status.code(),
        measured(&report, "error_rate(during=squeeze) < 0.1%") * 100.0,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["faults"][0]["applied"], true, "{report:#}");
    assert!((held - ASKED).abs() <= 0.05 * ASKED, "{report:#}");
    assert!((charged - ASKED).abs() <= 0.05 * ASKED, "{report:#}");
    assert_eq!(evidence(&report, "memory_locked"), true, "{report:#}");
    // With room, no holder is ever the OOM killer's pick.
    assert_eq!(
        evidence(&report, "helpers_ended_early"),
        serde_json::Value::Null,
        "{report:#}"
    );
    helpers_gone(&report);
    // The size is said where people read: the terminal and the Markdown summary.
    let md = std::fs::read_to_string(run_dir(&_dir.0).join("summary.md")).expect("summary.md");
    assert!(
        md.contains("192.0 MiB held (locked, 6 holders) under a 512.0 MiB limit"),
        "{md}"
    );
    assert!(text(&out).contains("effect: "), "{}", text(&out));

    let (out, report, _dir) = run("memory-stress.yaml", &["--set", "GATEWAY_MEMORY=196m"]);
    eprintln!(
        "no-headroom build: exit {:?}, errors {:.3} %, helpers ended early {}",
        out.status.code(),
        measured(&report, "error_rate(during=squeeze) < 0.1%") * 100.0,
        evidence(&report, "helpers_ended_early"),
    );
    // The kill lands on the gateway first, as the scenario asks (its clients see errors); a
    // holder the kernel kills afterwards, to let the restarting gateway in, ends the squeeze
    // early: said as a run issue, and the breach stands over it.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // The OOM kill shows as errors or as slow answers (a restart's queue): one of the two.
    assert!(
        [
            "error_rate(during=squeeze) < 0.1%",
            "p95(latency, during=squeeze) < 100ms"
        ]
        .iter()
        .any(|e| slo(&report, e)["verdict"] == "breached"),
        "{report:#}"
    );
    if !evidence(&report, "helpers_ended_early").is_null() {
        assert!(
            report["run_issues"]
                .as_array()
                .is_some_and(|i| i.iter().any(|i| i.to_string().contains("ended_early"))),
            "{report:#}"
        );
    }
    helpers_gone(&report);

    // A limit below the squeeze itself: it cannot be held whole, but it took the cgroup to
    // its limit, and that is the fault's effect (this build was once judged inconclusive,
    // 'could not be proven applied', instead of failed).
    let (out, report, _dir) = run("memory-stress.yaml", &["--set", "GATEWAY_MEMORY=128m"]);
    eprintln!(
        "smaller-limit build: exit {:?}, errors {:.3} %, limit met {} times",
        out.status.code(),
        measured(&report, "error_rate(during=squeeze) < 0.1%") * 100.0,
        evidence(&report, "memory_limit_hits_after")
            .as_u64()
            .unwrap_or(0)
            - evidence(&report, "memory_limit_hits_before")
                .as_u64()
                .unwrap_or(0),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(report["faults"][0]["applied"], true, "{report:#}");
    assert_eq!(evidence(&report, "memory_limit_met"), true, "{report:#}");
    assert!(text(&out).contains("more than the"), "{}", text(&out));
    helpers_gone(&report);
}

/// The helpers of the chaosgate process `parent`: its children running its own binary (forks;
/// docker-compose's are Python) inside a container's cgroups.
fn helpers_of(parent: u32) -> Vec<u32> {
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_chaosgate"))
        .canonicalize()
        .expect("the binary");
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                let Some((_, rest)) = s.rsplit_once(')') else {
                    return false;
                };
                rest.split_whitespace().nth(1) == Some(&parent.to_string())
                    && std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|e| e == binary)
                    // Moved into the container's cgroups (the run's reaper is a child too).
                    && std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                        .is_ok_and(|c| c.contains("/docker/"))
            })
        })
        .collect()
}

/// A squeeze that ends before its revert (here a holder is killed from outside, as the OOM
/// killer would) proved nothing about the rest of its duration: the run is inconclusive
/// (exit 4), not a pass, although every SLO held.
#[test]
fn a_helper_killed_during_the_hold_ends_the_fault_early_and_the_run_cannot_pass() {
    require_images();
    let dir = TempDir::new("helper-killed");
    let yaml = inline_scenario(
        "helper-killed",
        Some(7),
        "load:\n  requests:\n    - url: http://gateway:8080/quote?symbol=BTCUSD\n  rate: 50/s\n  \
         duration: 10s\n  timeout: 3s\nfaults:\n  - name: squeeze\n    at: 2s\n    \
         duration: 6s\n    action: memory-stress\n    size: 64MiB\n    \
         target: { service: gateway }\nslos:\n  - error_rate(during=squeeze) < 1%\n",
    );
    let file = dir.0.join("helper-killed.yaml");
    std::fs::write(&file, yaml).expect("write the scenario");
    let reports = dir.0.join("reports");
    let mut child = spawn_run(&file, &reports);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut killed = Vec::new();
    while killed.is_empty() && std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        let found = helpers_of(child.id());
        if !found.is_empty() {
            // Held and proven first, then gone with 4 s of the hold left.
            std::thread::sleep(std::time::Duration::from_secs(2));
            for pid in &found {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status();
            }
            killed = found;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("chaosgate ends");
    assert!(!killed.is_empty(), "no helper seen: {}", text(&out));
    let report = report_json(&run_dir(&reports));
    assert_run_left_nothing(&report);
    eprintln!("killed helper(s) {killed:?}: exit {:?}", out.status.code());
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    // Applied and proven (what it did while it held is real), but ended early: no pass.
    assert_eq!(report["faults"][0]["applied"], true, "{report:#}");
    assert!(
        evidence(&report, "helpers_ended_early").as_u64() >= Some(1),
        "{report:#}"
    );
    assert!(
        text(&out).contains("did not hold its whole duration"),
        "{}",
        text(&out)
    );
    assert_eq!(report["verdict"], "inconclusive", "{report:#}");
}

#[test]
fn disk_fill_passes_a_best_effort_cache_and_fails_one_that_requires_writes() {
    let (out, report, _dir) = run("disk-fill.yaml", &[]);
    let total = evidence(&report, "disk_total_bytes")
        .as_f64()
        .unwrap_or(0.0);
    let before = evidence(&report, "disk_used_before_bytes")
        .as_f64()
        .unwrap_or(0.0);
    let filled = evidence(&report, "disk_filled_bytes")
        .as_f64()
        .unwrap_or(0.0);
    let share = evidence(&report, "disk_used_share_after")
        .as_f64()
        .unwrap_or(0.0);
    let after_revert = evidence(&report, "disk_used_after_revert_bytes")
        .as_f64()
        .unwrap_or(f64::NAN);
    eprintln!(
        "good build: exit {:?}, filled {filled} of {total} (used before {before}), share after {share}, after revert {after_revert}",
        out.status.code()
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(report["faults"][0]["applied"], true, "{report:#}");
    // 100 % asked: what was free got filled, within 1 %.
    assert!(
        (filled - (total - before)).abs() <= 0.01 * total,
        "{report:#}"
    );
    assert!(share >= 0.99, "{report:#}");
    // Removed at revert: the disk is back to (about) what Redis itself uses.
    assert!(after_revert < 0.1 * total, "{report:#}");

    let (out, report, _dir) = run(
        "disk-fill.yaml",
        &["--set", "GATEWAY_CACHE_WRITE_REQUIRED=1"],
    );
    eprintln!(
        "write-required build: exit {:?}, errors {:.3} %",
        out.status.code(),
        measured(&report, "error_rate(during=redis-disk-full) < 0.1%") * 100.0,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        slo(&report, "error_rate(during=redis-disk-full) < 0.1%")["verdict"],
        "breached",
        "{report:#}"
    );
}
