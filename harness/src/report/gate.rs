//! The aggregate report of a gate — `run --repeat N` or `ab` — over several runs of one
//! scenario (`gate.json`, schema in `schemas/gate.schema.json`). Each run keeps its own
//! directory and `report.json`; this one lists them and, per SLO, every run's figure, the
//! median and its order-statistic confidence interval, and the verdict judged on it.

use std::io;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::model::ScenarioInfo;
use crate::verdict::Verdict;

/// Bumped on any change a consumer could notice.
pub const GATE_SCHEMA_VERSION: &str = "1";

/// File name of the aggregate report in the gate's directory.
pub const FILE_NAME: &str = "gate.json";

/// How intervals are computed, as every report states it.
pub const INTERVAL_METHOD: &str = "median with a distribution-free confidence interval by order \
     statistics (binomial): the narrowest pair x(j)..x(N+1-j) covering the median with at least \
     95%, or min..max with its achieved coverage when N is too small";

/// Which command produced a gate report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GateKind {
    /// `chaosgate run --repeat N`: one build, N runs.
    Repeat,
    /// `chaosgate ab`: a baseline and a candidate build, N runs each, interleaved.
    Ab,
}

/// Several runs of one scenario, judged together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "chaosgate gate report")]
pub struct GateReport {
    /// Always "1" for this layout.
    pub schema_version: String,
    /// `repeat` or `ab`: which command ran the gate.
    pub kind: GateKind,
    /// Name, path and SHA-256 of the scenario file every run used.
    pub scenario: ScenarioInfo,
    /// The seed the runs' seeds were derived from (run 1 uses it as is).
    pub seed: u64,
    /// Runs per side.
    pub repeat: usize,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// Wall-clock time of the whole gate, every run included, in ms.
    pub duration_ms: f64,
    /// The gate's overall verdict, from the SLOs' verdicts (see [`GateSlo::verdict`]).
    pub verdict: Verdict,
    /// 0 pass, 1 breached, 2 bad input, 3 infrastructure, 4 inconclusive.
    pub exit_code: i32,
    /// [`INTERVAL_METHOD`] as written by the version that produced the report.
    pub interval_method: String,
    /// `runs` for `--repeat`; `baseline` and `candidate` for `ab`.
    pub sides: Vec<GateSide>,
    /// One entry per SLO of the scenario, in the scenario's order.
    pub slos: Vec<GateSlo>,
    /// Every run whose whole was inconclusive or not judged (a fault not proven applied, a
    /// target that never answered, a failed steady state), on every side: each forbids the
    /// gate a pass. Empty when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub run_issues: Vec<GateRunIssue>,
    /// Human-readable remarks on the gate (the scenario file changed between runs, one run
    /// per side, an SLO left unjudged), in the order found.
    pub notes: Vec<String>,
}

/// One run's run-level issue, as a gate saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateRunIssue {
    /// The side whose run it was (`repeat`, `baseline`, `candidate`).
    pub side: String,
    /// The run's 1-based index on that side.
    pub run: usize,
    /// What was wrong with the run as a whole.
    pub issue: crate::verdict::RunIssue,
}

/// One side of a gate: the runs of one build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateSide {
    /// `runs` (`--repeat`), `baseline` or `candidate` (`ab`).
    pub name: String,
    /// `KEY=VALUE` compose variables this side ran with.
    pub set: Vec<String>,
    /// This side's runs, in the order they ran.
    pub runs: Vec<GateRun>,
}

/// One run of a gate, as the gate saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateRun {
    /// 1-based; run i of every side used the same seed.
    pub index: usize,
    /// The run's own seed, derived from [`GateReport::seed`].
    pub seed: u64,
    /// The run's own report directory.
    pub dir: String,
    /// Absent when the run failed before a verdict.
    pub verdict: Option<Verdict>,
    /// The run's process-style exit code (0 pass, 1 breached, 3 infrastructure, 4
    /// inconclusive; see `cli::exit_codes`).
    pub exit_code: i32,
    /// The scenario file's SHA-256 as the run recorded it.
    pub scenario_sha256: Option<String>,
    /// Why the run has no verdict.
    pub error: Option<String>,
}

