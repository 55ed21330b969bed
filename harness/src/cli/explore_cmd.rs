//! `chaosgate explore`: a campaign over a scenario's fault space; the real [`Runner`] (a fresh
//! stack per run, judged as `run` judges it) and the campaign's files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use tokio_util::sync::CancellationToken;

use super::args::{create_run_dir, parse_duration, parse_key_value};
use super::error::{CommandError, CommandResult};
use super::runtime::{OnSignal, with_runtime};
use crate::explore::{Outcome, Runner, Settings};
use crate::gate::run_single;
use crate::report::campaign::{self, RunRole};
use crate::run::Progress;
use crate::scenario::{self, Scenario};
use crate::verdict::Verdict;

/// Arguments of `chaosgate explore`.
#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// A scenario with an `explore:` section (its fault space).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The campaign's seed (overrides the file's `seed:`; without either one is drawn): the
    /// same seed draws the same schedules. 0 to 2^53 − 1.
    #[arg(long, value_parser = crate::seed::parse)]
    pub seed: Option<u64>,
    /// Most schedules to explore.
    #[arg(long, default_value_t = 20, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub runs: u32,
    /// Wall-clock budget for exploring and shrinking (e.g. `20m`); a run that would not
    /// finish inside it (judged by the longest run so far) is not started.
    #[arg(long, default_value = "30m", value_name = "D", value_parser = parse_duration)]
    pub budget: Duration,
    /// Explore on after the first failing schedule (the first is the one shrunk).
    #[arg(long)]
    pub keep_going: bool,
    /// Where the campaign's directory is created (`<dir>/<scenario>-explore-<time>/`).
    #[arg(long, default_value = "reports", value_name = "DIR")]
    pub report_dir: PathBuf,
    /// Set a stack variable for every run (e.g. a bad build's switch), as `run --set`.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
    /// Print the first `--runs` schedules the seed draws; run nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs `chaosgate explore`. Exit: 0 no failing schedule found in what was explored, 1 one
/// found (`minimal.yaml` written), 2 bad input (no `explore:` section, a bad space), 3 a run
/// failed around the system or the campaign was interrupted, 4 nothing conclusive explored.
pub fn run(args: ExploreArgs, quiet: bool) -> CommandResult {
    let s = scenario::load(&args.file).map_err(|e| CommandError::BadInputs(vec![e.to_string()]))?;
    let Some(space) = &s.explore else {
        return Err(CommandError::BadInput(format!(
            "{}: has no `explore:` section (a fault space); run it with `chaosgate run`",
            s.path.display()
        )));
    };
    let seed = args.seed.or(s.seed).unwrap_or_else(crate::seed::draw);
    let overrides: BTreeMap<String, String> = args.set.iter().cloned().collect();
    // Checked now, as every run would check it: a bad --set is exit 2 before anything starts.
    crate::plan::from_scenario(&s, seed, &overrides)
        .map_err(|e| CommandError::BadInput(format!("{}: {e}", s.path.display())))?;
    // A space whose draws never validate (e.g. more faults than services in a one-point
    // window) is the scenario's mistake: said before anything starts.
    let first_seed = crate::seed::derive(seed, 1)[0];
    if crate::explore::draw::draw(space, first_seed, |f| {
        space.scenario(f, first_seed, &s.path).is_ok()
    })
    .is_none()
    {
        return Err(CommandError::BadInput(format!(
            "{}: explore: no valid schedule in {} draws from seed {first_seed}: its faults keep overlapping on one service (two faults on one service may not overlap); widen `window`, lower `faults.max` or add templates on other services",
            s.path.display(),
            crate::explore::draw::MAX_DRAWS
        )));
    }
    if args.dry_run {
        for (i, run_seed) in crate::seed::derive(seed, args.runs as usize)
            .into_iter()
            .enumerate()
        {
            match crate::explore::draw::draw(space, run_seed, |f| {
                space.scenario(f, run_seed, &s.path).is_ok()
            }) {
                Some(faults) => {
                    outln!("schedule {} (seed {run_seed}):", i + 1);
                    for line in crate::explore::describe(space, &faults) {
                        outln!("  {line}");
                    }
                }
                None => outln!("schedule {} (seed {run_seed}): no valid draw", i + 1),
            }
        }
        return Ok(crate::exit_codes::PASS);
    }
    let settings = Settings {
        seed,
        runs: args.runs as usize,
        budget: args.budget,
        keep_going: args.keep_going,
        set: args.set.clone(),
    };
    with_runtime(OnSignal::StopRun, |cancel| async move {
        let dir =
            create_run_dir(&args.report_dir, &format!("{}-explore", s.name)).map_err(|e| {
                CommandError::Infrastructure(format!(
                    "creating a run directory under {}: {e}",
                    args.report_dir.display()
                ))
            })?;
        if !quiet {
            eprintln!(
                "chaosgate: explore {} (seed {seed}, up to {} schedules, budget {}) → {}",
                s.name,
                settings.runs,
                crate::units::format_duration(settings.budget),
                dir.display()
            );
        }
        let runner = StackRunner {
            dir: &dir,
            set: &args.set,
            overrides: &overrides,
            cancel: cancel.clone(),
            quiet,
        };
        let done =
            crate::explore::run_campaign(&s, runner, &settings, crate::gate::now_rfc3339()).await;
        if let Some(text) = &done.minimal_yaml {
            std::fs::write(dir.join(campaign::MINIMAL_FILE), text).map_err(|e| {
                CommandError::Infrastructure(format!("writing {}: {e}", campaign::MINIMAL_FILE))
            })?;
        }
        campaign::write_all(&done.report, &dir).map_err(|e| {
            CommandError::Infrastructure(format!("writing reports to {}: {e}", dir.display()))
        })?;
        if !quiet {
            eprint!("{}", campaign::terminal(&done.report));
        }
        outln!(
            "{} {}-explore → {}",
            done.report.verdict.word(),
            s.name,
            dir.display()
        );
        Ok(done.report.exit_code)
    })
}

