//! Turning a validated scenario and a seed into the concrete [`RunSpec`] the runner executes.

use std::collections::BTreeMap;

use chaosgate_load::{LoadPlan, Method, Rate, RequestTemplate};

use super::{FaultAction, Pick, PlannedFault, RunSpec, WriteReadBack};
use crate::fault::container::ContainerAction;
use crate::fault::network::{Link, NetworkAction};
use crate::fault::rollout::Strategy as RolloutStrategy;
use crate::probe::{Check, Probe};
use crate::scenario::{self, ProbeKind, RateSpec, Scenario};

/// Why a validated scenario could not be planned. Validation checks everything planning
/// does, so these are bugs in that agreement (the fuzz test `fuzz_parsers` looks for them),
/// reported as bad input (exit 2, [`crate::exit_codes::BAD_INPUT`]) rather than a panic.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A request template's method is not one the load generator knows.
    #[error("request {index}: {source}")]
    Method {
        /// Index of the request template in the scenario's `load.requests`.
        index: usize,
        /// The load generator's error.
        source: chaosgate_load::UnknownMethod,
    },
    /// The load generator rejected the load plan.
    #[error("the load cannot run: {0}")]
    Load(#[from] chaosgate_load::LoadError),
    /// A `--set` key names a variable no container of the Kubernetes manifests declares.
    #[error("--set {keys}: no container of the manifests declares {them}\n  hint: on Kubernetes --set sets a container's declared environment variable: {declared}", them = if keys.contains(',') { "them" } else { "it" })]
    UnknownSetting {
        /// The unknown `--set` keys, `, `-separated.
        keys: String,
        /// The variables the manifests' containers declare, `, `-separated.
        declared: String,
    },
    /// A `--set` (or `ab` side's) variable no compose file of the stack reads: the run would
    /// test the stack unchanged while its report says otherwise (`ab` would compare a build
    /// with itself).
    #[error("{what} {keys} {is} read by no compose file: setting {them} would change nothing\n  hint: {help}", what = if keys.contains(',') { "variables" } else { "variable" }, is = if keys.contains(',') { "are" } else { "is" }, them = if keys.contains(',') { "them" } else { "it" }, help = help.replace('\n', "\n  hint: "))]
    UnreadVariable {
        /// The unread keys, `` `A`, `B` ``.
        keys: String,
        /// "did you mean" and what each compose file reads, one per line.
        help: String,
    },
    /// The Kubernetes manifests could not be read or parsed; holds the reason.
    #[error("the manifests: {0}")]
    Manifests(String),
}

