//! Faults: applying them on schedule, proving they took effect, and always reverting them.

pub mod container;
pub mod network;

use std::time::Duration;

use serde::Serialize;

/// What happened to one fault, as the report shows it. Times are run-clock nanoseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FaultRecord {
    pub name: String,
    pub action: String,
    pub targets: Vec<String>,
    pub scheduled_ns: u64,
    pub applied_ns: Option<u64>,
    /// When evidence showed the fault took effect; `None` = not proven applied.
    pub verified_ns: Option<u64>,
    pub reverted_ns: Option<u64>,
    /// When the target was back by itself (a crashed container restarted), if it was.
    pub target_back_ns: Option<u64>,
    pub error: Option<String>,
    pub evidence: serde_json::Map<String, serde_json::Value>,
}

/// How long to wait for Docker's event proving a container fault took effect. The measured
/// die event after SIGKILL comes within tens of milliseconds; a stop may take its grace time.
pub const VERIFY_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("service `{0}` has no container to target")]
    NoTarget(String),
    #[error("container {container} is not running (no PID to signal)")]
    NotRunning { container: String },
    #[error("sending SIGKILL to pid {pid} of {container}: {reason}")]
    Signal {
        container: String,
        pid: u32,
        reason: String,
    },
    #[error(transparent)]
    Stack(#[from] crate::stack::StackError),
}
