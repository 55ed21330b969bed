//! `reset_peer`: the fault proxy resets (TCP RST) the target's connections on a link.

use std::time::Duration;

use chaosgate_proxy::ToxicKind;

use super::{Backend, Exec, Fields, Kind, KindInfo, PROXY, ProxyLink, Reported, Takes};

/// `action: reset_peer`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResetPeer {
    /// The intercepted connections.
    pub link: ProxyLink,
}

impl Kind for ResetPeer {
    const INFO: KindInfo = KindInfo {
        name: "reset_peer",
        help: "connections on a link reset (TCP RST) by the fault proxy",
        fields: PROXY,
        duration: Takes::Required,
        compose: true,
        kube: true,
        whole_workload: false,
        replaces: false,
    };

    fn read(fields: &mut dyn Fields) -> Result<Self, Reported> {
        Ok(Self {
            link: fields.proxy_link()?,
        })
    }

    fn exec(&self, _: Backend) -> Exec {
        Exec::Network(self.link.with_toxic(ToxicKind::ResetPeer {
            after: Duration::ZERO,
        }))
    }
}
