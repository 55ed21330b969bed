//! How a command fails before it has a verdict of its own, and the one place such a failure is
//! printed and turned into its exit code ([`finish`], called once by `cli::main`).

use crate::exit_codes;

/// What every command returns: its exit code (a verdict, or 0), or why it could not get one.
pub type CommandResult = Result<i32, CommandError>;

/// Why a command stopped early. Printed by [`finish`]: `error: MESSAGE`, or each problem of
/// [`CommandError::BadInputs`] as it is written (scenario diagnostics carry their own
/// `file:line:column` heading).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The command line or an input file is wrong; nothing was started (exit 2).
    #[error("{0}")]
    BadInput(String),
    /// Several inputs are wrong, each said in full (every scenario file of a batch, both
    /// reports of a comparison); nothing was started (exit 2).
    #[error("{}", .0.join("\n"))]
    BadInputs(Vec<String>),
    /// The harness or its infrastructure failed: a runtime, a file, Docker (exit 3).
    #[error("{0}")]
    Infrastructure(String),
}

impl CommandError {
    /// The exit code it means.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::BadInput(_) | Self::BadInputs(_) => exit_codes::BAD_INPUT,
            Self::Infrastructure(_) => exit_codes::INFRASTRUCTURE,
        }
    }
}

/// The process exit code of a command's result; an error is printed here, once, on stderr.
pub fn finish(result: CommandResult) -> i32 {
    match result {
        Ok(code) => code,
        Err(e) => {
            match &e {
                CommandError::BadInputs(all) => {
                    for m in all {
                        eprintln!("{m}");
                    }
                }
                other => eprintln!("error: {other}"),
            }
            e.exit_code()
        }
    }
}

/// Why `run` and `ab` refuse a scenario with a fault space: its faults are not a schedule, and
/// running it without them would judge a run that injected nothing it describes.
pub fn explore_refused(s: &crate::scenario::Scenario) -> String {
    format!(
        "{}: has an `explore:` section (a fault space, not a schedule); run it with `chaosgate explore {}`",
        s.path.display(),
        s.path.display()
    )
}
