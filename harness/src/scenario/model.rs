//! The validated scenario: every name checked, every duration and rate typed, every path
//! absolute. This is what the runner consumes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::slo::Slo;

#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub seed: Option<u64>,
    pub stack: StackSpec,
    pub load: Option<LoadSpec>,
    /// Total run time from the start of the load.
    pub duration: Duration,
    /// N in "recovered = first of N consecutive successful probe checks".
    pub recovery_consecutive: u32,
    pub probes: Vec<ProbeSpec>,
    pub faults: Vec<FaultSpec>,
    pub slos: Vec<Slo>,
    /// Stop as soon as an SLO is certainly breached (`fail_fast: true` or `--fail-fast`).
    pub fail_fast: bool,
    /// The scenario file (absolute).
    pub path: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct StackSpec {
    /// Absolute paths, in the order given (empty for a Kubernetes stack).
    pub compose_files: Vec<PathBuf>,
    /// Set for a Kubernetes stack (then `services` are its Services and workloads).
    pub kubernetes: Option<KubeStackSpec>,
    pub env: BTreeMap<String, String>,
    pub ready_timeout: Duration,
    /// Service names declared by the compose files (sorted, deduplicated).
    pub services: Vec<String>,
}

/// `stack.kubernetes`, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KubeStackSpec {
    /// Manifest files (absolute; folders expanded in name order), applied in this order.
    pub manifests: Vec<PathBuf>,
    /// `None`: a fresh namespace per run.
    pub namespace: Option<String>,
    /// Attach to `namespace`: nothing applied, nothing deleted.
    pub existing: bool,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// Where NodePort Services are reached from the harness.
    pub node_address: String,
}

