//! Scenario validation errors: each broken file yields every problem, each with file, line,
//! column and a caret under the offending text (snapshots review the exact wording).

use std::path::Path;

use chaosgate::scenario::{self, ScenarioErrors};

use crate::common::ensure_stack_tls;

/// Scenario text as if it were the file `tests/data/scenario/<name>.yaml` (so the test compose
/// file resolves as `compose/trading.yml`).
fn check(name: &str, src: &str) -> ScenarioErrors {
    let origin = Path::new("tests/data/scenario").join(format!("{name}.yaml"));
    match scenario::parse_str(src, &origin) {
        Ok(s) => panic!("{name}: expected errors, got a valid scenario {:?}", s.name),
        Err(e) => e,
    }
}

const GOOD_HEAD: &str = "\
name: t
stack:
  compose: compose/trading.yml
load:
  target: http://gateway:8080/quote?symbol=BTCUSD
  rate: 100/s
  duration: 30s
";

#[test]
fn unknown_field_is_reported_with_its_position() {
    let e = check(
        "unknown-field",
        "name: t\nstack:\n  compose: compose/trading.yml\nload:\n  target: http://gateway:8080/\n  rat: 200/s\n  duration: 30s\nslos:\n  - p95(latency) < 100ms\n",
    );
    assert_eq!(e.errors.len(), 1);
    let span = e.errors[0].span.clone().expect("a position");
    assert_eq!((span.line, span.column), (6, 3));
    assert!(
        e.errors[0].message.contains("unknown field `rat`"),
        "{}",
        e.errors[0].message
    );
    insta::assert_snapshot!(e.to_string());
}

