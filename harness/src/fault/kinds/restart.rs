//! `restart`: `docker restart`, one-shot: proven by the container's new `start`.

use super::{Backend, Exec, Fields, Kind, KindInfo, Reported, Takes};
use crate::fault::container::ContainerAction;

/// `action: restart` (no fields of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Restart;

impl Kind for Restart {
    const INFO: KindInfo = KindInfo {
        name: "restart",
        help: "`docker restart` (one-shot)",
        fields: &[],
        duration: Takes::Optional,
        compose: true,
        kube: false,
        whole_workload: false,
        replaces: false,
    };

    fn read(_: &mut dyn Fields) -> Result<Self, Reported> {
        Ok(Self)
    }

    fn exec(&self, _: Backend) -> Exec {
        Exec::Container(ContainerAction::Restart)
    }
}
