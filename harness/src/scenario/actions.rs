//! The fault actions, once: each action's name as scenario files spell it, the fields it takes,
//! whether it is held for a `duration`, and which backends run it. Validation, the help texts
//! and the model's names all read this table (a test keeps it equal to the parser's names).

use super::raw::RawAction;

/// What one fault action is, for every part of the scenario format that needs to know.
#[derive(Debug, Clone, Copy)]
pub struct ActionInfo {
    /// The parsed action.
    pub action: RawAction,
    /// As scenario files spell it (`action: NAME`).
    pub name: &'static str,
    /// The fields it takes beside `name`, `at`, `duration` and `target`.
    pub fields: &'static [&'static str],
    /// It must be given a `duration` (it is held, then reverted). One-shot actions end by
    /// themselves (a crash ends when the target is back).
    pub needs_duration: bool,
    /// Runs on a compose stack.
    pub compose: bool,
    /// Runs on a Kubernetes stack.
    pub kube: bool,
}

const fn info(
    action: RawAction,
    name: &'static str,
    fields: &'static [&'static str],
    needs_duration: bool,
    (compose, kube): (bool, bool),
) -> ActionInfo {
    ActionInfo {
        action,
        name,
        fields,
        needs_duration,
        compose,
        kube,
    }
}

const COMPOSE: (bool, bool) = (true, false);
const KUBE: (bool, bool) = (false, true);
const BOTH: (bool, bool) = (true, true);
const PROXY: &[&str] = &["to", "port", "direction", "toxicity"];

/// Every action, in the order the documentation lists them.
pub const ACTIONS: [ActionInfo; 16] = [
    info(RawAction::Crash, "crash", &[], false, BOTH),
    info(RawAction::Kill, "kill", &[], false, COMPOSE),
    info(RawAction::Stop, "stop", &[], true, COMPOSE),
    info(RawAction::Restart, "restart", &[], false, COMPOSE),
    info(RawAction::Pause, "pause", &[], true, COMPOSE),
    info(
        RawAction::Latency,
        "latency",
        &["latency", "jitter", "to", "port", "direction", "toxicity"],
        true,
        BOTH,
    ),
    info(
        RawAction::Bandwidth,
        "bandwidth",
        &["rate", "to", "port", "direction", "toxicity"],
        true,
        BOTH,
    ),
    info(RawAction::ResetPeer, "reset_peer", PROXY, true, BOTH),
    info(RawAction::Timeout, "timeout", PROXY, true, BOTH),
    info(RawAction::Loss, "loss", &["percent", "to"], true, BOTH),
    info(
        RawAction::Partition,
        "partition",
        &["to", "direction"],
        true,
        BOTH,
    ),
    info(RawAction::Isolate, "isolate", &[], true, COMPOSE),
    info(
        RawAction::Rollout,
        "rollout",
        &["strategy", "set"],
        false,
        COMPOSE,
    ),
    info(RawAction::PodDelete, "pod-delete", &["force"], false, KUBE),
    info(RawAction::Scale, "scale", &["replicas"], true, KUBE),
    info(
        RawAction::RolloutRestart,
        "rollout-restart",
        &[],
        false,
        KUBE,
    ),
];

impl RawAction {
    /// This action's row of [`ACTIONS`].
    pub fn info(self) -> &'static ActionInfo {
        ACTIONS
            .iter()
            .find(|a| a.action == self)
            .expect("every action has a row in ACTIONS")
    }

    /// The action as scenario files spell it.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Whether a Kubernetes stack (`kube`) or a compose one runs it.
    pub fn supported(self, kube: bool) -> bool {
        let i = self.info();
        if kube { i.kube } else { i.compose }
    }
}

/// The names of the actions a backend runs, `, `-separated, in table order (for help texts).
pub fn names_on(kube: bool) -> String {
    ACTIONS
        .iter()
        .filter(|a| a.action.supported(kube))
        .map(|a| a.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's names are the parser's: each one parses to its own row's action, and every
    /// action has exactly one row.
    #[test]
    fn the_table_agrees_with_the_parser() {
        for a in ACTIONS {
            let parsed: RawAction = serde_saphyr::from_str(a.name).expect(a.name);
            assert_eq!(parsed, a.action, "{}", a.name);
            assert_eq!(
                ACTIONS.iter().filter(|b| b.action == a.action).count(),
                1,
                "{}",
                a.name
            );
        }
        // And the schema lists exactly these names.
        let schema = serde_json::to_string(&schemars::schema_for!(RawAction)).unwrap();
        for a in ACTIONS {
            assert!(schema.contains(&format!("\"{}\"", a.name)), "{}", a.name);
        }
    }

    #[test]
    fn each_backend_lists_its_actions() {
        assert_eq!(
            names_on(true),
            "crash, latency, bandwidth, reset_peer, timeout, loss, partition, pod-delete, scale, rollout-restart"
        );
        assert!(names_on(false).starts_with("crash, kill, stop, restart, pause, latency"));
        assert!(!names_on(false).contains("pod-delete"));
    }
}
