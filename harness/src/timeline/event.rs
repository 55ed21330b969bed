//! The events a run records. Each line of `events.jsonl` is one [`Event`].

use serde::{Deserialize, Serialize};

/// One line of `events.jsonl`: a time on the run clock and what happened then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Nanoseconds on the run clock. For requests this is the *intended* send time.
    pub t: u64,
    /// What happened (serialized flat beside `t`, tagged by `type`).
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Every kind of event a run records (`type` in `events.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// One scheduled client request (the load generator's), successful or not.
    Request {
        /// Position of the request in the load's schedule (0, 1, 2, ... in intended send order).
        seq: u64,
        /// Index of the request template (in the load plan) it was built from: which kind
        /// of request it was (a write to read back, or a read). Absent when 0.
        #[serde(default, skip_serializing_if = "is_zero_index")]
        template: usize,
        /// The `{{id}}` value the request carried, when its template has one (read back by it).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        id: Option<String>,
        /// From the intended send time to the response (or the error).
        latency_ns: u64,
        /// From the intended send time to when the harness actually began the request: its
        /// own lateness (a starved machine), which `latency_ns` includes. Absent when zero.
        #[serde(default, skip_serializing_if = "is_zero")]
        lag_ns: u64,
        /// HTTP status of the response; `None` when no response came (see `error`).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        status: Option<u16>,
        /// Why the request failed without a response (`timeout`, `connect_refused`, `connect`,
        /// `reset`, ...); `None` when a response came.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        error: Option<String>,
    },
    /// One probe check; `t` is when it began if it failed, when its answer came back if it
    /// succeeded (the moment the service was seen up).
    Probe {
        /// The probe's `name:`.
        probe: String,
        /// Whether the check succeeded.
        ok: bool,
        /// Duration of the check in ns (from its start to its answer or failure).
        latency_ns: u64,
        /// How late the harness began the check after its due time on the probe's grid.
        #[serde(default, skip_serializing_if = "is_zero")]
        lag_ns: u64,
        /// Why a failed check failed (error text); `None` on success.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        detail: Option<String>,
        /// The probe's grid ticks that fell due while this check was due but not yet done
        /// (still running, or begun late), and so got no check of their own: one check runs
        /// at a time. Absent when none. Probe success counts them with this check's outcome.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        skipped: Option<SkippedTicks>,
    },
    /// A step in a fault's life.
    Fault {
        /// The fault's `name:`.
        fault: String,
        /// Which step of the fault this is.
        stage: FaultStage,
        /// The replicas acted on (container or pod names); empty when not yet known.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        targets: Vec<String>,
        /// Free text: the evidence, or why the step failed.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        detail: Option<String>,
    },
    /// A container event from the Docker daemon, placed on the run clock from its `timeNano`.
    Docker {
        /// Container name.
        container: String,
        /// Compose service the container belongs to.
        service: String,
        /// What Docker reported.
        action: DockerAction,
        /// The container's exit code, on `die`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        exit_code: Option<i64>,
    },
    /// A change of a Kubernetes pod of the stack, seen by the harness's watch (placed at the
    /// time the harness received it: the API's own timestamps have whole-second resolution).
    Pod {
        /// Pod name.
        pod: String,
        /// What changed.
        change: PodChange,
        /// Free text (e.g. the container that restarted).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        detail: Option<String>,
    },
    /// A fault's life is over: what was gathered along it that no stage says. With the
    /// `fault` events before it, the log alone tells each fault's story
    /// (`FaultRecord::from_log`): the verdict and the reports read nothing else.
    FaultClosed {
        /// The fault's `name:`.
        fault: String,
        /// The action as scenario files spell it.
        action: String,
        /// When the plan had it start, run-clock ns.
        scheduled_ns: u64,
        /// The replicas it acted on.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        targets: Vec<String>,
        /// Why it was not (fully) applied, proven or reverted, in words.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        error: Option<String>,
        /// Its proof and counters, by name.
        #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
        evidence: serde_json::Map<String, serde_json::Value>,
    },
    /// The load generator started or stopped.
    Load {
        /// True when it started, false when it stopped.
        started: bool,
    },
    /// One reading of an alert from the stack's Prometheus (`/api/v1/rules`); `t` is when it
    /// was asked for (the state is at least that old).
    Alert {
        /// The alerting rule's name (`alertname`).
        alert: String,
        /// `inactive`, `pending` or `firing` (its most advanced instance); `unknown` when the
        /// reading failed (`error` says why).
        state: String,
        /// When that state's earliest instance became active (Prometheus's `activeAt`), run-clock
        /// ns (negative: before the run began); absent when inactive.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        active_ns: Option<i64>,
        /// The rule's `for:`, ns.
        #[serde(default)]
        hold_ns: u64,
        /// Its group's evaluation interval, ns.
        #[serde(default)]
        evaluation_ns: u64,
        /// Why the reading failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// One evaluation of a PromQL query (`prom(...)` SLOs) by the stack's Prometheus
    /// (`/api/v1/query`); `t` is when it was asked for.
    Query {
        /// The query as written in the SLO.
        query: String,
        /// Its value: one series (or a scalar); absent when the query returned no series, a
        /// NaN, or the reading failed (`error` says why).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<f64>,
        /// The longest scrape interval among Prometheus's active targets, ns (read at the
        /// start of the run): a value changes no faster than that.
        #[serde(default)]
        scrape_ns: u64,
        /// Why there is no value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Something worth keeping in the record (a warning, a decision).
    Note {
        /// The note, for people.
        message: String,
    },
}

/// Grid ticks a probe could not check because its previous check was still running (or
/// begun late): `first_ns + i * every_ns` on the run clock, for `i` in `0..count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedTicks {
    /// The first skipped tick, run-clock ns (one interval after the check's own due time).
    pub first_ns: u64,
    /// The probe's interval, ns.
    pub every_ns: u64,
    /// How many ticks in a row were skipped (at least 1).
    pub count: u64,
}

impl SkippedTicks {
    /// How many of the ticks fall in `from..=to` (run-clock ns).
    pub fn count_within(&self, from: u64, to: u64) -> u64 {
        if self.count == 0 || self.every_ns == 0 || to < self.first_ns {
            return 0;
        }
        let last = self.count - 1;
        let lo = from.saturating_sub(self.first_ns).div_ceil(self.every_ns);
        let hi = ((to - self.first_ns) / self.every_ns).min(last);
        (hi + 1).saturating_sub(lo)
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_index(n: &usize) -> bool {
    *n == 0
}

/// A step in a fault's life (`stage` of a `Fault` event).
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
    /// Found at its revert: it had stopped acting before it (a stress helper killed, a filled
    /// file removed), so it held only part of its duration. A breach it caused stands; a pass
    /// cannot (exit 4).
    EndedEarly,
    /// Applying or reverting failed.
    Failed,
    /// A one-shot fault that runs its course finished (a rollout: the last old container is
    /// gone). Its `during=` window ends here; nothing is reverted.
    Completed,
    /// The target came back by itself (a crashed container restarted, a deleted pod
    /// replaced and ready).
    Back,
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

/// A Docker container event the run keeps (Docker's `Action`, `health_status: *` split out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DockerAction {
    /// `start`: the container's process started.
    Start,
    /// `die`: the container's process exited.
    Die,
    /// `kill`: a signal was sent to the container.
    Kill,
    /// `stop`: the container was stopped (`docker stop`).
    Stop,
    /// `restart`: the container was restarted.
    Restart,
    /// `pause`: the container was frozen.
    Pause,
    /// `unpause`: the container was unfrozen.
    Unpause,
    /// `health_status: healthy`.
    Healthy,
    /// `health_status: unhealthy`.
    Unhealthy,
    /// `oom`: the kernel's OOM killer hit the container.
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
    fn skipped_ticks_are_counted_in_a_window() {
        // Ticks at 100, 200, 300, 400, 500.
        let s = SkippedTicks {
            first_ns: 100,
            every_ns: 100,
            count: 5,
        };
        assert_eq!(s.count_within(0, u64::MAX), 5);
        assert_eq!(s.count_within(100, 500), 5);
        assert_eq!(s.count_within(101, 499), 3);
        assert_eq!(s.count_within(250, 260), 0);
        assert_eq!(s.count_within(300, 300), 1);
        assert_eq!(s.count_within(0, 99), 0);
        assert_eq!(s.count_within(501, 900), 0);
        let line = serde_json::to_string(&Event {
            t: 0,
            kind: EventKind::Probe {
                probe: "p".into(),
                ok: false,
                latency_ns: 500,
                lag_ns: 0,
                detail: None,
                skipped: Some(s),
            },
        })
        .unwrap();
        assert!(line.ends_with(r#""skipped":{"first_ns":100,"every_ns":100,"count":5}}"#));
        // Logs written before ticks were recorded read as checks that skipped none.
        let old = r#"{"t":5,"type":"probe","probe":"p","ok":true,"latency_ns":9}"#;
        match serde_json::from_str::<Event>(old).unwrap().kind {
            EventKind::Probe { skipped, .. } => assert_eq!(skipped, None),
            other => panic!("not a probe: {other:?}"),
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
