//! `partition`: traffic between the target and its `to:` peers blocked by iptables rules in
//! the target's namespace, both ways or only the target's outgoing packets (`one-way`).

use super::{Backend, Direction, Exec, Fields, Kind, KindInfo, Reported, Takes};
use crate::fault::network::NetworkAction;

/// `action: partition`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Partition {
    /// Services cut off from the target.
    pub peers: Vec<String>,
    /// Only the target's outgoing packets to its peers are dropped (`direction: one-way`).
    pub one_way: bool,
}

impl Kind for Partition {
    const INFO: KindInfo = KindInfo {
        name: "partition",
        help: "traffic between the target and the `to` services blocked (`direction: one-way` for the target's outgoing only)",
        fields: &["to", "direction"],
        duration: Takes::Required,
        compose: true,
        kube: true,
        whole_workload: false,
        replaces: false,
    };

    fn read(fields: &mut dyn Fields) -> Result<Self, Reported> {
        let one_way = match fields.direction()? {
            None | Some(Direction::Both) => false,
            Some(Direction::OneWay) => true,
            Some(_) => {
                return Err(fields.invalid(
                    "direction",
                    "a partition's direction is `both` or `one-way`".into(),
                ));
            }
        };
        let peers = fields
            .services("to")?
            .ok_or_else(|| fields.missing("to", None))?;
        Ok(Self { peers, one_way })
    }

    fn exec(&self, _: Backend) -> Exec {
        Exec::Network(NetworkAction::Partition {
            peers: self.peers.clone(),
            one_way: self.one_way,
        })
    }
}
