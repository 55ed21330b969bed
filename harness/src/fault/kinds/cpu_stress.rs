//! `cpu-stress`: `cores` helpers spinning inside the target's cgroups for `duration`, so the
//! container is charged for them and its own CPU limit and share are what they eat: a noisy
//! neighbour in the same container (a sidecar, a GC storm). No tool in the target's image.
//! Proven by the helpers, in the cgroups, using CPU (against what the cgroup's limit lets
//! them have); reverted by killing them.

use super::{Backend, Exec, Fields, Kind, KindInfo, Reported, Takes};
use crate::fault::resource::ResourceAction;

/// `action: cpu-stress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CpuStress {
    /// Spinning helpers, one core's worth each.
    pub cores: u32,
}

impl Kind for CpuStress {
    const INFO: KindInfo = KindInfo {
        name: "cpu-stress",
        help: "`cores` busy helpers inside the target's cgroups (charged to it) for `duration`",
        fields: &["cores"],
        duration: Takes::Required,
        compose: true,
        kube: true,
        whole_workload: false,
        replaces: false,
    };

    fn read(fields: &mut dyn Fields) -> Result<Self, Reported> {
        Ok(Self {
            cores: fields.count("cores", 1, 64)?.unwrap_or(1),
        })
    }

    fn exec(&self, _: Backend) -> Exec {
        Exec::Resource(ResourceAction::Cpu { cores: self.cores })
    }
}
