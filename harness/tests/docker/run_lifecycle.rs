//! How a run ends, through the real binary on the bundled stack: every terminating signal a
//! terminal, CI runner or supervisor sends (SIGINT, SIGTERM, SIGHUP, SIGQUIT) reverts the
//! faults, removes the stack and exits 3; `kill -9` of the whole process group leaves the stack
//! to the reaper, which removes it within 10 s; a normal run and a `--keep` run leave the
//! reaper nothing to do. And faults fire on time: within 50 ms of their planned time.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::stack::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long after the signal the project may still have a container or network.
const GONE_WITHIN: Duration = Duration::from_secs(10);

/// A scenario on the bundled stack, written to `dir`, named so its compose project starts
/// with the returned prefix (and no other test's does).
fn write_scenario(dir: &Path, tag: &str, body: &str) -> (PathBuf, String) {
    let name = format!("lifecycle-{tag}-{}", std::process::id());
    let compose = repo_root().join("compose/trading.yml");
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &file,
        format!(
            "name: {name}\nseed: 7\nstack:\n  compose: {}\n  ready_timeout: 150s\n{body}",
            compose.display()
        ),
    )
    .expect("write scenario");
    (file, format!("cg-{name}-"))
}

/// A quote load and a gateway probe for `secs` seconds, with the faults in `faults`.
fn loaded(secs: u32, faults: &str, slo: &str) -> String {
    format!(
        "load:\n  target: http://gateway:8080/quote?symbol=BTCUSD\n  rate: 50/s\n  duration: {secs}s\n  \
         timeout: 1s\nprobes:\n  - name: gateway\n    http: {{ url: http://gateway:8080/health, status: 200 }}\n    \
         every: 100ms\n{faults}slos:\n  - {slo}\n"
    )
}

/// A pause of marketdata-b and a partition redis ⟂ gateway (iptables in redis's netns), both
/// applied 1 s in and held far beyond the moment the test ends the run.
const HELD_FAULTS: &str = "faults:\n  - name: freeze-b\n    at: 1s\n    duration: 250s\n    \
    action: pause\n    target: { service: marketdata-b }\n  - name: cut-redis\n    at: 1s\n    \
    duration: 250s\n    action: partition\n    target: { service: redis }\n    to: [gateway]\n";

/// The chaosgate process of one test, in its own process group (as a shell job is), with its
/// output in files; killed and its stack removed if the test fails half-way.
struct Harness {
    child: Child,
    prefix: String,
    reports: TempDir,
}

impl Harness {
    fn start(tag: &str, body: &str, extra: &[&str]) -> Self {
        use std::os::unix::process::CommandExt;
        require_images();
        let reports = TempDir::new(&format!("lifecycle-{tag}"));
        let (file, prefix) = write_scenario(&reports.0, tag, body);
        let out = std::fs::File::create(reports.0.join("stdout.txt")).expect("stdout file");
        let err = std::fs::File::create(reports.0.join("stderr.txt")).expect("stderr file");
        let child = chaosgate()
            .arg("run")
            .arg(&file)
            .arg("--report-dir")
            .arg(reports.0.join("runs"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .expect("chaosgate starts");
        Self {
            child,
            prefix,
            reports,
        }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    fn output(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.reports.0.join(f)).unwrap_or_default();
        format!(
            "--- stdout\n{}\n--- stderr\n{}",
            read("stdout.txt"),
            read("stderr.txt")
        )
    }

    /// Panics (with the run's output) when the harness exited before `ready` held.
    fn wait_for(&mut self, what: &str, limit: Duration, ready: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            if ready(&self.prefix) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "chaosgate exited ({status}) before {what}\n{}",
                    self.output()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {what} after {limit:?}\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The exit status, waiting at most `limit`.
    fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "chaosgate still running {limit:?} after being told to stop\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn events(&self) -> String {
        std::fs::read_to_string(run_dir(&self.reports.0.join("runs")).join("events.jsonl"))
            .unwrap_or_default()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for pid in reapers(&self.prefix) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        for project in projects(&self.prefix) {
            remove_project(&project);
        }
    }
}

/// The compose projects whose name starts with `prefix` that still have a container.
fn projects(prefix: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--format",
            "{{.Label \"com.docker.compose.project\"}}",
        ])
        .output()
        .expect("docker runs");
    let mut p: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(String::from)
        .collect();
    p.sort();
    p.dedup();
    p
}

