//! The Kubernetes backend (issue 12) against a real cluster: the local Kubernetes 1.20 of
//! `scripts/local-kube.sh` (API server, scheduler, controller manager, kubelet on Docker,
//! kube-proxy), brought up and torn down by `scripts/test.sh`, which sets
//! `CHAOSGATE_KUBE_TESTS=1` and `KUBECONFIG`. Without `CHAOSGATE_KUBE_TESTS` these tests say
//! they were not run and pass; with it, a cluster that cannot be reached fails them.
//!
//! Each run must leave nothing: no namespace of the run, no pod container on the node.

use std::process::Command;

use crate::common::*;
use crate::stack::*;

/// `None` (and a line on stderr) when the Kubernetes tests are not enabled.
fn cluster() -> Option<()> {
    if std::env::var_os("CHAOSGATE_KUBE_TESTS").is_none() {
        eprintln!(
            "not run: set CHAOSGATE_KUBE_TESTS=1 and KUBECONFIG to a cluster (scripts/test.sh brings the local one up)"
        );
        return None;
    }
    require_images();
    assert!(
        std::env::var_os("KUBECONFIG").is_some(),
        "CHAOSGATE_KUBE_TESTS is set but KUBECONFIG is not"
    );
    Some(())
}

/// Runs `scenarios/kube/FILE` (or FILE, when absolute) and returns its output and report,
/// after checking that the run's namespace and every container of its pods are gone.
fn run_kube(file: &str, extra: &[&str]) -> (std::process::Output, serde_json::Value, TempDir) {
    let path = repo_root().join("scenarios/kube").join(file);
    let reports = TempDir::new(&format!(
        "kube-{}",
        path.file_stem().unwrap().to_string_lossy()
    ));
    let out = chaosgate()
        .arg("run")
        .arg(&path)
        .arg("--report-dir")
        .arg(&reports.0)
        .args(extra)
        .output()
        .expect("chaosgate runs");
    let report = report_json(&run_dir(&reports.0));
    let namespace = report["stack"]["project"]
        .as_str()
        .unwrap_or_else(|| panic!("no namespace in the report:\n{}", text(&out)))
        .to_string();
    assert!(namespace.starts_with("cg-"), "{namespace}");
    let ns = Command::new("kubectl")
        .args([
            "get",
            "namespace",
            &namespace,
            "--ignore-not-found",
            "-o",
            "name",
        ])
        .output()
        .expect("kubectl runs");
    assert!(
        ns.status.success(),
        "{}",
        String::from_utf8_lossy(&ns.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&ns.stdout).trim(),
        "",
        "namespace {namespace} left behind"
    );
    // The teardown stops every container of the run's pods (the namespace is gone only once
    // its pods are). A pod whose containers had all stopped is removed from the API at once;
    // its exited containers are then the kubelet's container GC's to remove (every minute,
    // and `local-kube.sh down` removes the rest): waiting for that here cost up to a minute
    // per run, so only running ones count as left behind.
    let running = |ns: &str| {
        let out = Command::new("docker")
            .args([
                "ps",
                "-q",
                "--filter",
                &format!("label=io.kubernetes.pod.namespace={ns}"),
            ])
            .output()
            .expect("docker runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let waited = std::time::Instant::now();
    let deadline = waited + std::time::Duration::from_secs(60);
    while !running(&namespace).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    eprintln!(
        "containers of {namespace} stopped {:.1} s after the run",
        waited.elapsed().as_secs_f64()
    );
    assert_eq!(
        running(&namespace),
        "",
        "containers of {namespace} left running"
    );
    (out, report, reports)
}

#[test]
fn replica_crash_passes_and_the_no_failover_build_is_failed_on_failover() {
    if cluster().is_none() {
        return;
    }
    let (out, report, _d) = run_kube("replica-crash.yaml", &[]);
    assert_crash_passed(&out, &report);

    let (out, report, _d) = run_kube("replica-crash.yaml", &["--set", "GATEWAY_FAILOVER=off"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let failover = slo(&report, "failover_time(");
    assert_eq!(failover["verdict"], "breached", "{failover:#}");
}

/// A replica-crash run passed, its crash applied and the container restarted by the kubelet
/// (its restart count, once the pod was Ready again); returns the fault's evidence.
fn assert_crash_passed(
    out: &std::process::Output,
    report: &serde_json::Value,
) -> serde_json::Map<String, serde_json::Value> {
    assert_eq!(out.status.code(), Some(0), "{}", text(out));
    let fault = &report["faults"][0];
    assert_eq!(fault["applied"], true, "{fault:#}");
    let evidence = fault["evidence"].as_object().expect("evidence").clone();
    assert!(
        evidence
            .iter()
            .any(|(k, v)| k.ends_with(".restart_count") && v.as_i64() >= Some(1)),
        "the kubelet restarted the container: {fault:#}"
    );
    evidence
}

/// `kustomize: DIR` renders (with kubectl, which the cluster's tests have) to exactly the objects
/// of the manifest files, and the manifest folder skips its kustomization file.
#[test]
fn a_kustomization_renders_the_same_objects_as_the_manifest_files() {
    if cluster().is_none() {
        return;
    }
    use chaosgate::stack::kube::manifests;
    let dir = repo_root().join("deploy/kubernetes");
    let key = |d: &serde_json::Value| {
        (
            d["kind"].as_str().unwrap_or_default().to_string(),
            d["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    };
    let mut rendered: Vec<_> = manifests::render_kustomization(&dir)
        .expect("renders")
        .iter()
        .map(key)
        .collect();
    let files = manifests::expand(&dir).expect("expands");
    assert!(
        files.iter().all(|f| !f.ends_with("kustomization.yaml")),
        "{files:?}"
    );
    let mut read: Vec<_> = manifests::read(&files)
        .expect("reads")
        .iter()
        .map(key)
        .collect();
    rendered.sort();
    read.sort();
    assert_eq!(rendered, read);
    assert!(rendered.len() >= 10, "{rendered:?}");
}

#[test]
fn pod_delete_passes_and_the_replacement_ready_time_agrees_with_the_pods_condition() {
    if cluster().is_none() {
        return;
    }
    // The reference stack as a kustomization this time (`kubectl kustomize`), the same objects
    // the other tests apply as manifest files.
    let dir = TempDir::new("kube-kustomize");
    let bundled = std::fs::read_to_string(repo_root().join("scenarios/kube/pod-delete.yaml"))
        .expect("scenarios/kube/pod-delete.yaml");
    let via_kustomize = bundled.replace(
        "manifests: ../../deploy/kubernetes",
        &format!(
            "kustomize: {}",
            repo_root().join("deploy/kubernetes").display()
        ),
    );
    assert_ne!(bundled, via_kustomize, "the scenario's stack line changed");
    let file = dir.0.join("pod-delete-kustomize.yaml");
    std::fs::write(&file, via_kustomize).unwrap();
    let (out, report, _d) = run_kube(file.to_str().unwrap(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let fault = &report["faults"][0];
    assert_eq!(fault["applied"], true, "{fault:#}");
    // The target's label selector matched the pods' own labels (none matching = no target,
    // never applied).
    assert_eq!(
        fault["labels"]["app.kubernetes.io/component"], "gateway",
        "{fault:#}"
    );
    assert_eq!(
        fault["targets"].as_array().map(Vec::len),
        Some(1),
        "{fault:#}"
    );
    // chaosgate's replacement time: every replica Ready again, none a deleted one (the
    // fault's window goes on until the deleted pod is gone: `window_end_ms`, not before).
    assert!(
        fault["evidence"]["window_end_ms"].as_f64()
            >= fault["evidence"]["replacement_ready_ms"].as_f64(),
        "{fault:#}"
    );
    let measured_ms = fault["evidence"]["replacement_ready_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("no end: {fault:#}"));
    let started = time::OffsetDateTime::parse(
        report["started_at"].as_str().expect("started_at"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("started_at is RFC 3339");
    let conditions = fault["evidence"]["replacements_ready_condition"]
        .as_array()
        .unwrap_or_else(|| panic!("no condition times: {fault:#}"));
    assert_eq!(conditions.len(), 1, "one replacement pod: {fault:#}");
    let at = time::OffsetDateTime::parse(
        conditions[0]["ready_condition_at"]
            .as_str()
            .expect("a time"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339");
    let condition_ms = (at - started).as_seconds_f64() * 1e3;
    // The API server keeps whole seconds, so the true transition lies in
    // [condition, condition + 1 s); chaosgate's poll (every 100 ms) sees it within 100 ms of
    // the watch, after the transition.
    assert!(
        measured_ms >= condition_ms - 100.0 && measured_ms <= condition_ms + 1_000.0 + 100.0,
        "measured {measured_ms:.0} ms, Ready condition {condition_ms:.0} ms (whole seconds): {fault:#}"
    );
    let recovery = slo(&report, "recovery_time(");
    assert_eq!(recovery["verdict"], "pass", "{recovery:#}");
}

#[test]
fn db_partition_cuts_the_gateways_off_and_no_acknowledged_order_is_lost() {
    if cluster().is_none() {
        return;
    }
    let (out, report, _d) = run_kube("db-partition.yaml", &[]);
    assert_partition_passed(&out, &report);
}

/// A db-partition run (`cut-db`, both gateway pods from postgres) passed: applied to both pods,
/// orders failed while it held (it touched traffic), and none acknowledged was lost.
fn assert_partition_passed(out: &std::process::Output, report: &serde_json::Value) {
    assert_eq!(out.status.code(), Some(0), "{}", text(out));
    let fault = &report["faults"][0];
    assert_eq!(fault["applied"], true, "{fault:#}");
    assert_eq!(
        fault["targets"].as_array().map(Vec::len),
        Some(2),
        "both gateway pods: {fault:#}"
    );
    let during = report["phases"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "during:cut-db"))
        .unwrap_or_else(|| panic!("no fault phase: {report:#}"));
    assert!(during["errors"].as_u64() > Some(0), "{during:#}");
    assert_eq!(slo(report, "lost_writes(")["verdict"], "pass");
}

/// A proxy fault on Kubernetes: 300 ms on the gateways' path to redis, through the proxy wired
/// in each gateway pod's sandbox. The good build degrades to uncached quotes; the build that
/// waits on its cache is caught by the p95 SLO; the proxy saw and delayed the redis traffic.
#[test]
fn redis_latency_goes_through_the_proxy_in_the_pods_and_catches_the_cache_blocking_build() {
    if cluster().is_none() {
        return;
    }
    let (out, report, _d) = run_kube("redis-latency.yaml", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let fault = &report["faults"][0];
    assert_eq!(fault["applied"], true, "{fault:#}");
    assert_eq!(
        fault["targets"].as_array().map(Vec::len),
        Some(2),
        "{fault:#}"
    );
    let toxic = &fault["evidence"]["proxy"]["toxics"]["slow-redis"];
    assert!(
        toxic["connections_affected"].as_u64().unwrap_or(0) > 0,
        "the proxy saw no redis connection: {fault:#}"
    );
    assert!(
        toxic["chunks_delayed"].as_u64().unwrap_or(0) > 0,
        "{fault:#}"
    );
    assert!(fault["reverted_at_ms"].is_number(), "{fault:#}");

    let (out, report, _d) = run_kube("redis-latency.yaml", &["--set", "GATEWAY_CACHE_BLOCKING=1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        slo(&report, "p95(latency, during=slow-redis)")["verdict"],
        "breached",
        "{report:#}"
    );
    assert_eq!(report["faults"][0]["applied"], true, "{report:#}");
}

/// Builds the node agent's image from this build's binary (scripts/agent-image.sh; a no-op
/// while the binary is unchanged).
fn agent_image() {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/agent-image.sh"))
        .args(["--binary", env!("CARGO_BIN_EXE_chaosgate")])
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "{}", text(&out));
}

/// No agent DaemonSet of any run is left in the cluster.
fn no_agent_left() {
    let out = Command::new("kubectl")
        .args([
            "get",
            "daemonsets,pods",
            "--all-namespaces",
            "-l",
            "chaosgate.io/agent=true",
            "-o",
            "name",
        ])
        .output()
        .expect("kubectl runs");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "",
        "node agents left behind"
    );
}

/// The node agent (the way on kind and remote clusters) on the local cluster: a crash through
/// it passes the good build (the no-failover build's failure on failover is the verdict's, the
/// same on either way of killing: `replica_crash_passes…` shows it); a partition's rules go
/// into both gateway pods from it and touch their postgres traffic. The kill is proven by the
/// agent and the restart by the kubelet; no agent is left after any run.
#[test]
fn the_node_agent_crashes_and_partitions_pods_and_is_removed_after_each_run() {
    if cluster().is_none() {
        return;
    }
    agent_image();
    let (out, report, _d) = run_kube("agent-replica-crash.yaml", &[]);
    no_agent_left();
    let evidence = assert_crash_passed(&out, &report);
    assert!(
        evidence.keys().any(|k| k.ends_with(".killed_pid")),
        "the agent killed the process: {evidence:#?}"
    );

    let (out, report, _d) = run_kube("agent-db-partition.yaml", &[]);
    no_agent_left();
    assert_partition_passed(&out, &report);
}

/// An agent image the node does not have fails the bring-up at once (not after the whole
/// ready timeout) with the pod's reason and how to build and load the image, exit 3; nothing
/// of the run is left.
#[test]
fn a_missing_agent_image_fails_the_bring_up_at_once_and_says_how_to_build_it() {
    if cluster().is_none() {
        return;
    }
    let dir = TempDir::new("kube-agent-missing");
    let file = dir.0.join("agent-missing.yaml");
    let src = std::fs::read_to_string(repo_root().join("scenarios/kube/agent-replica-crash.yaml"))
        .expect("the bundled scenario")
        .replace(
            "manifests: ../../deploy/kubernetes",
            &format!(
                "manifests: {}",
                repo_root().join("deploy/kubernetes").display()
            ),
        )
        .replace("agent: {}", "agent: { image: chaosgate/agent:never-built }")
        .replace("name: kube-agent-replica-crash", "name: kube-agent-missing");
    std::fs::write(&file, src).expect("write the scenario");
    let started = std::time::Instant::now();
    let out = chaosgate()
        .arg("run")
        .arg(&file)
        .arg("--report-dir")
        .arg(dir.0.join("reports"))
        .output()
        .expect("chaosgate runs");
    no_agent_left();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("chaosgate/agent:never-built") && stderr.contains("scripts/agent-image.sh"),
        "{}",
        text(&out)
    );
    // Well inside the scenario's 180 s ready timeout (bring-up and teardown included).
    assert!(
        started.elapsed() < std::time::Duration::from_secs(150),
        "{:?}",
        started.elapsed()
    );
    let ns = Command::new("kubectl")
        .args(["get", "namespaces", "-o", "name"])
        .output()
        .expect("kubectl runs");
    assert!(
        !String::from_utf8_lossy(&ns.stdout).contains("cg-kube-agent-missing"),
        "namespace left behind"
    );
}

/// Prometheus on Kubernetes (deploy/kubernetes/observability/): both market-data replicas
/// scaled to zero for 6 s, so the gateway answers quotes 503; the stack's Prometheus, scraping
/// each gateway pod, fires QuoteErrorRatioHigh within 10 s and clears it within 20 s; the
/// lying-metrics build serves the same 503s, its alert never fires: exit 1.
#[test]
fn alert_detection_with_prometheus_in_the_cluster_times_the_alert_and_fails_metrics_that_lie() {
    if cluster().is_none() {
        return;
    }
    let (out, report, _d) = run_kube("alert-detection.yaml", &[]);
    let detect = slo(&report, "detect_time(down-a");
    eprintln!(
        "good build: detect {} clear {} prom {}",
        detect["measured"]["text"],
        slo(&report, "clear_time(down-a")["measured"]["text"],
        slo(&report, "prom(")["measured"]["text"]
    );
    assert_eq!(out.status.code(), Some(0), "{}\n{report:#}", text(&out));
    // Both scales proven (no ready pod while held) and reverted (the new pods ready again).
    for fault in report["faults"].as_array().expect("faults") {
        assert_eq!(fault["applied"], true, "{fault:#}");
        assert!(fault["reverted_at_ms"].as_f64().is_some(), "{fault:#}");
    }

    let (out, report, _d) = run_kube("alert-detection.yaml", &["--set", "GATEWAY_METRICS=off"]);
    let output = text(&out);
    assert_eq!(out.status.code(), Some(1), "{output}\n{report:#}");
    let detect = slo(&report, "detect_time(down-a");
    assert_eq!(detect["verdict"], "breached", "{detect:#}");
    assert!(output.contains("never fired"), "{output}");
}

/// `cpu-stress` then `memory-stress` on both gateway pods of the local cluster: the helpers
/// are charged to each pod's gateway container (its cgroup's CPU counter rises; 192 MiB
/// resident under the 512 MiB limit), and the good gateway passes. The bad builds are the
/// compose twins' (run_resources): a limit is a manifest field here, not a variable.
#[test]
fn resource_stress_is_charged_to_the_pods_containers() {
    if cluster().is_none() {
        return;
    }
    let (out, report, _d) = run_kube("resource-stress.yaml", &[]);
    eprintln!("faults {:#}", report["faults"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for (i, per_pod) in [(0, "cgroup_cpu_cores_at_proof"), (1, "memory_held_bytes")] {
        let fault = &report["faults"][i];
        assert_eq!(fault["applied"], true, "{fault:#}");
        let values: Vec<f64> = fault["evidence"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.ends_with(&format!(".{per_pod}")))
            .filter_map(|(_, v)| v.as_f64())
            .collect();
        assert_eq!(values.len(), 2, "one per gateway pod: {fault:#}");
        for v in values {
            match i {
                0 => assert!(v > 0.1, "{fault:#}"),
                _ => assert!((v - (192u64 << 20) as f64).abs() < 0.05 * (192u64 << 20) as f64),
            }
        }
    }
}

/// `scenarios/kube/FILE` with each `(from, to)` replaced (each must occur) and its manifests
/// path made absolute, written into a new temporary directory: a variant of a bundled
/// scenario (another mode, a bad version in a rollout's `set`). Returns the directory (kept
/// while the file is used) and the file's path.
fn kube_variant(file: &str, replace: &[(&str, &str)]) -> (TempDir, String) {
    let mut yaml = std::fs::read_to_string(repo_root().join("scenarios/kube").join(file))
        .expect("the bundled scenario");
    for (from, to) in replace {
        assert!(yaml.contains(from), "{file} has no `{from}`");
        yaml = yaml.replace(from, to);
    }
    let yaml = yaml.replace(
        "../../deploy/kubernetes",
        &repo_root().join("deploy/kubernetes").display().to_string(),
    );
    let dir = TempDir::new(&format!("kube-variant-{}", file.trim_end_matches(".yaml")));
    let path = dir.0.join(file);
    std::fs::write(&path, yaml).unwrap();
    let path = path.to_str().unwrap().to_string();
    (dir, path)
}

/// `dns` on the local cluster, in both gateway pods' network namespaces: the good gateway keeps
/// its replica connections open and passes, the canary lookup from each pod (to the cluster DNS
/// its resolv.conf names) proving the rules; the no-keep-alive build, which resolves per call
/// through the cluster DNS's search domains, fails under the answering mode (chaosgate's
/// resolver in each pod says NXDOMAIN, and counts the pods' own lookups).
#[test]
fn dns_outage_in_the_pods_passes_the_keep_alive_gateway_and_fails_the_other() {
    if cluster().is_none() {
        return;
    }
    let (out, report, _d) = run_kube("dns-outage.yaml", &[]);
    let fault = &report["faults"][0];
    eprintln!(
        "good build: exit {:?}, evidence {}",
        out.status.code(),
        fault["evidence"]
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(fault["applied"], true, "{fault:#}");
    let canaries: Vec<&serde_json::Value> = fault["evidence"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.ends_with(".dns_canary"))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(canaries.len(), 2, "one per gateway pod: {fault:#}");
    assert!(
        canaries.iter().all(|c| c["outcome"] == "refused"),
        "{canaries:?}"
    );

    let (_dir, file) = kube_variant("dns-outage.yaml", &[("mode: refused", "mode: nxdomain")]);
    let (out, report, _d) = run_kube(&file, &["--set", "GATEWAY_UPSTREAM_KEEPALIVE=off"]);
    let evidence = &report["faults"][0]["evidence"];
    let answered: u64 = evidence
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.ends_with(".dns_answered"))
        .filter_map(|(_, v)| v.as_u64())
        .sum();
    eprintln!(
        "no-keep-alive build, nxdomain: exit {:?}, lookups answered NXDOMAIN {answered}, evidence {evidence}",
        out.status.code()
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(answered > 10, "{evidence}");
    assert_eq!(
        slo(&report, "error_rate(during=no-dns) < 0.1%")["verdict"],
        "breached",
        "{report:#}"
    );
}

/// `rollout` with `then: rollback` on the local cluster: the gateway Deployment's new version
/// rolled out under load and the previous template put back (as `kubectl rollout undo`), each
/// direction proven from the API (every old pod's containers exited, every replica at the
/// template) and judged per request, with no request failed either way.
#[test]
fn a_deploy_and_its_rollback_pass_per_request_in_both_directions() {
    if cluster().is_none() {
        return;
    }
    let (out, report, _d) = run_kube("zero-downtime-deploy.yaml", &[]);
    let fault = &report["faults"][0];
    eprintln!(
        "good version: exit {:?}, evidence {}",
        out.status.code(),
        fault["evidence"]
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(fault["applied"], true, "{fault:#}");
    let pods = |key: &str| -> std::collections::BTreeSet<String> {
        fault["evidence"][key]
            .as_array()
            .unwrap_or_else(|| panic!("{key} in {fault:#}"))
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect()
    };
    let (old, new, back) = (pods("old_pods"), pods("new_pods"), pods("rolled_back_pods"));
    assert_eq!((old.len(), new.len(), back.len()), (2, 2, 2), "{fault:#}");
    assert!(old.is_disjoint(&new) && new.is_disjoint(&back), "{fault:#}");

    // The bad build only the way back meets: a new version that refuses, with 503 on the
    // connection, what is still sent to it while it drains. The deploy stops the good old pods;
    // the rollback stops the new ones, and the load's keep-alive connection to each of them
    // (its endpoint already gone, the connection pinned) is refused for the 1 s drain.
    let (_dir, file) = kube_variant(
        "zero-downtime-deploy.yaml",
        &[
            (
                "set: { GATEWAY_VERSION: \"2\" }",
                "set: { GATEWAY_VERSION: \"2\", GATEWAY_DRAIN_REJECTS: \"1\" }",
            ),
            // Both ways are done ~23 s into the load (the patch at 5 s): 35 s leave 12 to spare.
            ("  duration: 45s\n", "  duration: 35s\n"),
        ],
    );
    let (out, report, _d) = run_kube(&file, &[]);
    let e = slo(&report, "error_rate(during=deploy)");
    eprintln!(
        "rollback of a version that refuses while draining: exit {:?}, {}",
        out.status.code(),
        e["evidence"]
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(e["verdict"], "breached", "{report:#}");
    assert_eq!(report["faults"][0]["applied"], true, "{report:#}");
}
