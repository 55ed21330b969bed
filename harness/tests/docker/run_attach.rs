//! Attaching to a compose project that is already running (`stack: { compose: FILE,
//! existing: PROJECT }`), as staging and long-lived dev stacks need: the run starts and removes
//! nothing, its fault acts on that project's containers and is reverted, and the project is
//! left running with the same containers. A project that is not running is not judged
//! (exit 3) and nothing is started for it.

use std::process::Command;

use crate::common::*;
use crate::stack::*;

/// The project's containers: `id name running`, sorted.
fn containers(project: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-a", "--filter"])
        .arg(format!("label=com.docker.compose.project={project}"))
        .args(["--format", "{{.ID}} {{.Names}} {{.State}}"])
        .output()
        .expect("docker runs");
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    lines.sort();
    lines
}

/// Removes the test's own project however the test ends.
struct ProjectGuard(String);

impl Drop for ProjectGuard {
    fn drop(&mut self) {
        remove_project(&self.0);
    }
}

fn scenario(project: &str) -> String {
    format!(
        r#"name: attach
seed: 3
stack:
  compose: {}
  existing: {project}
  ready_timeout: 90s
load:
  target: http://gateway:8080/quote?symbol=BTCUSD
  rate: 50/s
  duration: 8s
  timeout: 1s
faults:
  - name: slow-redis
    at: 2s
    action: latency
    latency: 200ms
    duration: 3s
    target: {{ service: gateway }}
    to: redis:6379
slos:
  - error_rate() < 1%
"#,
        repo_root().join("compose/trading.yml").display()
    )
}

#[test]
fn a_running_project_is_faulted_reverted_and_left_running_as_it_was() {
    require_images();
    let project = format!("cgattach{}", std::process::id());
    let _guard = ProjectGuard(project.clone());
    let dir = TempDir::new("attach");
    let file = dir.0.join("attach.yaml");
    std::fs::write(&file, scenario(&project)).expect("write the scenario");
    let reports = dir.0.join("reports");

    // Not running yet: not judged, and nothing is started under that name.
    let out = chaosgate()
        .arg("run")
        .arg(&file)
        .arg("--report-dir")
        .arg(dir.0.join("not-running"))
        .output()
        .expect("chaosgate runs");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("no running container"),
        "{}",
        text(&out)
    );
    assert_eq!(containers(&project), Vec::<String>::new());

    let up = Command::new("docker-compose")
        .args(["-p", &project, "-f"])
        .arg(repo_root().join("compose/trading.yml"))
        .args(["up", "-d"])
        .output()
        .expect("docker-compose runs");
    assert!(up.status.success(), "{}", text(&up));
    let before = containers(&project);
    assert!(
        before.iter().all(|c| c.ends_with(" running")),
        "{before:#?}"
    );

    let out = chaosgate()
        .arg("run")
        .arg(&file)
        .arg("--report-dir")
        .arg(&reports)
        .output()
        .expect("chaosgate runs");
    let report = report_json(&run_dir(&reports));
    assert_eq!(out.status.code(), Some(0), "{}\n{report:#}", text(&out));
    assert_eq!(report["stack"]["project"], project.as_str());
    let fault = &report["faults"][0];
    assert_eq!(fault["applied"], true, "{fault:#}");
    assert!(fault["reverted_at_ms"].is_f64(), "{fault:#}");
    // The same containers, all still running; no rule of chaosgate's left on the host.
    assert_eq!(containers(&project), before);
    assert_eq!(host_rules(), Vec::<String>::new());

    // `--set` cannot change a running project: refused before anything starts.
    let out = chaosgate()
        .arg("run")
        .arg(&file)
        .args(["--set", "GATEWAY_FAILOVER=off", "--report-dir"])
        .arg(dir.0.join("set"))
        .output()
        .expect("chaosgate runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("as it is"), "{}", text(&out));
}
