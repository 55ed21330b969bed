//! `probes:`: one kind each, names unique, services known.

use std::collections::BTreeSet;
use std::time::Duration;

use super::check_name;
use super::context::{Bounds, Ctx};
use crate::probe::http::{HttpExpect, Pattern};
use crate::scenario::diagnostic::ScenarioError;
use crate::scenario::model::{ProbeKind, ProbeSpec};
use crate::scenario::raw::{RawHttpProbe, RawProbe};

/// Recovery is measured at probe resolution; DESIGN asks for ≤ 50 ms.
const DEFAULT_PROBE_EVERY: Duration = Duration::from_millis(50);
const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_millis(500);
const EVERY_BOUNDS: Bounds = (Duration::from_millis(1), Duration::from_secs(3600));
const TIMEOUT_BOUNDS: Bounds = (Duration::from_millis(1), Duration::from_secs(3600));

pub(super) fn probes(
    cx: &mut Ctx<'_>,
    raw: &[RawProbe],
    prometheus: Option<&crate::scenario::model::PrometheusSpec>,
) -> Vec<Option<ProbeSpec>> {
    let mut seen = BTreeSet::new();
    raw.iter()
        .map(|p| {
            let name = &p.name.value;
            let name_ok = check_name(cx, &p.name, "probe", &mut seen);
            let kinds = [p.http.is_some(), p.tcp.is_some(), p.exec.is_some(), p.health.is_some(), p.kubernetes.is_some(), p.prometheus.is_some()];
            let count = kinds.iter().filter(|k| **k).count();
            if count != 1 {
                let span = cx.span(&p.name);
                cx.push(
                    ScenarioError::new(
                        format!("probe `{name}` needs exactly one of http, tcp, exec, health, kubernetes, prometheus (found {count})"),
                        span,
                    ),
                );
                return None;
            }
            let kind = if let Some(h) = &p.http {
                let status_ok = h
                    .status
                    .as_ref()
                    .is_none_or(|s| cx.number_in(s, "an HTTP status", 100, 599));
                let expect = http_expect(cx, h, name);
                cx.http_target(&h.url, &format!("probe `{name}`"))
                    .filter(|_| status_ok)
                    .and_then(|target| Some(ProbeKind::Http { target, status: h.status.as_ref().map(|s| s.value), expect: expect? }))
            } else if let Some(t) = &p.tcp {
                cx.service_port(&t.address, &format!("probe `{name}`"))
                    .map(|(service, port)| ProbeKind::Tcp { service, port })
            } else if let Some(e) = &p.exec {
                if e.command.is_empty() {
                    let span = cx.span(&e.service);
                    cx.error(format!("probe `{name}`: exec.command is empty"), span);
                }
                let span = cx.span(&e.service);
                (cx.known_service(&e.service.value, span, &format!("probe `{name}`"))
                    && !e.command.is_empty())
                .then(|| ProbeKind::Exec {
                    service: e.service.value.clone(),
                    command: e.command.clone(),
                })
            } else if let Some(k) = &p.kubernetes {
                let span = cx.span(&k.workload);
                if !cx.kube {
                    cx.error(format!("probe `{name}`: a kubernetes probe needs a `stack.kubernetes`"), span);
                    None
                } else {
                    cx.known_service(&k.workload.value, span, &format!("probe `{name}`"))
                        .then(|| ProbeKind::Kubernetes { workload: k.workload.value.clone(), ready: k.ready.as_ref().map(|r| r.value) })
                }
            } else if let Some(q) = &p.prometheus {
                let span = cx.span(&q.query);
                match prometheus {
                    None => {
                        cx.push(
                            ScenarioError::new(format!("probe `{name}`: a prometheus probe needs the scenario's `prometheus:` section"), span)
                                .with_help("add `prometheus: { address: prometheus:9090 }` (the service and port Prometheus runs as)"),
                        );
                        None
                    }
                    Some(_) if q.query.value.trim().is_empty() => {
                        cx.error(format!("probe `{name}`: prometheus.query is empty"), span);
                        None
                    }
                    Some(pr) => Some(ProbeKind::Prometheus {
                        service: pr.service.clone(),
                        port: pr.port,
                        query: q.query.value.clone(),
                    }),
                }
            } else if let Some(h) = &p.health {
                let span = cx.span(&h.service);
                cx.known_service(&h.service.value, span, &format!("probe `{name}`"))
                    .then(|| ProbeKind::Health { service: h.service.value.clone() })
            } else {
                None
            };
            let every = cx.duration_or(p.every.as_ref(), DEFAULT_PROBE_EVERY, "a probe's `every`", EVERY_BOUNDS);
            let timeout = cx.duration_or(p.timeout.as_ref(), DEFAULT_PROBE_TIMEOUT, "a probe's `timeout`", TIMEOUT_BOUNDS);
            if let (Some(ProbeKind::Http { expect, .. }), Some(h)) = (&kind, &p.http)
                && let (Some(max), Some(m)) = (expect.max_latency, &h.max_latency)
                && max > timeout
            {
                let span = cx.span(m);
                cx.push(
                    ScenarioError::new(
                        format!(
                            "probe `{name}`: max_latency ({}) is longer than the probe's timeout ({}): no check could ever be judged by it",
                            crate::units::format_duration(max),
                            crate::units::format_duration(timeout)
                        ),
                        span,
                    )
                    .with_help("lower max_latency, or raise the probe's `timeout`"),
                );
                return None;
            }
            if cx.kube && (p.exec.is_some() || p.health.is_some()) {
                let span = cx.span(&p.name);
                cx.push(
                    ScenarioError::new(format!("probe `{name}`: exec and health probes need a compose stack"), span)
                        .with_help("on Kubernetes use http, tcp or kubernetes: { workload: NAME, ready: N }"),
                );
                return None;
            }
            let kind = kind?;
            name_ok.then(|| ProbeSpec {
                name: name.clone(),
                kind,
                every,
                timeout,
            })
        })
        .collect()
}

