//! Helpers shared by the harness's two test binaries (`tests/integration/`, Docker-free, and
//! `tests/docker/`, which starts stacks), included by each as `#[path = "../common/mod.rs"]`:
//! paths, the real binary, temporary directories, reading a run's reports, the published
//! schemas. Nothing here needs Docker; what does is in `tests/docker/stack.rs`.

#![allow(dead_code)] // each test binary uses a different part

pub mod action;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness/ has a parent")
        .to_path_buf()
}

/// Makes the reference stack's TLS files (compose/tls/, not in git; `compose/make-tls.sh`,
/// openssl, locked against parallel callers) unless they are there: the bundled HTTPS
/// scenario names them, so validating it needs them, with no Docker and no image built.
pub fn ensure_stack_tls() {
    let out = std::process::Command::new("bash")
        .arg(repo_root().join("compose/make-tls.sh"))
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "compose/make-tls.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
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
