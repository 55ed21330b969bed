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

use crate::report::ScenarioInfo;
use crate::report::gate::{
    GATE_SCHEMA_VERSION, GateKind, GateReport, GateRun, GateRunIssue, GateSample, GateSide,
    INTERVAL_METHOD,
};
use crate::run::Progress;
use crate::scenario::Scenario;
use crate::slo::{Quantity, Unit};
use crate::verdict::Verdict;
use crate::verdict::interval::{MedianInterval, RunFigure, coverage_text, median_interval};
pub use single::{SingleRun, run_single};

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
    /// Spread each run's fault times by a seeded offset in `[0, jitter]` (`--jitter`), so
    /// repeats sample the system's periodic behaviour (health-check timers, cache expiry) at
    /// different phases; the offset comes from the run's seed, so both sides of run i of an
    /// `ab` share it. `None`: every run applies its faults at the planned times.
    pub jitter: Option<std::time::Duration>,
    /// Told of each finished run (the CLI prints its headline); the gate itself prints nothing.
    pub on_done: &'a (dyn Fn(&str, &Done) + Sync),
}

/// Runs every side `repeat` times, interleaved (side 1 run 1, side 2 run 1, side 1 run 2,
/// ...), each with the i-th derived seed. Every plan is resolved before anything starts.
pub async fn run_all(plan: &Plan<'_>) -> Result<(Vec<Vec<Done>>, bool), GateError> {
    let seeds = crate::seed::derive(plan.seed, plan.repeat);
    let mut specs = Vec::new();
    for (i, seed) in seeds.iter().enumerate() {
        for side in &plan.sides {
            let overrides: BTreeMap<String, String> =
                plan.common.iter().chain(&side.set).cloned().collect();
            let mut spec =
                crate::plan::from_scenario(plan.scenario, *seed, &overrides).map_err(|e| {
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
            if let Some(jitter) = plan.jitter {
                jitter_faults(&mut spec, *seed, jitter).map_err(|e| {
                    GateError::BadInput(format!(
                        "{}: {} (--jitter): {e}",
                        plan.scenario.path.display(),
                        plan.scenario.name
                    ))
                })?;
            }
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
        let run = run_single(&spec, &dir, &set, false, plan.cancel.clone(), progress).await;
        let d = Done {
            index: i + 1,
            seed,
            dir,
            run,
        };
        (plan.on_done)(&side.name, &d);
        done[side_no].push(d);
    }
    Ok((done, plan.cancel.is_cancelled()))
}

/// Shifts every fault of `spec` by one offset drawn from `seed` in `[0, jitter]` (whole
/// milliseconds), keeping the schedule's shape; refused when the shifted schedule would not
/// end inside the run.
pub fn jitter_faults(
    spec: &mut crate::plan::RunSpec,
    seed: u64,
    jitter: std::time::Duration,
) -> Result<std::time::Duration, String> {
    use rand::{Rng, SeedableRng};
    let last_end = spec
        .faults
        .iter()
        .map(|f| f.at + f.duration.unwrap_or_default())
        .max()
        .unwrap_or_default();
    if last_end + jitter > spec.duration {
        return Err(format!(
            "the faults end at {} and the run at {}: a jitter of {} would push them past the \
             run's end (at most {})",
            Quantity::Duration(last_end),
            Quantity::Duration(spec.duration),
            Quantity::Duration(jitter),
            Quantity::Duration(spec.duration.saturating_sub(last_end))
        ));
    }
    // A stream of its own (not the plan's), so the jitter never changes the plan's other draws.
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x6a69_7474_6572);
    let offset = std::time::Duration::from_millis(rng.random_range(0..=jitter.as_millis() as u64));
    for f in &mut spec.faults {
        f.at += offset;
    }
    Ok(offset)
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
        Unit::Number => "number",
    }
}

/// An absolute SLO's figure in one run (`slo_index` in the scenario's `slos`), from the run's
/// typed results: a breach or a pass is a figure to trust; a lower bound (never recovered)
/// is kept as one, so it can still decide a breach; anything else the run could not judge
/// is untrusted with the run's own reason.
pub fn absolute_figure(slo_index: usize, done: &Done) -> RunFigure {
    let Some(r) = done.run.result(slo_index) else {
        return RunFigure::untrusted(
            None,
            format!(
                "the run failed: {}",
                done.run.error.as_deref().unwrap_or("no verdict")
            ),
        );
    };
    run_figure(r)
}

/// One run's typed result of an absolute SLO as a figure for the gate's sample.
pub fn run_figure(r: &crate::verdict::SloResult) -> RunFigure {
    let value = r.measured.map(|m| m.as_f64()).filter(|v| v.is_finite());
    let lower_bound = r
        .evidence
        .as_ref()
        .is_some_and(|e| e.facts.recovered == Some(false));
    match (r.verdict, value) {
        (_, Some(v)) if lower_bound => RunFigure::at_least(
            v,
            r.reason.clone().unwrap_or_else(|| {
                "did not recover before the run ended: only a lower bound".into()
            }),
        ),
        (Verdict::Inconclusive, v) => {
            RunFigure::untrusted(v, r.reason.clone().unwrap_or_else(|| "inconclusive".into()))
        }
        (_, Some(v)) => RunFigure::trusted(v),
        (_, None) => RunFigure::untrusted(None, "nothing measured"),
    }
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
    if plan.kind == GateKind::Ab {
        let effective = |side: &Side| -> BTreeMap<String, String> {
            plan.common.iter().chain(&side.set).cloned().collect()
        };
        if let [a, b] = plan.sides.as_slice()
            && effective(a) == effective(b)
        {
            // Legitimate as an A/A run (how much do two runs of one build differ?), and
            // said, so nobody reads it as a comparison of two builds.
            notes.push(
                "both sides ran the same variables: an A/A comparison of one build with itself \
                 (run-to-run noise), not of two builds"
                    .into(),
            );
        }
    }
    if plan.repeat > 1 && plan.jitter.is_none() && !plan.scenario.faults.is_empty() {
        notes.push(
            "every run applied its faults at the same times from the load's start: the system's \
             periodic behaviour (health-check timers, cache expiry) was sampled at one phase, so \
             the intervals may be narrower than run-to-run truth; --jitter D spreads the fault \
             times"
                .into(),
        );
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
        run_issues: Vec::new(),
        notes,
    }
}

/// The gate's report, judged: each SLO over the runs (`repeat` or `ab`), the one run-level
/// rule over every side ([`settle`]), and its exit code — the verdict's, unless a run failed
/// around the system (3, or 2) or the gate was interrupted (at least 3).
pub fn decide(
    plan: &Plan<'_>,
    done: &[Vec<Done>],
    interrupted: bool,
    started_at: String,
    wall: std::time::Duration,
) -> GateReport {
    let mut report = skeleton(plan, done, started_at, wall);
    let empty = Vec::new();
    let side = |i: usize| done.get(i).unwrap_or(&empty);
    match plan.kind {
        GateKind::Repeat => repeat::judge(plan, side(0), &mut report),
        GateKind::Ab => ab::judge(plan, side(0), side(1), &mut report),
    }
    let worst_run = worst_exit(done);
    // A run that failed around the system (or measured the wiring) is an infrastructure
    // failure of the gate; a single run's breach or inconclusive is already in the verdict.
    let mut exit_code = match worst_run {
        crate::exit_codes::INFRASTRUCTURE | crate::exit_codes::BAD_INPUT => worst_run,
        _ => crate::exit_codes::of_verdict(report.verdict),
    };
    if interrupted {
        exit_code = crate::exit_codes::worse(exit_code, crate::exit_codes::INFRASTRUCTURE);
        report
            .notes
            .push("interrupted: not every run was made".into());
    }
    report.exit_code = exit_code;
    report
}

/// The worst exit code of the runs of `sides`.
pub fn worst_exit(done: &[Vec<Done>]) -> i32 {
    done.iter()
        .flatten()
        .map(|d| d.run.exit_code)
        .fold(crate::exit_codes::PASS, crate::exit_codes::worse)
}

/// Every run-level issue of `done`'s runs on `side`, typed: each forbids the gate a pass,
/// on whichever side it happened (a baseline that did not test what it says is no baseline).
pub fn run_issues(side: &str, done: &[Done]) -> Vec<GateRunIssue> {
    done.iter()
        .flat_map(|d| {
            d.run.issues.iter().map(|issue| GateRunIssue {
                side: side.into(),
                run: d.index,
                issue: issue.clone(),
            })
        })
        .collect()
}

/// The gate's verdict by the one run-level rule ([`crate::verdict::run_verdict`]) over the
/// gate's gating SLO verdicts and every side's run-level issues, and at least inconclusive
/// when a side has fewer runs than planned; the issues and the shortfall are written into
/// `report` (typed and as notes).
pub fn settle(report: &mut GateReport, sides: &[(&str, &[Done])], repeat: usize) {
    for (side, done) in sides {
        report.run_issues.extend(run_issues(side, done));
    }
    let issues: Vec<crate::verdict::RunIssue> =
        report.run_issues.iter().map(|i| i.issue.clone()).collect();
    for i in &report.run_issues {
        report.notes.push(format!(
            "{} run {} was inconclusive as a whole ({}): the gate cannot pass",
            i.side, i.run, i.issue
        ));
    }
    let mut verdict = crate::verdict::run_verdict(
        report
            .slos
            .iter()
            .filter(|s| !s.advisory)
            .map(|s| s.verdict),
        &issues,
    );
    let short: Vec<String> = sides
        .iter()
        .filter(|(_, d)| d.len() < repeat)
        .map(|(side, d)| format!("{} of {repeat} {side} run(s)", d.len()))
        .collect();
    if !short.is_empty() {
        verdict = verdict.max(Verdict::Inconclusive);
        report.notes.push(format!(
            "only {} finished: the gate cannot pass",
            short.join(" and ")
        ));
    }
    report.verdict = verdict;
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

#[cfg(test)]
mod decision_tests;
