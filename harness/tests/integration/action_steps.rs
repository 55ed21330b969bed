//! The GitHub Action (`action.yml`, `scripts/action/gate.sh`, `scripts/action/install.sh`)
//! without a stack: the action's declared inputs and outputs against what its steps read, the
//! inputs as the gate step turns them into a command line, bad inputs and scenarios (exit 2,
//! the outputs, one `::error`), the install step, and `annotate` refusing what is not a report.
//! The gate step on a real run is `tests/docker/action_steps.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::action::{annotations, gate, gate_script, outputs, stdout};
use crate::common::*;

fn yaml(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("file exists");
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn action_yml_declares_every_input_and_output_the_gate_uses() {
    let action = yaml(&repo_root().join("action.yml"));
    assert_eq!(action["runs"]["using"], "composite");
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    let inputs = keys(&action["inputs"]);
    for want in [
        "scenarios",
        "seed",
        "set",
        "baseline",
        "candidate",
        "repeat",
        "fail-fast",
        "report-dir",
        "build",
        "version",
        "path",
        "reference-images",
    ] {
        assert!(inputs.contains(&want.to_string()), "input {want} missing");
    }
    assert_eq!(action["inputs"]["scenarios"]["required"], true);
    for (name, input) in action["inputs"].as_object().unwrap() {
        assert!(
            input["description"].as_str().is_some_and(|d| !d.is_empty()),
            "input {name} has no description"
        );
    }
    let outputs = keys(&action["outputs"]);
    assert_eq!(outputs, ["exit-code", "report-path", "reports", "verdict"]);
    for name in &outputs {
        assert_eq!(
            action["outputs"][name]["value"],
            format!("${{{{ steps.gate.outputs.{name} }}}}")
        );
    }
    // Every `inputs.X` the steps read is declared.
    let text = std::fs::read_to_string(repo_root().join("action.yml")).unwrap();
    for (i, _) in text.match_indices("inputs.") {
        let name: String = text[i + "inputs.".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        assert!(
            inputs.contains(&name),
            "action.yml reads undeclared input {name}"
        );
    }
    // Every INPUT_* the gate script reads is set by the gate step, and the scripts run exist.
    let steps = action["runs"]["steps"].as_array().unwrap();
    let gate_step = steps.iter().find(|s| s["id"] == "gate").expect("gate step");
    let script = std::fs::read_to_string(gate_script()).unwrap();
    for (i, _) in script.match_indices("\"${INPUT_") {
        let var: String = script[i + 3..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        assert!(
            gate_step["env"].get(&var).is_some(),
            "gate.sh reads {var}, which the gate step does not set"
        );
    }
    for step in steps {
        if let Some(run) = step["run"].as_str()
            && let Some(i) = run.find("$ACTION_PATH/")
        {
            let rel: String = run[i + "$ACTION_PATH/".len()..]
                .chars()
                .take_while(|c| *c != '"')
                .collect();
            assert!(repo_root().join(&rel).is_file(), "{rel} does not exist");
        }
        assert!(
            step.get("run").is_none() || step["shell"] == "bash",
            "a composite run step needs shell: bash: {step}"
        );
    }
    assert!(
        steps.iter().any(|s| s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("actions/upload-artifact@"))),
        "the reports are uploaded"
    );
    // The project's own release gate uses the action from its checkout.
    let workflow = yaml(&repo_root().join(".github/workflows/release-gate.yml"));
    let uses: Vec<&str> = workflow["jobs"]["gate"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["uses"].as_str())
        .collect();
    assert!(uses.contains(&"./"), "{uses:?}");
}

#[test]
fn inputs_become_the_command_line() {
    let dir = TempDir::new("action-args");
    let args = |inputs: &[(&str, &str)]| -> Vec<String> {
        let mut all = vec![("GATE_PRINT_ARGS", "1")];
        all.extend_from_slice(inputs);
        let out = gate(&dir.0, &dir.0, &all);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        stdout(&out).lines().skip(1).map(String::from).collect()
    };
    assert_eq!(
        args(&[
            (
                "INPUT_SCENARIOS",
                "scenarios/smoke.yaml scenarios/db-restart.yaml\n# later: more\n"
            ),
            ("INPUT_SEED", "7"),
            ("INPUT_SET", "GATEWAY_FAILOVER=off\n  A=b c  \n\n"),
            ("INPUT_REPEAT", "5"),
            ("INPUT_FAIL_FAST", "true"),
            ("INPUT_REPORT_DIR", "out"),
        ]),
        [
            "run",
            "scenarios/smoke.yaml",
            "scenarios/db-restart.yaml",
            "--seed",
            "7",
            "--set",
            "GATEWAY_FAILOVER=off",
            "--set",
            "A=b c",
            "--repeat",
            "5",
            "--fail-fast",
            "--report-dir",
            "out",
        ]
    );
    // Defaults: one run, no fail-fast, reports under chaosgate-reports.
    assert_eq!(
        args(&[
            ("INPUT_SCENARIOS", "a.yaml"),
            ("INPUT_REPEAT", "1"),
            ("INPUT_FAIL_FAST", "false")
        ]),
        ["run", "a.yaml", "--report-dir", "chaosgate-reports"]
    );
    // A baseline and a candidate make it `ab`.
    assert_eq!(
        args(&[
            ("INPUT_SCENARIOS", "scenarios/replica-crash.yaml"),
            ("INPUT_BASELINE", "GATEWAY_FAILOVER_DELAY=0s"),
            ("INPUT_CANDIDATE", "GATEWAY_FAILOVER_DELAY=5s\nTAG=rc1"),
        ]),
        [
            "ab",
            "scenarios/replica-crash.yaml",
            "--baseline",
            "GATEWAY_FAILOVER_DELAY=0s",
            "--candidate",
            "GATEWAY_FAILOVER_DELAY=5s",
            "--candidate",
            "TAG=rc1",
            "--report-dir",
            "chaosgate-reports",
        ]
    );
}

#[test]
fn wrong_inputs_and_bad_scenarios_fail_with_outputs_and_one_error() {
    let dir = TempDir::new("action-bad");
    for inputs in [
        vec![("INPUT_SCENARIOS", "a.yaml"), ("INPUT_BASELINE", "A=1")],
        vec![("INPUT_SCENARIOS", "a.yaml"), ("INPUT_FAIL_FAST", "maybe")],
        vec![("INPUT_SCENARIOS", " \n")],
        // Through chaosgate itself: a scenario file that does not exist is bad input.
        vec![
            ("INPUT_SCENARIOS", "no-such-scenario.yaml"),
            ("INPUT_REPORT_DIR", "r"),
        ],
    ] {
        let _ = std::fs::remove_file(dir.0.join("output"));
        let out = gate(&dir.0, &dir.0, &inputs);
        assert_eq!(out.status.code(), Some(2), "{inputs:?}: {}", text(&out));
        let o = outputs(&dir.0.join("output"));
        assert_eq!(o["verdict"], "bad-input", "{inputs:?}");
        assert_eq!(o["exit-code"], "2");
        assert_eq!(o["reports"], "");
        assert!(!annotations(&out, "error").is_empty(), "{}", text(&out));
    }
    let summary = std::fs::read_to_string(dir.0.join("summary")).unwrap();
    assert!(
        summary.contains("No report was written (exit code 2)"),
        "{summary}"
    );
    assert!(!dir.0.join("env").exists(), "GITHUB_ENV is not written");
}

/// The install step with `path:` (an installed binary): the output names it; a path that does
/// not run fails the step. (`build: true` is cargo building this checkout, which these tests
/// have just done.)
#[test]
fn install_uses_a_given_binary_and_refuses_one_that_does_not_run() {
    let dir = TempDir::new("action-install");
    let install = |path: &str| {
        Command::new("bash")
            .arg(repo_root().join("scripts/action/install.sh"))
            .current_dir(&dir.0)
            .env("GITHUB_OUTPUT", dir.0.join("output"))
            .env("INPUT_PATH", path)
            .env_remove("INPUT_VERSION")
            .output()
            .expect("bash runs")
    };
    let out = install(env!("CARGO_BIN_EXE_chaosgate"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stdout(&out).contains(env!("CARGO_PKG_VERSION")),
        "{}",
        text(&out)
    );
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_chaosgate"));
    assert_eq!(
        outputs(&dir.0.join("output"))["chaosgate"],
        bin.canonicalize().unwrap().display().to_string()
    );
    let _ = std::fs::remove_file(dir.0.join("output"));
    let out = install("no-such-chaosgate");
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout(&out).contains("::error "), "{}", text(&out));
    assert!(outputs(&dir.0.join("output")).is_empty());
}

#[test]
fn annotate_refuses_what_is_not_a_run_report() {
    let dir = TempDir::new("annotate-bad");
    let file = dir.0.join("report.json");
    std::fs::write(&file, "{\"runs\": []}").unwrap();
    let out = chaosgate().arg("annotate").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("not a chaosgate run or gate report"),
        "{}",
        text(&out)
    );
    assert!(out.stdout.is_empty());
}