/// Resolves the seeded plan (fault times, replica picks) and every name the runner needs, and
/// runs the load generator's own checks on the load plan, so that `validate` (which calls
/// this too) and `run` accept exactly the same files. `overrides` are `--set KEY=VALUE`
/// compose variables, applied over the file's `stack.env`.
pub fn from_scenario(
    s: &Scenario,
    seed: u64,
    overrides: &BTreeMap<String, String>,
) -> Result<RunSpec, PlanError> {
    let mut env = s.stack.env.clone();
    env.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    // On Kubernetes a setting is a container's declared variable: a misspelt one would run
    // the default build and pass, so it is refused here.
    if let Some(k) = s.stack.kubernetes.as_ref().filter(|k| !k.existing) {
        let docs = crate::stack::kube::manifests::load(k).map_err(PlanError::Manifests)?;
        let declared = crate::stack::kube::manifests::declared(&docs);
        let unknown: Vec<&str> = overrides
            .keys()
            .filter(|key| !declared.env.contains(*key))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(PlanError::UnknownSetting {
                keys: unknown.join(", "),
                declared: declared.env.iter().cloned().collect::<Vec<_>>().join(", "),
            });
        }
    }
    // The same rule for compose: a variable is a setting only if some compose file reads it.
    if s.stack.kubernetes.is_none()
        && let Some(unread) = crate::scenario::compose::unread_settings(
            &s.stack.compose_variables,
            overrides.keys().map(String::as_str),
        )
    {
        return Err(PlanError::UnreadVariable {
            keys: unread.keys(),
            help: unread.help(),
        });
    }
    let kube = s.stack.kubernetes.is_some();
    let load = s
        .load
        .as_ref()
        .map(|l| -> Result<LoadPlan, PlanError> {
            let requests = l
                .requests
                .iter()
                .enumerate()
                .map(|(index, r)| {
                    Ok(RequestTemplate {
                        method: r
                            .method
                            .parse::<Method>()
                            .map_err(|source| PlanError::Method { index, source })?,
                        url: r.target.url.clone(),
                        headers: r
                            .headers
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                        body: r.body.clone(),
                        weight: r.weight,
                    })
                })
                .collect::<Result<Vec<_>, PlanError>>()?;
            Ok(LoadPlan {
                requests,
                rate: match l.rate {
                    RateSpec::Constant(r) => Rate::Constant(r),
                    RateSpec::Ramp { from, to } => Rate::Ramp { from, to },
                },
                duration: l.duration,
                timeout: l.timeout,
                max_in_flight: l.max_in_flight as usize,
                max_queued: chaosgate_load::DEFAULT_MAX_QUEUED,
                id_prefix: format!("{}-{seed:x}-", s.name),
            })
        })
        .transpose()?;
    if let Some(plan) = &load {
        plan.validate()?;
    }
    let writes = s
        .load
        .iter()
        .flat_map(|l| l.requests.iter().enumerate())
        .filter_map(|(template, r)| {
            let url = r.read_back.clone()?;
            r.write.then_some(WriteReadBack { template, url })
        })
        .collect();
    let probes = s
        .probes
        .iter()
        .map(|p| Probe {
            name: p.name.clone(),
            service: p.kind.service().to_string(),
            check: match &p.kind {
                ProbeKind::Http { target, status } => Check::Http {
                    url: target.url.clone(),
                    status: *status,
                },
                ProbeKind::Tcp { service, port } => Check::Tcp {
                    service: service.clone(),
                    port: *port,
                },
                ProbeKind::Exec { service, command } => Check::Exec {
                    service: service.clone(),
                    command: command.clone(),
                },
                ProbeKind::Health { service } => Check::Health {
                    service: service.clone(),
                },
                ProbeKind::Kubernetes { workload, ready } => Check::Kubernetes {
                    workload: workload.clone(),
                    ready: *ready,
                },
            },
            every: p.every,
            timeout: p.timeout,
        })
        .collect();
    let mut faults = Vec::new();
    for (index, spec) in s.faults.iter().enumerate() {
        let (at, pick_draw) = draw(spec, index, seed);
        use crate::fault::kube::KubeAction;
        let action = match &spec.action {
            scenario::FaultAction::Crash if kube => FaultAction::Kube(KubeAction::Crash),
            scenario::FaultAction::PodDelete { force } => {
                FaultAction::Kube(KubeAction::PodDelete { force: *force })
            }
            scenario::FaultAction::Scale { replicas } => FaultAction::Kube(KubeAction::Scale {
                replicas: *replicas,
            }),
            scenario::FaultAction::RolloutRestart => FaultAction::Kube(KubeAction::RolloutRestart),
            scenario::FaultAction::Crash => FaultAction::Container(ContainerAction::Crash),
            scenario::FaultAction::Kill => FaultAction::Container(ContainerAction::Kill),
            scenario::FaultAction::Stop => FaultAction::Container(ContainerAction::Stop),
            scenario::FaultAction::Restart => FaultAction::Container(ContainerAction::Restart),
            scenario::FaultAction::Pause => FaultAction::Container(ContainerAction::Pause),
            scenario::FaultAction::Rollout { strategy, set } => FaultAction::Rollout {
                strategy: match strategy {
                    scenario::RolloutStrategy::Recreate => RolloutStrategy::Recreate,
                    scenario::RolloutStrategy::Rolling => RolloutStrategy::Rolling,
                    scenario::RolloutStrategy::BlueGreen => RolloutStrategy::BlueGreen,
                },
                set: set.clone(),
            },
            other => FaultAction::Network {
                name: other.name(),
                action: network_action(other),
            },
        };
        faults.push(PlannedFault {
            name: spec.name.clone(),
            at,
            duration: spec.duration,
            action,
            service: spec.target.service.clone(),
            labels: spec.target.labels.clone(),
            pick: match (spec.target.pick, spec.target.size) {
                (scenario::Pick::All, _) => Pick::All,
                (scenario::Pick::First, None) => Pick::First,
                (scenario::Pick::First, Some(size)) => Pick::FirstN { size },
                (scenario::Pick::Random, None) => Pick::Random { draw: pick_draw },
                // A blast radius uses the same draw, as the seed of the replicas' shuffle.
                (scenario::Pick::Random, Some(size)) => Pick::Sample {
                    draw: pick_draw,
                    size,
                },
            },
        });
    }
    Ok(RunSpec {
        name: s.name.clone(),
        file: s.path.clone(),
        description: s.description.clone(),
        seed,
        compose_files: s.stack.compose_files.clone(),
        kube: s.stack.kubernetes.clone(),
        env,
        services: s.stack.services.clone(),
        ready_timeout: s.stack.ready_timeout,
        load,
        writes,
        duration: s.duration,
        probes,
        faults,
        recovery_consecutive: s.recovery_consecutive,
        slos: s.slos.clone(),
        steady_state: s.steady_state.clone(),
        fail_fast: s.fail_fast.then(|| {
            s.slos
                .iter()
                .filter(|x| !x.is_relative() && x.gates())
                .cloned()
                .collect()
        }),
    })
}

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
            _ => {}
        }
    }
    for f in &spec.faults {
        if let FaultAction::Network {
            action: NetworkAction::Proxy { link, .. },
            ..
        } = &f.action
        {
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

/// The seeded draws of fault `index`: its start time (a `between` window resolved to the
/// millisecond) and the random number that picks its replica(s). Same scenario + same seed ⇒
/// same draws on every machine (ChaCha8 is portable). Each fault draws from its own ChaCha
/// stream (its index), so adding a fault at the end does not move the others.
fn draw(f: &scenario::FaultSpec, index: usize, seed: u64) -> (std::time::Duration, u64) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index as u64);
    let at = match f.at {
        scenario::AtSpec::Fixed(at) => at,
        scenario::AtSpec::Between(lo, hi) => {
            // Millisecond resolution is far below what a run can distinguish and keeps plans
            // readable.
            let (lo, hi) = (lo.as_millis() as u64, hi.as_millis() as u64);
            std::time::Duration::from_millis(rng.random_range(lo..=hi))
        }
    };
    // Drawn after the time, and only for a random pick, so that the stream (and so every
    // replay of an existing seed) stays what it was.
    let pick_draw = if f.target.pick == scenario::Pick::Random {
        rng.random::<u64>()
    } else {
        0
    };
    (at, pick_draw)
}

