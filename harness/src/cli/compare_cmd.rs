//! `chaosgate compare OLD NEW`: flags what regressed since the previous release's report.

use std::path::PathBuf;

use clap::Args;

use super::error::{CommandError, CommandResult};
use crate::report;

/// Arguments of `chaosgate compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline report (e.g. the previous release's `report.json`).
    pub old: PathBuf,
    /// The report to judge.
    pub new: PathBuf,
    /// Relative change tolerated before a figure counts as regressed (0.1 = 10 %).
    #[arg(long, default_value_t = 0.1)]
    pub tolerance: f64,
    /// Print the comparison as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Exit 0 when nothing regressed, 1 when something did (the run verdict included), 4 when a
/// report was inconclusive as a whole (its figures cannot be compared), 2 for unreadable
/// reports.
pub fn run(args: CompareArgs) -> CommandResult {
    if !(args.tolerance >= 0.0 && args.tolerance.is_finite()) {
        return Err(CommandError::BadInput(format!(
            "--tolerance must be a non-negative number, got {}",
            args.tolerance
        )));
    }
    let read = |p: &PathBuf| {
        report::json::read(p).map_err(|e| format!("error: reading report {}: {e}", p.display()))
    };
    let (old, new) = match (read(&args.old), read(&args.new)) {
        (Ok(old), Ok(new)) => (old, new),
        // Both are said, so that one run fixes both paths.
        (old, new) => {
            return Err(CommandError::BadInputs(
                [old.err(), new.err()].into_iter().flatten().collect(),
            ));
        }
    };
    if let Some(w) = scenario_hash_warning(&old, &new) {
        eprintln!("chaosgate: warning: {w}");
    }
    let cmp = report::compare(&old, &new, args.tolerance);
    if args.json {
        match serde_json::to_string_pretty(&cmp) {
            Ok(s) => outln!("{s}"),
            Err(e) => return Err(CommandError::Infrastructure(e.to_string())),
        }
    } else {
        out!("{cmp}");
    }
    Ok(cmp.exit_code())
}

/// Two reports of different scenario files (by their recorded SHA-256) compare different
/// experiments: worth a warning, not a refusal (a comment edit changes the hash too).
fn scenario_hash_warning(old: &report::Report, new: &report::Report) -> Option<String> {
    let hash = |r: &report::Report| r.provenance.as_ref()?.scenario.sha256.clone();
    match (hash(old), hash(new)) {
        (Some(a), Some(b)) if a != b => Some(format!(
            "the reports ran different scenario files (sha256 {} vs {}): the comparison may \
             not be like for like",
            &a[..a.len().min(12)],
            &b[..b.len().min(12)]
        )),
        _ => None,
    }
}