/// Runs each concrete scenario as `chaosgate run` would, into `<campaign>/runs/NNN-role/`.
struct StackRunner<'a> {
    dir: &'a Path,
    set: &'a [(String, String)],
    overrides: &'a BTreeMap<String, String>,
    cancel: CancellationToken,
    quiet: bool,
}

impl Runner for StackRunner<'_> {
    async fn run(
        &mut self,
        scenario: &Scenario,
        index: usize,
        role: RunRole,
        faults: &[String],
    ) -> Outcome {
        let started = Instant::now();
        let seed = scenario.seed.unwrap_or_default();
        let name = format!(
            "{index:03}-{}",
            serde_json::to_value(role)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        );
        let relative = PathBuf::from("runs").join(&name);
        let dir = self.dir.join(&relative);
        let failed = |exit_code, error: String| Outcome {
            exit_code,
            breached: Vec::new(),
            dir: None,
            error: Some(error),
            elapsed: started.elapsed(),
        };
        let spec = match crate::plan::from_scenario(scenario, seed, self.overrides) {
            Ok(spec) => spec,
            Err(e) => return failed(crate::exit_codes::BAD_INPUT, e.to_string()),
        };
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return failed(
                crate::exit_codes::INFRASTRUCTURE,
                format!("creating {}: {e}", dir.display()),
            );
        }
        if !self.quiet {
            eprintln!(
                "chaosgate: run {index} ({name}, seed {seed}): {}",
                faults.join("; ")
            );
        }
        let single = run_single(
            &spec,
            &dir,
            self.set,
            false,
            self.cancel.clone(),
            Progress::detect(true),
        )
        .await;
        let breached = single
            .report
            .as_ref()
            .map(|r| {
                r.steady_state
                    .iter()
                    .chain(&r.slos)
                    .filter(|slo| slo.verdict == Verdict::Breached && !slo.advisory)
                    .map(|slo| slo.expression.clone())
                    .collect()
            })
            .unwrap_or_default();
        if !self.quiet {
            let headline = single
                .report
                .as_ref()
                .map(crate::report::format::headline)
                .unwrap_or_else(|| format!("FAILED: {}", single.error.as_deref().unwrap_or("")));
            eprintln!("chaosgate: run {index}: {headline}");
        }
        Outcome {
            exit_code: single.exit_code,
            breached,
            dir: Some(relative),
            error: single.error,
            elapsed: started.elapsed(),
        }
    }

    fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}
