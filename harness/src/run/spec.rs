//! What one run does, with every name resolved and every random choice already made
//! (the seeded plan): the runner executes this and nothing else.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::fault::container::ContainerAction;
use crate::fault::network::NetworkAction;
pub use crate::measure::lost_writes::WriteReadBack;
use crate::probe::Probe;

#[derive(Debug, Clone)]
pub struct RunSpec {
    pub name: String,
    pub seed: u64,
    pub compose_files: Vec<PathBuf>,
    /// Set for a Kubernetes stack (then `compose_files` is empty).
    pub kube: Option<crate::scenario::KubeStackSpec>,
    pub env: BTreeMap<String, String>,
    pub services: Vec<String>,
    pub ready_timeout: Duration,
    pub load: Option<chaosgate_load::LoadPlan>,
    /// The load's writes that are read back after the run (`lost_writes()`); reads never
    /// are.
    pub writes: Vec<WriteReadBack>,
    /// How long the run lasts from the load's start.
    pub duration: Duration,
    pub probes: Vec<Probe>,
    pub faults: Vec<PlannedFault>,
    /// N in "recovered = first of N consecutive successful probe checks".
    pub recovery_consecutive: u32,
    /// `--fail-fast` / `fail_fast: true`: the SLOs watched while the run goes, to stop it as
    /// soon as one is certainly breached (`verdict::early`). `None`: run to the end.
    pub fail_fast: Option<Vec<crate::slo::Slo>>,
}

#[derive(Debug, Clone)]
pub struct PlannedFault {
    pub name: String,
    /// Offset from the run's start (the load's start).
    pub at: Duration,
    pub duration: Option<Duration>,
    pub action: FaultAction,
    pub service: String,
    pub pick: Pick,
}

#[derive(Debug, Clone)]
pub enum FaultAction {
    Container(ContainerAction),
    /// `name` is the scenario's action name (`latency`, `loss`, ...).
    Network {
        name: &'static str,
        action: NetworkAction,
    },
    /// A fault on a Kubernetes stack (fault/kube.rs).
    Kube(crate::fault::kube::KubeAction),
    /// A deploy under load (fault/rollout.rs): one-shot, never reverted.
    Rollout {
        strategy: crate::fault::rollout::Strategy,
        set: BTreeMap<String, String>,
    },
}

impl FaultAction {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Container(a) => a.name(),
            Self::Network { name, .. } => name,
            Self::Rollout { .. } => "rollout",
            Self::Kube(a) => a.name(),
        }
    }

    /// Whether the fault is held for its `duration` and then reverted (crash and restart are
    /// one-shot: the stack's own recovery ends them).
    pub fn holds(&self) -> bool {
        if let Self::Kube(a) = self {
            return a.holds();
        }
        !matches!(
            self,
            Self::Container(ContainerAction::Crash | ContainerAction::Restart)
                | Self::Rollout { .. }
        )
    }
}

/// Which of a service's replicas a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    All,
    First,
    /// The replica at `draw % replicas` (the draw comes from the seeded plan).
    Random {
        draw: u64,
    },
    /// The first `size` replicas (by number).
    FirstN {
        size: crate::scenario::BlastSize,
    },
    /// `size` replicas drawn without replacement, the replicas shuffled with `draw` as seed.
    Sample {
        draw: u64,
        size: crate::scenario::BlastSize,
    },
}
