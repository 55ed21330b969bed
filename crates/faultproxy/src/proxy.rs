//! Starting a proxy (in the current network namespace) and controlling it through its handle.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::conn::serve_connection;
use crate::conn_state::ProxyContext;
use crate::counters::{ProxyCounters, ProxyStats};
use crate::error::ProxyError;
use crate::registry::ToxicRegistry;
use crate::toxic::Toxic;
use crate::upstream::Upstream;

/// Pause after a failed accept (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);
const LISTEN_BACKLOG: u32 = 1024;

/// Where a proxy listens, where it sends connections, and the seed of its random draws.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyConfig {
    /// Address to listen on; port 0 picks a free port (see `ProxyHandle::local_addr`).
    pub listen: SocketAddr,
    /// Where each accepted connection is forwarded.
    pub upstream: Upstream,
    /// The run's seed: toxicity, jitter and slice sizes are drawn from it.
    pub seed: u64,
}

/// Controls a running proxy. Dropping it stops the proxy without waiting; `shutdown` waits.
#[derive(Debug)]
pub struct ProxyHandle {
    local_addr: SocketAddr,
    ctx: Arc<ProxyContext>,
    shutdown: CancellationToken,
    runner: Option<Runner>,
}

#[derive(Debug)]
pub(crate) enum Runner {
    Task(JoinHandle<()>),
    Thread {
        finished: oneshot::Receiver<()>,
        thread: std::thread::JoinHandle<()>,
    },
}

/// Starts a proxy on the current tokio runtime, in the caller's network namespace.
pub async fn spawn(cfg: ProxyConfig) -> Result<ProxyHandle, ProxyError> {
    let listener = bind(cfg.listen)?;
    let parts = ProxyParts::new(&cfg, &listener)?;
    let task = tokio::spawn(serve(listener, parts.ctx.clone(), parts.shutdown.clone()));
    Ok(parts.into_handle(Runner::Task(task)))
}

/// What a proxy is made of before it runs, so the netns variant builds it the same way.
pub(crate) struct ProxyParts {
    pub local_addr: SocketAddr,
    pub ctx: Arc<ProxyContext>,
    pub shutdown: CancellationToken,
}

impl ProxyParts {
    pub fn new(cfg: &ProxyConfig, listener: &TcpListener) -> Result<Self, ProxyError> {
        let local_addr = listener.local_addr().map_err(|source| ProxyError::Bind {
            addr: cfg.listen,
            source,
        })?;
        Ok(ProxyParts {
            local_addr,
            ctx: Arc::new(ProxyContext {
                upstream: cfg.upstream,
                seed: cfg.seed,
                registry: ToxicRegistry::new(),
                stats: ProxyStats::default(),
            }),
            shutdown: CancellationToken::new(),
        })
    }

    pub fn into_handle(self, runner: Runner) -> ProxyHandle {
        ProxyHandle {
            local_addr: self.local_addr,
            ctx: self.ctx,
            shutdown: self.shutdown,
            runner: Some(runner),
        }
    }
}

pub(crate) fn bind(addr: SocketAddr) -> Result<TcpListener, ProxyError> {
    let bind_error = |source| ProxyError::Bind { addr, source };
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(bind_error)?;
    // A proxy restarted on the same port must not wait for TIME_WAIT of its previous run.
    socket.set_reuseaddr(true).map_err(bind_error)?;
    socket.bind(addr).map_err(bind_error)?;
    socket.listen(LISTEN_BACKLOG).map_err(bind_error)
}

pub(crate) async fn serve(
    listener: TcpListener,
    ctx: Arc<ProxyContext>,
    shutdown: CancellationToken,
) {
    let connections = TaskTracker::new();
    let mut next_conn_id: u64 = 0;
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _peer)) => {
                connections.spawn(serve_connection(
                    stream,
                    ctx.clone(),
                    next_conn_id,
                    shutdown.child_token(),
                ));
                next_conn_id += 1;
            }
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

impl ProxyHandle {
    /// The address the proxy listens on (with the port the OS chose if `listen` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Installs a toxic; established connections pick it up from their next chunk.
    pub fn add_toxic(&self, toxic: Toxic) -> Result<(), ProxyError> {
        self.ctx.registry.add(toxic)
    }

    /// Removes a toxic by name; connections stay open, chunks it was delaying are released.
    pub fn remove_toxic(&self, name: &str) -> Result<(), ProxyError> {
        self.ctx.registry.remove(name)
    }

    /// The toxics installed now, in the order they apply.
    pub fn toxics(&self) -> Vec<Toxic> {
        self.ctx.registry.installed()
    }

    /// A snapshot of the proxy's counters and of each installed toxic's.
    pub fn counters(&self) -> ProxyCounters {
        self.ctx.stats.snapshot(self.ctx.registry.counters())
    }

    /// Stops accepting, closes every connection, waits for the proxy (and its thread) to end,
    /// and returns the final counters.
    pub async fn shutdown(mut self) -> Result<ProxyCounters, ProxyError> {
        self.shutdown.cancel();
        match self.runner.take() {
            Some(Runner::Task(task)) => {
                task.await.map_err(|_| ProxyError::ThreadPanicked)?;
            }
            Some(Runner::Thread { finished, thread }) => {
                // An error only means the thread ended without saying so; join tells how.
                let _ = finished.await;
                tokio::task::spawn_blocking(move || thread.join())
                    .await
                    .map_err(|_| ProxyError::ThreadPanicked)?
                    .map_err(|_| ProxyError::ThreadPanicked)?;
            }
            None => {}
        }
        Ok(self.counters())
    }
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