fn network_action(a: &scenario::FaultAction) -> NetworkAction {
    use chaosgate_proxy::ToxicKind;
    let proxy = |link: &scenario::ProxyLink, toxic: ToxicKind| NetworkAction::Proxy {
        link: match &link.side {
            scenario::LinkSide::Egress { service, port } => Link::Egress {
                service: service.clone(),
                port: *port,
            },
            scenario::LinkSide::Ingress { port } => Link::Ingress { port: *port },
        },
        toxic,
        direction: match link.direction {
            scenario::ProxyDirection::Upstream => chaosgate_proxy::Direction::Upstream,
            scenario::ProxyDirection::Downstream => chaosgate_proxy::Direction::Downstream,
            scenario::ProxyDirection::Both => chaosgate_proxy::Direction::Both,
        },
        toxicity: f64::from(link.toxicity_permille) / 1000.0,
    };
    match a {
        scenario::FaultAction::Latency {
            latency,
            jitter,
            link,
        } => proxy(
            link,
            ToxicKind::Latency {
                latency: *latency,
                jitter: *jitter,
            },
        ),
        scenario::FaultAction::Bandwidth {
            bytes_per_second,
            link,
        } => proxy(
            link,
            ToxicKind::Bandwidth {
                bytes_per_sec: *bytes_per_second,
            },
        ),
        scenario::FaultAction::ResetPeer { link } => proxy(
            link,
            ToxicKind::ResetPeer {
                after: std::time::Duration::ZERO,
            },
        ),
        scenario::FaultAction::Timeout { link } => proxy(link, ToxicKind::Timeout { after: None }),
        scenario::FaultAction::Loss { ratio, peers } => NetworkAction::Loss {
            ratio: *ratio,
            peers: peers.clone(),
        },
        scenario::FaultAction::Partition { peers, direction } => NetworkAction::Partition {
            peers: peers.clone(),
            one_way: *direction == scenario::PartitionDirection::OneWay,
        },
        // Container actions never reach here (matched above); isolation is the remaining one.
        _ => NetworkAction::Isolate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(load: &str) -> Scenario {
        let origin = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/scenario/writes.yaml");
        let src = format!(
            "name: w\nstack: {{ compose: compose/trading.yml }}\nload:\n{load}  rate: 40/s\n  duration: 10s\nslos: [\"lost_writes() <= 0\"]\n"
        );
        scenario::parse_str(&src, &origin).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Issue 11, kind 2: orders mixed 1:3 with quotes that carry `{{id}}` in a header. Only
    /// the orders are read back (the quotes were, and counted as 450 lost writes).
    #[test]
    fn only_writes_are_read_back() {
        let s = scenario(
            "  requests:\n    - { method: GET, url: 'http://gateway:8080/quote?symbol=BTCUSD', headers: { x-request-id: '{{id}}' }, weight: 3 }\n    - { method: POST, url: 'http://gateway:8080/orders?src=load', body: '{\"id\":\"{{id}}\"}', weight: 1 }\n    - { method: PUT, url: 'http://gateway:8080/orders/{{id}}', body: '{}', write: false }\n",
        );
        let spec = from_scenario(&s, 1, &BTreeMap::new()).unwrap();
        assert_eq!(
            spec.writes,
            [WriteReadBack {
                template: 1,
                url: "http://gateway:8080/orders/{id}".into()
            }]
        );
    }

    #[test]
    fn a_read_back_can_be_given_and_an_id_in_the_url_is_its_own_read_back() {
        let s = scenario(
            "  requests:\n    - { method: PUT, url: 'http://gateway:8080/orders/{{id}}', body: '{}' }\n    - { method: POST, url: 'http://gateway:8080/orders', body: '{{id}}', read_back: 'http://gateway:8080/ledger?entry={id}' }\n    - { method: GET, url: 'http://gateway:8080/quote', write: true }\n",
        );
        let spec = from_scenario(&s, 1, &BTreeMap::new()).unwrap();
        let urls: Vec<(usize, &str)> = spec
            .writes
            .iter()
            .map(|w| (w.template, w.url.as_str()))
            .collect();
        assert_eq!(
            urls,
            [
                (0, "http://gateway:8080/orders/{id}"),
                (1, "http://gateway:8080/ledger?entry={id}")
            ]
        );
    }
}
