//! What one run produced: the event log every figure is measured from, what was measured from
//! it, and what happened around it. Written by the runner (`run/`), read by the reports and
//! the gate; defined here, below both, so neither reaches into the other.

use std::path::PathBuf;
use std::time::Duration;

use crate::fault::FaultRecord;
use crate::measure::Analysis;
use crate::stack::ContainerInfo;

/// Everything a run produced, for measurement and reporting.
pub struct RunArtifacts {
    /// The compose project name, or the Kubernetes namespace: `cg-<scenario name, cleaned>-<run
    /// id>`.
    pub project: String,
    /// This run's ID, unique per run (in labels, file names and the report).
    pub run_id: String,
    /// The run clock's origin, in ns since the Unix epoch: run-clock ns + this = wall time.
    pub started_unix_ns: i128,
    /// The run's `events.jsonl` (the timeline every figure is measured from).
    pub events_path: PathBuf,
    /// What was measured from `events_path`.
    pub analysis: Analysis,
    /// What happened to each planned fault, in plan order.
    pub faults: Vec<FaultRecord>,
    /// The lost-writes check, when the load writes with unique ids.
    pub writes: Option<crate::measure::WriteCheck>,
    /// The stack's containers (Kubernetes: pods) as last seen before teardown.
    pub containers: Vec<ContainerInfo>,
    /// The load generator's own summary; `None` when the scenario has no load.
    pub load: Option<chaosgate_load::LoadSummary>,
    /// Stack up → all ready.
    pub ready_after: Duration,
    /// Wall time of the measured part (load start → last fault reverted).
    pub measured_for: Duration,
    /// Wall time the teardown took.
    pub teardown_took: Duration,
    /// Set with `keep`: the command that removes the stack.
    pub kept_stack: Option<String>,
    /// Remarks for the report about how the run went (things worth knowing that are not SLOs).
    pub notes: Vec<String>,
    /// Set when `--fail-fast` stopped the run early: when and why.
    pub stopped_early: Option<crate::verdict::early::EarlyStop>,
}
