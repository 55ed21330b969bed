//! Command-line definitions (clap derive) and the mapping of errors to exit codes.

/// `println!` to stdout, except that a closed stdout (`chaosgate list | head`) is not a panic:
/// what was not read is dropped, as ripgrep does.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

/// `print!` to stdout, as [`outln`].
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($t)*);
    }};
}

pub mod ab_cmd;
pub mod agent_cmd;
pub mod annotate_cmd;
pub mod args;
pub mod compare_cmd;
pub mod error;
pub mod explore_cmd;
pub mod load_cmd;
pub mod run_cmd;
pub mod runtime;
pub mod scenario_cmds;

use clap::{Parser, Subcommand};

use crate::exit_codes;

#[derive(Debug, Parser)]
#[command(
    name = "chaosgate",
    version,
    about = "Chaos and validation harness that gates releases on client-observed SLOs",
    after_help = exit_codes::help_table()
)]
/// The parsed command line: global flags and the subcommand.
pub struct Cli {
    /// More log output (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Less output: only the verdict and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands; each returns its process exit code (see `exit_codes`).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios: bring the stack up, load it, inject faults, judge the SLOs, write reports.
    Run(run_cmd::RunArgs),
    /// Check scenario files (errors with file, line and column; exit 2 on any).
    Validate(scenario_cmds::ValidateArgs),
    /// List the scenarios in a directory.
    List(scenario_cmds::ListArgs),
    /// Print the JSON Schema of the scenario format.
    Schema,
    /// A/B release gate: run a candidate and a baseline build (compose variables) under the
    /// same seeded fault schedule and judge relative SLOs (`<= baseline * 1.2`).
    Ab(ab_cmd::AbArgs),
    /// Nightly chaos that searches: draw fault schedules from a scenario's `explore:` space
    /// under one seed, run each on a fresh stack, and shrink the first failing one to a
    /// minimal scenario (`minimal.yaml`) that `run` replays.
    Explore(explore_cmd::ExploreArgs),
    /// Compare two report.json files and flag regressions (exit 1 when any, the run verdict
    /// included; exit 4 when a report was inconclusive as a whole, so nothing can be compared).
    Compare(compare_cmd::CompareArgs),
    /// Print GitHub Actions annotations for reports (::error per breached SLO, ::warning per
    /// inconclusive or advisory one and per run-level issue).
    Annotate(annotate_cmd::AnnotateArgs),
    /// Drive open-model HTTP load at a URL and print latency percentiles.
    Load(load_cmd::LoadArgs),
    /// The node agent of Kubernetes runs (`stack.kubernetes.agent`): a run deploys it as a
    /// DaemonSet and drives it; not started by hand.
    Agent(agent_cmd::AgentArgs),
    /// Internal: started by `run`; removes the run's stack if `run` dies without doing so.
    #[command(name = crate::stack::reaper::SUBCOMMAND, hide = true)]
    Reaper(ReaperArgs),
}

/// Arguments of the hidden `reaper` subcommand.
#[derive(Debug, clap::Args)]
pub struct ReaperArgs {
    /// The compose project to remove.
    #[arg(long)]
    pub project: String,
    /// Where to write what was removed.
    #[arg(long)]
    pub log: std::path::PathBuf,
}

/// Logs go to stderr; `RUST_LOG` wins over `-v`/`-q`.
fn init_logging(verbose: u8, quiet: bool, agent: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        // The agent's log is what `kubectl logs` shows of it: each action, by default.
        (false, 0) if agent => "info",
        (false, 0) => "warn",
        (false, 1) => "info,chaosgate=debug",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Parses the process arguments, runs the command and returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit_codes::BAD_INPUT
            } else {
                exit_codes::PASS
            };
        }
    };
    init_logging(
        cli.verbose,
        cli.quiet,
        matches!(cli.command, Command::Agent(_)),
    );
    error::finish(match cli.command {
        // Still single-threaded here (logging starts no thread), as the reaper's fork needs.
        Command::Reaper(args) => Ok(crate::stack::reaper::watch(&args.project, &args.log)),
        Command::Run(args) => run_cmd::run(args, cli.quiet),
        Command::Load(args) => load_cmd::run(args, cli.quiet),
        Command::Agent(args) => agent_cmd::run(args),
        Command::Validate(args) => scenario_cmds::validate(args, cli.quiet),
        Command::List(args) => scenario_cmds::list(args),
        Command::Schema => scenario_cmds::schema(),
        Command::Compare(args) => compare_cmd::run(args),
        Command::Annotate(args) => annotate_cmd::run(args),
        Command::Ab(args) => ab_cmd::run(args, cli.quiet),
        Command::Explore(args) => explore_cmd::run(args, cli.quiet),
    })
}
