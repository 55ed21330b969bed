//! The validated scenario: every name checked, every duration and rate typed, every path
//! absolute. This is what the runner consumes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::slo::Slo;

/// A scenario file after validation: the stack to bring up, the load, probes, faults and SLOs,
/// with every reference resolved. Built by `scenario::load` / `scenario::parse_str`.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    /// The scenario's `name:`, printed with the run and recorded in its report.
    pub name: String,
    /// The scenario's one-sentence `description:`, copied into the report.
    pub description: String,
    /// `seed:` from the file (`--seed` overrides it); `None`: `run` draws one and records it.
    pub seed: Option<u64>,
    /// The `stack:` section: compose files or Kubernetes manifests, env, readiness timeout.
    pub stack: StackSpec,
    /// The `load:` section; `None` when the file has none (probes only, no client traffic).
    pub load: Option<LoadSpec>,
    /// Total run time from the start of the load.
    pub duration: Duration,
    /// N in "recovered = first of N consecutive successful probe checks".
    pub recovery_consecutive: u32,
    /// The `probes:` section, in file order (names unique).
    pub probes: Vec<ProbeSpec>,
    /// The `faults:` section, in file order (names unique).
    pub faults: Vec<FaultSpec>,
    /// The `slos:` section, parsed, in file order.
    pub slos: Vec<Slo>,
    /// The `steady_state:` section: SLOs judged on the window before the first fault, which
    /// must hold for the run to be judged at all.
    pub steady_state: Vec<Slo>,
    /// Stop as soon as an SLO is certainly breached (`fail_fast: true` or `--fail-fast`).
    pub fail_fast: bool,
    /// The scenario file (absolute).
    pub path: PathBuf,
    /// The `explore:` section: the fault space `chaosgate explore` draws schedules from.
    pub explore: Option<super::explore::ExploreSpace>,
    /// The `prometheus:` section: where the stack's Prometheus answers and how often it is
    /// read.
    pub prometheus: Option<PrometheusSpec>,
    /// The `tls:` section (paths made absolute, files read and checked): how `https://` load,
    /// read-back and probe URLs are verified.
    pub tls: chaosgate_load::TlsPlan,
    /// What validation accepted but could not check, each rendered with its place in the
    /// file (`warning: ...`): e.g. a port no compose file declares, checked when the stack
    /// is up. `validate` and `run --dry-run` print them.
    pub warnings: Vec<String>,
}

/// The `stack:` section, checked: what to bring up and how long it may take to become ready.
#[derive(Debug, Clone, Serialize)]
pub struct StackSpec {
    /// Absolute paths, in the order given (empty for a Kubernetes stack).
    pub compose_files: Vec<PathBuf>,
    /// Set for a Kubernetes stack (then `services` are its Services and workloads).
    pub kubernetes: Option<crate::stack::kube::KubeStackSpec>,
    /// `stack.env`: compose `${VAR}` substitutions (with `--set KEY=VALUE` applied over them).
    pub env: BTreeMap<String, String>,
    /// `stack.ready_timeout`: how long the stack may take to become healthy (1 s – 1 h; 60 s by
    /// default); exceeding it is a harness error (exit 3).
    pub ready_timeout: Duration,
    /// Service names declared by the compose files (sorted, deduplicated).
    pub services: Vec<String>,
    /// Compose stacks: each compose file as the scenario names it, with the variables it reads
    /// and the services reading each (`""`: outside `services:`); what `stack.env`, `--set`
    /// and a rollout's `set` may set. Empty on Kubernetes.
    #[serde(skip)]
    pub compose_variables: Vec<(String, BTreeMap<String, BTreeSet<String>>)>,
    /// `stack.existing`: the running compose project attached to (nothing brought up or torn
    /// down); `None`: a fresh project per run.
    pub existing: Option<String>,
}

/// `http://SERVICE:PORT/path?query`, split so the runner can map service:port to an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpTarget {
    /// The URL as written.
    pub url: String,
    /// Service name (a compose service, or a Kubernetes Service).
    pub service: String,
    /// Container port the service publishes or exposes.
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path_and_query: String,
}

/// The `load:` section: an open-model request mix driven at `rate` for `duration`.
#[derive(Debug, Clone, Serialize)]
pub struct LoadSpec {
    /// The request mix, each drawn in proportion to its `weight`.
    pub requests: Vec<RequestSpec>,
    /// Arrival rate of the open-model schedule.
    pub rate: RateSpec,
    /// How long the load runs (from the start of the run clock).
    pub duration: Duration,
    /// Per-request timeout (1 s by default); a request past it is recorded as a timeout error at
    /// this latency.
    pub timeout: Duration,
    /// At most this many requests in flight (512 by default); later ones wait for a slot and are
    /// timed from their intended send time.
    pub max_in_flight: u32,
}

