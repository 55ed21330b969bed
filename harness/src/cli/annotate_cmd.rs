//! `chaosgate annotate REPORT...`: prints GitHub Actions workflow commands for reports, one
//! `::error` per breached SLO and one `::warning` per inconclusive SLO (the composite action
//! runs it after each run; see docs/github-action.md).

use std::path::PathBuf;

use clap::Args;

use super::error::{CommandError, CommandResult};
use crate::exit_codes;
use crate::report::github;

/// Arguments of `chaosgate annotate`.
#[derive(Debug, Args)]
pub struct AnnotateArgs {
    /// `report.json` files, or run directories holding one.
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<PathBuf>,
    /// Annotation paths are made relative to this directory (the repository root); defaults
    /// to `$GITHUB_WORKSPACE`, else the paths are kept as the runs named them.
    #[arg(long, value_name = "DIR", env = "GITHUB_WORKSPACE")]
    pub workspace: Option<PathBuf>,
}

/// Prints the annotations of every readable report; exit 0, or 2 when any report could not be
/// read (the others are still annotated). The verdict is not an exit code here: `run` gave it.
pub fn run(args: AnnotateArgs) -> CommandResult {
    let cwd = std::env::current_dir().unwrap_or_default();
    let place = github::Place {
        workspace: args.workspace.map(|w| cwd.join(w)),
        cwd,
    };
    let mut bad = Vec::new();
    for path in &args.reports {
        match github::read(path) {
            Ok(gate) => out!("{}", github::render(&gate, &place)),
            Err(e) => bad.push(format!("error: reading report {}: {e}", path.display())),
        }
    }
    if bad.is_empty() {
        Ok(exit_codes::PASS)
    } else {
        Err(CommandError::BadInputs(bad))
    }
}
