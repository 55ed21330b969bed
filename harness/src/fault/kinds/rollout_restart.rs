//! `rollout-restart`: Kubernetes: every pod of the workload restarted by a rolling update (the pod
//! template's `kubectl.kubernetes.io/restartedAt` annotation, as `kubectl rollout restart`).

use super::{Backend, Exec, Fields, Kind, KindInfo, Reported, Takes};
use crate::fault::kube::KubeAction;

/// `action: rollout-restart` (no fields of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RolloutRestart;

impl Kind for RolloutRestart {
    const INFO: KindInfo = KindInfo {
        name: "rollout-restart",
        help: "Kubernetes: restart the workload's pods by a rolling update (`kubectl rollout restart`)",
        fields: &[],
        duration: Takes::Optional,
        compose: false,
        kube: true,
        whole_workload: true,
        replaces: true,
    };

    fn read(_: &mut dyn Fields) -> Result<Self, Reported> {
        Ok(Self)
    }

    fn exec(&self, _: Backend) -> Exec {
        Exec::Kube(KubeAction::RolloutRestart)
    }
}
