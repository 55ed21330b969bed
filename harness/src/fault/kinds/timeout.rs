//! `timeout`: the fault proxy accepts the target's connections on a link and never answers.

use chaosgate_proxy::ToxicKind;

use super::{Backend, Exec, Fields, Kind, KindInfo, PROXY, ProxyLink, Reported, Takes};

/// `action: timeout`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Timeout {
    /// The intercepted connections.
    pub link: ProxyLink,
}

impl Kind for Timeout {
    const INFO: KindInfo = KindInfo {
        name: "timeout",
        help: "connections on a link accepted by the fault proxy and never answered",
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
        Exec::Network(self.link.with_toxic(ToxicKind::Timeout { after: None }))
    }
}
