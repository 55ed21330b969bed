//! `pause`: `docker pause` (the container's processes frozen by the cgroup freezer) for
//! `duration`, then unpaused.

use super::{Backend, Exec, Fields, Kind, KindInfo, Reported, Takes};
use crate::fault::container::ContainerAction;

/// `action: pause` (no fields of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Pause;

impl Kind for Pause {
    const INFO: KindInfo = KindInfo {
        name: "pause",
        help: "`docker pause` (frozen) for `duration`, then unpaused",
        fields: &[],
        duration: Takes::Required,
        compose: true,
        kube: false,
        whole_workload: false,
        replaces: false,
    };

    fn read(_: &mut dyn Fields) -> Result<Self, Reported> {
        Ok(Self)
    }

    fn exec(&self, _: Backend) -> Exec {
        Exec::Container(ContainerAction::Pause)
    }
}
