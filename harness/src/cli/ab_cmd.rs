//! `chaosgate ab`: a candidate build against a baseline build under the same seeded fault
//! schedule, and the shared CLI edge of `run --repeat N` (the gate's exit code and reports).

use std::path::PathBuf;

use clap::Args;
use tokio_util::sync::CancellationToken;

use super::args::{create_run_dir, parse_duration, parse_key_value};
use super::error::{CommandError, CommandResult};
use super::runtime::{OnSignal, with_runtime};
use crate::gate::{self, Plan, Side};
use crate::report::gate::GateKind;
use crate::scenario;

/// Arguments of `chaosgate ab`.
#[derive(Debug, Args)]
pub struct AbArgs {
    /// The scenario file (its relative SLOs, `<= baseline ...`, are judged here).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// A compose variable of the baseline build (repeatable), e.g.
    /// `--baseline GATEWAY_FAILOVER_DELAY=0s`. Required: a forgotten side would silently run
    /// the scenario's defaults and cost a whole gate (give `--baseline KEY=` with the
    /// default value to compare against the defaults).
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_key_value, required = true)]
    pub baseline: Vec<(String, String)>,
    /// A compose variable of the candidate build (repeatable), e.g.
    /// `--candidate GATEWAY_FAILOVER_DELAY=5s`. Required, as `--baseline`.
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_key_value, required = true)]
    pub candidate: Vec<(String, String)>,
    /// A compose variable for both builds (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
    /// Runs per build (interleaved baseline, candidate, baseline, ...); figures are compared
    /// as samples (median and its confidence interval), so noise is not called a regression.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,
    /// Seed of the fault schedule (overrides the file's `seed:`); both builds run with the
    /// same seeds.
    #[arg(long, value_parser = crate::seed::parse)]
    pub seed: Option<u64>,
    /// Where the gate's directory is created (`<dir>/<scenario>-ab-<time>/`).
    #[arg(long, default_value = "reports", value_name = "DIR")]
    pub report_dir: PathBuf,
    /// Shift each run's faults by a seeded offset in `[0, D]` (e.g. `2s`), the same for both
    /// builds of run i, so the runs sample the system's periodic behaviour at different phases.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub jitter: Option<std::time::Duration>,
}

/// Runs `chaosgate ab`. Exit: the gate's verdict (0 pass, 1 breached, 4 inconclusive); 2 when
/// the scenario or a side's variables are bad (a variable no compose file reads); 3 when a
/// run failed around the system, the gate was interrupted or its reports could not be written.
pub fn run(args: AbArgs, quiet: bool) -> CommandResult {
    let s = scenario::load(&args.file).map_err(|e| CommandError::BadInputs(vec![e.to_string()]))?;
    if s.explore.is_some() {
        return Err(CommandError::BadInput(super::error::explore_refused(&s)));
    }
    let sides = vec![
        Side {
            name: gate::ab::BASELINE.into(),
            set: args.baseline.clone(),
        },
        Side {
            name: gate::ab::CANDIDATE.into(),
            set: args.candidate.clone(),
        },
    ];
    let seed = args.seed.or(s.seed).unwrap_or_else(crate::seed::draw);
    with_runtime(OnSignal::StopRun, |cancel| async move {
        run_gate(
            &s,
            GateArgs {
                kind: GateKind::Ab,
                seed,
                repeat: args.repeat as usize,
                common: &args.set,
                sides,
                report_dir: &args.report_dir,
                jitter: args.jitter,
            },
            cancel,
            quiet,
        )
        .await
    })
}

/// What a gate (`ab` or `run --repeat`) runs, besides the scenario.
pub(crate) struct GateArgs<'a> {
    /// `ab` or `repeat`.
    pub kind: GateKind,
    /// The first run's seed; the others derive from it.
    pub seed: u64,
    /// Runs per side.
    pub repeat: usize,
    /// `--set` for every side.
    pub common: &'a [(String, String)],
    /// The builds.
    pub sides: Vec<Side>,
    /// Where the gate's directory is created.
    pub report_dir: &'a std::path::Path,
    /// `--jitter`.
    pub jitter: Option<std::time::Duration>,
}

/// Runs a gate (`ab` or `run --repeat`), writes its aggregate reports and maps its exit code:
/// the verdict's, unless a run failed around the system (infrastructure) or was interrupted.
pub(crate) async fn run_gate(
    s: &scenario::Scenario,
    args: GateArgs<'_>,
    cancel: CancellationToken,
    quiet: bool,
) -> CommandResult {
    let label = match args.kind {
        GateKind::Ab => format!("{}-ab", s.name),
        GateKind::Repeat => format!("{}-repeat", s.name),
    };
    let dir = create_run_dir(args.report_dir, &label).map_err(|e| {
        CommandError::Infrastructure(format!(
            "creating a run directory under {}: {e}",
            args.report_dir.display()
        ))
    })?;
    let on_done = |side: &str, d: &gate::Done| {
        if let Some(e) = &d.run.error {
            eprintln!("error: {side} {}: {e}", d.index);
        }
        if !quiet {
            let headline = d
                .run
                .report
                .as_ref()
                .map(crate::report::format::headline)
                .unwrap_or_else(|| "FAILED".into());
            eprintln!(
                "chaosgate: {side} {}: {headline} (exit {})",
                d.index, d.run.exit_code
            );
        }
    };
    let plan = Plan {
        scenario: s,
        kind: args.kind,
        seed: args.seed,
        repeat: args.repeat,
        common: args.common,
        sides: args.sides,
        dir: &dir,
        cancel,
        quiet,
        jitter: args.jitter,
        on_done: &on_done,
    };
    let started_at = gate::now_rfc3339();
    let started = std::time::Instant::now();
    let (done, interrupted) = match gate::run_all(&plan).await {
        Ok(d) => d,
        Err(gate::GateError::BadInput(e)) => {
            // Every plan is made before any run starts: nothing is in the directory yet.
            let _ = std::fs::remove_dir(&dir);
            return Err(CommandError::BadInput(e));
        }
        Err(e) => return Err(CommandError::Infrastructure(e.to_string())),
    };
    let report = gate::decide(&plan, &done, interrupted, started_at, started.elapsed());
    let exit_code = report.exit_code;
    for n in report.notes.iter().filter(|n| n.starts_with("warning:")) {
        eprintln!("chaosgate: {n}");
    }
    crate::report::gate::write_all(&report, &dir).map_err(|e| {
        CommandError::Infrastructure(format!("writing reports to {}: {e}", dir.display()))
    })?;
    if !quiet {
        eprintln!("{}", crate::report::gate_render::terminal(&report));
    }
    outln!(
        "{} {} → {}",
        crate::report::format::verdict_word(report.verdict),
        label,
        dir.display()
    );
    Ok(exit_code)
}
