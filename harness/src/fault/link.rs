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

/// Which requests an L7 fault (`http-abort`, `http-delay`) acts on, as scenario files give
/// them: `method`, `path` (exact, or a glob when it has `*`, `?`, `[` or `{`: `*` within
/// one segment, `**` across, so `/api/**` is a prefix), `header: "name: value"`, and
/// `percent` of the matching requests (all when absent), drawn per request from the seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestMatch {
    /// The proxy's form of the method, path and header conditions.
    pub matcher: chaosgate_proxy::HttpMatch,
    /// Share of matching requests acted on, in thousandths (1000 = all).
    pub permille: u16,
}

impl RequestMatch {
    /// The share acted on, 0.0 – 1.0.
    pub fn probability(&self) -> f64 {
        f64::from(self.permille) / 1000.0
    }

    /// Reads `method`, `path`, `header` and `percent`; each problem is reported at its field.
    pub fn read(fields: &mut dyn super::kinds::Fields) -> Result<Self, super::kinds::Reported> {
        use chaosgate_proxy::{HeaderMatch, PathGlob, PathMatch};
        let method = fields.word("method");
        let path = fields.word("path");
        let header = fields.word("header");
        let percent = fields.percent("percent");
        // Each field is checked, so that every bad one is reported, before any error returns.
        let method = method.and_then(|m| match m {
            Some(m)
                if m.is_empty()
                    || !m
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.!".contains(&b)) =>
            {
                Err(fields.invalid("method", "a method is one token, e.g. `GET`".into()))
            }
            m => Ok(m),
        });
        let path = path.and_then(|p| match p {
            None => Ok(None),
            Some(p) if !p.starts_with('/') => {
                Err(fields.invalid("path", format!("`{p}`: a path starts with `/`")))
            }
            Some(p) if p.contains(['*', '?', '[', '{']) => match PathGlob::new(&p) {
                Ok(glob) => Ok(Some(PathMatch::Glob(glob))),
                Err(e) => Err(fields.invalid("path", format!("`{p}` is not a glob: {e}"))),
            },
            Some(p) => Ok(Some(PathMatch::Exact(p))),
        });
        let header = header.and_then(|h| match h {
            None => Ok(None),
            Some(h) => match h.split_once(':') {
                Some((name, value)) if !name.trim().is_empty() => Ok(Some(HeaderMatch {
                    name: name.trim().to_owned(),
                    value: value.trim().to_owned(),
                })),
                _ => Err(fields.invalid(
                    "header",
                    format!("`{h}`: a header to match is `name: value`, e.g. `x-user: bob`"),
                )),
            },
        });
        let (method, path, header) = (method?, path?, header?);
        let share = percent?.unwrap_or(1.0);
        Ok(RequestMatch {
            matcher: chaosgate_proxy::HttpMatch {
                method,
                path,
                header,
            },
            // In thousandths so the fault stays `Eq`; a share finer than 0.1 % is rounded.
            permille: (share * 1000.0).round() as u16,
        })
    }
}
