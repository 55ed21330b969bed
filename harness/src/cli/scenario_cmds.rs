//! `chaosgate validate`, `list` and `schema`: the scenario format without running anything.

use std::path::PathBuf;

use clap::Args;

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
pub fn validate(args: ValidateArgs, quiet: bool) -> i32 {
    let mut code = exit_codes::PASS;
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
                eprintln!(
                    "error: {}: no scenario files (*.yaml, *.yml) in it",
                    f.display()
                );
                code = exit_codes::BAD_INPUT;
            }
            Ok(found) => files.extend(found),
            Err(e) => {
                eprintln!("error: {}: cannot read directory: {e}", f.display());
                code = exit_codes::BAD_INPUT;
            }
        }
    }
    for f in &files {
        match scenario::load(f) {
            Ok(s) => {
                // The planning `run` does, so that whatever `validate` accepts also runs.
                let seed = s.seed.unwrap_or(0);
                let spec = match crate::run::from_scenario(&s, seed, &Default::default()) {
                    Ok(spec) => spec,
                    Err(e) => {
                        eprintln!("error: {}: {e}", f.display());
                        code = exit_codes::BAD_INPUT;
                        continue;
                    }
                };
                // Not errors: the run is valid, but these SLOs can never be decided.
                for w in crate::verdict::resolution::warnings(&spec, &spec.slos) {
                    eprintln!("warning: {}: {w}", f.display());
                }
                if !quiet {
                    outln!(
                        "ok  {}  ({}: {} probe(s), {} fault(s), {} SLO(s))",
                        f.display(),
                        s.name,
                        s.probes.len(),
                        s.faults.len(),
                        s.slos.len()
                    );
                }
            }
            Err(e) => {
                eprintln!("{e}");
                code = exit_codes::BAD_INPUT;
            }
        }
    }
    code
}

/// Prints one line per scenario file in `args.dir` (name, path, description). Exit 2 when the
/// directory is missing or any file in it is invalid, else 0.
pub fn list(args: ListArgs) -> i32 {
    if !args.dir.is_dir() {
        eprintln!("error: {} is not a directory", args.dir.display());
        return exit_codes::BAD_INPUT;
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
    code
}

/// Prints the scenario format's JSON Schema on stdout. Exit 0, or 3 if it cannot be rendered.
pub fn schema() -> i32 {
    match serde_json::to_string_pretty(&scenario::json_schema()) {
        Ok(s) => {
            outln!("{s}");
            exit_codes::PASS
        }
        Err(e) => {
            eprintln!("error: rendering the schema: {e}");
            exit_codes::INFRASTRUCTURE
        }
    }
}
