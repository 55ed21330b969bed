//! `scale`: Kubernetes: the target workload scaled to `replicas` for `duration`, then back.

use super::{Backend, Exec, Fields, Kind, KindInfo, Reported, Takes};
use crate::fault::kube::KubeAction;

/// `action: scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Scale {
    /// Replica count held for the fault's duration.
    pub replicas: u32,
}

impl Kind for Scale {
    const INFO: KindInfo = KindInfo {
        name: "scale",
        help: "Kubernetes: the workload scaled to `replicas` for `duration`, then back",
        fields: &["replicas"],
        duration: Takes::Required,
        compose: false,
        kube: true,
        whole_workload: true,
        replaces: true,
    };

    fn read(fields: &mut dyn Fields) -> Result<Self, Reported> {
        let replicas = fields.count("replicas", 0, 1000)?.ok_or_else(|| {
            fields.missing(
                "replicas",
                Some("e.g. `replicas: 0` takes the workload down for `duration`, then scales it back"),
            )
        })?;
        Ok(Self { replicas })
    }

    fn exec(&self, _: Backend) -> Exec {
        Exec::Kube(KubeAction::Scale {
            replicas: self.replicas,
        })
    }
}
