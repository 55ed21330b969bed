//! `http-delay`: the fault proxy holds a share of the requests that match (method, path,
//! header) `delay` before they go on to the server, on live keep-alive connections; other
//! requests on the same connections pass at once. Proven by the requests it delayed.

use std::time::Duration;

use chaosgate_proxy::ToxicKind;

use super::{Backend, Direction, Exec, Fields, Kind, KindInfo, ProxyLink, Reported, Takes};
use crate::fault::link::RequestMatch;

/// A longer hold is a timeout, which has its own kind.
const BOUNDS: (Duration, Duration) = (Duration::from_millis(1), Duration::from_secs(600));

/// `action: http-delay`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HttpDelay {
    /// Which requests, and which share of them.
    pub requests: RequestMatch,
    /// How long each is held before it is forwarded.
    pub delay: Duration,
    /// The intercepted connections (always the request direction).
    pub link: ProxyLink,
}

impl Kind for HttpDelay {
    const INFO: KindInfo = KindInfo {
        name: "http-delay",
        help: "requests that match held by the fault proxy before they are forwarded (`delay`, `method`, `path`, `header`, `percent`)",
        fields: &["delay", "method", "path", "header", "percent", "to", "port", "toxicity"],
        duration: Takes::Required,
        compose: true,
        kube: true,
        whole_workload: false,
        replaces: false,
    };

    fn read(fields: &mut dyn Fields) -> Result<Self, Reported> {
        let delay = fields.duration("delay", BOUNDS);
        let requests = RequestMatch::read(fields);
        let link = fields.proxy_link();
        let delay = delay?.ok_or_else(|| fields.missing("delay", Some("e.g. `delay: 500ms`")))?;
        let mut link = link?;
        link.direction = Direction::Upstream;
        Ok(Self {
            requests: requests?,
            delay,
            link,
        })
    }

    fn exec(&self, _: Backend) -> Exec {
        Exec::Network(self.link.with_toxic(ToxicKind::HttpDelay {
            matcher: self.requests.matcher.clone(),
            probability: self.requests.probability(),
            delay: self.delay,
        }))
    }
}
