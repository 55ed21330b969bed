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
        "no-headroom build: exit {:?}, p95 {:.1} ms, cgroup cores held {held}",
        out.status.code(),
        measured(&report, "p95(latency, during=noisy-neighbour) < 100ms"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
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
    helpers_gone(&report);
    // The size is said where people read: the terminal and the Markdown summary.
    let md = std::fs::read_to_string(run_dir(&_dir.0).join("summary.md")).expect("summary.md");
    assert!(
        md.contains("192.0 MiB held (locked) under a 512.0 MiB limit"),
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
    helpers_gone(&report);
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
