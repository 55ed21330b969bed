//! Running a proxy (or any code) inside another network namespace, e.g. a container's.
//!
//! `setns` changes the namespace of the calling thread only, so each of these gets a
//! dedicated OS thread; a proxy there runs on its own current-thread tokio runtime and is
//! controlled from the caller's runtime through the same handle as a local proxy.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use nix::sched::{CloneFlags, setns};
use tokio::sync::oneshot;

use crate::error::ProxyError;
use crate::proxy::{ProxyConfig, ProxyHandle, ProxyParts, Runner, bind, serve};

/// The network namespace file of a process.
pub fn netns_path_of(pid: u32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/ns/net"))
}

/// Moves the calling thread into the network namespace at `path` (needs CAP_SYS_ADMIN).
pub fn enter_netns(path: &Path) -> Result<(), ProxyError> {
    let enter_error = |source| ProxyError::EnterNetns {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(enter_error)?;
    setns(file.as_fd(), CloneFlags::CLONE_NEWNET)
        .map_err(|errno| enter_error(std::io::Error::from(errno)))
}

/// Starts a proxy inside the network namespace of process `pid` (e.g. a container's
/// `State.Pid`). Blocks briefly until the proxy listens; `cfg.listen` is an address in
/// that namespace.
pub fn spawn_in_netns(pid: u32, cfg: ProxyConfig) -> Result<ProxyHandle, ProxyError> {
    spawn_in_netns_path(netns_path_of(pid), cfg)
}

/// As `spawn_in_netns`, for a namespace file such as `/run/netns/<name>`.
pub fn spawn_in_netns_path(path: PathBuf, cfg: ProxyConfig) -> Result<ProxyHandle, ProxyError> {
    let (ready_tx, ready_rx) = mpsc::sync_channel(1);
    let (finished_tx, finished_rx) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name(format!("chaosgate-proxy-{}", cfg.listen))
        .spawn(move || {
            run_proxy_thread(&path, &cfg, ready_tx);
            let _ = finished_tx.send(());
        })
        .map_err(ProxyError::Thread)?;
    match ready_rx.recv() {
        Ok(Ok(parts)) => Ok(parts.into_handle(Runner::Thread {
            finished: finished_rx,
            thread,
        })),
        Ok(Err(error)) => {
            let _ = thread.join();
            Err(error)
        }
        Err(_) => match thread.join() {
            Ok(()) => Err(ProxyError::ThreadGone),
            Err(_) => Err(ProxyError::ThreadPanicked),
        },
    }
}

type Ready = Result<ProxyParts, ProxyError>;

fn run_proxy_thread(path: &Path, cfg: &ProxyConfig, ready: mpsc::SyncSender<Ready>) {
    let runtime = enter_netns(path).and_then(|()| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ProxyError::Runtime)
    });
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    runtime.block_on(async {
        let started = bind(cfg.listen).and_then(|listener| {
            let parts = ProxyParts::new(cfg, &listener)?;
            Ok((listener, parts))
        });
        let (listener, parts) = match started {
            Ok(started) => started,
            Err(error) => {
                let _ = ready.send(Err(error));
                return;
            }
        };
        let (ctx, shutdown) = (parts.ctx.clone(), parts.shutdown.clone());
        if ready.send(Ok(parts)).is_err() {
            return;
        }
        serve(listener, ctx, shutdown).await;
    });
}

/// Runs `work` on a new thread inside the network namespace at `path`; fails (without
/// running `work`) if the namespace cannot be entered. For probes, servers or load that must
/// run from inside a network namespace.
pub fn spawn_thread_in_netns<T, F>(path: PathBuf, work: F) -> Result<NetnsThread<T>, ProxyError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (entered_tx, entered_rx) = mpsc::sync_channel(1);
    let thread = std::thread::Builder::new()
        .name("chaosgate-netns".to_owned())
        .spawn(move || {
            let entered = enter_netns(&path);
            let ok = entered.is_ok();
            let _ = entered_tx.send(entered);
            ok.then(work)
        })
        .map_err(ProxyError::Thread)?;
    match entered_rx.recv() {
        Ok(Ok(())) => Ok(NetnsThread { thread }),
        Ok(Err(error)) => {
            let _ = thread.join();
            Err(error)
        }
        Err(_) => Err(ProxyError::ThreadGone),
    }
}

/// A thread running inside another network namespace.
#[derive(Debug)]
pub struct NetnsThread<T> {
    thread: std::thread::JoinHandle<Option<T>>,
}

impl<T> NetnsThread<T> {
    /// Waits for the thread and returns what its work returned.
    pub fn join(self) -> Result<T, ProxyError> {
        match self.thread.join() {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(ProxyError::ThreadGone),
            Err(_) => Err(ProxyError::ThreadPanicked),
        }
    }

    /// Whether the thread has ended (then [`NetnsThread::join`] does not block).
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }
}
