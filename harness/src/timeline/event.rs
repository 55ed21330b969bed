//! The events a run records. Each line of `events.jsonl` is one [`Event`].

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Nanoseconds on the run clock. For requests this is the *intended* send time.
    pub t: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// One scheduled client request (the load generator's), successful or not.
    Request {
        seq: u64,
        /// Index of the request template (in the load plan) it was built from: which kind
        /// of request it was (a write to read back, or a read). Absent when 0.
        #[serde(default, skip_serializing_if = "is_zero_index")]
        template: usize,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        id: Option<String>,
        /// From the intended send time to the response (or the error).
        latency_ns: u64,
        /// From the intended send time to when the harness actually began the request: its
        /// own lateness (a starved machine), which `latency_ns` includes. Absent when zero.
        #[serde(default, skip_serializing_if = "is_zero")]
        lag_ns: u64,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        status: Option<u16>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        error: Option<String>,
    },
    /// One probe check; `t` is when it began if it failed, when its answer came back if it
    /// succeeded (the moment the service was seen up).
    Probe {
        probe: String,
        ok: bool,
        latency_ns: u64,
        /// How late the harness began the check after its due time on the probe's grid.
        #[serde(default, skip_serializing_if = "is_zero")]
        lag_ns: u64,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        detail: Option<String>,
    },
    /// A step in a fault's life.
    Fault {
        fault: String,
        stage: FaultStage,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        targets: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        detail: Option<String>,
    },
    /// A container event from the Docker daemon, placed on the run clock from its `timeNano`.
    Docker {
        container: String,
        service: String,
        action: DockerAction,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        exit_code: Option<i64>,
    },
    /// A change of a Kubernetes pod of the stack, seen by the harness's watch (placed at the
    /// time the harness received it: the API's own timestamps have whole-second resolution).
    Pod {
        pod: String,
        change: PodChange,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        detail: Option<String>,
    },
    /// The load generator started or stopped.
    Load { started: bool },
    /// Something worth keeping in the record (a warning, a decision).
    Note { message: String },
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_index(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultStage {
    /// The executor began applying it.
    Applied,
    /// Evidence showed it took effect (a Docker event, a changed state, a rule counter).
    Verified,
    /// No evidence of it taking effect arrived in time.
    Unverified,
    /// It was undone (unpause, start, rules removed).
    Reverted,
    /// Applying or reverting failed.
    Failed,
    /// A one-shot fault that runs its course finished (a rollout: the last old container is
    /// gone). Its `during=` window ends here; nothing is reverted.
    Completed,
}

/// What happened to a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PodChange {
    /// First seen (created).
    Added,
    /// Bound to a node.
    Scheduled,
    /// Its Ready condition became True.
    Ready,
    /// Its Ready condition became False.
    Unready,
    /// A container of it restarted (the restart count went up).
    Restarted,
    /// Marked for deletion (graceful termination began).
    Terminating,
    /// Gone from the API.
    Deleted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DockerAction {
    Start,
    Die,
    Kill,
    Stop,
    Restart,
    Pause,
    Unpause,
    Healthy,
    Unhealthy,
    Oom,
}

impl DockerAction {
    /// Maps Docker's event `Action` string; `health_status: healthy` carries its status.
    pub fn from_docker(action: &str) -> Option<Self> {
        Some(match action {
            "start" => Self::Start,
            "die" => Self::Die,
            "kill" => Self::Kill,
            "stop" => Self::Stop,
            "restart" => Self::Restart,
            "pause" => Self::Pause,
            "unpause" => Self::Unpause,
            "oom" => Self::Oom,
            "health_status: healthy" => Self::Healthy,
            "health_status: unhealthy" => Self::Unhealthy,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_event_serializes_flat() {
        let e = Event {
            t: 5,
            kind: EventKind::Request {
                seq: 1,
                template: 0,
                id: None,
                latency_ns: 10,
                lag_ns: 0,
                status: Some(200),
                error: None,
            },
        };
        let line = serde_json::to_string(&e).unwrap();
        assert_eq!(
            line,
            r#"{"t":5,"type":"request","seq":1,"latency_ns":10,"status":200}"#
        );
        assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), e);
        let late = r#"{"t":5,"type":"request","seq":2,"latency_ns":90,"lag_ns":80,"status":200}"#;
        match serde_json::from_str::<Event>(late).unwrap().kind {
            EventKind::Request { lag_ns, .. } => assert_eq!(lag_ns, 80),
            other => panic!("not a request: {other:?}"),
        }
    }

    #[test]
    fn docker_actions_map() {
        assert_eq!(
            DockerAction::from_docker("health_status: healthy"),
            Some(DockerAction::Healthy)
        );
        assert_eq!(DockerAction::from_docker("exec_start: ls"), None);
    }
}
