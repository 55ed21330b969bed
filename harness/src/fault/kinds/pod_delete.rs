//! `pod-delete`: Kubernetes: the target pods deleted through the API (their own grace period,
//! or none with `force: true`); the workload's controller replaces them.

use super::{Backend, Exec, Fields, Kind, KindInfo, Reported, Takes};
use crate::fault::kube::KubeAction;

/// `action: pod-delete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PodDelete {
    /// Delete with grace period 0 instead of the pods' own.
    pub force: bool,
}

impl Kind for PodDelete {
    const INFO: KindInfo = KindInfo {
        name: "pod-delete",
        help: "Kubernetes: the target pods deleted (`force: true`: no grace period)",
        fields: &["force"],
        duration: Takes::Optional,
        compose: false,
        kube: true,
        whole_workload: false,
        replaces: true,
    };

    fn read(fields: &mut dyn Fields) -> Result<Self, Reported> {
        Ok(Self {
            force: fields.flag("force")?.unwrap_or(false),
        })
    }

    fn exec(&self, _: Backend) -> Exec {
        Exec::Kube(KubeAction::PodDelete { force: self.force })
    }
}
