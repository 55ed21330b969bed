//! Exit codes for what goes wrong around a run on a real stack: a stack that never gets
//! healthy (3) and Ctrl-C (3, with nothing left behind). Bad input and an unreachable Docker,
//! which start nothing, are `tests/integration/run_errors.rs`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::stack::*;

#[test]
fn a_stack_that_never_gets_healthy_is_an_infrastructure_error() {
    require_images();
    let dir = TempDir::new("unhealthy");
    let compose = dir.0.join("unhealthy.yml");
    std::fs::write(
        &compose,
        "services:\n  sick:\n    image: chaosgate/trading:0.1.0\n    command: [\"marketdata\"]\n    \
         healthcheck:\n      test: [\"CMD\", \"false\"]\n      interval: 1s\n      retries: 1\n",
    )
    .unwrap();
    let scenario = dir.0.join("unhealthy.yaml");
    std::fs::write(
        &scenario,
        "name: unhealthy\nstack:\n  compose: unhealthy.yml\n  ready_timeout: 5s\nduration: 2s\n\
         probes:\n  - name: sick\n    health: { service: sick }\nslos:\n  - probe_success(sick) >= 99%\n",
    )
    .unwrap();
    let out = chaosgate()
        .arg("run")
        .arg(&scenario)
        .arg("--report-dir")
        .arg(&dir.0)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not healthy after"), "{err}");
    assert!(err.contains("sick"), "names the unhealthy service: {err}");
    assert_eq!(leftovers("cg-unhealthy-"), Vec::<String>::new());
    // No empty run directory is left for a CI step to pick up as "the newest report".
    for entry in std::fs::read_dir(&dir.0).unwrap().flatten() {
        if entry.path().is_dir() {
            let files: Vec<_> = std::fs::read_dir(entry.path()).unwrap().flatten().collect();
            assert!(
                !files.is_empty(),
                "empty run directory {}",
                entry.path().display()
            );
        }
    }
}

#[test]
fn ctrl_c_mid_run_leaves_nothing_behind() {
    require_images();
    let reports = TempDir::new("sigint");
    let mut child = chaosgate()
        .args(["run", "scenarios/replica-crash.yaml", "--report-dir"])
        .arg(&reports.0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let stderr = child.stderr.take().expect("piped");
    let mut project = None;
    let started = Instant::now();
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        let line = line.unwrap_or_default();
        if let Some(p) = line
            .split_whitespace()
            .find(|w| w.trim_start_matches('(').starts_with("cg-replica-crash-"))
        {
            project = Some(
                p.trim_matches(|c| c == '(' || c == ')' || c == ':')
                    .to_string(),
            );
        }
        if line.contains("stack ready") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "stack never came up"
        );
    }
    let project = project.expect("the progress output names the project");
    // Let the load and the fault get going, then interrupt.
    std::thread::sleep(Duration::from_secs(12));
    nix_kill(child.id(), "INT");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("waits");
    assert_eq!(status.code(), Some(3), "{}", rest.join("\n"));
    assert_eq!(leftovers(&project), Vec::<String>::new());
}

fn nix_kill(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs")
        .success();
    assert!(ok);
}
