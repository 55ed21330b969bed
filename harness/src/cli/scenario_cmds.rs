//! `chaosgate validate`, `list` and `schema`: the scenario format without running anything.

use std::path::PathBuf;

use clap::Args;

use super::error::{CommandError, CommandResult};
use crate::exit_codes;
use crate::scenario;

/// Arguments of `chaosgate validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario files to check; a directory stands for every `*.yaml`/`*.yml` file directly in
    /// it (as `chaosgate list` shows them).
    #[arg(required = true, value_name = "FILE|DIR")]
    pub files: Vec<PathBuf>,
}

/// Arguments of `chaosgate list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Directory to look in.
    #[arg(default_value = "scenarios", value_name = "DIR")]
    pub dir: PathBuf,
}

/// Every file is checked and every error printed (with file, line and column); exit 2 when
/// any file has one.
pub fn validate(args: ValidateArgs, quiet: bool) -> CommandResult {
    let mut bad = Vec::new();
    let mut files = Vec::new();
    for f in args.files {
        if !f.is_dir() {
            files.push(f);
            continue;
        }
        match scenario::files_in(&f) {
            // An empty directory checks nothing: a gate that "validated" no file would pass a
            // misspelt path.
            Ok(found) if found.is_empty() => {
                bad.push(format!(
                    "error: {}: no scenario files (*.yaml, *.yml) in it",
                    f.display()
                ));
            }
            Ok(found) => files.extend(found),
            Err(e) => {
                bad.push(format!(
                    "error: {}: cannot read directory: {e}",
                    f.display()
                ));
            }
        }
    }
    for f in &files {
        match scenario::load(f) {
            Ok(s) => {
                // The planning `run` does, so that whatever `validate` accepts also runs.
                let seed = s.seed.unwrap_or(0);
                let spec = match crate::plan::from_scenario(&s, seed, &Default::default()) {
                    Ok(spec) => spec,
                    Err(e) => {
                        bad.push(format!("error: {}: {e}", f.display()));
                        continue;
                    }
                };
                // What the file leaves to be checked at bring-up (a port no compose file
                // declares), with its place in the file.
                for w in &s.warnings {
                    eprintln!("{w}");
                }
                // Not errors: the run is valid, but these SLOs can never be decided.
                for w in crate::verdict::resolution::warnings(
                    &spec,
                    &[spec.steady_state.clone(), spec.slos.clone()].concat(),
                ) {
                    eprintln!("warning: {}: {w}", f.display());
                }
                if !quiet {
                    // An explore scenario's faults are drawn: say what they are drawn from.
                    let space = s.explore.as_ref().map_or_else(String::new, |e| {
                        format!(
                            ", a fault space of {} template(s) drawn {}-{} per schedule",
                            e.templates.len(),
                            e.min_faults,
                            e.max_faults
                        )
                    });
                    outln!(
                        "ok  {}  ({}: {} probe(s), {} fault(s){space}, {} SLO(s))",
                        f.display(),
                        s.name,
                        s.probes.len(),
                        s.faults.len(),
                        s.slos.len()
                    );
                }
            }
            Err(e) => bad.push(e.to_string()),
        }
    }
    if bad.is_empty() {
        Ok(exit_codes::PASS)
    } else {
        Err(CommandError::BadInputs(bad))
    }
}

/// Prints one line per scenario file in `args.dir` (name, path, description). Exit 2 when the
/// directory is missing or any file in it is invalid, else 0.
pub fn list(args: ListArgs) -> CommandResult {
    if !args.dir.is_dir() {
        return Err(CommandError::BadInput(format!(
            "{} is not a directory",
            args.dir.display()
        )));
    }
    let mut code = exit_codes::PASS;
    for (path, result) in scenario::discover(&args.dir) {
        match result {
            Ok(s) => outln!("{:<24} {:<40} {}", s.name, path.display(), s.description),
            Err(e) => {
                outln!(
                    "{:<24} {:<40} INVALID (see `chaosgate validate`)",
                    "-",
                    path.display()
                );
                tracing::debug!("{e}");
                code = exit_codes::BAD_INPUT;
            }
        }
    }
    Ok(code)
}

/// Prints the scenario format's JSON Schema on stdout. Exit 0, or 3 if it cannot be rendered.
pub fn schema() -> CommandResult {
    let s = serde_json::to_string_pretty(&scenario::json_schema())
        .map_err(|e| CommandError::Infrastructure(format!("rendering the schema: {e}")))?;
    outln!("{s}");
    Ok(exit_codes::PASS)
}
