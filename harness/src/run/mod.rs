//! Orchestration of one run: stack up, load ‖ probes ‖ faults ‖ Docker events on one clock,
//! then teardown (always: on success, error, Ctrl-C and panic) and measurement.

mod backend;
mod execute;
mod fail_fast;
#[cfg(test)]
pub(crate) mod fake;
mod progress;

pub use execute::{RunOptions, execute};
pub use progress::Progress;

/// Why a run failed around the system under test. Every variant is an infrastructure error: exit 3
/// (the CLI maps it); the stack is torn down in
/// every case.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The stack could not be brought up, inspected or torn down.
    #[error(transparent)]
    Stack(#[from] crate::stack::StackError),
    /// A file of the run (events, reports, work files) could not be written.
    #[error("writing the run's files under {path}: {source}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The load generator could not start or failed mid-run; holds its message.
    #[error("the load generator failed: {0}")]
    Load(String),
    /// The stack's Prometheus could not be read at bring-up, or lacks an alert the SLOs name;
    /// holds its message.
    #[error("{0}")]
    Prometheus(String),
    /// Ctrl-C or SIGTERM stopped the run before it finished.
    #[error("interrupted: the run was stopped before it finished (the stack was torn down)")]
    Interrupted,
    /// A task of the run panicked; holds the panic message.
    #[error("the run panicked: {0} (the stack was torn down)")]
    Panicked(String),
}
