//! The GitHub Action's gate step (`scripts/action/gate.sh`) run as GitHub runs it: `INPUT_*`
//! variables, the `GITHUB_*` files pointed at temporary files, the real chaosgate binary; and
//! what it wrote (outputs, workflow commands). Used by both binaries' `action_steps`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::repo_root;

pub fn gate_script() -> PathBuf {
    repo_root().join("scripts/action/gate.sh")
}

/// The gate step, with `inputs` as the action maps them (`INPUT_*`), run in `cwd` with the
/// `GITHUB_*` files under `files`.
pub fn gate(cwd: &Path, files: &Path, inputs: &[(&str, &str)]) -> Output {
    let mut c = Command::new("bash");
    c.arg(gate_script())
        .current_dir(cwd)
        .env("CHAOSGATE", env!("CARGO_BIN_EXE_chaosgate"))
        .env("GITHUB_STEP_SUMMARY", files.join("summary"))
        .env("GITHUB_OUTPUT", files.join("output"))
        .env("GITHUB_ENV", files.join("env"))
        .env("GITHUB_WORKSPACE", cwd)
        .env("CI", "1")
        .env("INPUT_SUDO", "false");
    for var in [
        "INPUT_SEED",
        "INPUT_SET",
        "INPUT_BASELINE",
        "INPUT_CANDIDATE",
        "INPUT_REPEAT",
        "INPUT_FAIL_FAST",
        "INPUT_REPORT_DIR",
        "GATE_PRINT_ARGS",
    ] {
        c.env_remove(var);
    }
    for (k, v) in inputs {
        c.env(k, v);
    }
    c.output().expect("bash runs")
}

/// `$GITHUB_OUTPUT` read as GitHub reads it: `name=value` lines and `name<<DELIMITER` blocks.
pub fn outputs(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delimiter {
                    break;
                }
                value.push(l);
            }
            out.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            out.insert(name.to_string(), value.to_string());
        }
    }
    out
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The workflow commands of `level` (`error`, `warning`) on stdout, but the action's own.
pub fn annotations(out: &Output, level: &str) -> Vec<String> {
    stdout(out)
        .lines()
        .filter(|l| l.starts_with(&format!("::{level} ")))
        .map(String::from)
        .collect()
}
