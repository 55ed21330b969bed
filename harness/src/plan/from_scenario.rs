//! Turning a validated scenario and a seed into the concrete [`RunSpec`] the runner executes.

use std::collections::BTreeMap;

use chaosgate_load::{LoadPlan, Method, Rate, RequestTemplate};

use super::{Pick, PlannedFault, RunSpec, WriteReadBack};
use crate::fault::kinds::Backend;
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
    /// The scenario attaches to a running compose project (`stack.existing`), which is used
    /// as it is: `--set` would change nothing, a rollout would replace its containers for
    /// good. Holds the project and what was asked.
    #[error(
        "the stack attaches to the running compose project `{project}` as it is: {what}\n  hint: bring a project with that build up yourself, or drop `existing` to let chaosgate bring one up"
    )]
    Attached {
        /// `stack.existing`.
        project: String,
        /// What cannot be done on it.
        what: String,
    },
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
    if let Some(project) = &s.stack.existing {
        let rollout = s.faults.iter().find(|f| f.action.name() == "rollout");
        let what = if !overrides.is_empty() {
            Some(format!(
                "--set {} cannot change it",
                overrides.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        } else {
            rollout.map(|f| {
                format!(
                    "fault `{}` (rollout) would replace its containers and is never reverted",
                    f.name
                )
            })
        };
        if let Some(what) = what {
            return Err(PlanError::Attached {
                project: project.clone(),
                what,
            });
        }
    }
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
    let backend = if s.stack.kubernetes.is_some() {
        Backend::Kube
    } else {
        Backend::Compose
    };
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
                tls: s.tls.clone(),
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
                ProbeKind::Http {
                    target,
                    status,
                    expect,
                } => Check::Http {
                    url: target.url.clone(),
                    status: *status,
                    expect: expect.clone(),
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
                ProbeKind::Prometheus {
                    service,
                    port,
                    query,
                } => Check::Prometheus {
                    service: service.clone(),
                    port: *port,
                    query: query.clone(),
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
        let (at, pick_draw) = super::draw::draw(spec, index, seed);
        faults.push(PlannedFault {
            name: spec.name.clone(),
            at,
            duration: spec.duration,
            kind: spec.action.clone(),
            action: spec.action.exec(backend),
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
        existing: s.stack.existing.clone(),
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
        tls: s.tls.clone(),
        prometheus: s.prometheus.as_ref().map(|p| {
            // What the SLOs read from it, sorted and deduplicated.
            let read = |what: fn(&dyn crate::metric::MetricKind) -> Option<&str>| {
                s.slos
                    .iter()
                    .chain(&s.steady_state)
                    .filter_map(|x| what(x.metric.kind()).map(str::to_string))
                    .collect::<std::collections::BTreeSet<String>>()
                    .into_iter()
                    .collect()
            };
            crate::prometheus::PrometheusPlan {
                service: p.service.clone(),
                port: p.port,
                every: p.every,
                alerts: read(|m| m.needs_prometheus()),
                queries: read(|m| m.prometheus_query()),
            }
        }),
    })
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
