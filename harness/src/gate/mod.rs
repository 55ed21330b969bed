//! The release gate: one judged run ([`single`]: `chaosgate run`), and several runs of one
//! scenario: `run --repeat N` ([`repeat`]) and `ab` ([`ab`]). Each of those runs is the
//! ordinary single run (a fresh stack, its own directory and reports); this module schedules
//! them (seeds derived from the scenario's, sides interleaved so drift hits both) and gathers
//! their figures per SLO into one [`GateReport`]. The statistics are pure, in
//! `verdict::interval` and `verdict::relative`.

pub mod ab;
pub mod repeat;
pub mod single;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use crate::report::gate::{
    GATE_SCHEMA_VERSION, GateKind, GateReport, GateRun, GateSample, GateSide, INTERVAL_METHOD,
};
use crate::report::{ScenarioInfo, SloReport};
use crate::run::{self, Progress};
use crate::scenario::Scenario;
use crate::slo::{Quantity, Slo, Unit};
use crate::verdict::Verdict;
use crate::verdict::interval::{MedianInterval, RunFigure, coverage_text, median_interval};
pub use single::{SingleRun, run_single};

/// The seeds of N runs: the first is `seed` itself (so `--repeat 1` replays `run`), the
/// others drawn from it by SplitMix64 — the same seed always gives the same N seeds.
pub fn seeds(seed: u64, n: usize) -> Vec<u64> {
    let mut state = seed;
    let mut out = vec![seed];
    while out.len() < n {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.push(z ^ (z >> 31));
    }
    out
}

/// One build: a name and the compose variables that make it.
#[derive(Debug, Clone)]
pub struct Side {
    /// `baseline` / `candidate` for `ab`, `repeat` for `run --repeat`; names the runs'
    /// folders (`<side>-<i>/`).
    pub name: String,
    /// Compose variables of this build (`--baseline` / `--candidate` `KEY=VALUE`), applied over
    /// the common `--set`.
    pub set: Vec<(String, String)>,
}

/// One finished run of one side.
pub struct Done {
    /// Run number, 1-based (the i-th derived seed).
    pub index: usize,
    /// The seed the run used.
    pub seed: u64,
    /// The run's own directory (its reports and `events.jsonl`).
    pub dir: PathBuf,
    /// The run's outcome: report, exit code, error.
    pub run: SingleRun,
}

/// Why the gate did not start.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The scenario cannot be planned with a side's variables (message names file and side):
    /// exit `BAD_INPUT` (2).
    #[error("{0}")]
    BadInput(String),
    /// A run directory could not be created: exit `INFRASTRUCTURE` (3).
    #[error("creating {path}: {source}")]
    Io {
        /// The directory that could not be created.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Everything the runs share.
pub struct Plan<'a> {
    /// The scenario every run executes.
    pub scenario: &'a Scenario,
    /// `repeat` (one side) or `ab` (baseline and candidate).
    pub kind: GateKind,
    /// The scenario's seed (`--seed` or `seed:`); run 1 uses it, the others derive from it.
    pub seed: u64,
    /// Runs per side (`--repeat N`, at least 1).
    pub repeat: usize,
    /// `--set` for every side.
    pub common: &'a [(String, String)],
    /// The builds, in the order their runs interleave.
    pub sides: Vec<Side>,
    /// The gate's directory (created by the caller); runs go in `<side>-<i>/`.
    pub dir: &'a Path,
    /// Stops the gate between runs (Ctrl-C); runs in progress tear down as usual.
    pub cancel: CancellationToken,
    /// No progress lines on stderr.
    pub quiet: bool,
}