/// One entry of `load.requests`: an HTTP request and its share of the mix.
#[derive(Debug, Clone, Serialize)]
pub struct RequestSpec {
    /// HTTP method, upper case (`GET`, `POST`, ...).
    pub method: String,
    /// Where the request is sent.
    pub target: HttpTarget,
    /// Template: `{{id}}` is replaced by a unique id per request.
    pub body: Option<String>,
    /// Extra headers, name → value (values may carry `{{id}}`).
    pub headers: BTreeMap<String, String>,
    /// Relative share of the mix (this weight / the sum of all weights).
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
    /// The same rate throughout, in requests per second.
    Constant(f64),
    /// Linear from `from` to `to` over the load's duration.
    Ramp {
        /// Rate at the start of the load, in requests per second.
        from: f64,
        /// Rate at the end of the load, in requests per second.
        to: f64,
    },
}

/// One entry of `probes:`: a check run every `every` to see whether a service answers.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeSpec {
    /// The probe's name, unique in the scenario (SLOs: `probe=NAME`, `probe_success(NAME)`).
    pub name: String,
    /// What each check does.
    pub kind: ProbeKind,
    /// Interval between check starts (1 ms – 1 h; 50 ms by default).
    pub every: Duration,
    /// Time a check may take before it counts as failed (1 ms – 1 h; 500 ms by default).
    pub timeout: Duration,
}

/// What a probe check does (exactly one of `http`, `tcp`, `exec`, `health`, `kubernetes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ProbeKind {
    /// GET and expect `status` (any 2xx when `None`) and what `expect` asks of the answer.
    Http {
        /// The URL checked, split into service, port and path.
        target: HttpTarget,
        /// Expected HTTP status (100 – 599); any 2xx when `None`.
        status: Option<u16>,
        /// Headers sent; body, JSON and latency checks.
        expect: crate::probe::http::HttpExpect,
    },
    /// Connect to `service:port` and see the service accept the connection.
    Tcp {
        /// Service name.
        service: String,
        /// Container port of the service.
        port: u16,
    },
    /// Run `command` in the service's first container; exit status 0 is success.
    Exec {
        /// Service name.
        service: String,
        /// Program and its arguments (argv, no shell).
        command: Vec<String>,
    },
    /// The service's first container reports Docker health status `healthy`.
    Health {
        /// Service name (it needs a Docker health check).
        service: String,
    },
    /// An instant PromQL query against the stack's Prometheus (`prometheus:`) is truthy.
    Prometheus {
        /// The service Prometheus runs as.
        service: String,
        /// Its HTTP port.
        port: u16,
        /// The PromQL expression.
        query: String,
    },
    /// Kubernetes: ok while `workload` has at least `ready` Ready replicas (its desired count
    /// when `None`).
    Kubernetes {
        /// Deployment or StatefulSet name.
        workload: String,
        /// Ready replicas required; the workload's desired count when `None`.
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
            Self::Prometheus { service, .. } => service,
        }
    }
}

/// One entry of `faults:`: what is done to which service, when and for how long.
#[derive(Debug, Clone, Serialize)]
pub struct FaultSpec {
    /// The fault's name, unique in the scenario (SLOs: `during=NAME`, `recovery_time(NAME)`).
    pub name: String,
    /// When the fault starts.
    pub at: AtSpec,
    /// How long the fault is held before it is reverted; `None` for one-shot faults
    /// (crash, kill, restart) whose end is the stack's own recovery.
    pub duration: Option<Duration>,
    /// What the fault does.
    pub action: crate::fault::kinds::FaultKind,
    /// Which service's replicas it acts on.
    pub target: TargetSpec,
}

/// When a fault starts, from the start of the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AtSpec {
    /// At this time from the start of the load.
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

    /// The earliest time this fault can start.
    pub fn earliest(&self) -> Duration {
        match *self {
            Self::Fixed(at) => at,
            Self::Between(earliest, _) => earliest,
        }
    }
}

/// A fault's `target:`: the service and which of its replicas are hit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetSpec {
    /// Service name (compose service, or Kubernetes workload).
    pub service: String,
    /// Only the replicas carrying all these labels (Docker labels; Kubernetes: pod labels),
    /// an equality selector like `matchLabels`; empty = every replica of `service`.
    pub labels: BTreeMap<String, String>,
    /// How the replicas are chosen.
    pub pick: Pick,
    /// The blast radius of `random` and `first` (one replica when `None`).
    pub size: Option<BlastSize>,
}

/// How many of a service's replicas a fault takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BlastSize {
    /// This many replicas (never more than there are).
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

/// How a fault's target replicas are chosen (`pick:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Pick {
    /// Every replica of the service.
    All,
    /// Replicas drawn by the seeded plan (the same seed picks the same replicas).
    Random,
    /// The first replicas in the service's replica order.
    First,
}

/// `prometheus:`, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrometheusSpec {
    /// The service Prometheus runs as.
    pub service: String,
    /// Its HTTP port.
    pub port: u16,
    /// How often its alerts are read.
    pub every: Duration,
}
