//! Which connections a network fault acts on, as validated from a scenario: the proxy faults'
//! link and the `direction:` word the network kinds share.

use serde::Serialize;

/// `direction:` as scenario files spell it: which way of a proxied connection a toxic acts on
/// (`upstream`, `downstream`, `both`), or for a partition `both` or `one-way`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Client → server (toward the proxied peer).
    Upstream,
    /// Server → client.
    Downstream,
    /// Both ways.
    Both,
    /// Partitions only: the target's outgoing packets to its peers.
    OneWay,
}

/// Which connections of the target the fault proxy intercepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyLink {
    /// Which connections are intercepted: the target's outgoing or incoming ones.
    pub side: LinkSide,
    /// Which way of the connection the toxic applies to (never `one-way`).
    pub direction: Direction,
    /// Share of connections affected, in thousandths (1000 = all), so the link stays `Eq`.
    pub toxicity_permille: u16,
}

/// Which side of the target the fault proxy sits on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum LinkSide {
    /// The target's outgoing connections to `service:port`.
    Egress {
        /// The peer service the target connects to.
        service: String,
        /// The peer's container port.
        port: u16,
    },
    /// Connections arriving at the target's `port`.
    Ingress {
        /// Container port of the target.
        port: u16,
    },
}

impl ProxyLink {
    /// The executor's form of the link with `toxic` on it.
    pub fn with_toxic(&self, toxic: chaosgate_proxy::ToxicKind) -> super::network::NetworkAction {
        use super::network::{Link, NetworkAction};
        NetworkAction::Proxy {
            link: match &self.side {
                LinkSide::Egress { service, port } => Link::Egress {
                    service: service.clone(),
                    port: *port,
                },
                LinkSide::Ingress { port } => Link::Ingress { port: *port },
            },
            toxic,
            direction: match self.direction {
                Direction::Upstream => chaosgate_proxy::Direction::Upstream,
                Direction::Downstream => chaosgate_proxy::Direction::Downstream,
                // Validation refuses `one-way` on a link.
                Direction::Both | Direction::OneWay => chaosgate_proxy::Direction::Both,
            },
            toxicity: f64::from(self.toxicity_permille) / 1000.0,
        }
    }
}
