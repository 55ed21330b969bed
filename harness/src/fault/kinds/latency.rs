//! `latency`: delay added by the fault proxy to the target's connections on a link, each
//! chunk held `latency ± jitter` (on `both`, half each way).

use std::time::Duration;

use chaosgate_proxy::ToxicKind;

use super::{Backend, Exec, Fields, Kind, KindInfo, PROXY, ProxyLink, Reported, Takes};

/// A proxy delay beyond this is a timeout, which has its own kind.
const BOUNDS: (Duration, Duration) = (Duration::ZERO, Duration::from_secs(600));

/// `action: latency`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Latency {
    /// Added delay per round trip (0 – 600 s).
    pub latency: Duration,
    /// Spread around `latency` (0 when not given).
    pub jitter: Duration,
    /// The intercepted connections.
    pub link: ProxyLink,
}

impl Kind for Latency {
    const INFO: KindInfo = KindInfo {
        name: "latency",
        help: "delay added by the fault proxy on a link (`latency`, `jitter`)",
        fields: &["latency", "jitter", PROXY[0], PROXY[1], PROXY[2], PROXY[3]],
        duration: Takes::Required,
        compose: true,
        kube: true,
        whole_workload: false,
        replaces: false,
    };

    fn read(fields: &mut dyn Fields) -> Result<Self, Reported> {
        let latency = fields.duration("latency", BOUNDS);
        let jitter = fields.duration("jitter", BOUNDS);
        let link = fields.proxy_link();
        let latency = latency?.ok_or_else(|| fields.missing("latency", Some("e.g. `latency: 300ms`")))?;
        Ok(Self {
            latency,
            jitter: jitter?.unwrap_or(Duration::ZERO),
            link: link?,
        })
    }

    fn exec(&self, _: Backend) -> Exec {
        Exec::Network(self.link.with_toxic(ToxicKind::Latency {
            latency: self.latency,
            jitter: self.jitter,
        }))
    }
}
