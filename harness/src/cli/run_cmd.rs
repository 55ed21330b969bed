//! `chaosgate run`: scenario files in, verdicts, reports and an exit code out.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use tokio_util::sync::CancellationToken;

use super::args::{create_run_dir, parse_duration, parse_key_value};
use super::error::{CommandError, CommandResult};
use super::runtime::{OnSignal, with_runtime};
use crate::exit_codes::{self, worse};
use crate::gate::run_single;
use crate::run::Progress;
use crate::scenario;

/// Arguments of `chaosgate run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files to run, one after another.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Seed for the fault schedule and target picks (overrides the file's `seed:`); the same
    /// seed replays the same schedule. Without either, a random seed is drawn and reported.
    /// 0 to 2^53 − 1, so that every JSON reader reads a recorded seed back exactly.
    #[arg(long, value_parser = crate::seed::parse)]
    pub seed: Option<u64>,
    /// Where run directories are created (`<dir>/<scenario>-<time>/`).
    #[arg(long, default_value = "reports", value_name = "DIR")]
    pub report_dir: PathBuf,
    /// Leave the stack running at the end and print the command that removes it.
    /// Not with `--repeat`: each run brings up a fresh stack, and stacks left up would share
    /// the machine with the runs after them.
    #[arg(long, conflicts_with = "repeat")]
    pub keep: bool,
    /// Validate and print the resolved plan (fault times, targets); start nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Set a stack variable (overrides the file's `stack.env`): a compose variable, or on
    /// Kubernetes a container environment variable the manifests declare; e.g.
    /// `--set GATEWAY_FAILOVER=off` to run a deliberately bad build.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
    /// Stop a run as soon as an SLO is certainly breached, whatever the rest of the run would
    /// bring (revert faults, tear down, report when and why; exit 1). Also `fail_fast: true`
    /// in a scenario file. Not with `--repeat`, which judges the runs' interval (there
    /// `fail_fast: true` in the file is ignored).
    #[arg(long, conflicts_with = "repeat")]
    pub fail_fast: bool,
    /// Accept any certificate on the scenario's https:// URLs without verifying it, as
    /// `tls: { insecure: true }` (the report says so).
    #[arg(long, short = 'k')]
    pub insecure: bool,
    /// Run each scenario N times (seeds derived from the seed, recorded per run; each run
    /// a fresh stack with its own reports) and judge every SLO on the median's confidence
    /// interval over the N runs (one aggregate report beside the runs').
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: Option<u32>,
    /// With `--repeat`: shift each run's faults by a seeded offset in `[0, D]` (e.g. `2s`),
    /// so the runs sample the system's periodic behaviour (health-check timers, cache
    /// expiry) at different phases instead of one. Recorded per run (its seed).
    #[arg(long, value_name = "D", requires = "repeat", value_parser = parse_duration)]
    pub jitter: Option<std::time::Duration>,
}

/// Runs `chaosgate run`: every file is validated first (any error: exit 2, nothing started),
/// then each scenario in turn. Exit: the worst of the scenarios' codes (2, then 3, then 1, then
/// 4, then 0); 3 as well when a signal interrupted the batch.
pub fn run(args: RunArgs, quiet: bool) -> CommandResult {
    // Validate every file before starting anything: bad input never half-runs a batch.
    let mut scenarios = Vec::new();
    let mut bad = Vec::new();
    for f in &args.files {
        match scenario::load(f) {
            Ok(s) if s.explore.is_some() => {
                bad.push(format!("error: {}", super::error::explore_refused(&s)))
            }
            Ok(s) => scenarios.push(s),
            Err(e) => bad.push(e.to_string()),
        }
    }
    if !bad.is_empty() {
        return Err(CommandError::BadInputs(bad));
    }
    let overrides: BTreeMap<String, String> = args.set.iter().cloned().collect();
    with_runtime(OnSignal::StopRun, |cancel| async move {
        let mut worst = exit_codes::PASS;
        for s in scenarios {
            // One scenario's failure is said at once; the batch goes on (as before).
            let code =
                super::error::finish(run_one(&s, &args, &overrides, quiet, cancel.clone()).await);
            worst = worse(worst, code);
            if cancel.is_cancelled() {
                break;
            }
        }
        Ok(worst)
    })
}

