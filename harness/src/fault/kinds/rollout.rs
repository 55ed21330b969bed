//! `rollout`: a deploy under load: the compose service's containers replaced by a new version
//! (the compose variables of `set` changed) by `strategy` (fault/rollout.rs runs it), or on
//! Kubernetes the Deployment's pods (its containers' declared environment of `set` changed;
//! fault/kube_rollout.rs). One-shot: a deploy is never reverted.

use std::collections::BTreeMap;

use super::{Backend, Exec, Fields, Kind, KindInfo, Reported, Takes};
use crate::fault::rollout::Strategy;

/// `action: rollout`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rollout {
    /// How old containers are replaced by new ones (`rolling` when not given).
    pub strategy: Strategy,
    /// Compose variables (Kubernetes: the containers' declared environment) of the new version,
    /// name → value, applied over the stack's `env`.
    pub set: BTreeMap<String, String>,
    /// `then: rollback`: once the new version is in, the previous one is deployed back the
    /// same way, under the same load (a rollback proven as zero-downtime as the deploy).
    pub rollback: bool,
}

impl Kind for Rollout {
    const INFO: KindInfo = KindInfo {
        name: "rollout",
        help: "a new version of the service deployed under load (`strategy`, `set`, `then: rollback`)",
        fields: &["strategy", "set", "then"],
        duration: Takes::Never(
            "a deploy runs its course and is never reverted; its `during=` window ends when the last old container is gone",
        ),
        compose: true,
        kube: true,
        whole_workload: true,
        replaces: true,
    };

    fn read(fields: &mut dyn Fields) -> Result<Self, Reported> {
        let strategy = fields.strategy();
        let set = fields.settings("set");
        let then = fields.word("then");
        if fields.picks_some() {
            let message = format!(
                "fault `{}`: a rollout replaces every replica; `pick` must be `all`",
                fields.fault()
            );
            return Err(fields.refuse(Some("pick"), message, "remove `pick`"));
        }
        let rollback = match then?.as_deref() {
            None => false,
            Some("rollback") => true,
            Some(other) => {
                return Err(fields.invalid(
                    "then",
                    format!("`{other}`: what may follow a rollout is `rollback`"),
                ));
            }
        };
        Ok(Self {
            strategy: strategy?.unwrap_or(Strategy::Rolling),
            set: set?.unwrap_or_default(),
            rollback,
        })
    }

    fn exec(&self, _: Backend) -> Exec {
        Exec::Rollout {
            strategy: self.strategy,
            set: self.set.clone(),
            rollback: self.rollback,
        }
    }
}