/// Runs every side `repeat` times, interleaved (side 1 run 1, side 2 run 1, side 1 run 2,
/// ...), each with the i-th derived seed. Every plan is resolved before anything starts.
pub async fn run_all(plan: &Plan<'_>) -> Result<(Vec<Vec<Done>>, bool), GateError> {
    let seeds = seeds(plan.seed, plan.repeat);
    let mut specs = Vec::new();
    for (i, seed) in seeds.iter().enumerate() {
        for side in &plan.sides {
            let overrides: BTreeMap<String, String> =
                plan.common.iter().chain(&side.set).cloned().collect();
            let mut spec = run::from_scenario(plan.scenario, *seed, &overrides).map_err(|e| {
                GateError::BadInput(format!(
                    "{}: {} (side {}): {e}",
                    plan.scenario.path.display(),
                    plan.scenario.name,
                    side.name
                ))
            })?;
            // One run's certain breach is not the gate's: the gate judges the N runs'
            // interval, so a run cut short would only make its other SLOs inconclusive.
            spec.fail_fast = None;
            specs.push((i, *seed, spec));
        }
    }
    let mut done: Vec<Vec<Done>> = plan.sides.iter().map(|_| Vec::new()).collect();
    let total = specs.len();
    for (k, (i, seed, spec)) in specs.into_iter().enumerate() {
        if plan.cancel.is_cancelled() {
            return Ok((done, true));
        }
        let side_no = k % plan.sides.len();
        let side = &plan.sides[side_no];
        let dir = plan.dir.join(format!("{}-{}", side.name, i + 1));
        std::fs::create_dir_all(&dir).map_err(|source| GateError::Io {
            path: dir.clone(),
            source,
        })?;
        let progress = Progress::detect(plan.quiet);
        progress.line(&format!(
            "[{}/{total}] {} {} of {} (seed {seed}) → {}",
            k + 1,
            side.name,
            i + 1,
            plan.repeat,
            dir.display()
        ));
        let set: Vec<(String, String)> = plan.common.iter().chain(&side.set).cloned().collect();
        // Each run's own terminal report is left out: the gate prints the aggregate.
        let run = run_single(
            &spec,
            &dir,
            &set,
            false,
            plan.cancel.clone(),
            progress,
            true,
        )
        .await;
        if !plan.quiet {
            let headline = run
                .report
                .as_ref()
                .map(crate::report::format::headline)
                .unwrap_or_else(|| "FAILED".into());
            eprintln!(
                "chaosgate: {} {}: {headline} (exit {})",
                side.name,
                i + 1,
                run.exit_code
            );
        }
        done[side_no].push(Done {
            index: i + 1,
            seed,
            dir,
            run,
        });
    }
    Ok((done, plan.cancel.is_cancelled()))
}

/// A figure in the unit's base (s, ratio, count) as people read it; negative bounds keep
/// their sign.
pub fn show(unit: Unit, v: f64) -> String {
    if v.is_nan() {
        return "—".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "∞" } else { "−∞" }.into();
    }
    let text = Quantity::from_f64(unit, v.abs()).to_string();
    if v < 0.0 { format!("-{text}") } else { text }
}

/// A figure in the unit's base as the JSON report carries it (`ms`, `ratio`, `count`).
pub fn report_value(unit: Unit, v: f64) -> f64 {
    match unit {
        Unit::Duration => v * 1000.0,
        _ => v,
    }
}

/// The JSON report's unit name for `unit` (`ms`, `ratio`, `count`), matching [`report_value`].
pub fn unit_name(unit: Unit) -> &'static str {
    match unit {
        Unit::Duration => "ms",
        Unit::Ratio => "ratio",
        Unit::Count => "count",
    }
}

/// An absolute SLO's figure in one run, from its report.
pub fn absolute_figure(slo: &Slo, done: &Done) -> RunFigure {
    let Some(report) = &done.run.report else {
        return RunFigure::untrusted(
            None,
            format!(
                "the run failed: {}",
                done.run.error.as_deref().unwrap_or("no report")
            ),
        );
    };
    let Some(r) = report.slos.iter().find(|r| r.expression == slo.expression) else {
        return RunFigure::untrusted(None, "not in the run's report");
    };
    let value = figure_value(r);
    match r.verdict {
        Verdict::Inconclusive => RunFigure::untrusted(
            value,
            r.reason.clone().unwrap_or_else(|| "inconclusive".into()),
        ),
        _ => match value {
            Some(v) => RunFigure::trusted(v),
            None => RunFigure::untrusted(None, "nothing measured"),
        },
    }
}

/// The report's measured value back in the unit's base.
fn figure_value(r: &SloReport) -> Option<f64> {
    let m = r.measured.as_ref()?;
    Some(if m.unit == "ms" {
        m.value / 1000.0
    } else {
        m.value
    })
}

/// One side's sample of one SLO for the report.
pub fn gate_sample(side: &str, unit: Unit, figures: &[RunFigure]) -> GateSample {
    let trusted: Vec<f64> = figures
        .iter()
        .filter(|f| f.is_trusted())
        .filter_map(|f| f.value)
        .collect();
    let m = median_interval(&trusted);
    GateSample {
        side: side.into(),
        values: figures
            .iter()
            .map(|f| f.value.map(|v| report_value(unit, v)))
            .collect(),
        texts: figures
            .iter()
            .map(|f| f.value.map_or_else(|| "—".into(), |v| show(unit, v)))
            .collect(),
        untrusted: figures.iter().map(|f| f.untrusted.clone()).collect(),
        median: m.map(|m| report_value(unit, m.median)),
        low: m.map(|m| report_value(unit, m.low)),
        high: m.map(|m| report_value(unit, m.high)),
        coverage: m.map(|m| m.coverage),
        summary: summary(unit, m.as_ref(), figures.len()),
    }
}

fn summary(unit: Unit, m: Option<&MedianInterval>, runs: usize) -> String {
    match m {
        Some(m) if m.n == 1 && runs == 1 => format!("{} (one run)", show(unit, m.median)),
        Some(m) => format!(
            "median {} [{}, {}] ({}{})",
            show(unit, m.median),
            show(unit, m.low),
            show(unit, m.high),
            coverage_text(m),
            if m.n < runs {
                format!("; {} of {runs} runs trusted", m.n)
            } else {
                String::new()
            }
        ),
        None => format!("no trusted figure in {runs} run(s)"),
    }
}