/// One SLO over the runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateSlo {
    /// The SLO as written in the scenario, e.g. `p95(latency)`.
    pub expression: String,
    /// e.g. `< 100ms`, `<= baseline + 50ms`.
    pub target: String,
    /// Relative to a baseline (`baseline` in the target).
    pub relative: bool,
    /// This SLO's verdict over the runs, judged on the side(s) named in `judged_on`.
    pub verdict: Verdict,
    /// Why the verdict is what it is (the figures it compared, or why it could not judge).
    pub reason: Option<String>,
    /// `ms`, `ratio` or `count`: the unit of every figure below.
    pub unit: String,
    /// The side the verdict was judged on: `runs`, `candidate` (absolute SLOs in `ab`),
    /// `candidate vs baseline` (relative), or `none` (a relative SLO under `--repeat`).
    pub judged_on: String,
    /// One per side, in the order of `sides`.
    pub samples: Vec<GateSample>,
    /// Relative SLOs: the bound from the baseline's worst end (what a pass had to meet).
    pub strict_bound: Option<f64>,
    /// Relative SLOs: the bound from the baseline's best end (what a breach had to violate).
    pub loose_bound: Option<f64>,
    /// `severity: advisory`: judged and reported, never part of the gate's verdict.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub advisory: bool,
}

/// One side's figures for one SLO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateSample {
    /// Name of the side, as in [`GateSide::name`].
    pub side: String,
    /// Per run, in run order; absent when the run measured nothing.
    pub values: Vec<Option<f64>>,
    /// Per run, as shown to people (`—` when absent).
    pub texts: Vec<String>,
    /// Per run: why its figure cannot be trusted (its own verdict was inconclusive).
    pub untrusted: Vec<Option<String>>,
    /// Over the trusted runs.
    pub median: Option<f64>,
    /// Lower end of the median's confidence interval, in `GateSlo::unit`.
    pub low: Option<f64>,
    /// Upper end of the median's confidence interval, in `GateSlo::unit`.
    pub high: Option<f64>,
    /// P(true median ∈ [low, high]); 0 for one run.
    pub coverage: Option<f64>,
    /// e.g. `median 0ms [0ms, 4.1ms] (order statistics min..max, 75% coverage: …)`.
    pub summary: String,
}

/// `gate.json`'s text: the report as pretty-printed JSON with a trailing newline.
pub fn render(report: &GateReport) -> io::Result<String> {
    let mut text = serde_json::to_string_pretty(report).map_err(io::Error::other)?;
    text.push('\n');
    Ok(text)
}

/// Writes [`render`]'s text to `dir/gate.json`; returns that path.
pub fn write(report: &GateReport, dir: &Path) -> io::Result<PathBuf> {
    let path = dir.join(FILE_NAME);
    std::fs::write(&path, render(report)?)?;
    Ok(path)
}

/// Reads a `gate.json`; a file that does not match [`GateReport`] is
/// `io::ErrorKind::InvalidData`.
pub fn read(path: &Path) -> io::Result<GateReport> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// The JSON Schema of `gate.json` (checked in as `schemas/gate.schema.json`).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(GateReport))
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }))
}

/// Writes every file of the aggregate report (JSON, JUnit, Markdown, HTML) into `dir`.
pub fn write_all(report: &GateReport, dir: &Path) -> io::Result<Vec<PathBuf>> {
    use super::gate_render as r;
    let files = [
        (r::JUNIT_FILE, r::junit(report)?),
        (r::MARKDOWN_FILE, r::markdown(report)),
        (r::HTML_FILE, r::html(report)),
    ];
    let mut out = vec![write(report, dir)?];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text)?;
        out.push(path);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `schemas/gate.schema.json` is what the model says (regenerate with
    /// `CHAOSGATE_UPDATE_SCHEMAS=1 cargo nextest run -p chaosgate --lib`).
    #[test]
    fn the_published_schema_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/gate.schema.json");
        let current = serde_json::to_string_pretty(&json_schema()).unwrap() + "\n";
        if std::env::var_os("CHAOSGATE_UPDATE_SCHEMAS").is_some() {
            std::fs::write(&path, &current).unwrap();
        }
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            published == current,
            "schemas/gate.schema.json is stale; regenerate with CHAOSGATE_UPDATE_SCHEMAS=1 cargo nextest run -p chaosgate --lib"
        );
    }

    #[test]
    fn a_report_round_trips_and_matches_its_schema() {
        let r = super::super::gate_render::tests::sample();
        let text = render(&r).unwrap();
        let back: GateReport = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
        let schema = json_schema();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(validator.is_valid(&value));
    }
}
