//! `junit.xml`: one testsuite per scenario, one testcase per SLO and one per fault, so CI
//! systems show each as a test. Breached → failure with measured vs target; inconclusive →
//! error of type `inconclusive` with the reason (CI must not read "no data" as a pass); a fault
//! not proven applied → error. The file never reads greener than the run: when the run did
//! not pass but every testcase would, a `verdict` testcase carries the run's reason.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report as JunitReport, TestCase, TestCaseStatus, TestSuite};

use super::model::Report;
use crate::verdict::Verdict;

/// File name of a run's JUnit XML in its directory.
pub const FILE_NAME: &str = "junit.xml";

/// The run as JUnit XML for CI test views: one suite named after the scenario, one test
/// case per SLO (pass = success, breached = failure, inconclusive = error) and per fault
/// (error when not proven applied).
pub fn render(report: &Report) -> io::Result<String> {
    let mut junit = JunitReport::new("chaosgate");
    let mut suite = TestSuite::new(report.scenario.name.as_str());
    let run_time = Duration::from_secs_f64(report.duration_ms.max(0.0) / 1000.0);
    suite.set_time(run_time);
    suite.add_property(("seed", report.seed.to_string().as_str()));
    suite.add_property(("run_id", report.run_id.as_str()));
    suite.add_property(("verdict", report.verdict.as_str()));
    // The verdict alone does not tell a rerunnable inconclusive run (4) from one that never
    // reached its target (3, `not_judged`).
    suite.add_property(("exit_code", report.exit_code.to_string().as_str()));
    for slo in report.steady_state.iter().chain(&report.slos) {
        let status = match slo.verdict {
            // Advisory: reported, never a failing testcase (a JUnit consumer gates on those).
            _ if slo.advisory => TestCaseStatus::success(),
            Verdict::Pass => TestCaseStatus::success(),
            Verdict::Breached => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let measured = slo.measured.as_ref().map_or("nothing", |m| m.text.as_str());
                s.set_message(
                    slo.reason
                        .clone()
                        .unwrap_or_else(|| format!("measured {measured}, target {}", slo.target)),
                );
                s.set_type("breached");
                s
            }
            Verdict::Inconclusive => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(slo.reason.clone().unwrap_or_else(|| "inconclusive".into()));
                s.set_type("inconclusive");
                s
            }
        };
        let mut case = TestCase::new(slo.expression.as_str(), status);
        case.set_classname(format!("chaosgate.{}", report.scenario.name));
        if let Some(m) = &slo.measured {
            case.add_property(("measured", m.text.as_str()));
        }
        case.add_property(("target", slo.target.as_str()));
        if slo.advisory {
            case.add_property(("severity", "advisory"));
            case.add_property(("verdict", slo.verdict.as_str()));
            if slo.verdict != Verdict::Pass {
                case.set_system_out(format!(
                    "advisory SLO {}: {}",
                    slo.verdict,
                    slo.reason.as_deref().unwrap_or("")
                ));
            }
        }
        suite.add_test_case(case);
    }
    for f in &report.faults {
        let status = if f.applied {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            let why = f
                .evidence
                .get("error")
                .and_then(|e| e.as_str())
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            s.set_message(format!(
                "fault `{}` could not be proven applied{why}; the run cannot pass",
                f.name
            ));
            s.set_type("inconclusive");
            s
        };
        let mut case = TestCase::new(format!("fault {} applied", f.name), status);
        case.set_classname(format!("chaosgate.{}.faults", report.scenario.name));
        suite.add_test_case(case);
    }
    let all_green = report
        .steady_state
        .iter()
        .chain(&report.slos)
        .all(|s| s.advisory || s.verdict == Verdict::Pass)
        && report.faults.iter().all(|f| f.applied);
    let passed = report.verdict == Verdict::Pass && report.exit_code == 0;
    if all_green && !passed {
        let mut s = TestCaseStatus::non_success(match report.verdict {
            Verdict::Breached => NonSuccessKind::Failure,
            _ => NonSuccessKind::Error,
        });
        let why = if report.notes.is_empty() {
            format!("the run's verdict is {}", report.verdict)
        } else {
            report.notes.join("; ")
        };
        s.set_message(format!("exit code {}: {why}", report.exit_code));
        s.set_type(report.verdict.as_str());
        let mut case = TestCase::new("verdict", s);
        case.set_classname(format!("chaosgate.{}", report.scenario.name));
        suite.add_test_case(case);
    }
    let stopped = super::format::stopped_early_line(report);
    if let Some(s) = &report.stopped_early {
        suite.add_property(quick_junit::Property::new(
            "chaosgate.stopped_early_at_ms",
            format!("{:.0}", s.at_ms),
        ));
    }
    let out: Vec<&str> = stopped
        .iter()
        .map(String::as_str)
        .chain(report.notes.iter().map(String::as_str))
        .collect();
    if !out.is_empty() {
        suite.set_system_out(out.join("\n"));
    }
    junit.add_test_suite(suite);
    junit.to_string().map_err(io::Error::other)
}

/// Writes [`render`]'s XML to `dir/junit.xml`; returns that path.
pub fn write(report: &Report, dir: &Path) -> io::Result<PathBuf> {
    let path = dir.join(FILE_NAME);
    std::fs::write(&path, render(report)?)?;
    Ok(path)
}
