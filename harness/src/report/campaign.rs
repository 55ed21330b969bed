//! The report of an exploration campaign (`chaosgate explore`): `campaign.json` (schema
//! `schemas/campaign.schema.json`), `campaign.md` (suits `$GITHUB_STEP_SUMMARY`),
//! `campaign.html` and `junit.xml` (one testcase: the campaign, failing with the minimal
//! schedule when one was found).

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report as JunitReport, TestCase, TestCaseStatus, TestSuite};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::scenario::explore::ScheduledFault;

/// File names in a campaign's directory.
pub const JSON_FILE: &str = "campaign.json";
/// The campaign as Markdown.
pub const MARKDOWN_FILE: &str = "campaign.md";
/// The campaign as one HTML page.
pub const HTML_FILE: &str = "campaign.html";
/// The campaign as JUnit XML.
pub const JUNIT_FILE: &str = "junit.xml";
/// The minimal failing schedule, an ordinary scenario.
pub const MINIMAL_FILE: &str = "minimal.yaml";

/// What a campaign concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignVerdict {
    /// A schedule breached an SLO (exit 1); `minimal` holds the shrunk one.
    Found,
    /// No schedule breached an SLO in what was explored (exit 0).
    NoneFound,
    /// Nothing conclusive was explored: every run inconclusive, or none could start (exit 4).
    Inconclusive,
    /// A run failed around the system, or the campaign was interrupted (exit 3).
    Infrastructure,
}

/// Why a run of the campaign was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunRole {
    /// A schedule drawn from the space.
    Explore,
    /// The failing schedule run again, to see it fails reproducibly.
    Confirm,
    /// A smaller candidate of the failing schedule.
    Shrink,
    /// A candidate that failed, run again before it is accepted.
    ShrinkConfirm,
}

/// One run of the campaign.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignRun {
    /// 1-based, in the order runs were made.
    pub index: usize,
    /// Why it was made.
    pub role: RunRole,
    /// The run's seed (target picks, request ids); replays it with `--seed`.
    pub seed: u64,
    /// The schedule, one line per fault (`crash-1 at 6.3s: crash marketdata-a`).
    pub faults: Vec<String>,
    /// The schedule, as drawn (template index, start, picks).
    pub schedule: Vec<ScheduledFault>,
    /// The run's exit code (0 pass, 1 breached, 3 infrastructure, 4 inconclusive).
    pub exit_code: i32,
    /// The SLOs it breached, as written in the scenario.
    pub breached: Vec<String>,
    /// The run's directory (its report.json and the rest), relative to the campaign's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// Why the run has no verdict, when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall time of the run, in seconds.
    pub elapsed_s: f64,
}

/// What came of one shrink candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    /// Failed twice in a row: the schedule is now this one.
    Accepted,
    /// Passed: the step removed what makes the schedule fail.
    Rejected,
    /// Failed once, then passed: not reproducible, not taken.
    Flaky,
    /// Could not be judged: not taken.
    Inconclusive,
    /// Not a valid scenario (e.g. two faults overlapping on one service): not run.
    Invalid,
}

/// One step of the shrink trace.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShrinkStep {
    /// What the step changes, e.g. `drop pause-2`.
    pub step: String,
    /// What came of it.
    pub outcome: StepOutcome,
    /// The campaign runs it took (their `index`).
    pub runs: Vec<usize>,
    /// The candidate schedule, one line per fault.
    pub faults: Vec<String>,
}

/// A failing schedule: the first found, or the minimal one.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailingSchedule {
    /// The run that showed it (its `index`).
    pub run: usize,
    /// Its seed.
    pub seed: u64,
    /// One line per fault.
    pub faults: Vec<String>,
    /// As drawn.
    pub schedule: Vec<ScheduledFault>,
    /// The SLOs it breached.
    pub breached: Vec<String>,
    /// Whether it failed again when re-run (every accepted shrink step did).
    pub reproduced: bool,
}

/// The whole campaign, as `campaign.json`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignReport {
    /// Always "1" for this layout.
    pub schema_version: String,
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file.
    pub scenario_path: String,
    /// The campaign's seed: the same seed draws the same schedules.
    pub seed: u64,
    /// `--set` values, `KEY=VALUE`.
    pub set: Vec<String>,
    /// `--runs`: most schedules explored.
    pub runs_limit: usize,
    /// `--budget`, in seconds.
    pub budget_s: f64,
    /// `--keep-going`.
    pub keep_going: bool,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// Wall time of the campaign, in seconds.
    pub elapsed_s: f64,
    /// Seconds spent exploring (until the first failing schedule, or in all).
    pub explore_s: f64,
    /// Seconds spent confirming and shrinking.
    pub shrink_s: f64,
    /// What the campaign concluded.
    pub verdict: CampaignVerdict,
    /// 0 none found, 1 found, 3 infrastructure, 4 inconclusive.
    pub exit_code: i32,
    /// Schedules explored (runs with role `explore`).
    pub explored: usize,
    /// Every run, in order.
    pub runs: Vec<CampaignRun>,
    /// The first failing schedule found, as drawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<FailingSchedule>,
    /// The shrink trace, in order.
    pub shrink: Vec<ShrinkStep>,
    /// The minimal failing schedule (written as `minimal.yaml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimal: Option<FailingSchedule>,
    /// What a reader should know: budget reached, flaky steps, runs that failed.
    pub notes: Vec<String>,
}

