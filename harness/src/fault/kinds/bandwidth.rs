//! `bandwidth`: the fault proxy caps the throughput of the target's connections on a link.

use chaosgate_proxy::ToxicKind;

use super::{Backend, Exec, Fields, Kind, KindInfo, PROXY, ProxyLink, Reported, Takes};

/// `action: bandwidth`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Bandwidth {
    /// Cap in bytes per second (`rate: 64KB/s`).
    pub bytes_per_second: u64,
    /// The intercepted connections.
    pub link: ProxyLink,
}

impl Kind for Bandwidth {
    const INFO: KindInfo = KindInfo {
        name: "bandwidth",
        help: "throughput capped by the fault proxy on a link (`rate`)",
        fields: &["rate", PROXY[0], PROXY[1], PROXY[2], PROXY[3]],
        duration: Takes::Required,
        compose: true,
        kube: true,
        whole_workload: false,
        replaces: false,
    };

    fn read(fields: &mut dyn Fields) -> Result<Self, Reported> {
        let rate = fields.byte_rate("rate");
        let link = fields.proxy_link();
        let rate = rate?.ok_or_else(|| fields.missing("rate", Some("e.g. `rate: 64KB/s`")))?;
        Ok(Self {
            bytes_per_second: rate,
            link: link?,
        })
    }

    fn exec(&self, _: Backend) -> Exec {
        Exec::Network(self.link.with_toxic(ToxicKind::Bandwidth {
            bytes_per_sec: self.bytes_per_second,
        }))
    }
}