/// Containers, networks and volumes of projects starting with `prefix`.
fn everything_left(prefix: &str) -> Vec<String> {
    let mut left = leftovers(prefix);
    let out = Command::new("docker")
        .args([
            "volume",
            "ls",
            "--format",
            "{{.Label \"com.docker.compose.project\"}} {{.Name}}",
        ])
        .output()
        .expect("docker runs");
    left.extend(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with(prefix))
            .map(|l| format!("volume {l}")),
    );
    left
}

/// `docker ps` lines (`name state`) of the project starting with `prefix`.
fn container_states(prefix: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--format",
            "{{.Label \"com.docker.compose.project\"}} {{.Label \"com.docker.compose.service\"}} {{.State}}",
        ])
        .output()
        .expect("docker runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.split_once(' ').map(|(_, rest)| rest.to_string()))
        .collect()
}

/// PIDs of reaper processes watching a project starting with `prefix`.
fn reapers(prefix: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.iter().any(|a| a == "reaper") && args.iter().any(|a| a.starts_with(prefix)) {
            found.push(pid);
        }
    }
    found
}

/// The chaosgate iptables rules inside the network namespace of `service`'s container.
fn netns_rules(prefix: &str, service: &str) -> Vec<String> {
    let project = projects(prefix).into_iter().next().unwrap_or_default();
    let out = Command::new("docker")
        .args([
            "ps",
            "-q",
            "--filter",
            &format!("label=com.docker.compose.project={project}"),
            "--filter",
            &format!("label=com.docker.compose.service={service}"),
        ])
        .output()
        .expect("docker runs");
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if id.is_empty() {
        return vec![];
    }
    let pid = Command::new("docker")
        .args(["inspect", "-f", "{{.State.Pid}}", &id])
        .output()
        .expect("docker runs");
    let pid = String::from_utf8_lossy(&pid.stdout).trim().to_string();
    let save = Command::new("nsenter")
        .args(["-t", &pid, "-n", "iptables-save"])
        .output()
        .expect("nsenter runs");
    String::from_utf8_lossy(&save.stdout)
        .lines()
        .filter(|l| l.contains("chaosgate:"))
        .map(String::from)
        .collect()
}

/// Both held faults are in place: marketdata-b paused, the partition's rules in redis's netns.
fn faults_in_place(prefix: &str) -> bool {
    container_states(prefix)
        .iter()
        .any(|s| s == "marketdata-b paused")
        && !netns_rules(prefix, "redis").is_empty()
}