/// An `http` probe's headers and answer checks; `None` (errors pushed) when one is wrong.
fn http_expect(cx: &mut Ctx<'_>, h: &RawHttpProbe, name: &str) -> Option<HttpExpect> {
    let before = cx.errors.len();
    let mut expect = HttpExpect {
        contains: h.contains.clone(),
        ..HttpExpect::default()
    };
    if let Some(headers) = &h.headers {
        for (k, v) in &headers.value {
            let name_ok = reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_ok();
            let value_ok = reqwest::header::HeaderValue::from_str(v).is_ok();
            if !name_ok || !value_ok {
                let span = cx.span(headers);
                cx.error(
                    format!("probe `{name}`: header `{k}: {v}` is not a valid HTTP header"),
                    span,
                );
            }
        }
        expect.headers = headers.value.clone();
    }
    if let Some(m) = &h.matches {
        match regex::Regex::new(&m.value) {
            Ok(re) => expect.matches = Some(Pattern(re)),
            Err(e) => {
                let span = cx.span(m);
                cx.error(
                    format!("probe `{name}`: `matches` is not a regular expression: {e}"),
                    span,
                );
            }
        }
    }
    if let Some(json) = &h.json {
        for (pointer, value) in &json.value {
            if !pointer.is_empty() && !pointer.starts_with('/') {
                let span = cx.span(json);
                cx.push(
                    ScenarioError::new(
                        format!("probe `{name}`: `{pointer}` is not a JSON pointer"),
                        span,
                    )
                    .with_help("a JSON pointer (RFC 6901) starts with `/`, e.g. `/status` or `/dependencies/redis`"),
                );
            }
            expect.json.push((pointer.clone(), value.clone()));
        }
    }
    if let Some(m) = &h.max_latency {
        expect.max_latency = cx.duration(m, "a probe's `max_latency`", TIMEOUT_BOUNDS);
    }
    (cx.errors.len() == before).then_some(expect)
}
