//! `crash`: a real crash. On compose, SIGKILL of the container's process from outside Docker
//! (`docker kill` marks a container stopped by hand, so `restart: always` would not fire); on
//! Kubernetes, SIGKILL of the pod's first container's process through the node, so the kubelet
//! sees a crash and restarts it. One-shot: the stack's own recovery ends it.

use super::{Backend, Exec, Fields, Kind, KindInfo, Reported, Takes};
use crate::fault::container::ContainerAction;
use crate::fault::kube::KubeAction;

/// `action: crash` (no fields of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Crash;

impl Kind for Crash {
    const INFO: KindInfo = KindInfo {
        name: "crash",
        help: "SIGKILL of the target's main process from outside: its restart policy brings it back",
        fields: &[],
        duration: Takes::Optional,
        compose: true,
        kube: true,
        whole_workload: false,
        replaces: false,
    };

    fn read(_: &mut dyn Fields) -> Result<Self, Reported> {
        Ok(Self)
    }

    fn exec(&self, backend: Backend) -> Exec {
        match backend {
            Backend::Compose => Exec::Container(ContainerAction::Crash),
            Backend::Kube => Exec::Kube(KubeAction::Crash),
        }
    }
}
