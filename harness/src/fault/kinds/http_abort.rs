//! `http-abort`: the fault proxy answers a share of the requests that match (method, path,
//! header) with an error status, or resets their connection, on live keep-alive
//! connections; the server never sees them. Proven by the requests it acted on.

use chaosgate_proxy::ToxicKind;

use super::{Backend, Direction, Exec, Fields, Kind, KindInfo, ProxyLink, Reported, Takes};
use crate::fault::link::RequestMatch;

/// The status answered when none is given.
const DEFAULT_STATUS: u16 = 503;

/// `action: http-abort`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HttpAbort {
    /// Which requests, and which share of them.
    pub requests: RequestMatch,
    /// The status answered (400 – 599); `None` resets the connection (`status: reset`).
    pub status: Option<u16>,
    /// The intercepted connections (always the request direction).
    pub link: ProxyLink,
}

impl Kind for HttpAbort {
    const INFO: KindInfo = KindInfo {
        name: "http-abort",
        help: "requests that match answered by the fault proxy with an error status or a reset (`status`, `method`, `path`, `header`, `percent`)",
        fields: &["status", "method", "path", "header", "percent", "to", "port", "toxicity"],
        duration: Takes::Required,
        compose: true,
        kube: true,
        whole_workload: false,
        replaces: false,
    };

    fn read(fields: &mut dyn Fields) -> Result<Self, Reported> {
        let status = fields.word("status");
        let requests = RequestMatch::read(fields);
        let link = fields.proxy_link();
        let status = match status?.as_deref() {
            None => Some(DEFAULT_STATUS),
            Some("reset") => None,
            Some(text) => match text.parse::<u16>() {
                Ok(code) if (400..=599).contains(&code) => Some(code),
                _ => {
                    return Err(fields.invalid(
                        "status",
                        format!("`{text}`: an abort answers an error status (400 to 599) or `reset`"),
                    ));
                }
            },
        };
        let mut link = link?;
        link.direction = Direction::Upstream;
        Ok(Self {
            requests: requests?,
            status,
            link,
        })
    }

    fn exec(&self, _: Backend) -> Exec {
        Exec::Network(self.link.with_toxic(ToxicKind::HttpAbort {
            matcher: self.requests.matcher.clone(),
            probability: self.requests.probability(),
            status: self.status,
        }))
    }
}