/// The JSON Schema of `campaign.json` (checked in as `schemas/campaign.schema.json`).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(CampaignReport))
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }))
}

impl CampaignVerdict {
    /// One word for the terminal and the Markdown.
    pub fn word(self) -> &'static str {
        match self {
            Self::Found => "FAILING SCHEDULE FOUND",
            Self::NoneFound => "NONE FOUND",
            Self::Inconclusive => "INCONCLUSIVE",
            Self::Infrastructure => "ERROR",
        }
    }
}

/// The headline: verdict, scenario, what was explored.
pub fn headline(r: &CampaignReport) -> String {
    let mut line = format!(
        "{} {} — {} schedule(s) explored, {} run(s) in {}",
        r.verdict.word(),
        r.scenario,
        r.explored,
        r.runs.len(),
        crate::units::format_duration(Duration::from_secs_f64(r.elapsed_s.round().max(0.0)))
    );
    if let Some(m) = &r.minimal {
        line.push_str(&format!(
            "; minimal: {} fault(s): {}",
            m.faults.len(),
            m.faults.join("; ")
        ));
    }
    line
}

/// The campaign for a terminal: headline, minimal schedule, notes.
pub fn terminal(r: &CampaignReport) -> String {
    let mut out = format!("{}\n", headline(r));
    if let Some(f) = &r.found {
        out.push_str(&format!(
            "found at run {} (seed {}): {}\n",
            f.run,
            f.seed,
            f.faults.join("; ")
        ));
    }
    let accepted = r
        .shrink
        .iter()
        .filter(|s| s.outcome == StepOutcome::Accepted)
        .count();
    if !r.shrink.is_empty() {
        out.push_str(&format!(
            "shrink: {} step(s) tried, {accepted} accepted\n",
            r.shrink.len()
        ));
    }
    if let Some(m) = &r.minimal {
        out.push_str(&format!(
            "minimal (seed {}, breaches {}):\n",
            m.seed,
            m.breached.join(", ")
        ));
        for f in &m.faults {
            out.push_str(&format!("  {f}\n"));
        }
    }
    for n in &r.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

/// The campaign as Markdown (a GitHub step summary).
pub fn markdown(r: &CampaignReport) -> String {
    let mut md = format!(
        "# chaosgate explore: {}\n\n**{}**\n\n",
        r.scenario,
        headline(r)
    );
    md.push_str(&format!(
        "Seed {} · budget {} · runs ≤ {} · exploring {:.0} s · shrinking {:.0} s\n\n",
        r.seed,
        crate::units::format_duration(Duration::from_secs_f64(r.budget_s)),
        r.runs_limit,
        r.explore_s,
        r.shrink_s
    ));
    if let Some(m) = &r.minimal {
        md.push_str("## Minimal failing schedule\n\n");
        for f in &m.faults {
            md.push_str(&format!("- `{f}`\n"));
        }
        md.push_str(&format!(
            "\nBreaches: {}. Replay: `chaosgate run {MINIMAL_FILE}` (seed {}).\n\n",
            m.breached.join(", "),
            m.seed
        ));
    }
    md.push_str(
        "## Runs\n\n| # | role | seed | schedule | exit | breached |\n|---|---|---|---|---|---|\n",
    );
    for run in &r.runs {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            run.index,
            role_word(run.role),
            run.seed,
            run.faults.join("<br>"),
            run.exit_code,
            run.breached.join(", ")
        ));
    }
    if !r.shrink.is_empty() {
        md.push_str("\n## Shrink trace\n\n| step | outcome | runs |\n|---|---|---|\n");
        for s in &r.shrink {
            md.push_str(&format!(
                "| {} | {} | {} |\n",
                s.step,
                outcome_word(s.outcome),
                s.runs
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if !r.notes.is_empty() {
        md.push_str("\n## Notes\n\n");
        for n in &r.notes {
            md.push_str(&format!("- {n}\n"));
        }
    }
    md
}

/// The campaign as one HTML page (the Markdown's tables).
pub fn html(r: &CampaignReport) -> String {
    let e = super::html::esc;
    let mut h = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>chaosgate explore {}</title>\
         <style>{}</style><h1>chaosgate explore: {}</h1><p><b>{}</b></p>",
        e(&r.scenario),
        super::gate_render::STYLE,
        e(&r.scenario),
        e(&headline(r))
    );
    if let Some(m) = &r.minimal {
        h.push_str("<h2>Minimal failing schedule</h2><ul>");
        for f in &m.faults {
            h.push_str(&format!("<li><code>{}</code></li>", e(f)));
        }
        h.push_str(&format!(
            "</ul><p>Breaches: {}. Replay: <code>chaosgate run {MINIMAL_FILE}</code> (seed {}).</p>",
            e(&m.breached.join(", ")),
            m.seed
        ));
    }
    h.push_str("<h2>Runs</h2><table><tr><th>#</th><th>role</th><th>seed</th><th>schedule</th><th>exit</th><th>breached</th></tr>");
    for run in &r.runs {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            run.index,
            role_word(run.role),
            run.seed,
            run.faults
                .iter()
                .map(|f| e(f))
                .collect::<Vec<_>>()
                .join("<br>"),
            run.exit_code,
            e(&run.breached.join(", "))
        ));
    }
    h.push_str("</table>");
    if !r.shrink.is_empty() {
        h.push_str(
            "<h2>Shrink trace</h2><table><tr><th>step</th><th>outcome</th><th>runs</th></tr>",
        );
        for s in &r.shrink {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                e(&s.step),
                outcome_word(s.outcome),
                s.runs
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        h.push_str("</table>");
    }
    if !r.notes.is_empty() {
        h.push_str("<h2>Notes</h2><ul>");
        for n in &r.notes {
            h.push_str(&format!("<li>{}</li>", e(n)));
        }
        h.push_str("</ul>");
    }
    h
}

/// The campaign as JUnit XML: one testcase, failing (with the minimal schedule) when a
/// failing schedule was found, an error when inconclusive or failed around the system.
pub fn junit(r: &CampaignReport) -> io::Result<String> {
    let mut junit = JunitReport::new("chaosgate-explore");
    let mut suite = TestSuite::new(format!("explore {}", r.scenario));
    suite.set_time(Duration::from_secs_f64(r.elapsed_s.max(0.0)));
    suite.add_property(("seed", r.seed.to_string().as_str()));
    suite.add_property(("explored", r.explored.to_string().as_str()));
    let status = match r.verdict {
        CampaignVerdict::NoneFound => TestCaseStatus::success(),
        CampaignVerdict::Found => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let schedule = r
                .minimal
                .as_ref()
                .map(|m| {
                    format!(
                        "{} (breaches {})",
                        m.faults.join("; "),
                        m.breached.join(", ")
                    )
                })
                .unwrap_or_default();
            s.set_message(format!(
                "failing schedule: {schedule}; replay {MINIMAL_FILE}"
            ));
            s.set_type("breached");
            s
        }
        CampaignVerdict::Inconclusive | CampaignVerdict::Infrastructure => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(r.notes.join("; "));
            s.set_type(match r.verdict {
                CampaignVerdict::Inconclusive => "inconclusive",
                _ => "infrastructure",
            });
            s
        }
    };
    let mut case = TestCase::new(format!("explore {}", r.scenario), status);
    case.set_classname(format!("chaosgate.explore.{}", r.scenario));
    case.set_time(Duration::from_secs_f64(r.elapsed_s.max(0.0)));
    suite.add_test_case(case);
    junit.add_test_suite(suite);
    junit.to_string().map_err(io::Error::other)
}

