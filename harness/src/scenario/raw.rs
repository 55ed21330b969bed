//! The scenario file exactly as written (serde + JSON Schema). Values that need units or
//! cross-checks are kept as spanned text here and turned into the typed model by
//! `validate`, so every problem can point at its line and column.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::shapes::{Expecting, OneOrList, ScalarOr};

/// A chaosgate scenario: a stack, load, probes, a fault schedule and the SLOs the run is judged
/// against.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "chaosgate scenario")]
pub struct RawScenario {
    /// Scenario name: lowercase letters, digits, `-` and `_`, starting with a letter or digit.
    #[schemars(with = "String", regex(pattern = r"^[a-z0-9][a-z0-9_-]*$"))]
    pub name: Spanned<String>,
    /// What the scenario checks, in one sentence.
    #[serde(default)]
    pub description: Option<String>,
    /// Seed of the fault schedule; `--seed` overrides it; the same seed replays the same schedule.
    /// A whole number from 0 to 2^53 − 1 (so every JSON reader reads it back exactly), as a
    /// number or a string.
    #[serde(default, deserialize_with = "crate::seed::deserialize_opt")]
    #[schemars(with = "Option<u64>", range(max = 9_007_199_254_740_991u64))]
    pub seed: Option<u64>,
    #[schemars(with = "RawStack")]
    pub stack: Spanned<RawStack>,
    #[serde(default)]
    pub load: Option<RawLoad>,
    /// Total run time (e.g. `40s`); defaults to the load's duration, else last fault end + 10s.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub duration: Option<Spanned<String>>,
    #[serde(default)]
    pub recovery: Option<RawRecovery>,
    #[serde(default)]
    pub probes: Vec<RawProbe>,
    #[serde(default)]
    pub faults: Vec<RawFault>,
    /// SLO expressions, e.g. `p95(latency, during=crash-primary) < 100ms`, or
    /// `{ slo: EXPR, severity: advisory }` for one that is reported but never gates.
    #[serde(default)]
    #[schemars(with = "Vec<ScalarOr<RawSlo>>")]
    pub slos: Vec<Spanned<ScalarOr<RawSlo>>>,
    /// The steady-state hypothesis: SLOs over the window before the first fault (e.g.
    /// `error_rate(phase=before) < 1%`). When one is breached the system was already
    /// unhealthy, so the run is not judged (exit 3); when one cannot be decided, the run is
    /// inconclusive.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub steady_state: Vec<Spanned<String>>,
    /// Stop the run as soon as an SLO is certainly breached, whatever the rest of the run
    /// brings (as `chaosgate run --fail-fast`).
    #[serde(default)]
    pub fail_fast: bool,
    /// A fault space instead of (or beside) a fixed schedule: `chaosgate explore` draws
    /// schedules from it, runs each and shrinks a failing one to a minimal scenario. `run`
    /// and `ab` refuse a scenario that has it.
    #[serde(default)]
    pub explore: Option<super::explore::RawExplore>,
    /// The stack's Prometheus, read all through the run for `detect_time`, `clear_time` and
    /// `prom`.
    #[serde(default)]
    pub prometheus: Option<RawPrometheus>,
    /// How `https://` URLs (load, read-back, probes) are verified: a CA file, a client
    /// certificate, or `insecure: true`. Without it, the system's roots.
    #[serde(default)]
    pub tls: Option<RawTls>,
}

/// `tls:`: trust and identity for `https://` URLs; paths relative to the scenario file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Tls")]
pub struct RawTls {
    /// PEM file of the CA certificates to trust instead of the system's roots.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub ca: Option<Spanned<String>>,
    /// PEM client certificate chain, for servers that ask for one (mutual TLS); needs `key`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub cert: Option<Spanned<String>>,
    /// PEM private key of `cert` (PKCS#8, PKCS#1 or SEC1).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub key: Option<Spanned<String>>,
    /// Accept any server certificate without verifying it (reports say so). `chaosgate run
    /// --insecure` sets it too.
    #[serde(default)]
    pub insecure: bool,
    /// The name sent as SNI and verified in the certificate, instead of each URL's host.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub server_name: Option<Spanned<String>>,
}

