//! The node agent: the node-side part of Kubernetes faults (`crash`, `loss`, `partition`) for
//! clusters the harness does not run on (kind, a remote cluster). It is the chaosgate binary
//! itself (`chaosgate agent`), run as a DaemonSet with `hostPID` and the capabilities to enter
//! pods' network namespaces and signal their processes, that a run deploys
//! into its namespace when the scenario asks for it (`stack.kubernetes.agent`) and removes at
//! its end. The harness reaches it through the API server's pod proxy, so it needs no route to
//! the nodes and nothing but the run's own kubeconfig.
//!
//! The API is JSON over HTTP/1.1 on [`PORT`]; every request carries [`TOKEN_HEADER`] with the
//! token the run put in the DaemonSet (a request without it is answered 401):
//!
//! | request | answer |
//! |---|---|
//! | `GET /v1/health` | [`Health`] |
//! | `POST /v1/pod-pid` [`PodPidRequest`] | [`PodPidReply`]: a process in the pod's sandbox, whose network namespace the rules go into |
//! | `POST /v1/exec` [`ExecRequest`] | [`CommandOutput`]: only `nsenter -t PID -n` + `iptables`, `tc`, `ip` or `ss`, and never in the node's own network namespace |
//! | `POST /v1/kill` [`KillRequest`] | [`KillReply`]: SIGKILL of a container's main process, waited for until it is gone |
//!
//! Errors are a non-2xx status with a plain-text reason: 400 (a request outside the API,
//! such as a command not on the list), 404 (no such pod or container on this node), 500.
//!
//! What it does not do yet: proxy faults (the fault proxy runs in the harness's process, in the
//! target's network namespace, so it needs the harness on the node); a scenario asking for both
//! is refused when it is validated.

mod client;
mod procfs;
mod server;

use serde::{Deserialize, Serialize};

#[cfg(doc)]
use chaosgate_proxy::netns_rules::CommandOutput;

pub use client::{AgentClient, AgentRunner};
pub use procfs::{Proc, container_main_pid, pod_sandbox_pid};
pub use server::{ServeError, allowed_command, serve};

/// The port the agent listens on inside its pod.
pub const PORT: u16 = 7455;

/// The header carrying the run's token.
pub const TOKEN_HEADER: &str = "x-chaosgate-agent-token";

/// The environment variable the agent reads its token from.
pub const TOKEN_ENV: &str = "CHAOSGATE_AGENT_TOKEN";

/// The pod label marking agent pods (value `"true"`): a run's pod listings leave them out, so
/// they are never a fault's target or peer.
pub const AGENT_LABEL: &str = "chaosgate.io/agent";

/// The image a scenario's agent runs unless it names one: built by `scripts/agent-image.sh`.
pub const DEFAULT_IMAGE: &str = concat!("chaosgate/agent:", env!("CARGO_PKG_VERSION"));

/// `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// The agent's chaosgate version.
    pub version: String,
}

/// `POST /v1/pod-pid`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodPidRequest {
    /// The pod's uid (`metadata.uid`).
    pub pod_uid: String,
}

/// The answer to [`PodPidRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodPidReply {
    /// A process of the pod's sandbox (its `pause` process when there is one), in the node's
    /// PID namespace.
    pub pid: u32,
}

/// `POST /v1/exec`: one command, as the harness's [`chaosgate_proxy::netns_rules::CommandRunner`]
/// would run it on the node; answered with its `CommandOutput`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecRequest {
    /// The program (only `nsenter`).
    pub program: String,
    /// Its arguments: `-t PID -n` and one of the allowed programs with its own.
    pub args: Vec<String>,
}

/// `POST /v1/kill`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillRequest {
    /// The container's runtime ID (`containerStatuses[].containerID` without its `docker://`).
    pub container_id: String,
}

/// The answer to [`KillRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillReply {
    /// The process killed (node PID namespace).
    pub pid: u32,
    /// Whether it was gone (exited or a zombie) before the agent answered; the wait is bounded
    /// by 5 s.
    pub gone: bool,
    /// Milliseconds from the signal to the process being seen gone.
    pub gone_after_ms: Option<u64>,
}