/// `http://SERVICE:PORT/path?query`, split so the runner can map service:port to an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpTarget {
    /// The URL as written.
    pub url: String,
    pub service: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path_and_query: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadSpec {
    pub requests: Vec<RequestSpec>,
    pub rate: RateSpec,
    pub duration: Duration,
    pub timeout: Duration,
    pub max_in_flight: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestSpec {
    pub method: String,
    pub target: HttpTarget,
    /// Template: `{{id}}` is replaced by a unique id per request.
    pub body: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub weight: u32,
    /// Whether the request changes state (POST, PUT, PATCH, DELETE unless the file says).
    pub write: bool,
    /// For a write carrying `{{id}}`: the URL its id is read back from after the run, `{id}`
    /// standing for the id (2xx = kept, 404 = lost). `None` for every other request: reads
    /// are never read back.
    pub read_back: Option<String>,
}

/// Arrival rate in requests per second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum RateSpec {
    Constant(f64),
    /// Linear from `from` to `to` over the load's duration.
    Ramp {
        from: f64,
        to: f64,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbeSpec {
    pub name: String,
    pub kind: ProbeKind,
    pub every: Duration,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ProbeKind {
    /// GET and expect `status` (any 2xx when `None`).
    Http {
        target: HttpTarget,
        status: Option<u16>,
    },
    Tcp {
        service: String,
        port: u16,
    },
    Exec {
        service: String,
        command: Vec<String>,
    },
    Health {
        service: String,
    },
    /// Kubernetes: ok while `workload` has at least `ready` Ready replicas (its desired count
    /// when `None`).
    Kubernetes {
        workload: String,
        ready: Option<u32>,
    },
}

impl ProbeKind {
    /// The service this probe watches.
    pub fn service(&self) -> &str {
        match self {
            Self::Http { target, .. } => &target.service,
            Self::Tcp { service, .. } | Self::Exec { service, .. } | Self::Health { service } => {
                service
            }
            Self::Kubernetes { workload, .. } => workload,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FaultSpec {
    pub name: String,
    pub at: AtSpec,
    /// How long the fault is held before it is reverted; `None` for one-shot faults
    /// (crash, kill, restart) whose end is the stack's own recovery.
    pub duration: Option<Duration>,
    pub action: FaultAction,
    pub target: TargetSpec,
}

/// When a fault starts, from the start of the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AtSpec {
    Fixed(Duration),
    /// Drawn uniformly from `[earliest, latest]` by the seeded plan.
    Between(Duration, Duration),
}

impl AtSpec {
    /// The latest time this fault can start.
    pub fn latest(&self) -> Duration {
        match *self {
            Self::Fixed(at) => at,
            Self::Between(_, latest) => latest,
        }
    }

    pub fn earliest(&self) -> Duration {
        match *self {
            Self::Fixed(at) => at,
            Self::Between(earliest, _) => earliest,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetSpec {
    pub service: String,
    pub pick: Pick,
    /// The blast radius of `random` and `first` (one replica when `None`).
    pub size: Option<BlastSize>,
}

/// How many of a service's replicas a fault takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BlastSize {
    Count(u32),
    /// A share of the replicas in thousandths (500 = 50 %), rounded up, at least one.
    Permille(u16),
}

impl BlastSize {
    /// How many of `replicas` this takes (never more than there are).
    pub fn of(self, replicas: usize) -> usize {
        let n = match self {
            Self::Count(c) => c as usize,
            Self::Permille(p) => (replicas * usize::from(p)).div_ceil(1000).max(1),
        };
        n.min(replicas)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Pick {
    All,
    Random,
    First,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum FaultAction {
    /// SIGKILL of the container's process: the restart policy applies.
    Crash,
    /// `docker kill`: the container stays down (Docker treats it as stopped by hand).
    Kill,
    Stop,
    Restart,
    Pause,
    Latency {
        latency: Duration,
        jitter: Duration,
        link: ProxyLink,
    },
    Bandwidth {
        bytes_per_second: u64,
        link: ProxyLink,
    },
    /// Connections are reset (TCP RST) by the proxy.
    ResetPeer {
        link: ProxyLink,
    },
    /// Connections are accepted and then never answered.
    Timeout {
        link: ProxyLink,
    },
    Loss {
        ratio: f64,
        /// Only traffic with these services (all traffic when empty).
        peers: Vec<String>,
    },
    Partition {
        peers: Vec<String>,
        direction: PartitionDirection,
    },
    /// Disconnect the target from the stack's network.
    Isolate,
    /// Kubernetes: delete the target's pods; `force` = grace period 0.
    PodDelete {
        force: bool,
    },
    /// Kubernetes: scale the target workload to `replicas`, held for the fault's duration.
    Scale {
        replicas: u32,
    },
    /// Kubernetes: restart the workload's pods by a rolling update (`kubectl rollout restart`).
    RolloutRestart,
    /// Replace the service's containers with a new version (the compose variables in `set`
    /// changed) under load. One-shot: a deploy is never reverted.
    Rollout {
        strategy: RolloutStrategy,
        set: BTreeMap<String, String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RolloutStrategy {
    Recreate,
    Rolling,
    BlueGreen,
}

impl FaultAction {
    /// The action's name as written in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Crash => "crash",
            Self::Kill => "kill",
            Self::Stop => "stop",
            Self::Restart => "restart",
            Self::Pause => "pause",
            Self::Latency { .. } => "latency",
            Self::Bandwidth { .. } => "bandwidth",
            Self::ResetPeer { .. } => "reset_peer",
            Self::Timeout { .. } => "timeout",
            Self::Loss { .. } => "loss",
            Self::Partition { .. } => "partition",
            Self::Isolate => "isolate",
            Self::Rollout { .. } => "rollout",
            Self::PodDelete { .. } => "pod-delete",
            Self::Scale { .. } => "scale",
            Self::RolloutRestart => "rollout-restart",
        }
    }

    /// Services whose network paths a network fault intercepts or rewires: the target and
    /// its peers. Empty for container faults and rollouts.
    pub fn network_services<'a>(&'a self, target: &'a str) -> Vec<&'a str> {
        let link_peer = |link: &'a ProxyLink| match &link.side {
            LinkSide::Egress { service, .. } => vec![target, service.as_str()],
            LinkSide::Ingress { .. } => vec![target],
        };
        match self {
            Self::Latency { link, .. }
            | Self::Bandwidth { link, .. }
            | Self::ResetPeer { link }
            | Self::Timeout { link } => link_peer(link),
            Self::Loss { peers, .. } | Self::Partition { peers, .. } => std::iter::once(target)
                .chain(peers.iter().map(String::as_str))
                .collect(),
            Self::Isolate => vec![target],
            _ => vec![],
        }
    }

    /// Container lifecycle faults (issue 4) as opposed to network faults (issue 6).
    pub fn is_container_fault(&self) -> bool {
        matches!(
            self,
            Self::Crash | Self::Kill | Self::Stop | Self::Restart | Self::Pause
        )
    }
}

/// Which connections of the target the L4 proxy intercepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyLink {
    pub side: LinkSide,
    pub direction: ProxyDirection,
    /// Share of connections affected, in thousandths (1000 = all), so the spec stays `Eq`.
    pub toxicity_permille: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum LinkSide {
    /// The target's outgoing connections to `service:port`.
    Egress { service: String, port: u16 },
    /// Connections arriving at the target's `port`.
    Ingress { port: u16 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ProxyDirection {
    Upstream,
    Downstream,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PartitionDirection {
    Both,
    OneWay,
}
