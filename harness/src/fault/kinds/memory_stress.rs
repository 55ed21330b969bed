//! `memory-stress`: helpers inside the target's cgroups hold `size` bytes (mapped, touched,
//! locked against swap) for `duration`: the container has that much less room under its limit.
//! The container's own processes are made the OOM killer's first choice for the duration
//! (`oom_score_adj` 1000, restored at revert) and the bytes are held in up to eight pieces:
//! when the squeeze is too tight it is the container's processes that are killed, which is what
//! the fault asks, not a holder. A holder killed anyway ended the squeeze early: the proof is
//! withdrawn at revert (inconclusive, never a pass). Proven by the held mappings' resident
//! size and the holders' membership of the cgroups; reverted by killing them.

use super::{Backend, Exec, Fields, Kind, KindInfo, Reported, Takes};
use crate::fault::resource::ResourceAction;

/// `action: memory-stress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MemoryStress {
    /// Held, in bytes.
    pub bytes: u64,
}

impl Kind for MemoryStress {
    const INFO: KindInfo = KindInfo {
        name: "memory-stress",
        help: "a helper inside the target's cgroups holds `size` of memory for `duration`",
        fields: &["size"],
        duration: Takes::Required,
        compose: true,
        kube: true,
        whole_workload: false,
        replaces: false,
    };

    fn read(fields: &mut dyn Fields) -> Result<Self, Reported> {
        match fields.bytes("size")? {
            Some(bytes) => Ok(Self { bytes }),
            None => Err(fields.missing("size", Some("e.g. `size: 256MiB`"))),
        }
    }

    fn exec(&self, _: Backend) -> Exec {
        Exec::Resource(ResourceAction::Memory { bytes: self.bytes })
    }
}