async fn run_one(
    s: &scenario::Scenario,
    args: &RunArgs,
    overrides: &BTreeMap<String, String>,
    quiet: bool,
    cancel: CancellationToken,
) -> CommandResult {
    let insecure;
    let s = if args.insecure && !s.tls.insecure {
        insecure = scenario::Scenario {
            tls: chaosgate_load::TlsPlan {
                insecure: true,
                ..s.tls.clone()
            },
            ..s.clone()
        };
        &insecure
    } else {
        s
    };
    let seed = args.seed.or(s.seed).unwrap_or_else(crate::seed::draw);
    let mut spec = crate::plan::from_scenario(s, seed, overrides)
        .map_err(|e| CommandError::BadInput(format!("{}: {e}", s.path.display())))?;
    if args.fail_fast && spec.fail_fast.is_none() {
        // Advisory SLOs never gate, so they never stop a run either.
        spec.fail_fast = Some(
            spec.absolute_slos()
                .into_iter()
                .filter(|s| s.gates())
                .collect(),
        );
    }
    let progress = Progress::detect(quiet);
    if let (Some(jitter), Some(_)) = (args.jitter, args.repeat) {
        // Refused now, as the gate would refuse it, so that --dry-run says so too.
        crate::gate::jitter_faults(&mut spec.clone(), seed, jitter)
            .map_err(|e| CommandError::BadInput(format!("{}: --jitter: {e}", s.path.display())))?;
    }
    if args.dry_run {
        for w in &s.warnings {
            eprintln!("{w}");
        }
        outln!("{}", crate::report::plan_text::render(&spec));
        return Ok(exit_codes::PASS);
    }
    if let Some(n) = args.repeat {
        let sides = vec![crate::gate::Side {
            name: crate::gate::repeat::SIDE.into(),
            set: Vec::new(),
        }];
        return super::ab_cmd::run_gate(
            s,
            super::ab_cmd::GateArgs {
                kind: crate::report::gate::GateKind::Repeat,
                seed,
                repeat: n as usize,
                common: &args.set,
                sides,
                report_dir: &args.report_dir,
                jitter: args.jitter,
            },
            cancel,
            quiet,
        )
        .await;
    }
    let dir = create_run_dir(&args.report_dir, &s.name).map_err(|e| {
        CommandError::Infrastructure(format!(
            "creating a run directory under {}: {e}",
            args.report_dir.display()
        ))
    })?;
    progress.line(&format!("run {} (seed {seed}) → {}", s.name, dir.display()));
    let single = run_single(&spec, &dir, &args.set, args.keep, cancel, progress).await;
    let Some(report) = &single.report else {
        let why = single.error.unwrap_or_else(|| "no report".into());
        return match single.exit_code {
            exit_codes::BAD_INPUT => Err(CommandError::BadInput(why)),
            _ => Err(CommandError::Infrastructure(why)),
        };
    };
    if !quiet {
        eprintln!("{}", crate::report::render_terminal(report));
    }
    if let Some(cmd) = &single.kept_stack {
        eprintln!("chaosgate: the stack is still up (--keep); remove it with:\n  {cmd}");
    }
    outln!(
        "{} {} → {}",
        crate::report::format::headline(report),
        s.name,
        dir.display()
    );
    Ok(single.exit_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_exit_code_wins() {
        assert_eq!(
            worse(exit_codes::PASS, exit_codes::INCONCLUSIVE),
            exit_codes::INCONCLUSIVE
        );
        assert_eq!(
            worse(exit_codes::SLO_BREACHED, exit_codes::INCONCLUSIVE),
            exit_codes::SLO_BREACHED
        );
        assert_eq!(
            worse(exit_codes::SLO_BREACHED, exit_codes::INFRASTRUCTURE),
            exit_codes::INFRASTRUCTURE
        );
    }
}