/// Polls until nothing of the project is left, at most until `deadline`; what is left then.
fn wait_gone(prefix: &str, deadline: Instant) -> Vec<String> {
    loop {
        let left = everything_left(prefix);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs the held-faults scenario, ends it with `signal` sent to the process (`group` false) or
/// to its whole process group (as a terminal does for Ctrl-C, Ctrl-\ and a hangup), and checks
/// that nothing is left within 10 s. Returns the harness (for further checks) and the status.
fn end_mid_run(tag: &str, signal: Signal, group: bool) -> (Harness, std::process::ExitStatus) {
    let mut h = Harness::start(tag, &loaded(300, HELD_FAULTS, "error_rate() < 100%"), &[]);
    h.wait_for(
        "both faults in place",
        Duration::from_secs(240),
        faults_in_place,
    );
    // While the harness lives its reaper waits and touches nothing.
    assert_eq!(reapers(&h.prefix).len(), 1, "one reaper per run");
    let states = container_states(&h.prefix);
    assert_eq!(states.len(), 5, "the whole stack is up: {states:?}");
    let sent = Instant::now();
    let target = if group {
        Pid::from_raw(-h.pid().as_raw())
    } else {
        h.pid()
    };
    kill(target, signal).expect("signal sent");
    let status = h.wait_exit(Duration::from_secs(90));
    let exited_after = sent.elapsed();
    let left = wait_gone(&h.prefix, sent + GONE_WITHIN);
    eprintln!(
        "{signal}: exited after {:.1} s ({status}); stack gone after {:.1} s",
        exited_after.as_secs_f64(),
        sent.elapsed().as_secs_f64()
    );
    assert_eq!(
        left,
        Vec::<String>::new(),
        "left {GONE_WITHIN:?} after {signal}\n{}",
        h.output()
    );
    (h, status)
}

/// A graceful end: exit code 3, both faults recorded as reverted, no reaper left behind, no
/// rule on the host.
fn assert_graceful(tag: &str, signal: Signal, group: bool) {
    let (h, status) = end_mid_run(tag, signal, group);
    assert_eq!(
        status.code(),
        Some(3),
        "an interrupted run exits 3 ({status})\n{}",
        h.output()
    );
    assert!(
        h.output().contains("interrupted"),
        "says it was interrupted\n{}",
        h.output()
    );
    let events = h.events();
    for fault in ["freeze-b", "cut-redis"] {
        let reverted = events.lines().any(|l| {
            l.contains(&format!("\"fault\":\"{fault}\"")) && l.contains("\"stage\":\"reverted\"")
        });
        assert!(reverted, "{fault} was not reverted:\n{events}");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !reapers(&h.prefix).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(reapers(&h.prefix), Vec::<i32>::new(), "the reaper exited");
    assert_eq!(host_rules(), Vec::<String>::new(), "rules left on the host");
}

#[test]
fn sigint_to_the_process_group_reverts_faults_and_removes_the_stack() {
    assert_graceful("int", Signal::SIGINT, true);
}

#[test]
fn sigterm_reverts_faults_and_removes_the_stack() {
    assert_graceful("term", Signal::SIGTERM, false);
}

#[test]
fn sighup_reverts_faults_and_removes_the_stack() {
    assert_graceful("hup", Signal::SIGHUP, true);
}

#[test]
fn sigquit_reverts_faults_and_removes_the_stack() {
    assert_graceful("quit", Signal::SIGQUIT, true);
}

#[test]
fn sigkill_of_the_process_group_leaves_the_stack_to_the_reaper() {
    let (h, status) = end_mid_run("kill", Signal::SIGKILL, true);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "{status}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !reapers(&h.prefix).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(reapers(&h.prefix), Vec::<i32>::new(), "the reaper exited");
    let log = std::fs::read_to_string(run_dir(&h.reports.0.join("runs")).join("reaper.log"))
        .unwrap_or_default();
    assert!(log.contains("removed"), "reaper log:\n{log}");
}

/// Ctrl-C while compose is still creating the stack: `up` is stopped, whatever it created is
/// removed, exit 3.
#[test]
fn sigint_while_the_stack_comes_up_leaves_nothing() {
    let mut h = Harness::start("up", &loaded(300, "", "error_rate() < 100%"), &[]);
    h.wait_for("a first container", Duration::from_secs(240), |p| {
        !container_states(p).is_empty()
    });
    let sent = Instant::now();
    kill(Pid::from_raw(-h.pid().as_raw()), Signal::SIGINT).expect("signal sent");
    let status = h.wait_exit(Duration::from_secs(90));
    let left = wait_gone(&h.prefix, sent + GONE_WITHIN);
    eprintln!(
        "SIGINT during up: {status} after {:.1} s",
        sent.elapsed().as_secs_f64()
    );
    assert_eq!(status.code(), Some(3), "{}", h.output());
    assert_eq!(left, Vec::<String>::new(), "{}", h.output());
}

/// `kill -9` of chaosgate alone (not its group) while compose is creating the stack: compose
/// dies with it instead of creating containers behind the reaper's back, and the reaper
/// removes what exists.
#[test]
fn sigkill_of_the_harness_alone_while_the_stack_comes_up_leaves_nothing() {
    let mut h = Harness::start("upkill", &loaded(300, "", "error_rate() < 100%"), &[]);
    h.wait_for("a first container", Duration::from_secs(240), |p| {
        !container_states(p).is_empty()
    });
    let sent = Instant::now();
    kill(h.pid(), Signal::SIGKILL).expect("signal sent");
    h.wait_exit(Duration::from_secs(10));
    let left = wait_gone(&h.prefix, sent + GONE_WITHIN);
    eprintln!(
        "SIGKILL during up: gone after {:.1} s",
        sent.elapsed().as_secs_f64()
    );
    assert_eq!(left, Vec::<String>::new(), "{}", h.output());
    // Nothing comes back: no compose process outlived the harness to finish `up`.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(everything_left(&h.prefix), Vec::<String>::new());
}

#[test]
fn a_normal_run_leaves_its_reaper_nothing_to_do() {
    let mut h = Harness::start("normal", &loaded(4, "", "error_rate() < 50%"), &[]);
    h.wait_for("a reaper", Duration::from_secs(240), |p| {
        reapers(p).len() == 1
    });
    let status = h.wait_exit(Duration::from_secs(240));
    assert_eq!(status.code(), Some(0), "{}", h.output());
    assert_eq!(everything_left(&h.prefix), Vec::<String>::new());
    let deadline = Instant::now() + Duration::from_secs(3);
    while !reapers(&h.prefix).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(reapers(&h.prefix), Vec::<i32>::new(), "the reaper exited");
    let run = run_dir(&h.reports.0.join("runs"));
    assert!(
        !run.join("reaper.log").exists(),
        "the reaper acted after a normal run"
    );
}

#[test]
fn a_kept_stack_outlives_its_reaper() {
    let mut h = Harness::start("keep", &loaded(4, "", "error_rate() < 50%"), &["--keep"]);
    let status = h.wait_exit(Duration::from_secs(240));
    assert_eq!(status.code(), Some(0), "{}", h.output());
    // Long enough for a reaper that wrongly took the harness's exit for a crash to act.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(reapers(&h.prefix), Vec::<i32>::new(), "the reaper exited");
    let states = container_states(&h.prefix);
    assert_eq!(
        states.iter().filter(|s| s.ends_with("running")).count(),
        5,
        "the kept stack is still up: {states:?}"
    );
}

/// Each container fault's applied time minus its planned time, in ms, from `report.json`.
fn lateness_ms(report: &serde_json::Value) -> Vec<(String, f64)> {
    report["faults"]
        .as_array()
        .map(|faults| {
            faults
                .iter()
                .map(|f| {
                    let late = f["applied_at_ms"].as_f64().unwrap_or(f64::INFINITY)
                        - f["scheduled_at_ms"].as_f64().unwrap_or(0.0);
                    (f["action"].as_str().unwrap_or("?").to_string(), late)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Crash, restart, pause, stop and kill, each on its own service under load; every one must be
/// applied within 50 ms of its planned time and proven applied by Docker's events.
#[test]
fn container_faults_fire_within_50ms_of_their_planned_time() {
    let faults = "faults:\n\
        \x20 - { name: crash-a, at: 3s, action: crash, target: { service: marketdata-a } }\n\
        \x20 - { name: restart-b, at: 6s, action: restart, target: { service: marketdata-b } }\n\
        \x20 - { name: pause-redis, at: 9s, duration: 2s, action: pause, target: { service: redis } }\n\
        \x20 - { name: stop-pg, at: 12s, duration: 2s, action: stop, target: { service: postgres } }\n\
        \x20 - { name: kill-gw, at: 17s, duration: 2s, action: kill, target: { service: gateway } }\n";
    let mut h = Harness::start("timing", &loaded(22, faults, "error_rate() < 100%"), &[]);
    let status = h.wait_exit(Duration::from_secs(300));
    assert!(
        matches!(status.code(), Some(0 | 1 | 4)),
        "the run completed ({status})\n{}",
        h.output()
    );
    let report = report_json(&run_dir(&h.reports.0.join("runs")));
    let late = lateness_ms(&report);
    eprintln!("applied - planned: {late:?}");
    for f in report["faults"].as_array().into_iter().flatten() {
        eprintln!(
            "{}: planned {} ms, applied {} ms, proven (docker event) {} ms, look-up took {} ms, \
             looked up again: {}",
            f["action"],
            f["scheduled_at_ms"],
            f["applied_at_ms"],
            f["verified_at_ms"],
            f["evidence"]["targets_lookup_took_ms"],
            f["evidence"]["targets_looked_up_again"]
        );
    }
    assert_eq!(late.len(), 5, "{report:#}");
    for f in report["faults"].as_array().into_iter().flatten() {
        assert_eq!(f["applied"], true, "not proven applied: {f:#}");
    }
    for (action, ms) in &late {
        assert!(
            (0.0..=50.0).contains(ms),
            "{action} applied {ms:.1} ms after its planned time: {late:?}"
        );
    }
}
