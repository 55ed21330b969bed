//! What a run connects to, checked before its load starts: listened on (compose), accepting
//! connections (Kubernetes).

use super::RunSpec;
use crate::fault::network::Link;
use crate::probe::Check;

/// Every `service:port` a compose run connects to (the load's URLs and read-backs, `http`
/// and `tcp` probes, proxy faults' paths), each with where the scenario uses it: what
/// [`crate::stack::listening::verify`] checks the containers listen on once the stack is
/// healthy. Empty on Kubernetes, where ports are declared by the manifests (validated), and
/// the probes must pass and the [`load_targets`] accept connections before the run starts.
pub(crate) fn listen_checks(spec: &RunSpec) -> Vec<crate::stack::listening::Wanted> {
    use crate::stack::listening::Wanted;
    if spec.kube.is_some() {
        return Vec::new();
    }
    let mut out = load_targets(spec);
    for p in &spec.probes {
        match &p.check {
            Check::Http { url: u, .. } => url(&mut out, u, format!("probe `{}`", p.name)),
            Check::Tcp { service, port } => out.push(Wanted {
                service: service.clone(),
                port: *port,
                used_as: format!("probe `{}`", p.name),
            }),
            Check::Prometheus { service, port, .. } => out.push(Wanted {
                service: service.clone(),
                port: *port,
                used_as: format!("probe `{}`", p.name),
            }),
            Check::Exec { .. } | Check::Health { .. } | Check::Kubernetes { .. } => {}
        }
    }
    for f in &spec.faults {
        if let Some(link) = f.proxy_link() {
            let (service, port) = match link {
                Link::Egress { service, port } => (service.clone(), *port),
                Link::Ingress { port } => (f.service.clone(), *port),
            };
            if !service.is_empty() {
                out.push(Wanted {
                    service,
                    port,
                    used_as: format!("fault `{}`", f.name),
                });
            }
        }
    }
    out
}

/// Every `service:port` the load connects to (its URLs and read-backs), on any backend. On
/// Kubernetes the run's steady state waits for each to accept a connection: a Service's pods
/// can all be Ready while kube-proxy still rejects its node port (no endpoints programmed
/// yet), and a run whose only probe is Prometheus's once started its load into that (15
/// connections refused, the steady state judged broken, exit 3 for a build that should fail).
pub(crate) fn load_targets(spec: &RunSpec) -> Vec<crate::stack::listening::Wanted> {
    let mut out = Vec::new();
    if let Some(load) = &spec.load {
        for (i, r) in load.requests.iter().enumerate() {
            let used_as = if load.requests.len() == 1 {
                "load.target".to_string()
            } else {
                format!("load.requests[{i}]")
            };
            url(&mut out, &r.url, used_as);
        }
    }
    for w in &spec.writes {
        url(
            &mut out,
            &w.url,
            format!("load.requests[{}].read_back", w.template),
        );
    }
    // One check per address: the first use names it.
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|w| seen.insert((w.service.clone(), w.port)));
    out
}

/// `text`'s `host:port` (the scheme's default port when none is given), if it is a URL.
fn url(out: &mut Vec<crate::stack::listening::Wanted>, text: &str, used_as: String) {
    if let Ok(u) = url::Url::parse(text)
        && let Some(host) = u.host_str()
    {
        out.push(crate::stack::listening::Wanted {
            service: host.to_string(),
            port: u.port_or_known_default().unwrap_or(80),
            used_as,
        });
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// Each address the load connects to once, named by its first use: the URLs of its
    /// requests (the scheme's port when none is given) and their read-backs.
    #[test]
    fn the_load_targets_are_its_urls_and_read_backs_once_each() {
        let origin = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/scenario/writes.yaml");
        let src = "name: t\nstack: { compose: compose/trading.yml }\nload:\n  requests:\n    \
            - { method: POST, url: 'http://gateway:8080/orders', body: '{\"id\":\"{{id}}\"}', \
            read_back: 'http://marketdata-a/entries/{id}' }\n    \
            - { url: 'http://gateway:8080/quote?symbol=BTCUSD' }\n    \
            - { url: 'https://marketdata-b/quote' }\n  rate: 40/s\n  duration: 10s\n\
            probes:\n  - { name: p, tcp: { address: 'redis:6379' } }\n\
            slos: [\"lost_writes() <= 0\"]\n";
        let s = crate::scenario::parse_str(src, &origin).unwrap_or_else(|e| panic!("{e}"));
        let spec = crate::plan::from_scenario(&s, 1, &BTreeMap::new()).unwrap();
        let got: Vec<(String, u16, String)> = load_targets(&spec)
            .into_iter()
            .map(|w| (w.service, w.port, w.used_as))
            .collect();
        let want = [
            ("gateway", 8080, "load.requests[0]"),
            ("marketdata-b", 443, "load.requests[2]"),
            ("marketdata-a", 80, "load.requests[0].read_back"),
        ]
        .map(|(s, p, u)| (s.to_string(), p, u.to_string()));
        assert_eq!(got, want);
    }
}
