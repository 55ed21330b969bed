//! How a command fails before it has a verdict of its own, and the one place such a failure is
//! printed and turned into its exit code.

use crate::exit_codes;

/// Why a command stopped early. Printed as `error: MESSAGE` by [`CommandError::report`].
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The command line or an input file is wrong; nothing was started (exit 2).
    #[error("{0}")]
    BadInput(String),
    /// The harness or its infrastructure failed: a runtime, a file, Docker (exit 3).
    #[error("{0}")]
    Infrastructure(String),
}

impl CommandError {
    /// The exit code it means.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::BadInput(_) => exit_codes::BAD_INPUT,
            Self::Infrastructure(_) => exit_codes::INFRASTRUCTURE,
        }
    }

    /// Prints `error: MESSAGE` on stderr and returns the exit code.
    pub fn report(self) -> i32 {
        eprintln!("error: {self}");
        self.exit_code()
    }
}
