//! The system under test: bringing it up, finding its containers and their addresses,
//! watching its Docker events, and tearing it down: a compose project (`compose/`) or a
//! Kubernetes namespace (`kube/`). A run drives either through one trait, `run::RunBackend`.

pub mod address_book;
pub mod compose;
pub mod docker;
pub mod events;
pub mod http_client;
pub mod kube;
pub mod listening;
pub mod reaper;
pub mod sweep;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

pub use address_book::AddressBook;

/// A running container of the stack, as the Docker API reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerInfo {
    /// Full Docker container ID.
    pub id: String,
    /// Container name (no leading `/`), e.g. `project-db-1` or `project_db_1`.
    pub name: String,
    /// Compose service (Kubernetes: workload) it belongs to.
    pub service: String,
    /// Compose's replica number (1-based).
    pub number: u32,
    /// The container's process is running (a paused container counts as running).
    pub running: bool,
    /// Frozen by `docker pause`.
    pub paused: bool,
    /// `None` when the image has no healthcheck.
    pub health: Option<String>,
    /// Docker's most recent health check. `health` is not re-evaluated while a container is
    /// paused and stays `healthy` after unpausing until a check fails, so a check that
    /// decides "back" needs one that ran after the container was last seen down.
    pub last_health_check: Option<HealthCheck>,
    /// Host PID of the container's init process (0 when not running).
    pub pid: u32,
    /// Times Docker restarted it under its restart policy.
    pub restart_count: i64,
    /// Container port → address published on the host (127.0.0.1 only).
    pub published: Vec<(u16, SocketAddr)>,
    /// Network name → container IP on it.
    pub networks: Vec<(String, String)>,
    /// Network name → the container's DNS aliases on it (compose's service name among them),
    /// to be restored when it is reconnected.
    pub aliases: Vec<(String, Vec<String>)>,
    /// Image reference as configured (`name:tag`).
    pub image: String,
    /// The container's Docker labels (Kubernetes: the pod's labels): what a fault's
    /// `target.labels` selects on.
    pub labels: BTreeMap<String, String>,
}

/// One run of a container's Docker health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthCheck {
    /// When it began, in ns since the Unix epoch (Docker's clock: this host's).
    pub started_unix_ns: i128,
    /// The check command's exit code (0 = healthy).
    pub exit_code: i64,
}

impl ContainerInfo {
    /// Running, not paused, and healthy if it has a healthcheck.
    pub fn is_ready(&self) -> bool {
        self.running && !self.paused && self.health.as_deref().is_none_or(|h| h == "healthy")
    }
}

/// Why the stack could not be brought up, inspected or torn down. Every variant ends the run as an
/// infrastructure error (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// The Docker daemon did not answer connect, version negotiation or ping; holds the client's
    /// message.
    #[error(
        "cannot reach the Docker daemon: {0}\n  hint: is dockerd running? `docker info` must work for this user"
    )]
    DockerUnreachable(String),
    /// Neither `docker compose` nor `docker-compose` answered `version`.
    #[error("no compose tool found: neither `docker compose` (v2) nor `docker-compose` (v1) runs")]
    NoComposeTool,
    /// A compose command exited non-zero or timed out.
    #[error("`{command}` failed (exit {code:?}):\n{stderr}")]
    ComposeFailed {
        /// The command line as run.
        command: String,
        /// Its exit code; `None` when killed (by a signal or the time limit).
        code: Option<i32>,
        /// Its stderr, as captured.
        stderr: String,
    },
    /// Some container was missing or not ready when the readiness timeout ran out (or, for a
    /// pod stuck for good, as soon as that was clear).
    #[error("the stack was not healthy after {}:\n{detail}", crate::slo::Quantity::Duration(*timeout))]
    NeverHealthy {
        /// How long the bring-up waited: the readiness timeout that ran out (the scenario's
        /// `stack.ready_timeout`), or the time until a stuck pod gave up the wait.
        timeout: Duration,
        /// Each container that was missing or not ready, and why.
        detail: String,
    },
    /// Once the stack was healthy, some port the scenario connects to had nothing listening on
    /// it in its service's container ([`listening::verify`]).
    #[error(
        "a port the scenario uses has nothing listening on it ({} after the stack was healthy):\n{detail}\n  hint: use a port the service listens on, or configure the service to listen on the one the scenario names",
        crate::slo::Quantity::Duration(*waited)
    )]
    NotListening {
        /// How long the check waited for the ports.
        waited: Duration,
        /// One line per missing port: the service, its container, where the scenario uses the
        /// port, and the ports the container listens on.
        detail: String,
    },
    /// `stack.existing` names a compose project with no running container.
    #[error(
        "the compose project `{project}` has no running container to attach to\n  hint: bring it up first (`{compose} -p {project} -f FILE up -d`); `docker ps --filter label=com.docker.compose.project` lists the containers of running projects"
    )]
    NotRunning {
        /// The project name the scenario gave.
        project: String,
        /// The compose command of this machine (`docker compose` or `docker-compose`).
        compose: String,
    },
    /// A Docker API call failed.
    #[error("docker API error while {doing}: {source}")]
    Docker {
        /// What was being attempted ("inspecting container ID").
        doing: String,
        /// bollard's error.
        #[source]
        source: bollard::errors::Error,
    },
    /// A Kubernetes API call failed.
    #[error("Kubernetes API error while {doing}: {detail}")]
    Kube {
        /// What was being attempted ("applying the manifests").
        doing: String,
        /// The client's or API server's message.
        detail: String,
    },
    /// The kubeconfig could not be found or parsed; holds the reason.
    #[error("cannot load the kubeconfig: {0}")]
    KubeConfig(String),
    /// The API server did not answer; holds the client's message.
    #[error(
        "cannot reach the Kubernetes API server: {0}\n  hint: is the cluster up? (the local one: `sudo bash scripts/local-kube.sh status`)"
    )]
    KubeUnreachable(String),
    /// The Kubernetes manifests are unusable (unparseable, or a named workload is missing); holds
    /// the reason.
    #[error("the manifests: {0}")]
    Manifests(String),
    /// Reading or writing a local file (compose override, work dir) failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 19: a stuck agent pod read "not healthy after 8.184359ms": durations are
    /// written as everywhere else in the project (two decimals of a second, or ms).
    #[test]
    fn a_bring_up_failure_says_how_long_in_the_project_s_units() {
        let e = |timeout| StackError::NeverHealthy {
            timeout,
            detail: "  x".into(),
        };
        assert_eq!(
            e(Duration::from_nanos(8_184_359_000)).to_string(),
            "the stack was not healthy after 8.18s:\n  x"
        );
        assert!(
            e(Duration::from_secs(60))
                .to_string()
                .contains("after 60s:")
        );
        assert!(
            e(Duration::from_micros(8_184))
                .to_string()
                .contains("after 8.2ms:")
        );
    }
}
