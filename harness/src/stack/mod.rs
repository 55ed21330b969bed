//! The system under test: bringing it up, finding its containers and their addresses,
//! watching its Docker events, and tearing it down. Backends sit behind [`Stack`].

pub mod address_book;
pub mod compose;
pub mod docker;
pub mod events;
pub mod kube;
pub mod reaper;
pub mod sweep;

use std::net::SocketAddr;
use std::time::Duration;

pub use address_book::AddressBook;

/// A running container of the stack, as the Docker API reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub service: String,
    /// Compose's replica number (1-based).
    pub number: u32,
    pub running: bool,
    pub paused: bool,
    /// `None` when the image has no healthcheck.
    pub health: Option<String>,
    /// Docker's most recent health check. `health` is not re-evaluated while a container is
    /// paused and stays `healthy` after unpausing until a check fails, so a check that
    /// decides "back" needs one that ran after the container was last seen down.
    pub last_health_check: Option<HealthCheck>,
    /// Host PID of the container's init process (0 when not running).
    pub pid: u32,
    pub restart_count: i64,
    /// Container port → address published on the host (127.0.0.1 only).
    pub published: Vec<(u16, SocketAddr)>,
    /// Network name → container IP on it.
    pub networks: Vec<(String, String)>,
    /// Network name → the container's DNS aliases on it (compose's service name among them),
    /// to be restored when it is reconnected.
    pub aliases: Vec<(String, Vec<String>)>,
    pub image: String,
}

/// One run of a container's Docker health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthCheck {
    /// When it began, in ns since the Unix epoch (Docker's clock: this host's).
    pub started_unix_ns: i128,
    pub exit_code: i64,
}

impl ContainerInfo {
    /// Running, not paused, and healthy if it has a healthcheck.
    pub fn is_ready(&self) -> bool {
        self.running && !self.paused && self.health.as_deref().is_none_or(|h| h == "healthy")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(
        "cannot reach the Docker daemon: {0}\n  hint: is dockerd running? `docker info` must work for this user"
    )]
    DockerUnreachable(String),
    #[error("no compose tool found: neither `docker compose` (v2) nor `docker-compose` (v1) runs")]
    NoComposeTool,
    #[error("`{command}` failed (exit {code:?}):\n{stderr}")]
    ComposeFailed {
        command: String,
        code: Option<i32>,
        stderr: String,
    },
    #[error("the stack was not healthy after {timeout:?}:\n{detail}")]
    NeverHealthy { timeout: Duration, detail: String },
    #[error("docker API error while {doing}: {source}")]
    Docker {
        doing: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("Kubernetes API error while {doing}: {detail}")]
    Kube { doing: String, detail: String },
    #[error("cannot load the kubeconfig: {0}")]
    KubeConfig(String),
    #[error(
        "cannot reach the Kubernetes API server: {0}\n  hint: is the cluster up? (the local one: `sudo bash scripts/local-kube.sh status`)"
    )]
    KubeUnreachable(String),
    #[error("the manifests: {0}")]
    Manifests(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What a scenario needs from any backend (compose now; Kubernetes later).
#[allow(async_fn_in_trait)]
pub trait Stack {
    /// A name unique to this run, used to find everything it created.
    fn project(&self) -> &str;
    async fn up(&mut self) -> Result<(), StackError>;
    /// Waits until every service has a container and every container is ready.
    async fn wait_ready(&self, timeout: Duration) -> Result<Vec<ContainerInfo>, StackError>;
    async fn containers(&self) -> Result<Vec<ContainerInfo>, StackError>;
    /// Removes everything the stack created. Safe to call more than once.
    async fn down(&mut self) -> Result<(), StackError>;
}