/// Writes campaign.json, campaign.md, campaign.html and junit.xml into `dir`.
pub fn write_all(r: &CampaignReport, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let json = serde_json::to_string_pretty(r).map_err(io::Error::other)? + "\n";
    let files = [
        (JSON_FILE, json),
        (MARKDOWN_FILE, markdown(r)),
        (HTML_FILE, html(r)),
        (JUNIT_FILE, junit(r)?),
    ];
    let mut out = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text)?;
        out.push(path);
    }
    Ok(out)
}

fn role_word(r: RunRole) -> &'static str {
    match r {
        RunRole::Explore => "explore",
        RunRole::Confirm => "confirm",
        RunRole::Shrink => "shrink",
        RunRole::ShrinkConfirm => "shrink (again)",
    }
}

fn outcome_word(o: StepOutcome) -> &'static str {
    match o {
        StepOutcome::Accepted => "accepted (failed twice)",
        StepOutcome::Rejected => "rejected (passed)",
        StepOutcome::Flaky => "rejected (failed once, then passed)",
        StepOutcome::Inconclusive => "rejected (inconclusive)",
        StepOutcome::Invalid => "skipped (not a valid scenario)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `schemas/campaign.schema.json` is what the code publishes (regenerate with
    /// `CHAOSGATE_UPDATE_SCHEMAS=1 cargo nextest run -p chaosgate --lib`).
    #[test]
    fn published_schema_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/campaign.schema.json");
        let text = serde_json::to_string_pretty(&json_schema()).unwrap() + "\n";
        if std::env::var_os("CHAOSGATE_UPDATE_SCHEMAS").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            published == text,
            "schemas/campaign.schema.json is stale; regenerate with CHAOSGATE_UPDATE_SCHEMAS=1 cargo nextest run -p chaosgate --lib"
        );
    }
}
