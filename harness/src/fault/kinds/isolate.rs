//! `isolate`: the target disconnected from the stack's networks for `duration`, then reconnected
//! with its aliases.

use super::{Backend, Exec, Fields, Kind, KindInfo, Reported, Takes};
use crate::fault::network::NetworkAction;

/// `action: isolate` (no fields of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Isolate;

impl Kind for Isolate {
    const INFO: KindInfo = KindInfo {
        name: "isolate",
        help: "the target disconnected from the stack's networks for `duration`",
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
        Exec::Network(NetworkAction::Isolate)
    }
}
