//! Orchestration of one run: stack up, load ‖ probes ‖ faults ‖ Docker events on one clock,
//! then teardown (always: on success, error, Ctrl-C and panic) and measurement.

mod execute;
mod fail_fast;
mod from_scenario;
mod progress;
mod spec;

pub use execute::{RunArtifacts, RunOptions, execute};
pub use from_scenario::{PlanError, describe_plan, from_scenario};
pub use progress::Progress;
pub use spec::{FaultAction, Pick, PlannedFault, RunSpec, WriteReadBack};

/// Writes every report file of a judged run into its directory.
pub fn write_reports(report: &crate::report::Report, dir: &std::path::Path) -> std::io::Result<()> {
    crate::report::write_all(report, dir).map(|_| ())
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Stack(#[from] crate::stack::StackError),
    #[error("writing the run's files under {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the load generator failed: {0}")]
    Load(String),
    #[error("interrupted: the run was stopped before it finished (the stack was torn down)")]
    Interrupted,
    #[error("the run panicked: {0} (the stack was torn down)")]
    Panicked(String),
}
