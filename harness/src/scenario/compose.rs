//! Reading what a scenario checks against the compose files: the service names (the keys of
//! `services:`) and the container ports each service publishes (`ports:`) or exposes
//! (`expose:`), so a scenario naming a service the stack does not have, or a port nothing
//! listens on, is rejected before anything starts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use serde::Deserialize;

#[derive(Deserialize)]
struct ComposeFile {
    #[serde(default)]
    services: Option<BTreeMap<String, Option<ComposeService>>>,
}

#[derive(Deserialize, Default)]
struct ComposeService {
    #[serde(default)]
    ports: Option<Vec<PortEntry>>,
    #[serde(default)]
    expose: Option<Vec<NumberOrText>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(u64),
    Text(String),
}

/// `- "127.0.0.1::8080"`, `- 8080`, or the long form `- { target: 8080, published: "8080" }`.
#[derive(Deserialize)]
#[serde(untagged)]
enum PortEntry {
    Short(NumberOrText),
    Long { target: NumberOrText },
}

/// The container ports a service can be reached on, from its compose definition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServicePorts {
    /// Container ports of `ports:` entries (the side the service listens on).
    pub published: BTreeSet<u16>,
    /// Ports of `expose:` entries.
    pub exposed: BTreeSet<u16>,
    /// Some entry could not be read without the run's environment (`${PORT}`), so the
    /// ports above may be incomplete and a port not in them is not an error.
    pub incomplete: bool,
}

impl ServicePorts {
    /// Whether a connection to `port` may reach the service; `true` when the file leaves it
    /// open (an entry with a `${VAR}`).
    pub fn admits(&self, port: u16) -> bool {
        self.incomplete || self.published.contains(&port) || self.exposed.contains(&port)
    }

    fn merge(&mut self, other: ServicePorts) {
        self.published.extend(other.published);
        self.exposed.extend(other.exposed);
        self.incomplete |= other.incomplete;
    }
}

/// `8080 (published), 9000 (exposed)`, or `none` when the service declares no port.
impl fmt::Display for ServicePorts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all: BTreeSet<u16> = self.published.union(&self.exposed).copied().collect();
        if all.is_empty() {
            return f.write_str("none");
        }
        for (i, p) in all.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            let how = match (self.published.contains(p), self.exposed.contains(p)) {
                (true, true) => "published, exposed",
                (true, false) => "published",
                _ => "exposed",
            };
            write!(f, "{p} ({how})")?;
        }
        Ok(())
    }
}

/// The most ports a range entry (`8000-8100`) is expanded to; a wider range is taken as
/// "any port" rather than allocated.
const MAX_RANGE: u32 = 4096;

/// Ports named by `text` (`8080`, `8080/tcp`, `8000-8010`); `None` when they cannot be known
/// without the environment or are not ports at all.
fn port_spec(text: &str) -> Option<Vec<u16>> {
    let text = text.trim();
    let text = text.split('/').next().unwrap_or(text);
    if text.contains('$') || text.is_empty() {
        return None;
    }
    let (lo, hi) = match text.split_once('-') {
        Some((lo, hi)) => (
            lo.trim().parse::<u16>().ok()?,
            hi.trim().parse::<u16>().ok()?,
        ),
        None => {
            let p = text.parse::<u16>().ok()?;
            (p, p)
        }
    };
    if lo > hi || u32::from(hi - lo) >= MAX_RANGE {
        return None;
    }
    Some((lo..=hi).collect())
}

/// The container side of a short `ports:` entry: `[[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTO]`.
fn container_side(entry: &str) -> &str {
    entry.rsplit_once(':').map_or(entry, |(_, c)| c)
}

fn service_ports(service: &ComposeService) -> ServicePorts {
    let mut out = ServicePorts::default();
    let add = |set: &mut BTreeSet<u16>, ports: Option<Vec<u16>>, incomplete: &mut bool| match ports
    {
        Some(p) => set.extend(p),
        None => *incomplete = true,
    };
    for entry in service.ports.iter().flatten() {
        let ports = match entry {
            PortEntry::Short(NumberOrText::Number(n))
            | PortEntry::Long {
                target: NumberOrText::Number(n),
            } => u16::try_from(*n).ok().map(|p| vec![p]),
            PortEntry::Short(NumberOrText::Text(t)) => port_spec(container_side(t)),
            PortEntry::Long {
                target: NumberOrText::Text(t),
            } => port_spec(t),
        };
        add(&mut out.published, ports, &mut out.incomplete);
    }
    for entry in service.expose.iter().flatten() {
        let ports = match entry {
            NumberOrText::Number(n) => u16::try_from(*n).ok().map(|p| vec![p]),
            NumberOrText::Text(t) => port_spec(t),
        };
        add(&mut out.exposed, ports, &mut out.incomplete);
    }
    out
}

/// Each service in the compose file at `path` with its ports, or a message saying why the
/// file could not be read.
pub fn services(path: &Path) -> Result<BTreeMap<String, ServicePorts>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read compose file {}: {e}", path.display()))?;
    services_in(&text, path)
}

fn services_in(text: &str, path: &Path) -> Result<BTreeMap<String, ServicePorts>, String> {
    let file: ComposeFile = serde_saphyr::from_str(text).map_err(|e| {
        let msg = super::parse_error_message(&e);
        match e.location() {
            Some(loc) => format!(
                "compose file {}:{}:{} is not valid YAML: {msg}",
                path.display(),
                loc.line(),
                loc.column()
            ),
            None => format!("compose file {} is not valid YAML: {msg}", path.display()),
        }
    })?;
    Ok(file
        .services
        .unwrap_or_default()
        .into_iter()
        .map(|(name, s)| (name, service_ports(&s.unwrap_or_default())))
        .collect())
}

/// Merges the services of several compose files (later files add to earlier ones, as
/// compose's own merge does for `ports` and `expose`).
pub fn merge(into: &mut BTreeMap<String, ServicePorts>, more: BTreeMap<String, ServicePorts>) {
    for (name, ports) in more {
        into.entry(name).or_default().merge(ports);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> BTreeMap<String, ServicePorts> {
        services_in(yaml, Path::new("c.yml")).unwrap()
    }

    #[test]
    fn ports_in_every_form() {
        let s = read(
            r#"
x-common: &common
  expose: ["9000"]
services:
  gateway:
    <<: *common
    ports: ["127.0.0.1::8080", "9090:80/tcp", 7000, { target: 7100, published: "7101" }]
  ranged:
    ports: ["8000-8002:9000-9002"]
    expose: [5432, "6000-6001"]
  bare: {}
  empty:
  templated:
    ports: ["${PORT}:${PORT}"]
"#,
        );
        let gw = &s["gateway"];
        assert_eq!(
            gw.published,
            BTreeSet::from([80, 7000, 7100, 8080]),
            "{gw:?}"
        );
        assert_eq!(gw.exposed, BTreeSet::from([9000]));
        assert!(gw.admits(8080) && gw.admits(9000) && !gw.admits(9090));
        assert_eq!(s["ranged"].published, BTreeSet::from([9000, 9001, 9002]));
        assert_eq!(s["ranged"].exposed, BTreeSet::from([5432, 6000, 6001]));
        assert!(!s["bare"].admits(80));
        assert_eq!(s["bare"].to_string(), "none");
        assert!(!s["empty"].admits(80));
        assert!(s["templated"].admits(1234));
        assert_eq!(
            s["ranged"].to_string(),
            "5432 (exposed), 6000 (exposed), 6001 (exposed), 9000 (published), 9001 (published), 9002 (published)"
        );
    }
}