/// `prometheus:`: where the stack's Prometheus answers.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Prometheus")]
pub struct RawPrometheus {
    /// `service:port` of Prometheus on the stack, e.g. `prometheus:9090`.
    #[schemars(with = "String")]
    pub address: Spanned<String>,
    /// How often its alerts are read and `prom` queries evaluated (default `1s`; 100ms to
    /// 1m): the resolution of
    /// `clear_time`, and of `detect_time` with the rule group's evaluation interval.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub every: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Stack")]
pub struct RawStack {
    /// Compose file(s), relative to the scenario file (or `kubernetes`).
    #[serde(default)]
    #[schemars(with = "Option<OneOrList<String>>")]
    pub compose: Option<Spanned<OneOrList<Spanned<String>>>>,
    /// A Kubernetes stack (instead of `compose`).
    #[serde(default)]
    pub kubernetes: Option<RawKubernetes>,
    /// Variables for compose's `${VAR}` substitution; on Kubernetes, values for the
    /// environment variables the manifests' containers declare.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// How long the stack may take to become healthy (default 60s).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub ready_timeout: Option<Spanned<String>>,
    /// The compose project (`docker compose -p NAME`) already running from these files, to
    /// attach to instead of bringing a new one up: nothing is started or torn down, faults act
    /// on its containers only, and every fault is reverted.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub existing: Option<Spanned<String>>,
}

/// `stack.kubernetes`: manifests applied into a fresh namespace per run, or an existing one.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Kubernetes")]
pub struct RawKubernetes {
    /// Manifest files or folders (their `.yaml`/`.yml`/`.json` files in name order), relative
    /// to the scenario file, applied in this order.
    #[serde(default)]
    #[schemars(with = "Option<OneOrList<String>>")]
    pub manifests: Option<Spanned<OneOrList<Spanned<String>>>>,
    /// A kustomization folder (holding `kustomization.yaml`), relative to the scenario file,
    /// rendered with `kubectl kustomize` (kubectl on PATH) instead of `manifests`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub kustomize: Option<Spanned<String>>,
    /// The namespace; by default a fresh one per run, deleted at its end.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub namespace: Option<Spanned<String>>,
    /// Attach to `namespace` on a running cluster: nothing applied, nothing deleted.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub existing: Option<Spanned<bool>>,
    /// kubeconfig file (default `$KUBECONFIG`, then `~/.kube/config`), relative to the scenario.
    #[serde(default)]
    pub kubeconfig: Option<String>,
    /// kubeconfig context (default its current one).
    #[serde(default)]
    pub context: Option<String>,
    /// Where the harness reaches NodePort Services (default 127.0.0.1; the environment
    /// variable `CHAOSGATE_KUBE_NODE_ADDRESS` overrides it).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub node_address: Option<Spanned<String>>,
    /// Run `crash`, `loss` and `partition` through chaosgate's node agent: a DaemonSet
    /// (hostPID; NET_ADMIN, SYS_ADMIN, SYS_PTRACE, KILL) deployed into the run's namespace for the run and deleted after it, reached
    /// through the API server. For clusters the harness does not run on (kind, a remote one);
    /// without it these faults use the node's Docker runtime on this host (the local cluster).
    /// `agent:` with no value is `agent: {}`.
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<RawAgent>")]
    pub agent: Option<Spanned<Option<RawAgent>>>,
}

/// A key that is there is `Some`, even with a null value (serde makes that `None`, the same as
/// no key at all).
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// `stack.kubernetes.agent`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "NodeAgent")]
pub struct RawAgent {
    /// The agent's image (default `chaosgate/agent:<this version>`, built by
    /// `scripts/agent-image.sh`; on kind, load it with `kind load docker-image`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub image: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Load")]
pub struct RawLoad {
    /// Shorthand for one GET request, e.g. `http://gateway:8080/quote?symbol=BTCUSD`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub target: Option<Spanned<String>>,
    /// Weighted request mix (instead of `target`).
    #[serde(default)]
    pub requests: Option<Vec<RawRequest>>,
    /// Arrival rate (`200/s`) or a ramp `{ from: 100/s, to: 400/s }`.
    #[schemars(with = "ScalarOr<RawRamp>")]
    pub rate: Spanned<ScalarOr<RawRamp>>,
    #[schemars(with = "String")]
    pub duration: Spanned<String>,
    /// Per-request timeout (default 1s); a timeout counts as an error.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
    /// Cap on concurrent requests (default 512, 1 to 100000); arrivals beyond it wait for a
    /// slot, timed from their intended start (a wait past `timeout` is a timeout).
    #[serde(default)]
    #[schemars(with = "Option<u32>", range(min = 1, max = 100000))]
    pub max_in_flight: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Request")]
pub struct RawRequest {
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub method: Option<Spanned<String>>,
    #[schemars(with = "String")]
    pub url: Spanned<String>,
    /// Body template; `{{id}}` is replaced by a unique id per request.
    #[serde(default)]
    pub body: Option<String>,
    /// Header values may hold `{{id}}` too.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Share of the mix relative to the other requests' weights (default 1, 1 to 1000000).
    #[serde(default)]
    #[schemars(with = "Option<u32>", range(min = 1, max = 1000000))]
    pub weight: Option<Spanned<u32>>,
    /// Whether the request changes state, so that `lost_writes()` reads it back. Default:
    /// true for POST, PUT, PATCH and DELETE, false otherwise. Only writes carrying `{{id}}`
    /// are read back.
    #[serde(default)]
    pub write: Option<bool>,
    /// Where a write's id is read back after the run, `{id}` standing for the id, e.g.
    /// `http://gateway:8080/orders/{id}` (2xx = kept, 404 = lost). Default for POST, PUT and
    /// PATCH: the request's URL without its query, `/{id}` appended (or with `{{id}}` in the
    /// URL, that URL).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub read_back: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Ramp")]
pub struct RawRamp {
    #[schemars(with = "String")]
    pub from: Spanned<String>,
    #[schemars(with = "String")]
    pub to: Spanned<String>,
}

/// The long form of an SLO entry.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSlo {
    /// The SLO expression.
    #[schemars(with = "String")]
    pub slo: Spanned<String>,
    /// `gating` (the default) or `advisory`: judged and reported, annotated as a warning,
    /// never changing the verdict or the exit code.
    #[serde(default)]
    #[schemars(with = "Option<String>", regex(pattern = r"^(gating|advisory)$"))]
    pub severity: Option<Spanned<String>>,
}

impl Expecting for RawSlo {
    const EXPECTING: &'static str = "an SLO like `p95(latency) < 100ms` or `{ slo: \"p99(latency) < 300ms\", severity: advisory }`";
}

impl Expecting for RawRamp {
    const EXPECTING: &'static str = "a rate like `200/s` or a ramp `{ from: 100/s, to: 400/s }`";
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Recovery")]
pub struct RawRecovery {
    /// N consecutive successful probe checks mean "recovered" (default 3, 1 to 1000).
    #[schemars(with = "u32", range(min = 1, max = 1000))]
    pub consecutive: Spanned<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Probe")]
pub struct RawProbe {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[serde(default)]
    pub http: Option<RawHttpProbe>,
    #[serde(default)]
    pub tcp: Option<RawTcpProbe>,
    #[serde(default)]
    pub exec: Option<RawExecProbe>,
    #[serde(default)]
    pub health: Option<RawHealthProbe>,
    #[serde(default)]
    pub kubernetes: Option<RawKubeProbe>,
    /// An instant PromQL query against the stack's Prometheus (`prometheus:`) is truthy: it
    /// matches, and every value is non-zero.
    #[serde(default)]
    pub prometheus: Option<RawPromProbe>,
    /// Check interval (default 100ms).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub every: Option<Spanned<String>>,
    /// Per-check timeout (default 500ms).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "HttpProbe")]
pub struct RawHttpProbe {
    #[schemars(with = "String")]
    pub url: Spanned<String>,
    /// Expected status (100 to 599); any 2xx when absent.
    #[serde(default)]
    #[schemars(with = "Option<u16>", range(min = 100, max = 599))]
    pub status: Option<Spanned<u16>>,
    /// Request headers sent with each check, name → value (`Host` sent as given).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub headers: Option<Spanned<BTreeMap<String, String>>>,
    /// The body must contain this text.
    #[serde(default)]
    pub contains: Option<String>,
    /// The body must match this regular expression (Rust `regex` syntax), e.g.
    /// `"version":\s*"2"`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub matches: Option<Spanned<String>>,
    /// The body must be JSON holding exactly these values: JSON pointer (RFC 6901) → value,
    /// e.g. `{ /status: ok, /dependencies/redis: up }`.
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub json: Option<Spanned<BTreeMap<String, serde_json::Value>>>,
    /// An answer slower than this fails the check (it answered, too slowly), e.g. `200ms`; at
    /// most the probe's `timeout`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub max_latency: Option<Spanned<String>>,
}

/// `prometheus: { query: PROMQL }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PrometheusProbe")]
pub struct RawPromProbe {
    /// The PromQL expression, e.g. `up{job="gateway"} == 1`.
    #[schemars(with = "String")]
    pub query: Spanned<String>,
}

/// Kubernetes stacks: ok while the workload (Deployment or StatefulSet) has at least `ready`
/// Ready replicas (default: its desired count).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "KubernetesProbe")]
pub struct RawKubeProbe {
    #[schemars(with = "String")]
    pub workload: Spanned<String>,
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub ready: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TcpProbe")]
pub struct RawTcpProbe {
    /// `service:port`.
    #[schemars(with = "String")]
    pub address: Spanned<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ExecProbe")]
pub struct RawExecProbe {
    #[schemars(with = "String")]
    pub service: Spanned<String>,
    pub command: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "HealthProbe")]
pub struct RawHealthProbe {
    #[schemars(with = "String")]
    pub service: Spanned<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "Pick")]
pub enum RawPick {
    All,
    Random,
    First,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Target")]
pub struct RawTarget {
    #[schemars(with = "String")]
    pub service: Spanned<String>,
    /// Label selector (equality, as Kubernetes' `matchLabels`): only the service's replicas
    /// carrying every one of these labels (Docker labels; Kubernetes: pod labels). The pick and
    /// blast radius apply to the replicas it selects.
    #[serde(default)]
    #[schemars(with = "Option<std::collections::BTreeMap<String, String>>")]
    pub labels: Option<Spanned<BTreeMap<String, String>>>,
    /// Which replicas: all (default), one at random (seeded), or the first.
    #[serde(default)]
    pub pick: Option<RawPick>,
    /// Blast radius: how many replicas `random` (the default with `count`) or `first` takes.
    #[serde(default)]
    #[schemars(with = "Option<u32>", range(min = 1))]
    pub count: Option<Spanned<u32>>,
    /// Blast radius as a share of the replicas (`50%`; rounded up, at least one).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub percent: Option<Spanned<String>>,
}

/// How a rollout replaces the service's containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "RolloutStrategy")]
pub enum RawStrategy {
    /// Stop every old container, then start the new ones.
    Recreate,
    /// One replica at a time: start a new one, wait until healthy, stop an old one.
    Rolling,
    /// Start a full new set, wait until all are healthy, then drain and stop the old set.
    BlueGreen,
}

/// One fault. Network-only fields are rejected on container faults by validation.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Fault")]
pub struct RawFault {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Start, from the start of the load: `10s`, or `{ between: [5s, 15s] }` (seeded draw).
    #[schemars(with = "ScalarOr<RawBetween>")]
    pub at: Spanned<ScalarOr<RawBetween>>,
    #[schemars(with = "crate::fault::kinds::KindId")]
    pub action: Spanned<crate::fault::kinds::KindId>,
    pub target: RawTarget,
    /// How long the fault lasts (required for stop, pause and network faults).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub duration: Option<Spanned<String>>,
    /// latency: added delay, e.g. `300ms`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub latency: Option<Spanned<String>>,
    /// latency: random extra delay up to this much.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub jitter: Option<Spanned<String>>,
    /// bandwidth: e.g. `64KB/s`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub rate: Option<Spanned<String>>,
    /// loss: share of packets dropped, e.g. `30%`; http-abort, http-delay: share of the
    /// matching requests acted on (all when absent); disk-fill: the share of the
    /// filesystem's size in use once filled (instead of `size`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub percent: Option<Spanned<String>>,
    /// Egress peer(s) of the target (`redis:6379`, or services for loss/partition).
    #[serde(default)]
    #[schemars(with = "Option<OneOrList<String>>")]
    pub to: Option<Spanned<OneOrList<Spanned<String>>>>,
    /// Ingress port of the target (instead of `to`).
    #[serde(default)]
    #[schemars(with = "Option<u16>", range(min = 1, max = 65535))]
    pub port: Option<Spanned<u16>>,
    #[serde(default)]
    #[schemars(with = "Option<crate::fault::link::Direction>")]
    pub direction: Option<Spanned<crate::fault::link::Direction>>,
    /// Share of connections the toxic applies to (0.0–1.0, default 1.0).
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub toxicity: Option<Spanned<f64>>,
    /// rollout: `recreate`, `rolling` (default) or `blue-green`.
    #[serde(default)]
    #[schemars(with = "Option<RawStrategy>")]
    pub strategy: Option<Spanned<RawStrategy>>,
    /// rollout: compose variables of the new version, e.g. `{ GATEWAY_VERSION: "2" }`.
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub set: Option<Spanned<BTreeMap<String, String>>>,
    /// pod-delete: no grace period (the pod's processes are killed at once).
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub force: Option<Spanned<bool>>,
    /// scale: the replica count held for `duration` (0 takes the workload down).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub replicas: Option<Spanned<u32>>,
    /// http-abort: the status answered (400–599, default 503) or `reset`.
    #[serde(default)]
    #[schemars(with = "Option<ScalarOr<u16>>")]
    pub status: Option<Spanned<String>>,
    /// http-abort, http-delay: only requests with this method (`GET`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub method: Option<Spanned<String>>,
    /// http-abort, http-delay: only requests for this path (`/quote`), or a glob (`/api/**`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub path: Option<Spanned<String>>,
    /// http-abort, http-delay: only requests with this header (`"x-user: bob"`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub header: Option<Spanned<String>>,
    /// http-delay: how long each matching request is held, e.g. `500ms`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub delay: Option<Spanned<String>>,
    /// dns: `timeout` (default: lookups go unanswered), `refused`, `nxdomain` or `servfail`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub mode: Option<Spanned<String>>,
    /// rollout: `rollback` deploys the previous version back once the new one is in.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub then: Option<Spanned<String>>,
    /// cpu-stress: busy workers in the target's cgroup, one core's worth each (1-64).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub cores: Option<Spanned<u32>>,
    /// memory-stress: memory held in the target's cgroup; disk-fill: bytes written into
    /// `dir` (`256MiB`, `64MB`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub size: Option<Spanned<String>>,
    /// disk-fill: an absolute directory inside the target whose filesystem is filled.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub dir: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Between")]
pub struct RawBetween {
    /// `[earliest, latest]`.
    #[schemars(with = "(String, String)")]
    pub between: Vec<Spanned<String>>,
}

impl Expecting for RawBetween {
    const EXPECTING: &'static str = "a duration like `10s` or `{ between: [5s, 15s] }`";
}
