//! The GitHub Action's gate step (`scripts/action/gate.sh`) on a real short run against the
//! bundled stack, as GitHub would run it: the step summary, the outputs, one `::error` per
//! breached SLO and one `::warning` per inconclusive SLO, the exit code. Its Docker-free checks
//! are `tests/integration/action_steps.rs`.

use crate::common::action::{annotations, gate, outputs};
use crate::common::*;
use crate::stack::*;

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