/// The gate's report skeleton: scenario, sides, runs; the caller adds the SLOs and verdict.
pub fn skeleton(
    plan: &Plan<'_>,
    done: &[Vec<Done>],
    started_at: String,
    wall: std::time::Duration,
) -> GateReport {
    let sides = plan
        .sides
        .iter()
        .zip(done)
        .map(|(side, runs)| GateSide {
            name: side.name.clone(),
            set: plan
                .common
                .iter()
                .chain(&side.set)
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
            runs: runs
                .iter()
                .map(|d| GateRun {
                    index: d.index,
                    seed: d.seed,
                    dir: d.dir.display().to_string(),
                    verdict: d.run.report.as_ref().map(|r| r.verdict),
                    exit_code: d.run.exit_code,
                    scenario_sha256: d
                        .run
                        .report
                        .as_ref()
                        .and_then(|r| r.provenance.as_ref())
                        .and_then(|p| p.scenario.sha256.clone()),
                    error: d.run.error.clone(),
                })
                .collect(),
        })
        .collect();
    let mut notes = Vec::new();
    let hashes: BTreeSet<&str> = done
        .iter()
        .flatten()
        .filter_map(|d| {
            d.run
                .report
                .as_ref()?
                .provenance
                .as_ref()?
                .scenario
                .sha256
                .as_deref()
        })
        .collect();
    if hashes.len() > 1 {
        notes.push(format!(
            "warning: the runs tested different scenario files (sha256 {}): the file changed \
             while the gate ran",
            hashes.into_iter().collect::<Vec<_>>().join(" ≠ ")
        ));
    }
    if plan.repeat == 1 {
        notes.push(
            "one run per side: each interval is a single point and says nothing about \
             run-to-run noise; use --repeat for noise"
                .into(),
        );
    }
    GateReport {
        schema_version: GATE_SCHEMA_VERSION.into(),
        kind: plan.kind,
        scenario: ScenarioInfo {
            name: plan.scenario.name.clone(),
            file: plan.scenario.path.display().to_string(),
            description: plan.scenario.description.clone(),
        },
        seed: plan.seed,
        repeat: plan.repeat,
        started_at,
        duration_ms: wall.as_secs_f64() * 1000.0,
        verdict: Verdict::Inconclusive,
        exit_code: crate::exit_codes::INCONCLUSIVE,
        interval_method: INTERVAL_METHOD.into(),
        sides,
        slos: Vec::new(),
        notes,
    }
}

/// The worst exit code of the runs of `sides`.
pub fn worst_exit(done: &[Vec<Done>]) -> i32 {
    done.iter()
        .flatten()
        .map(|d| d.run.exit_code)
        .fold(crate::exit_codes::PASS, crate::exit_codes::worse)
}

/// Notes for runs whose own verdict was not a pass for reasons beside their SLOs (a fault
/// not proven applied): such a run forbids the gate a pass.
pub fn run_level_inconclusive(side: &str, done: &[Done]) -> Vec<String> {
    done.iter()
        .filter_map(|d| {
            let r = d.run.report.as_ref()?;
            (r.verdict == Verdict::Inconclusive
                && r.slos.iter().all(|s| s.verdict != Verdict::Inconclusive))
            .then(|| {
                format!(
                    "{side} run {} was inconclusive as a whole ({}): the gate cannot pass",
                    d.index,
                    r.notes.join("; ")
                )
            })
        })
        .collect()
}

/// The current UTC time as RFC 3339 (empty if it cannot be formatted), for `started_at`.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_derived_and_repeatable() {
        assert_eq!(seeds(42, 1), vec![42]);
        let a = seeds(42, 5);
        assert_eq!(a, seeds(42, 5));
        assert_eq!(a[0], 42);
        assert_eq!(a.iter().collect::<BTreeSet<_>>().len(), 5);
        assert_ne!(seeds(43, 5)[1], a[1]);
    }

    #[test]
    fn figures_read_in_their_unit() {
        assert_eq!(show(Unit::Duration, 0.0123), "12.3ms");
        assert_eq!(show(Unit::Duration, -0.01), "-10ms");
        assert_eq!(show(Unit::Ratio, 0.001), "0.1%");
        assert_eq!(show(Unit::Duration, f64::INFINITY), "∞");
        let s = gate_sample(
            "runs",
            Unit::Duration,
            &[
                RunFigure::trusted(0.01),
                RunFigure::untrusted(Some(0.5), "late"),
                RunFigure::trusted(0.03),
            ],
        );
        assert_eq!(s.values, vec![Some(10.0), Some(500.0), Some(30.0)]);
        assert_eq!(s.median, Some(20.0));
        assert!(s.summary.contains("2 of 3 runs trusted"), "{}", s.summary);
    }
}
