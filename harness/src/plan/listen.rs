//! What a compose run connects to, checked once the stack is healthy.

use super::RunSpec;
use crate::fault::network::Link;
use crate::probe::Check;

/// Every `service:port` a compose run connects to (the load's URLs and read-backs, `http`
/// and `tcp` probes, proxy faults' paths), each with where the scenario uses it: what
/// [`crate::stack::listening::verify`] checks the containers listen on once the stack is
/// healthy. Empty on Kubernetes, where ports are declared by the manifests (validated) and the
/// probes must pass before the run starts.
pub(crate) fn listen_checks(spec: &RunSpec) -> Vec<crate::stack::listening::Wanted> {
    use crate::stack::listening::Wanted;
    if spec.kube.is_some() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let url = |out: &mut Vec<Wanted>, text: &str, used_as: String| {
        if let Ok(u) = url::Url::parse(text)
            && let Some(host) = u.host_str()
        {
            out.push(Wanted {
                service: host.to_string(),
                port: u.port_or_known_default().unwrap_or(80),
                used_as,
            });
        }
    };
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