#[test]
fn bad_units_services_and_references_are_all_collected() {
    let src = format!(
        "{GOOD_HEAD}\
probes:
  - name: gw
    http: {{ url: http://gatewy:8080/health }}
    every: 50
faults:
  - name: crash-primary
    at: 10s
    action: crash
    target: {{ service: marketdata-c }}
  - name: pause-db
    at: 5x
    action: pause
    target: {{ service: postgres }}
slos:
  - p95(latency, during=crash-primry) < 100ms
  - error_rate(during=crash-primary) < 0.1ms
  - recovery_time(crash-primary, probe=gateway) < 30s
"
    );
    let e = check("many", &src);
    let positions: Vec<(u32, u32)> = e
        .errors
        .iter()
        .map(|x| x.span.as_ref().map_or((0, 0), |s| (s.line, s.column)))
        .collect();
    assert_eq!(
        positions,
        [
            (10, 25),
            (11, 12),
            (16, 24),
            (18, 9),
            (19, 13),
            (22, 25),
            (23, 40),
            (24, 40)
        ],
        "{e}"
    );
    insta::assert_snapshot!(e.to_string());
}

#[test]
fn overlapping_faults_and_missing_durations() {
    let src = format!(
        "{GOOD_HEAD}\
faults:
  - name: stop-a
    at: 10s
    action: stop
    target: {{ service: marketdata-a }}
  - name: crash-a
    at: {{ between: [8s, 12s] }}
    action: crash
    target: {{ service: marketdata-a }}
  - name: slow-redis
    at: 5s
    action: latency
    latency: 300ms
    percent: 30%
    target: {{ service: gateway }}
    duration: 5s
slos:
  - failover_time(crash-a) < 2s
"
    );
    let e = check("overlap", &src);
    insta::assert_snapshot!(e.to_string());
}

#[test]
fn missing_compose_file_and_bad_name() {
    let e = check(
        "missing-compose",
        "name: Replica Crash\nstack:\n  compose: [compose/trading.yml, compose/nope.yml]\nduration: 10s\nslos:\n  - lost_writes() <= 0\n",
    );
    let text = e.to_string();
    assert!(
        text.contains("compose file `compose/nope.yml` not found"),
        "{text}"
    );
    assert!(
        text.contains("invalid scenario name `Replica Crash`"),
        "{text}"
    );
    // Paths in the label are absolute and machine-specific: keep them out of the snapshot.
    let messages: Vec<String> = e.errors.iter().map(|x| x.message.clone()).collect();
    insta::assert_debug_snapshot!(messages);
}

#[test]
fn slo_syntax_error_column_is_inside_the_expression() {
    let src =
        format!("{GOOD_HEAD}slos:\n  - \"p95(latency during=x) < 1s\"\n  - p95(latency) < 100%\n");
    let e = check("slo-syntax", &src);
    let cols: Vec<(u32, u32)> = e
        .errors
        .iter()
        .filter_map(|x| x.span.as_ref().map(|s| (s.line, s.column)))
        .collect();
    // Line 9: `  - "p95(latency during=x) < 1s"`: `during` starts at column 18 (quote skipped).
    // Line 10: `  - p95(latency) < 100%`: `100%` starts at column 20.
    assert_eq!(cols, [(9, 18), (10, 20)]);
    insta::assert_snapshot!(e.to_string());
}

#[test]
fn yaml_syntax_error() {
    let e = check("yaml-syntax", "name: t\nstack: [compose\n");
    assert_eq!(e.errors.len(), 1);
    assert!(e.errors[0].span.is_some());
    insta::assert_snapshot!(e.to_string());
}

#[test]
fn unreadable_file_names_the_file() {
    let e = scenario::load(Path::new("tests/data/scenario/does-not-exist.yaml")).unwrap_err();
    assert!(
        e.to_string()
            .contains("tests/data/scenario/does-not-exist.yaml")
    );
    assert!(e.to_string().contains("cannot read scenario"));
}

#[test]
fn values_inside_long_forms_keep_their_positions() {
    let src = "\
name: t
stack:
  compose: [compose/trading.yml]
load:
  requests:
    - { method: POST, url: http://gateway:8080/orders, weight: 0 }
    - { method: FETCH, url: http://nowhere:8080/ }
  rate: { from: 10/s, to: 5 }
  duration: 30s
probes:
  - name: db
    tcp: { address: postgres }
  - name: both
    tcp: { address: redis:6379 }
    health: { service: redis }
faults:
  - name: a
    at: { between: [5s, 1x] }
    action: crash
    target: { service: marketdata-a, pick: random }
  - name: b
    at: 20s
    action: latency
    latency: 100ms
    toxicity: 1.5
    to: [redis:6379, postgres:5432]
    target: { service: gateway }
    duration: 2s
slos:
  - recovery_time(a, probe=db) < 30s
";
    let e = check("long-forms", src);
    insta::assert_snapshot!(e.to_string());
    let positions: Vec<(u32, u32)> = e
        .errors
        .iter()
        .map(|x| x.span.as_ref().map_or((0, 0), |s| (s.line, s.column)))
        .collect();
    assert!(
        !positions.contains(&(0, 0)),
        "an error lost its position: {positions:?}\n{e}"
    );
}

#[test]
fn structural_errors_point_at_the_place() {
    let cases = [
        ("missing-field", "name: t\nslos: []\n"),
        (
            "wrong-type",
            "name: t\nstack:\n  compose: compose/trading.yml\n  ready_timeout: [1s]\n",
        ),
        (
            "duplicate-key",
            "name: t\nname: u\nstack: { compose: compose/trading.yml }\n",
        ),
        (
            "bad-action",
            "name: t\nstack: { compose: compose/trading.yml }\nfaults:\n  - { name: a, at: 1s, action: explode, target: { service: redis } }\n",
        ),
    ];
    let mut all = String::new();
    for (name, src) in cases {
        let e = check(name, src);
        assert_eq!(e.errors.len(), 1, "{e}");
        all.push_str(&e.to_string());
        all.push_str("\n\n");
    }
    insta::assert_snapshot!(all);
}

#[test]
fn run_duration_shorter_than_the_load_is_rejected() {
    let src = format!("{GOOD_HEAD}duration: 20s\nslos: [\"p95(latency) < 1s\"]\n");
    let e = check("short-run", &src);
    assert_eq!(e.errors.len(), 1, "{e}");
    assert_eq!(
        e.errors[0].span.as_ref().map(|s| (s.line, s.column)),
        Some((8, 11))
    );
}

/// Issue 11, kind 8: every numeric field has a range, checked with its position. The first
/// fault is the input that made `validate` and `run --dry-run` panic with "overflow when
/// adding durations" (exit 101); `duration: 1M` was read as a month.
#[test]
fn absurd_numbers_are_range_errors_with_positions() {
    let src = "\
name: t
stack:
  compose: compose/trading.yml
  ready_timeout: 0s
load:
  requests:
    - { url: http://gateway:8080/quote, weight: 0 }
  rate: 1e300/s
  duration: 1M
  timeout: 0ms
  max_in_flight: 1000000
recovery: { consecutive: 100000 }
probes:
  - name: gw
    http: { url: http://gateway:8080/health, status: 42 }
    every: 0s
    timeout: 2h
faults:
  - name: far
    at: 18446744073709551615s
    action: crash
    target: { service: gateway }
  - name: late
    at: 25h
    action: stop
    target: { service: redis }
    duration: 100000h
  - name: slow
    at: 1s
    action: latency
    latency: 1h
    toxicity: .nan
    to: redis:0
    target: { service: gateway }
    duration: 1s
slos:
  - p95(latency) < 18446744073709551615s
  - error_rate() < 0.01
";
    let e = check("absurd", src);
    let positions: Vec<(u32, u32)> = e
        .errors
        .iter()
        .map(|x| x.span.as_ref().map_or((0, 0), |s| (s.line, s.column)))
        .collect();
    assert!(
        !positions.contains(&(0, 0)),
        "an error lost its position: {positions:?}\n{e}"
    );
    insta::assert_snapshot!(e.to_string());
}

/// The exact input of the panic, with no load: an error (exit 2), not exit 101.
#[test]
fn a_fault_at_the_end_of_time_is_an_error_not_a_panic() {
    let e = check(
        "overflow",
        "name: t\nstack: { compose: compose/trading.yml }\nprobes:\n  - { name: gw, http: { url: http://gateway:8080/health } }\nfaults:\n  - { name: f, at: 18446744073709551615s, action: crash, target: { service: gateway } }\nslos: [\"recovery_time(f) < 30s\"]\n",
    );
    assert_eq!(e.errors.len(), 1, "{e}");
    let span = e.errors[0].span.clone().expect("a position");
    assert_eq!((span.line, span.column), (6, 20), "{e}");
}

/// Issue 11, kind 6, revised by issue 19, kind 8: a URL, address or fault port the service
/// neither publishes nor exposes in the compose file may still be one it listens on (most
/// compose files `expose` no internal port), so it is accepted with a warning naming the
/// ports the file gives; whether the container listens on it is checked at bring-up
/// (`run_listening`). It was refused ("`gateway` does not listen on port 9090").
#[test]
fn ports_the_compose_file_does_not_declare_are_warned_about_not_refused() {
    let src = "\
name: t
stack:
  compose: compose/trading.yml
load:
  target: http://gateway:9090/quote?symbol=BTCUSD
  rate: 10/s
  duration: 10s
probes:
  - name: md-b
    http: { url: http://marketdata-b:8081/health }
  - name: redis
    tcp: { address: redis:6380 }
  - name: db
    tcp: { address: postgres:5432 }
  - name: nothing
    http: { url: http://marketdata-a/health }
faults:
  - name: slow-db
    at: 1s
    action: latency
    latency: 100ms
    to: postgres:5433
    target: { service: gateway }
    duration: 2s
  - name: reset-in
    at: 1s
    action: reset_peer
    port: 9999
    target: { service: marketdata-a }
    duration: 2s
slos:
  - p95(latency) < 100ms
";
    let origin = Path::new("tests/data/scenario").join("ports.yaml");
    let s = scenario::parse_str(src, &origin).unwrap_or_else(|e| panic!("{e}"));
    let titles: Vec<&str> = s
        .warnings
        .iter()
        .map(|w| w.lines().next().unwrap_or_default())
        .collect();
    assert_eq!(
        titles,
        [
            "warning: `gateway` declares no port 9090 (in load.target); whether it listens on it is checked when the stack is up",
            "warning: `redis` declares no port 6380 (in probe `redis`); whether it listens on it is checked when the stack is up",
            "warning: `marketdata-a` declares no port 80 (in probe `nothing`); whether it listens on it is checked when the stack is up",
            "warning: `postgres` declares no port 5433 (in fault `slow-db`); whether it listens on it is checked when the stack is up",
            "warning: `marketdata-a` declares no port 9999 (in fault `reset-in`); whether it listens on it is checked when the stack is up",
        ],
        "{}",
        s.warnings.join("\n")
    );
    insta::assert_snapshot!(s.warnings.join("\n"));
    // Each one is a port the bring-up checks the container listens on.
    let spec = chaosgate::plan::from_scenario(&s, 1, &Default::default()).expect("plans");
    assert_eq!(spec.probes.len(), 4);
    // A declared port gives no warning; port 0 is still an error.
    let declared = src
        .replace("gateway:9090", "gateway:8080")
        .replace("redis:6380", "redis:6379")
        .replace("marketdata-a/health", "marketdata-a:8081/health")
        .replace("postgres:5433", "postgres:5432")
        .replace("port: 9999", "port: 8081");
    let s = scenario::parse_str(&declared, &origin).unwrap_or_else(|e| panic!("{e}"));
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    let e = check("port-zero", &declared.replace("port: 8081", "port: 0"));
    assert_eq!(e.errors.len(), 1, "{e}");
}

/// Issue 19, kind 4: a variable no compose file reads would leave the stack as it is while
/// the scenario says otherwise: in `stack.env`, and in a rollout's `set` (which must be read
/// by the service it deploys, or the "new version" is the old one). Refused with what the
/// files do read.
#[test]
fn settings_no_compose_file_reads_are_refused() {
    let src = "\
name: t
stack:
  compose: ../../../../compose/trading.yml
  env: { GATEWAY_FAILOVR: \"off\", GATEWAY_LOG: debug }
load: { target: http://gateway:8080/quote, rate: 10/s, duration: 20s }
faults:
  - name: deploy-md
    at: 1s
    action: rollout
    set: { GATEWAY_FAILOVER: \"off\" }
    target: { service: marketdata-b }
  - name: deploy-gw
    at: 10s
    action: rollout
    set: { GATEWAY_FAILOVER: \"off\", GATEWAY_FAILOVER_DELAY: 5s }
    target: { service: gateway }
slos: [\"p95(latency) < 100ms\"]
";
    let e = check("unread-settings", src);
    insta::assert_snapshot!(e.to_string());
    assert_eq!(e.errors.len(), 2, "{e}");
    let fixed = src.replace("GATEWAY_FAILOVR", "GATEWAY_FAILOVER").replace(
        "set: { GATEWAY_FAILOVER: \"off\" }\n    target: { service: marketdata-b }",
        "set: { MD_RESTART: \"no\" }\n    target: { service: marketdata-a }",
    );
    scenario::parse_str(
        &fixed,
        Path::new("tests/data/scenario/unread-settings.yaml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

/// Issue 19, kind 4, on the command line: `--set`, `--baseline` and `--candidate` go through
/// the planning every path shares, so a variable no compose file reads stops `run`,
/// `run --dry-run`, `--repeat` and `ab` with exit 2 before anything starts. Docker is pointed
/// at nothing: anything that tried to start would exit 3. `ab` with a misspelt candidate
/// compared the default build with itself and passed (exit 0).
#[test]
fn a_variable_no_compose_file_reads_stops_every_path_before_anything_starts() {
    let root = crate::common::repo_root();
    let reports = crate::common::TempDir::new("unread-variable");
    let report_dir = reports.0.display().to_string();
    let cases: [(&str, &[&str]); 5] = [
        (
            "run_dry_run",
            &[
                "run",
                "--dry-run",
                "scenarios/replica-crash.yaml",
                "--set",
                "TYPO=1",
            ],
        ),
        ("run", &["run", "scenarios/smoke.yaml", "--set", "TYPO=1"]),
        (
            "repeat",
            &[
                "run",
                "scenarios/smoke.yaml",
                "--repeat",
                "2",
                "--set",
                "GATEWAY_FAILOVER=off",
                "--set",
                "GATEWAY_FAILOVR_DELAY=5s",
            ],
        ),
        (
            "ab",
            &[
                "ab",
                "scenarios/replica-crash.yaml",
                "--baseline",
                "GATEWAY_FAILOVER=on",
                "--candidate",
                "GATEWAY_FAILOVR=off",
            ],
        ),
        (
            "ab_common",
            &[
                "ab",
                "scenarios/replica-crash.yaml",
                "--baseline",
                "GATEWAY_FAILOVER=on",
                "--candidate",
                "GATEWAY_FAILOVER=off",
                "--set",
                "GATEWAY_LOGS=debug",
            ],
        ),
    ];
    for (name, args) in cases {
        let mut cmd = crate::common::chaosgate();
        cmd.args(args)
            .env("DOCKER_HOST", "unix:///nonexistent/chaosgate-test.sock")
            .env("KUBECONFIG", "/nonexistent");
        if args[0] != "run" || !args.contains(&"--dry-run") {
            cmd.args(["--report-dir", &report_dir]);
        }
        let out = cmd.output().expect("chaosgate runs");
        let stderr =
            String::from_utf8_lossy(&out.stderr).replace(&root.display().to_string(), "<repo>");
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains("read by no compose file"),
            "{name}: {stderr}"
        );
        insta::assert_snapshot!(format!("unread_variable_{name}"), stderr);
    }
    // Nothing was run: no run or gate wrote a report.
    let reports_written: Vec<_> = walk(&reports.0)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n == "report.json" || n == "gate.json")
        })
        .collect();
    assert!(reports_written.is_empty(), "{reports_written:?}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Issue 11, kind 2: which requests are writes, and how they are read back, is checked.
#[test]
fn writes_and_their_read_back_are_checked() {
    let src = "\
name: t
stack:
  compose: compose/trading.yml
load:
  requests:
    - { method: GET, url: http://gateway:8080/quote, headers: { x-request-id: '{{id}}' }, read_back: 'http://gateway:8080/orders/{id}' }
    - { method: DELETE, url: 'http://gateway:8080/orders/{{id}}' }
    - { method: POST, url: http://gateway:8080/orders, body: '{\"id\":\"{{id}}\"}', read_back: http://gateway:8080/orders }
    - { method: POST, url: http://gateway:8080/orders, body: '{}', read_back: 'http://gateway:8080/orders/{id}' }
    - { method: POST, url: http://gateway:8080/orders, body: '{{id}}', read_back: 'http://gateway:9999/orders/{id}' }
    - { method: POST, url: 'http://gateway:8080/a b', headers: { 'bad header': x } }
  rate: 10/s
  duration: 10s
slos:
  - lost_writes() <= 0
";
    let e = check("writes", src);
    // The read-back on gateway:9999, a port the compose file does not declare, is no longer
    // one of them (issue 19, kind 8): the bring-up checks what the gateway listens on.
    assert_eq!(e.errors.len(), 5, "{e}");
    insta::assert_snapshot!(e.to_string());
}

/// A scenario that cannot resolve its own SLOs is valid, but `validate` says which SLOs can
/// only ever be inconclusive, and why.
#[test]
fn slos_the_plan_cannot_resolve_are_warned_about() {
    ensure_stack_tls();
    let src = "\
name: t
stack:
  compose: compose/trading.yml
load:
  target: http://gateway:8080/quote?symbol=BTCUSD
  rate: 2/s
  duration: 10s
probes:
  - name: gw
    http: { url: http://gateway:8080/health }
    every: 2s
faults:
  - name: cut
    at: 3s
    duration: 2s
    action: pause
    target: { service: marketdata-a }
slos:
  - failover_time(cut) < 100ms
  - recovery_time(cut, probe=gw) < 1s
  - p99(latency, during=cut) < 100ms
  - p99(latency) < 100ms
  - p50(latency) < 100ms
";
    let origin = Path::new("tests/data/scenario").join("coarse.yaml");
    let s = scenario::parse_str(src, &origin).expect("valid");
    let spec = chaosgate::plan::from_scenario(&s, 1, &Default::default()).expect("plans");
    let w = chaosgate::verdict::resolution::warnings(&spec, &s.slos);
    insta::assert_snapshot!(w.join("\n"));
    // The bundled scenarios resolve every SLO they state.
    for entry in
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")).unwrap()
    {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let s = scenario::load(&path).expect("bundled scenario is valid");
            let spec = chaosgate::plan::from_scenario(&s, 1, &Default::default()).unwrap();
            let w = chaosgate::verdict::resolution::warnings(&spec, &s.slos);
            assert!(w.is_empty(), "{}: {w:?}", path.display());
        }
    }
}

/// Issue 12: on a Kubernetes stack, what only compose can do (pause, exec and health
/// probes) and Kubernetes knobs nobody declares are refused with positions, and the Kubernetes
/// actions and probe are refused on compose: a scenario never runs half of what it says.
#[test]
fn backend_specific_faults_probes_and_settings_are_refused_on_the_other_backend() {
    let kube = "\
name: t
stack:
  kubernetes: { manifests: ../../../../deploy/kubernetes }
  env: { GATEWAY_FAILOVR: \"off\" }
probes:
  - { name: gw, http: { url: http://gateway:8080/health } }
  - { name: h, health: { service: redis } }
  - { name: k, kubernetes: { workload: nothere } }
faults:
  - { name: slow, at: 1s, duration: 2s, action: pause, target: { service: gateway } }
  - { name: del, at: 5s, action: pod-delete, target: { service: gateway } }
  - { name: down, at: 9s, action: scale, target: { service: marketdata-a } }
slos: [\"recovery_time(del) < 30s\"]
";
    insta::assert_snapshot!("kube_refusals", check("kube-refusals", kube).to_string());
    let compose = "\
name: t
stack: { compose: compose/trading.yml }
probes:
  - { name: k, kubernetes: { workload: gateway, ready: 2 } }
faults:
  - { name: del, at: 5s, action: pod-delete, target: { service: gateway } }
slos: [\"recovery_time(del, probe=k) < 30s\"]
";
    insta::assert_snapshot!(
        "compose_refuses_kube",
        check("compose-kube", compose).to_string()
    );
}

/// Issue 12: the blast radius (`count`, `percent`) is checked where it is written.
#[test]
fn blast_radius_mistakes_point_at_the_target() {
    let src = "\
name: t
stack: { compose: compose/trading.yml }
faults:
  - { name: a, at: 1s, action: crash, target: { service: gateway, count: 2, percent: 50% } }
  - { name: b, at: 5s, action: crash, target: { service: marketdata-a, pick: all, count: 2 } }
  - { name: c, at: 9s, action: crash, target: { service: redis, percent: 0% } }
  - { name: d, at: 13s, action: rollout, target: { service: marketdata-b, count: 1 } }
";
    insta::assert_snapshot!(check("blast-radius", src).to_string());
}

/// On Kubernetes the proxy is wired in the pods present at bring-up: a proxy fault on a workload
/// whose pods another fault replaces is refused (its peers may be replaced: the Service stays).
#[test]
fn a_proxy_fault_on_a_workload_whose_pods_are_replaced_is_refused_on_kubernetes() {
    let src = "\
name: t
stack: { kubernetes: { manifests: ../../../../deploy/kubernetes } }
load: { target: \"http://gateway:8080/quote?symbol=X\", rate: 10/s, duration: 20s }
faults:
  - { name: del, at: 1s, action: pod-delete, target: { service: gateway, pick: first } }
  - { name: slow, at: 5s, duration: 2s, action: latency, latency: 100ms, to: \"redis:6379\", target: { service: gateway } }
  - { name: again, at: 10s, action: rollout-restart, target: { service: redis } }
slos: [\"p95(latency) < 100ms\"]
";
    insta::assert_snapshot!(check("kube-replaced", src).to_string());
}

/// With the node agent, proxy faults are refused (the proxy runs in the harness, on the node);
/// crash, partition and loss are what the agent runs, and an empty image is a mistake.
#[test]
fn a_proxy_fault_through_the_node_agent_is_refused() {
    let src = "\
name: t
stack: { kubernetes: { manifests: ../../../../deploy/kubernetes, agent: { image: \"\" } } }
load: { target: \"http://gateway:8080/quote?symbol=X\", rate: 10/s, duration: 20s }
faults:
  - { name: boom, at: 1s, action: crash, target: { service: marketdata-a } }
  - { name: cut, at: 3s, duration: 2s, action: partition, to: [postgres], target: { service: gateway } }
  - { name: slow, at: 6s, duration: 2s, action: latency, latency: 100ms, to: \"redis:6379\", target: { service: gateway } }
slos: [\"p95(latency) < 100ms\"]
";
    insta::assert_snapshot!(check("kube-agent", src).to_string());
}

/// On Kubernetes a label selector is checked against the workload's pod template: one no pod
/// can carry is refused before anything starts (labels controllers add are let through).
#[test]
fn a_label_selector_no_pod_carries_is_refused_on_kubernetes() {
    let src = "\
name: t
stack: { kubernetes: { manifests: ../../../../deploy/kubernetes } }
load: { target: \"http://gateway:8080/quote?symbol=X\", rate: 10/s, duration: 20s }
faults:
  - { name: ok, at: 1s, action: pod-delete, target: { service: gateway, labels: { app.kubernetes.io/name: gateway, pod-template-hash: abc } } }
  - { name: typo, at: 5s, action: crash, target: { service: redis, labels: { app.kubernetes.io/name: gateway } } }
  - { name: bad, at: 9s, action: crash, target: { service: redis, labels: { \"bad key!\": \"x y\" } } }
slos: [\"p95(latency) < 100ms\"]
";
    insta::assert_snapshot!(check("kube-labels", src).to_string());
}

#[test]
fn label_selector_mistakes_point_at_the_labels() {
    let src = "\
name: t
stack: { compose: compose/trading.yml }
faults:
  - { name: a, at: 1s, action: crash, target: { service: gateway, labels: { track: canary } } }
  - { name: b, at: 5s, action: rollout, target: { service: gateway, labels: { track: canary } } }
  - { name: c, at: 9s, action: crash, target: { service: redis, labels: { '': x } } }
";
    insta::assert_snapshot!(check("label-selector", src).to_string());
}

/// `chaosgate --help`, and the help of the commands that say something about a build, as a
/// reviewed snapshot: flags, their documented errors and the exit-code table change only on
/// purpose.
#[test]
fn help_is_what_users_read() {
    let mut all = String::new();
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["ab", "--help"],
        &["compare", "--help"],
        &["annotate", "--help"],
    ] {
        let out = crate::common::chaosgate()
            .args(args)
            .env("COLUMNS", "100")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        all.push_str(&format!(
            "$ chaosgate {}\n{}\n",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    insta::assert_snapshot!(all);
}

/// Seeds: a seed above 2^53 cannot be read back exactly by a JSON reader, so it is refused
/// where it is given (exit 2), as a flag and in a file.
#[test]
fn seeds_beyond_what_json_holds_are_refused() {
    let out = crate::common::chaosgate()
        .args(["run", "--dry-run", "--seed", "18446744073709551615"])
        .arg(crate::common::repo_root().join("scenarios/smoke.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("2^53"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = crate::common::chaosgate()
        .args(["run", "--dry-run", "--seed", "9007199254740991"])
        .arg(crate::common::repo_root().join("scenarios/smoke.yaml"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Issue 22: the L7 faults' fields, each bad one reported where it is written, and a
/// `direction` (they act on requests, client → server) refused; a DNS failure's `mode` and
/// what may follow a rollout.
#[test]
fn l7_fault_fields_are_checked_where_they_are_written() {
    let src = format!(
        "{GOOD_HEAD}faults:
  - {{ name: a, at: 1s, duration: 2s, action: http-abort, status: 200, target: {{ service: gateway }}, to: marketdata-a:8081 }}
  - {{ name: b, at: 1s, duration: 2s, action: http-abort, path: quote, method: \"G T\", target: {{ service: gateway }}, to: marketdata-b:8081 }}
  - {{ name: c, at: 1s, duration: 2s, action: http-delay, delay: 1s, header: nocolon, path: \"/a/[\", target: {{ service: marketdata-a }}, port: 8081 }}
  - {{ name: d, at: 1s, duration: 2s, action: http-delay, direction: downstream, target: {{ service: marketdata-b }}, port: 8081 }}
  - {{ name: e, at: 1s, duration: 2s, action: http-abort, percent: 150%, target: {{ service: redis }}, port: 6379 }}
  - {{ name: f, at: 20s, duration: 2s, action: dns, mode: nxdomain, target: {{ service: gateway }} }}
  - {{ name: g, at: 20s, action: rollout, then: later, target: {{ service: postgres }} }}
slos: [\"error_rate(phase=whole) < 1%\"]
"
    );
    insta::assert_snapshot!(check("l7-fields", &src).to_string());
}

#[test]
fn http_probe_checks_are_checked() {
    let src = format!(
        "{GOOD_HEAD}\
probes:
  - name: gw
    http:
      url: http://gateway:8080/health
      headers: {{ \"bad header\": x }}
      matches: \"(unclosed\"
      json: {{ status: ok }}
  - name: slow
    http: {{ url: http://gateway:8080/health, max_latency: 2s }}
    timeout: 500ms
slos:
  - p95(latency) < 100ms
"
    );
    let e = check("probe-checks", &src);
    let messages: Vec<&str> = e.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(e.errors.len(), 4, "{messages:#?}");
    insta::assert_snapshot!(e.to_string());
}

#[test]
fn explore_spaces_are_checked_at_their_entries() {
    let src = format!(
        "{GOOD_HEAD}\
slos:
  - error_rate(phase=whole) < 1%
explore:
  faults: {{ min: 0, max: 2 }}
  window: [20s, 40s]
  space:
    - {{ action: pause, duration: [1s, 2s, 3s], target: {{ service: redis }} }}
    - {{ action: pause, duration: [1s, 5s], target: {{ service: [redis, nosuch] }} }}
"
    );
    let e = check("explore-space", &src);
    let messages: Vec<&str> = e.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(e.errors.len(), 3, "{messages:#?}");
    insta::assert_snapshot!(e.to_string());
}

#[test]
fn an_explore_template_no_schedule_could_use_is_an_error_at_its_entry() {
    let src = format!(
        "{GOOD_HEAD}\
slos:
  - error_rate(phase=whole) < 1%
explore:
  window: [5s, 10s]
  space:
    - {{ action: crash, target: {{ service: [marketdata-a, nosuch] }} }}
    - {{ action: latency, latency: [10ms, 50ms], duration: 2s, target: {{ service: gateway }} }}
"
    );
    let e = check("explore-template", &src);
    let messages: Vec<&str> = e.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(e.errors.len(), 2, "{messages:#?}");
    insta::assert_snapshot!(e.to_string());
}

#[test]
fn alert_slos_need_the_stacks_prometheus() {
    let src = format!(
        "{GOOD_HEAD}\
faults:
  - {{ name: crash-primary, at: 5s, action: crash, target: {{ service: marketdata-a }} }}
slos:
  - detect_time(crash-primary, alert=QuoteErrorRatioHigh) < 30s
  - clear_time(crash-primary) < 30s
"
    );
    let e = check("alert-slos", &src);
    let messages: Vec<&str> = e.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(e.errors.len(), 2, "{messages:#?}");
    insta::assert_snapshot!(e.to_string());
}

#[test]
fn a_prometheus_probe_needs_the_stacks_prometheus() {
    let src = format!(
        "{GOOD_HEAD}\
probes:
  - name: gateway-up
    prometheus: {{ query: 'up{{job=\"gateway\"}} == 1' }}
slos:
  - probe_success(gateway-up) >= 99%
"
    );
    let e = check("prometheus-probe", &src);
    assert_eq!(e.errors.len(), 1, "{e}");
    insta::assert_snapshot!(e.to_string());
}

/// Each error's line (0 without a place) and message.
fn error_lines(e: &ScenarioErrors) -> Vec<(u32, String)> {
    e.errors
        .iter()
        .map(|e| (e.span.as_ref().map_or(0, |s| s.line), e.message.clone()))
        .collect()
}

/// `tls:` files are read at validation: a missing one is named at its line, and a client
/// certificate without its key is told at the `cert` line, not at the first `tls` field.
#[test]
fn tls_files_are_checked_where_they_are_written() {
    let src = format!(
        "{GOOD_HEAD}tls:\n  ca: no-such-ca.pem\n  cert: no-such-client.pem\nslos:\n  - p95(latency) < 100ms\n"
    );
    let e = check("tls-files", &src);
    let lines = error_lines(&e);
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == 10 && m.contains("tls.cert needs its private key")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == 9 && m.contains("no-such-ca.pem")),
        "{lines:?}"
    );
}

/// An error of the TLS settings as the run reads them is told at the setting it is about (a
/// bad server name at `server_name`, not at the `ca` line written first).
#[test]
fn a_tls_setting_error_points_at_that_setting() {
    let src = format!(
        "{GOOD_HEAD}tls:\n  ca: test-ca.pem\n  server_name: \"not a name!\"\nslos:\n  - p95(latency) < 100ms\n"
    );
    let e = check("tls-server-name", &src);
    let lines = error_lines(&e);
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == 10 && m.contains("server_name")),
        "{lines:?}"
    );
}
