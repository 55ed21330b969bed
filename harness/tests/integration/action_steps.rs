//! The GitHub Action (`action.yml`, `scripts/action/gate.sh`) run here as GitHub would run its
//! gate step: the `GITHUB_*` files pointed at temporary files, the real chaosgate binary, and
//! (once) a real short run against the bundled stack. Checks what was written: the step summary,
//! the outputs, one `::error` per breached SLO and one `::warning` per inconclusive SLO, the
//! exit code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

fn gate_script() -> PathBuf {
    repo_root().join("scripts/action/gate.sh")
}

/// The gate step, with `inputs` as the action maps them (`INPUT_*`), run in `cwd` with the
/// `GITHUB_*` files under `files`.
fn gate(cwd: &Path, files: &Path, inputs: &[(&str, &str)]) -> Output {
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
fn outputs(path: &Path) -> BTreeMap<String, String> {
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

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The workflow commands of `level` (`error`, `warning`) on stdout, but the action's own.
fn annotations(out: &Output, level: &str) -> Vec<String> {
    stdout(out)
        .lines()
        .filter(|l| l.starts_with(&format!("::{level} ")))
        .map(String::from)
        .collect()
}

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

/// One real run: a pass, a breach (`availability() < 50%`, whose `%` must be escaped) and an
/// inconclusive SLO (p99.9 from far fewer than 1000 requests) against the bundled stack.
#[test]
fn a_real_run_is_summarised_annotated_and_gated_by_its_exit_code() {
    require_images();
    let dir = TempDir::new("action-run");
    let name = "action-gate";
    let scenario = inline_scenario(
        name,
        Some(3),
        "load:\n  target: http://gateway:8080/quote?symbol=BTCUSD\n  rate: 50/s\n  duration: 3s\n  \
         timeout: 1s\nslos:\n  - error_rate() < 50%\n  - availability() < 50%\n  \
         - p99.9(latency) < 10s\n",
    );
    std::fs::write(dir.0.join(format!("{name}.yaml")), &scenario).unwrap();
    std::fs::write(dir.0.join("summary"), "earlier step\n").unwrap();
    let out = gate(
        &dir.0,
        &dir.0,
        &[
            ("INPUT_SCENARIOS", &format!("{name}.yaml")),
            ("INPUT_REPORT_DIR", "reports"),
        ],
    );
    let all = text(&out);
    let run = run_dir(&dir.0.join("reports"));
    let report = report_json(&run);
    let project = report["stack"]["project"].as_str().unwrap_or_default();
    assert_eq!(
        leftovers(project),
        Vec::<String>::new(),
        "left behind by {project}"
    );
    assert_eq!(host_rules(), Vec::<String>::new());

    // The exit code is the run's.
    assert_eq!(report["exit_code"], 1, "{report:#}\n{all}");
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert_eq!(slo(&report, "error_rate()")["verdict"], "pass");
    assert_eq!(slo(&report, "availability()")["verdict"], "breached");
    assert_eq!(slo(&report, "p99.9(latency)")["verdict"], "inconclusive");

    // Outputs.
    let o = outputs(&dir.0.join("output"));
    assert_eq!(o["verdict"], "breached");
    assert_eq!(o["exit-code"], "1");
    assert_eq!(o["report-path"], "reports");
    assert_eq!(
        dir.0.join(&o["reports"]).canonicalize().unwrap(),
        run.join("report.json").canonicalize().unwrap()
    );

    // The summary is appended (after what an earlier step wrote), and is the run's summary.md.
    let summary = std::fs::read_to_string(dir.0.join("summary")).unwrap();
    let md = std::fs::read_to_string(run.join("summary.md")).unwrap();
    assert_eq!(summary, format!("earlier step\n{md}\n"));

    // One error per breached SLO, one warning per inconclusive SLO, pointing at the SLO's line.
    let line_of = |expr: &str| {
        scenario
            .lines()
            .position(|l| l.contains(expr))
            .map(|i| i + 1)
            .unwrap()
    };
    let errors = annotations(&out, "error");
    assert_eq!(
        errors,
        [format!(
            "::error file={name}.yaml,line={},title=chaosgate {name}%3A SLO breached::SLO \
             breached: availability() < 50%25 (measured {}, target < 50%25)",
            line_of("availability()"),
            slo(&report, "availability()")["measured"]["text"]
                .as_str()
                .unwrap()
                .replace('%', "%25")
        )],
        "{all}"
    );
    let warnings = annotations(&out, "warning");
    assert_eq!(warnings.len(), 1, "{all}");
    assert!(
        warnings[0].starts_with(&format!(
            "::warning file={name}.yaml,line={},title=chaosgate {name}%3A SLO inconclusive::SLO \
             inconclusive: p99.9(latency) < 10s",
            line_of("p99.9(latency)")
        )),
        "{all}"
    );
    assert!(warnings[0].contains("1000"), "the reason is kept: {all}");
    assert!(!dir.0.join("env").exists(), "GITHUB_ENV is not written");

    // A later step into the same report dir counts only its own runs.
    let again = gate(
        &dir.0,
        &dir.0,
        &[
            ("INPUT_SCENARIOS", "no-such-scenario.yaml"),
            ("INPUT_REPORT_DIR", "reports"),
        ],
    );
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(annotations(&again, "warning").is_empty());
    let o = outputs(&dir.0.join("output"));
    assert_eq!(o["verdict"], "bad-input");
    assert_eq!(o["reports"], "");
}
