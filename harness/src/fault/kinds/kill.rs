//! `kill`: `docker kill`. Docker treats the container as stopped by hand, so it stays down until
//! the fault's `duration` ends (then it is started again), or for good without one.

use super::{Backend, Exec, Fields, Kind, KindInfo, Reported, Takes};
use crate::fault::container::ContainerAction;

/// `action: kill` (no fields of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Kill;

impl Kind for Kill {
    const INFO: KindInfo = KindInfo {
        name: "kill",
        help: "`docker kill`: the container stays down (started again after `duration`, if given)",
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
        Exec::Container(ContainerAction::Kill)
    }
}
