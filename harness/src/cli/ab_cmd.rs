//! `chaosgate ab`: a candidate build against a baseline build under the same seeded fault
//! schedule, and the shared CLI edge of `run --repeat N` (the gate's exit code and reports).

use std::path::PathBuf;

use clap::Args;
use tokio_util::sync::CancellationToken;

use super::error::CommandError;
use super::run_cmd::{create_run_dir, parse_key_value};
use super::runtime::{OnSignal, with_runtime};
use crate::exit_codes;
use crate::exit_codes::worse;
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
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where the gate's directory is created (`<dir>/<scenario>-ab-<time>/`).
    #[arg(long, default_value = "reports", value_name = "DIR")]
    pub report_dir: PathBuf,
}

/// Runs `chaosgate ab`. Exit: the gate's verdict (0 pass, 1 breached, 4 inconclusive); 2 when
/// the scenario or a side's variables are bad; 3 when a run failed around the system, the
/// gate was interrupted or its reports could not be written.
pub fn run(args: AbArgs, quiet: bool) -> i32 {
    let s = match scenario::load(&args.file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return exit_codes::BAD_INPUT;
        }
    };
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
    let seed = args.seed.or(s.seed).unwrap_or_else(rand::random);
    with_runtime(OnSignal::StopRun, |cancel| async move {
        run_gate(
            &s,
            GateKind::Ab,
            seed,
            args.repeat as usize,
            &args.set,
            sides,
            &args.report_dir,
            cancel,
            quiet,
        )
        .await
    })
}

/// Runs a gate (`ab` or `run --repeat`), writes its aggregate reports and maps its exit code:
/// the verdict's, unless a run failed around the system (infrastructure) or was interrupted.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_gate(
    s: &scenario::Scenario,
    kind: GateKind,
    seed: u64,
    repeat: usize,
    common: &[(String, String)],
    sides: Vec<Side>,
    report_dir: &std::path::Path,
    cancel: CancellationToken,
    quiet: bool,
) -> i32 {
    let label = match kind {
        GateKind::Ab => format!("{}-ab", s.name),
        GateKind::Repeat => format!("{}-repeat", s.name),
    };
    let dir = match create_run_dir(report_dir, &label) {
        Ok(d) => d,
        Err(e) => {
            return CommandError::Infrastructure(format!(
                "creating a run directory under {}: {e}",
                report_dir.display()
            ))
            .report();
        }
    };
    let plan = Plan {
        scenario: s,
        kind,
        seed,
        repeat,
        common,
        sides,
        dir: &dir,
        cancel,
        quiet,
    };
    let started_at = gate::now_rfc3339();
    let started = std::time::Instant::now();
    let (done, interrupted) = match gate::run_all(&plan).await {
        Ok(d) => d,
        Err(gate::GateError::BadInput(e)) => return CommandError::BadInput(e).report(),
        Err(e) => return CommandError::Infrastructure(e.to_string()).report(),
    };
    let mut report = gate::skeleton(&plan, &done, started_at, started.elapsed());
    match kind {
        GateKind::Repeat => gate::repeat::judge(&plan, &done[0], &mut report),
        GateKind::Ab => gate::ab::judge(&plan, &done[0], &done[1], &mut report),
    }
    let worst_run = gate::worst_exit(&done);
    // A run that failed around the system (or measured the wiring) is an infrastructure
    // failure of the gate; a single run's breach or inconclusive is already in the verdict.
    let mut exit_code = match worst_run {
        exit_codes::INFRASTRUCTURE | exit_codes::BAD_INPUT => worst_run,
        _ => exit_codes::of_verdict(report.verdict),
    };
    if interrupted {
        exit_code = worse(exit_code, exit_codes::INFRASTRUCTURE);
        report
            .notes
            .push("interrupted: not every run was made".into());
    }
    report.exit_code = exit_code;
    for n in report.notes.iter().filter(|n| n.starts_with("warning:")) {
        eprintln!("chaosgate: {n}");
    }
    if let Err(e) = crate::report::gate::write_all(&report, &dir) {
        return CommandError::Infrastructure(format!("writing reports to {}: {e}", dir.display()))
            .report();
    }
    if !quiet {
        eprintln!("{}", crate::report::gate_render::terminal(&report));
    }
    outln!(
        "{} {} → {}",
        crate::report::format::verdict_word(report.verdict),
        label,
        dir.display()
    );
    exit_code
}
