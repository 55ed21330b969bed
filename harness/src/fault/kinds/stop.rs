//! `stop`: `docker stop` (the image's stop signal and grace time), started again after `duration`.

use super::{Backend, Exec, Fields, Kind, KindInfo, Reported, Takes};
use crate::fault::container::ContainerAction;

/// `action: stop` (no fields of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Stop;

impl Kind for Stop {
    const INFO: KindInfo = KindInfo {
        name: "stop",
        help: "`docker stop` for `duration`, then started again",
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
        Exec::Container(ContainerAction::Stop)
    }
}
