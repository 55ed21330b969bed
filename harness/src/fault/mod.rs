//! Faults: applying them on schedule, proving they took effect, and always reverting them.

pub mod container;
pub mod dispatch;
pub mod exec;
pub mod kinds;
pub mod kube;
pub mod kube_rollout;
pub mod lifecycle;
pub mod link;
pub mod network;
pub mod record;
pub mod resource;
pub mod rollout;
pub mod schedule;
#[cfg(test)]
mod test_log;

use std::path::Path;
use std::time::Duration;

use crate::stack::ContainerInfo;

/// The proof and counters a fault gathers for the report, by name.
pub type Evidence = serde_json::Map<String, serde_json::Value>;

pub use record::FaultRecord;

/// How long to wait for Docker's event proving a container fault took effect. The measured
/// die event after SIGKILL comes within tens of milliseconds; a stop may take its grace time.
pub const VERIFY_TIMEOUT: Duration = Duration::from_secs(15);

/// How long before its planned time a fault's targets are looked up (a list and an inspect per
/// container: 7-165 ms measured here on a busy machine, which made faults fire that late).
/// Short, because a container that restarts in between gets a new PID; that is caught by
/// [`still_current`] at the planned time, and only then is the lookup repeated.
pub const RESOLVE_AHEAD: Duration = Duration::from_secs(1);

/// Whether every container looked up earlier still runs the same process: its PID is alive and
/// belongs to the container. A read of `/proc/<pid>/cgroup` each (tens of microseconds), so it
/// can run at the planned time. `false` for an empty list (the service had no running
/// container then; it may have one now), for a stopped container (it may have started since)
/// and when `/proc` does not show the daemon's processes (the harness is not on its host).
pub fn still_current(containers: &[ContainerInfo]) -> bool {
    !containers.is_empty()
        && containers
            .iter()
            .all(|c| c.running && is_process_of(Path::new("/proc"), c.pid, &c.id))
}

/// Whether `pid` (in the `/proc` mounted at `proc_root`) is a process of the container with
/// the full ID `container_id`: Docker's cgroup path names the container's ID, with the cgroupfs
/// driver (`/docker/<id>`) and the systemd one (`docker-<id>.scope`), v1 and v2 alike.
pub fn is_process_of(proc_root: &Path, pid: u32, container_id: &str) -> bool {
    pid != 0
        && container_id.len() >= 12
        && std::fs::read_to_string(proc_root.join(pid.to_string()).join("cgroup"))
            .is_ok_and(|cgroups| cgroups.contains(container_id))
}

/// Why a container fault could not be issued. Recorded in the fault's [`FaultRecord::error`], never
/// returned from the run: the fault then counts as not proven applied, which makes the SLOs that
/// depend on it inconclusive (exit 4).
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// The service had no container to act on; holds the service name.
    #[error("service `{0}` has no container to target")]
    NoTarget(String),
    /// The container had no running process to SIGKILL.
    #[error("container {container} is not running (no PID to signal)")]
    NotRunning {
        /// The container's name.
        container: String,
    },
    /// The SIGKILL could not be delivered (kill(2) or the helper container failed).
    #[error("sending SIGKILL to pid {pid} of {container}: {reason}")]
    Signal {
        /// The container's name.
        container: String,
        /// Host PID that was to be signalled.
        pid: u32,
        /// The OS's or helper's error.
        reason: String,
    },
    /// A Docker API call failed while acting.
    #[error(transparent)]
    Stack(#[from] crate::stack::StackError),
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f4e1c0b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";

    /// A fake `/proc` with one process whose cgroup file says `cgroups`.
    fn proc_with(pid: u32, cgroups: &str) -> std::path::PathBuf {
        let root = std::env::temp_dir().join(format!(
            "cg-proc-{}-{pid}-{}",
            std::process::id(),
            cgroups.len()
        ));
        std::fs::create_dir_all(root.join(pid.to_string())).unwrap();
        std::fs::write(root.join(pid.to_string()).join("cgroup"), cgroups).unwrap();
        root
    }

    #[test]
    fn a_containers_process_is_recognised_by_its_cgroup() {
        let v1 = proc_with(
            41,
            &format!("9:name=systemd:/docker/{ID}\n4:memory:/docker/{ID}\n0::/\n"),
        );
        assert!(is_process_of(&v1, 41, ID));
        let v2 = proc_with(42, &format!("0::/system.slice/docker-{ID}.scope\n"));
        assert!(is_process_of(&v2, 42, ID));
        for root in [v1, v2] {
            std::fs::remove_dir_all(root).unwrap();
        }
    }

    #[test]
    fn a_reused_or_vanished_pid_is_not_the_containers() {
        // The PID now belongs to a host process (the container restarted with a new PID).
        let host = proc_with(
            43,
            "9:name=systemd:/user.slice\n0::/user.slice/session-1.scope\n",
        );
        assert!(!is_process_of(&host, 43, ID));
        // Another container's process.
        let other = proc_with(44, &format!("0::/docker/{}\n", ID.replace('3', "7")));
        assert!(!is_process_of(&other, 44, ID));
        // No such process.
        assert!(!is_process_of(&host, 45, ID));
        // Not running: no PID; no ID to look for.
        assert!(!is_process_of(&host, 0, ID));
        assert!(!is_process_of(&host, 43, ""));
        for root in [host, other] {
            std::fs::remove_dir_all(root).unwrap();
        }
    }

    #[test]
    fn nothing_looked_up_is_never_current() {
        assert!(!still_current(&[]));
        let stopped = ContainerInfo {
            id: ID.into(),
            name: "x".into(),
            service: "x".into(),
            number: 1,
            running: false,
            paused: false,
            health: None,
            pid: 0,
            restart_count: 0,
            published: vec![],
            networks: vec![],
            last_health_check: None,
            aliases: vec![],
            image: String::new(),
            labels: Default::default(),
        };
        assert!(!still_current(&[stopped]));
    }
}
