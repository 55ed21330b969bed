//! Errors of the fault proxy (the data path and its control handle).

use std::net::SocketAddr;
use std::path::PathBuf;

/// What can go wrong when starting or controlling a fault proxy.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid toxic {name:?}: {reason}")]
    InvalidToxic { name: String, reason: String },
    #[error("a toxic named {0:?} is already installed")]
    DuplicateToxic(String),
    #[error("no toxic named {0:?} is installed")]
    UnknownToxic(String),
    #[error("cannot enter network namespace {path}: {source}")]
    EnterNetns {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build the runtime of the proxy thread: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("cannot start the proxy thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("the proxy thread ended before reporting that it listens")]
    ThreadGone,
    #[error("the proxy thread panicked")]
    ThreadPanicked,
}
