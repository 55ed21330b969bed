//! Errors of the fault proxy (the data path and its control handle).

use std::net::SocketAddr;
use std::path::PathBuf;

/// What can go wrong when starting or controlling a fault proxy. The crate maps no exit
/// codes: in a chaosgate run, a fault that fails with one of these is recorded with its
/// error and not proven applied, which makes the verdict inconclusive (exit 4).
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The listening socket could not be created, bound or read back.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The `ProxyConfig::listen` address asked for (port 0 = any).
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A toxic failed validation: empty name, toxicity outside [0, 1], 0 bytes/s, or slicer
    /// sizes out of range.
    #[error("invalid toxic {name:?}: {reason}")]
    InvalidToxic {
        /// The toxic's `Toxic::name` as given (possibly empty).
        name: String,
        /// Which rule it broke.
        reason: String,
    },
    /// `add_toxic` with a name already installed on this proxy (held: the name).
    #[error("a toxic named {0:?} is already installed")]
    DuplicateToxic(String),
    /// `remove_toxic` of a name not installed on this proxy (held: the name).
    #[error("no toxic named {0:?} is installed")]
    UnknownToxic(String),
    /// The proxy thread could not join the target network namespace (setns).
    #[error("cannot enter network namespace {path}: {source}")]
    EnterNetns {
        /// The namespace file, e.g. `/proc/<pid>/ns/net`.
        path: PathBuf,
        /// The OS error (commonly EPERM without CAP_SYS_ADMIN, or ENOENT once the process
        /// is gone).
        #[source]
        source: std::io::Error,
    },
    /// The proxy thread's Tokio runtime could not be built (held: the OS error).
    #[error("cannot build the runtime of the proxy thread: {0}")]
    Runtime(#[source] std::io::Error),
    /// The OS refused to spawn the proxy thread (held: the OS error).
    #[error("cannot start the proxy thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The thread in the namespace returned without a value (it failed before reporting).
    #[error("the proxy thread ended before reporting that it listens")]
    ThreadGone,
    /// The thread in the namespace panicked.
    #[error("the proxy thread panicked")]
    ThreadPanicked,
}
