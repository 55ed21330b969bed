//! Shared helpers for the integration tests that run the real binary against real stacks.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness/ has a parent")
        .to_path_buf()
}

/// A fresh directory for one test's reports, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "chaosgate-test-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn chaosgate() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chaosgate"));
    c.current_dir(repo_root()).env("CI", "1");
    c
}

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

pub fn text(out: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The single run directory created under `root`.
pub fn run_dir(root: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("report root exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(
        dirs.len(),
        1,
        "expected one run directory in {root:?}: {dirs:?}"
    );
    dirs.into_iter().next().unwrap_or_default()
}

pub fn report_json(dir: &Path) -> serde_json::Value {
    let raw = std::fs::read_to_string(dir.join("report.json")).expect("report.json exists");
    serde_json::from_str(&raw).expect("report.json parses")
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

/// The report's SLO whose expression starts with `starts_with`.
pub fn slo<'a>(report: &'a serde_json::Value, starts_with: &str) -> &'a serde_json::Value {
    report["slos"]
        .as_array()
        .and_then(|s| {
            s.iter().find(|s| {
                s["expression"]
                    .as_str()
                    .is_some_and(|e| e.starts_with(starts_with))
            })
        })
        .unwrap_or_else(|| panic!("no SLO starting with {starts_with} in {report:#}"))
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

/// Checks that `schemas/NAME` is `schema` as published (pretty JSON, one trailing newline);
/// with `CHAOSGATE_UPDATE_SCHEMAS` set it writes it first. `test` is the test's path inside the
/// integration binary, for the regenerate command in the message.
pub fn assert_schema_current(name: &str, schema: &impl serde::Serialize, test: &str) {
    let current = serde_json::to_string_pretty(schema).expect("schema serializes") + "\n";
    let path = repo_root().join("schemas").join(name);
    if std::env::var_os("CHAOSGATE_UPDATE_SCHEMAS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &current).unwrap();
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        published == current,
        "schemas/{name} is stale; regenerate with CHAOSGATE_UPDATE_SCHEMAS=1 cargo test -p chaosgate --test integration {test}"
    );
}
