//! `loss`: packets of the target dropped at random by iptables `statistic` rules in its
//! network namespace (all its traffic, or only with the `to:` services).

use super::{Backend, Exec, Fields, Kind, KindInfo, Reported, Takes};
use crate::fault::network::NetworkAction;

/// `action: loss`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Loss {
    /// Share of packets dropped, 0.0 – 1.0 (`percent: 30%` → 0.30).
    pub ratio: f64,
    /// Only traffic with these services (all traffic when empty).
    pub peers: Vec<String>,
}

impl Kind for Loss {
    const INFO: KindInfo = KindInfo {
        name: "loss",
        help: "packets dropped at random in the target's namespace (`percent`, `to`)",
        fields: &["percent", "to"],
        duration: Takes::Required,
        compose: true,
        kube: true,
        whole_workload: false,
        replaces: false,
    };

    fn read(fields: &mut dyn Fields) -> Result<Self, Reported> {
        let ratio = fields.percent("percent");
        let peers = fields.services("to");
        let ratio = ratio?.ok_or_else(|| fields.missing("percent", Some("e.g. `percent: 30%`")))?;
        Ok(Self {
            ratio,
            peers: peers?.unwrap_or_default(),
        })
    }

    fn exec(&self, _: Backend) -> Exec {
        Exec::Network(NetworkAction::Loss {
            ratio: self.ratio,
            peers: self.peers.clone(),
        })
    }
}
