//! The plan of one run: what it does, with every name resolved and every random choice
//! already made (fault times, replica picks), and what its verdict is judged on (the SLOs).
//! The runner executes this and nothing else; the verdict and the report read this, never
//! the scenario file. It is the only plan: a scenario becomes one in [`super::from_scenario()`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::WriteReadBack;
use crate::fault::kinds::{Backend, Exec, FaultKind};
use crate::probe::Probe;

/// One run, fully resolved from a scenario and a seed (see [`super::from_scenario()`]).
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The scenario's `name`.
    pub name: String,
    /// The scenario file it was planned from (as given on the command line).
    pub file: PathBuf,
    /// The scenario's `description`.
    pub description: String,
    /// The seed every random choice of the plan was drawn from (`--seed`, the file's `seed`, or
    /// random).
    pub seed: u64,
    /// Compose files, in order (`-f` each); empty for a Kubernetes stack.
    pub compose_files: Vec<PathBuf>,
    /// `stack.existing`: the running compose project the run attaches to (nothing brought up
    /// or torn down); `None`: a fresh project per run.
    pub existing: Option<String>,
    /// Set for a Kubernetes stack (then `compose_files` is empty).
    pub kube: Option<crate::scenario::KubeStackSpec>,
    /// Compose variables: the file's `stack.env` with `--set KEY=VALUE` over it.
    pub env: BTreeMap<String, String>,
    /// The services (workloads) that must all be ready before the run starts.
    pub services: Vec<String>,
    /// How long the stack may take to be ready ([`crate::stack::StackError::NeverHealthy`], exit 3,
    /// after).
    pub ready_timeout: Duration,
    /// The load to send; `None` when the scenario has none.
    pub load: Option<chaosgate_load::LoadPlan>,
    /// The load's writes that are read back after the run (`lost_writes()`); reads never
    /// are.
    pub writes: Vec<WriteReadBack>,
    /// How long the run lasts from the load's start.
    pub duration: Duration,
    /// Probes run all through the run.
    pub probes: Vec<Probe>,
    /// Faults, with their times and targets already drawn.
    pub faults: Vec<PlannedFault>,
    /// N in "recovered = first of N consecutive successful probe checks".
    pub recovery_consecutive: u32,
    /// Every SLO of the scenario, in its order (absolute and relative; `ab` judges the
    /// relative ones).
    pub slos: Vec<crate::slo::Slo>,
    /// `steady_state:`: SLOs over the window before the first fault that must hold for the
    /// run to be judged at all.
    pub steady_state: Vec<crate::slo::Slo>,
    /// `--fail-fast` / `fail_fast: true`: the SLOs watched while the run goes, to stop it as
    /// soon as one is certainly breached (`verdict::early`). `None`: run to the end.
    pub fail_fast: Option<Vec<crate::slo::Slo>>,
    /// The stack's Prometheus and the alerts the SLOs read from it (`detect_time`,
    /// `clear_time`); `None` without a `prometheus:` section.
    pub prometheus: Option<crate::prometheus::PrometheusPlan>,
    /// How `https://` load, probe and read-back URLs are verified (`tls:`).
    pub tls: chaosgate_load::TlsPlan,
}

/// One fault of the seeded plan: what, when, and on which replicas.
#[derive(Debug, Clone)]
pub struct PlannedFault {
    /// The fault's `name` from the scenario.
    pub name: String,
    /// Offset from the run's start (the load's start).
    pub at: Duration,
    /// How long it is held before being reverted; `None` for one-shot actions.
    pub duration: Option<Duration>,
    /// What it is, with its parameters, as validated.
    pub kind: FaultKind,
    /// What the runner does for it on the run's backend (from `kind`).
    pub action: Exec,
    /// The compose service (Kubernetes: workload) it targets.
    pub service: String,
    /// Only the replicas carrying every one of these labels (Docker labels; Kubernetes: pod
    /// labels); empty = every replica of `service`.
    pub labels: BTreeMap<String, String>,
    /// Which of the selected replicas it hits.
    pub pick: Pick,
}

impl RunSpec {
    /// Whether a fault goes through the transparent proxy (its paths are wired at bring-up).
    pub fn has_proxy_faults(&self) -> bool {
        self.faults.iter().any(|f| f.action.is_proxy())
    }

    /// Whether a fault acts on a node (crash, loss, partition): what the Kubernetes node agent
    /// is deployed for. A run whose faults all go through the API deploys none.
    pub fn needs_node_agent(&self) -> bool {
        self.faults.iter().any(|f| f.action.on_node())
    }
}

impl PlannedFault {
    /// A fault of `kind` on every replica of `service` at the run's start, planned for
    /// `backend` (for plans built without a scenario, as tests do).
    pub fn new(name: &str, service: &str, kind: FaultKind, backend: Backend) -> Self {
        Self {
            name: name.into(),
            at: Duration::ZERO,
            duration: None,
            action: kind.exec(backend),
            kind,
            service: service.into(),
            labels: BTreeMap::new(),
            pick: Pick::All,
        }
    }

    /// The link a proxy fault intercepts (wired at bring-up); `None` for other faults.
    pub fn proxy_link(&self) -> Option<&crate::fault::network::Link> {
        use crate::fault::network::NetworkAction;
        // Every family named: a new executor must say whether it has a link.
        match &self.action {
            Exec::Network(NetworkAction::Proxy { link, .. }) => Some(link),
            Exec::Network(
                NetworkAction::Loss { .. }
                | NetworkAction::Partition { .. }
                | NetworkAction::Isolate
                | NetworkAction::Dns { .. },
            )
            | Exec::Container(_)
            | Exec::Kube(_)
            | Exec::Resource(_)
            | Exec::Rollout { .. } => None,
        }
    }

    /// The target as messages name it: `` service `gateway` `` or
    /// `` workload `gateway` with labels track=canary `` (`kind` is "service" or "workload").
    pub fn target_text(&self, kind: &str) -> String {
        match self.labels_text() {
            Some(labels) => format!("{kind} `{}` with labels {labels}", self.service),
            None => format!("{kind} `{}`", self.service),
        }
    }

    /// The label selector as `k=v,k2=v2`; `None` when it has none.
    pub fn labels_text(&self) -> Option<String> {
        (!self.labels.is_empty()).then(|| {
            let labels: Vec<String> = self
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            labels.join(",")
        })
    }
}

impl RunSpec {
    /// The SLOs a single run judges: every one but the relative ones (those need a baseline).
    pub fn absolute_slos(&self) -> Vec<crate::slo::Slo> {
        self.slos
            .iter()
            .filter(|x| !x.is_relative())
            .cloned()
            .collect()
    }
}

/// Which of a service's replicas a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// Every replica.
    All,
    /// Replica number 1.
    First,
    /// The replica at `draw % replicas` (the draw comes from the seeded plan).
    Random {
        /// A random number drawn from the run's seed.
        draw: u64,
    },
    /// The first `size` replicas (by number).
    FirstN {
        /// How many replicas: a count N, or a share in permille (rounded up, at least one).
        size: crate::scenario::BlastSize,
    },
    /// `size` replicas drawn without replacement, the replicas shuffled with `draw` as seed.
    Sample {
        /// A random number drawn from the run's seed, shuffling the replicas.
        draw: u64,
        /// How many replicas: a count N, or a share in permille (rounded up, at least one).
        size: crate::scenario::BlastSize,
    },
}
