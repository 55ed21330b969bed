//! Helpers of the Docker tier: run scenarios through the real binary against the reference
//! stack (its images must be built: `bash compose/build-images.sh`), and check what a run left
//! on the host (containers, networks, chaosgate's iptables rules).

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::common::{TempDir, chaosgate, repo_root, report_json, run_dir, text};

/// Fails with a clear message when the reference stack's images have not been built.
pub fn require_images() {
    let out = Command::new("docker")
        .args(["image", "inspect", "chaosgate/trading:0.1.0"])
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "the reference stack's images are missing: run `bash compose/build-images.sh` first \
         (scripts/test.sh does)"
    );
}

/// Runs `scenarios/FILE` (with `extra` arguments) through the real binary; its reports go to
/// a fresh directory that is removed when the returned `TempDir` is dropped.
pub fn run_scenario(file: &str, extra: &[&str]) -> (Output, TempDir) {
    require_images();
    let reports = TempDir::new(file.trim_end_matches(".yaml"));
    let out = chaosgate()
        .arg("run")
        .arg(format!("scenarios/{file}"))
        .arg("--report-dir")
        .arg(&reports.0)
        .args(extra)
        .output()
        .expect("chaosgate runs");
    (out, reports)
}

/// [`run_scenario`], then its `report.json`, after checking that the run left no container,
/// network or chaosgate iptables rule on the host.
pub fn run(file: &str, extra: &[&str]) -> (Output, serde_json::Value, TempDir) {
    let (out, reports) = run_scenario(file, extra);
    let report = report_json(&run_dir(&reports.0));
    assert_run_left_nothing(&report);
    (out, report, reports)
}

/// The host's iptables rules carrying chaosgate's comment.
pub fn host_rules() -> Vec<String> {
    let out = Command::new("iptables-save").output();
    match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.contains("chaosgate:"))
            .map(String::from)
            .collect(),
        Err(_) => vec![],
    }
}

/// Containers and networks still carrying a compose project label that starts with `prefix`.
pub fn leftovers(prefix: &str) -> Vec<String> {
    let mut left = Vec::new();
    for args in [
        vec![
            "ps",
            "-a",
            "--format",
            "{{.Label \"com.docker.compose.project\"}} {{.Names}}",
        ],
        vec![
            "network",
            "ls",
            "--format",
            "{{.Label \"com.docker.compose.project\"}} {{.Name}}",
        ],
    ] {
        let out = Command::new("docker")
            .args(&args)
            .output()
            .expect("docker runs");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if line.starts_with(prefix) {
                left.push(line.to_string());
            }
        }
    }
    left
}

/// Force-removes every container and network of a compose project (for `--keep` runs).
pub fn remove_project(project: &str) {
    let label = format!("label=com.docker.compose.project={project}");
    for (list, remove) in [
        (
            vec!["ps", "-aq", "--filter", &label],
            vec!["rm", "-f", "-v"],
        ),
        (
            vec!["network", "ls", "-q", "--filter", &label],
            vec!["network", "rm"],
        ),
        (
            vec!["volume", "ls", "-q", "--filter", &label],
            vec!["volume", "rm", "-f"],
        ),
    ] {
        let out = Command::new("docker")
            .args(&list)
            .output()
            .expect("docker runs");
        let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(String::from)
            .collect();
        if !ids.is_empty() {
            let _ = Command::new("docker").args(&remove).args(&ids).output();
        }
    }
}

/// A scenario against the bundled reference stack: `body` is everything after `stack:`.
pub fn inline_scenario(name: &str, seed: Option<u64>, body: &str) -> String {
    let seed = seed.map(|s| format!("seed: {s}\n")).unwrap_or_default();
    format!(
        "name: {name}\n{seed}stack:\n  compose: {}\n  ready_timeout: 90s\n{body}",
        repo_root().join("compose/trading.yml").display()
    )
}

/// Writes `yaml` to `<dir>/<name>.yaml` and runs it (with `extra` arguments) through the real
/// binary, its reports under `<dir>/reports`. Returns the output, the run's directory and its
/// report, after checking that the run left no container, network or chaosgate host rule.
pub fn run_yaml_in(
    dir: &TempDir,
    name: &str,
    yaml: &str,
    extra: &[&str],
) -> (Output, PathBuf, serde_json::Value) {
    require_images();
    let file = dir.0.join(format!("{name}.yaml"));
    std::fs::write(&file, yaml).expect("write the scenario");
    let reports = dir.0.join("reports");
    std::fs::create_dir_all(&reports).expect("report dir");
    let out = chaosgate()
        .arg("run")
        .arg(&file)
        .args(extra)
        .arg("--report-dir")
        .arg(&reports)
        .output()
        .expect("chaosgate runs");
    let run = run_dir(&reports);
    let report: serde_json::Value = std::fs::read_to_string(run.join("report.json"))
        .map(|raw| serde_json::from_str(&raw).expect("report.json parses"))
        .unwrap_or_else(|e| panic!("no report ({e}):\n{}", text(&out)));
    assert_run_left_nothing(&report);
    (out, run, report)
}

/// Checks that the run of `report` left no container or network of its project, and that no
/// chaosgate iptables rule is left on the host.
pub fn assert_run_left_nothing(report: &serde_json::Value) {
    let project = report["stack"]["project"].as_str().unwrap_or_default();
    assert_eq!(
        leftovers(project),
        Vec::<String>::new(),
        "left behind by {project}"
    );
    assert_eq!(
        host_rules(),
        Vec::<String>::new(),
        "chaosgate iptables rules left on the host"
    );
}

/// Starts `chaosgate run FILE --report-dir REPORTS` through the real binary, output piped, for
/// a test that acts on the stack while the run goes on (`wait_with_output` ends it).
pub fn spawn_run(file: &std::path::Path, reports: &std::path::Path) -> std::process::Child {
    chaosgate()
        .arg("run")
        .arg(file)
        .arg("--report-dir")
        .arg(reports)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("chaosgate starts")
}
