//! What every validation step shares: the source (to turn parser positions into spans), the
//! collected errors and the compose services names are checked against.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use crate::scenario::compose::ServicePorts;
use crate::scenario::diagnostic::{ScenarioError, SourceSpan};
use crate::scenario::model::HttpTarget;
use crate::units;

pub(super) struct Ctx<'a> {
    pub(super) src: &'a str,
    pub(super) base_dir: &'a Path,
    pub(super) errors: Vec<ScenarioError>,
    /// `None` when the compose files could not be read (then names are not checked, to avoid
    /// a cascade of errors caused by one missing file).
    pub(super) services: Option<BTreeMap<String, ServicePorts>>,
    /// The stack is a Kubernetes one (other fault actions and probes apply).
    pub(super) kube: bool,
    /// Kubernetes faults go through the node agent (`stack.kubernetes.agent`).
    pub(super) agent: bool,
    /// Kubernetes: workload → its pod template's labels, when the manifests were read (fault
    /// label selectors are checked against them).
    pub(super) pod_labels: Option<BTreeMap<String, BTreeMap<String, String>>>,
    /// Kubernetes: workload → the environment variables its containers declare, when the
    /// manifests were read (a rollout's `set` is checked against them).
    pub(super) workload_env: Option<BTreeMap<String, std::collections::BTreeSet<String>>>,
    /// Compose: each file as named with the variables it reads, when every file was read
    /// (a rollout's `set` is checked against them).
    pub(super) compose_variables: Option<Vec<(String, crate::scenario::compose::Variables)>>,
    /// Not errors: what the file leaves unchecked until the run (a port no compose file
    /// declares). Rendered into [`crate::scenario::Scenario::warnings`].
    pub(super) warnings: Vec<ScenarioError>,
}

/// The inclusive range a duration field takes.
pub(super) type Bounds = (Duration, Duration);

impl Ctx<'_> {
    pub(super) fn span_of(&self, loc: &Location) -> Option<SourceSpan> {
        if *loc == Location::UNKNOWN {
            return None;
        }
        let span = loc.span();
        let start = span.byte_offset().unwrap_or(span.offset());
        let len = span.byte_len().unwrap_or(span.len()).max(1);
        Some(SourceSpan::at(
            self.src,
            usize::try_from(start).unwrap_or(usize::MAX),
            usize::try_from(len).unwrap_or(1),
        ))
    }

    pub(super) fn span<T>(&self, sp: &Spanned<T>) -> Option<SourceSpan> {
        self.span_of(&sp.referenced)
    }

    /// A byte range inside a spanned string scalar (skipping an opening quote), e.g. the
    /// host inside a URL or a name inside an SLO expression.
    pub(super) fn inner_span(
        &self,
        sp: &Spanned<String>,
        inner: Range<usize>,
    ) -> Option<SourceSpan> {
        let outer = self.span(sp)?;
        let quote = matches!(
            self.src.as_bytes().get(outer.bytes.start),
            Some(b'"' | b'\'')
        );
        let base = outer.bytes.start + usize::from(quote);
        Some(SourceSpan::at(
            self.src,
            base + inner.start,
            inner.len().max(1),
        ))
    }

    pub(super) fn push(&mut self, error: ScenarioError) {
        self.errors.push(error);
    }

    pub(super) fn error(&mut self, message: impl Into<String>, span: Option<SourceSpan>) {
        self.push(ScenarioError::new(message, span));
    }

    /// A duration within `bounds` (inclusive); `field` names it in the message.
    pub(super) fn duration(
        &mut self,
        sp: &Spanned<String>,
        field: &str,
        (min, max): Bounds,
    ) -> Option<Duration> {
        let parsed = units::parse_duration(&sp.value).and_then(|d| {
            if d < min || d > max {
                Err(format!(
                    "{field} must be between {} and {}, found `{}`",
                    units::format_duration(min),
                    units::format_duration(max),
                    sp.value.trim()
                ))
            } else {
                Ok(d)
            }
        });
        match parsed {
            Ok(d) => Some(d),
            Err(e) => {
                let span = self.span(sp);
                self.error(e, span);
                None
            }
        }
    }

    pub(super) fn duration_or(
        &mut self,
        sp: Option<&Spanned<String>>,
        default: Duration,
        field: &str,
        bounds: Bounds,
    ) -> Duration {
        sp.and_then(|sp| self.duration(sp, field, bounds))
            .unwrap_or(default)
    }

    /// A whole number within `min..=max` (inclusive); `field` names it in the message.
    pub(super) fn number_in<T>(&mut self, sp: &Spanned<T>, field: &str, min: T, max: T) -> bool
    where
        T: PartialOrd + Copy + std::fmt::Display,
    {
        if sp.value < min || sp.value > max {
            let span = self.span(sp);
            self.error(
                format!(
                    "{field} must be between {min} and {max}, found {}",
                    sp.value
                ),
                span,
            );
            return false;
        }
        true
    }

    /// Checks that `service` can be reached on `port`. On Kubernetes: a port its manifests
    /// declare (an error otherwise). On compose: a port its definition publishes or exposes,
    /// or else a warning, the port being checked against the container's sockets at bring-up.
    /// `span` points at the port.
    pub(super) fn known_port(
        &mut self,
        service: &str,
        port: u16,
        span: Option<SourceSpan>,
        used_as: &str,
    ) -> bool {
        if port == 0 {
            self.error(
                format!("port 0 in {used_as}: ports go from 1 to 65535"),
                span,
            );
            return false;
        }
        let Some(ports) = self.services.as_ref().and_then(|s| s.get(service)) else {
            // Unknown services are reported by `known_service`.
            return true;
        };
        if ports.admits(port) {
            return true;
        }
        let ports = ports.to_string();
        if !self.kube {
            // Most compose files declare only what they publish: a service may well listen
            // on a port it never names. Whether it does is checked from its sockets once the
            // stack is up (`stack::listening`), where a port nothing listens on stops the run.
            self.warnings.push(
                ScenarioError::new(
                    format!(
                        "`{service}` declares no port {port} (in {used_as}); whether it listens \
                         on it is checked when the stack is up"
                    ),
                    span,
                )
                .with_label(format!("not in `ports:` or `expose:` of {service}"))
                .with_help(format!(
                    "the compose files give `{service}` these ports: {ports}; if nothing \
                     listens on {port} once the stack is healthy, the run stops there (exit 3) \
                     naming the ports that do listen; add {port} to `{service}`'s `expose:` \
                     to say it is meant"
                )),
            );
            return true;
        }
        self.push(
            ScenarioError::new(
                format!("`{service}` does not listen on port {port} (in {used_as})"),
                span,
            )
            .with_label(format!("not a port of {service}"))
            .with_help(format!(
                "the manifests give `{service}` these ports: {ports} (published: its \
                 Service's ports; exposed: its containers' ports)"
            )),
        );
        false
    }

    /// Checks that `name` is a service of the stack; `span` points at it.
    pub(super) fn known_service(
        &mut self,
        name: &str,
        span: Option<SourceSpan>,
        used_as: &str,
    ) -> bool {
        let Some(services) = &self.services else {
            return true;
        };
        if services.contains_key(name) {
            return true;
        }
        let list = services.keys().cloned().collect::<Vec<_>>().join(", ");
        self.push(
            ScenarioError::new(format!("unknown service `{name}` in {used_as}"), span)
                .with_label(if self.kube {
                    "not a Service or workload of the manifests"
                } else {
                    "not a service of the compose files"
                })
                .with_help(format!(
                    "the {} declare: {list}",
                    if self.kube {
                        "manifests"
                    } else {
                        "compose files"
                    }
                )),
        );
        false
    }

    /// `http(s)://SERVICE:PORT/path` → its parts, with the service checked.
    pub(super) fn http_target(
        &mut self,
        sp: &Spanned<String>,
        used_as: &str,
    ) -> Option<HttpTarget> {
        let text = sp.value.trim();
        let parsed = match url::Url::parse(text) {
            Ok(u) => u,
            Err(e) => {
                let span = self.span(sp);
                self.error(format!("invalid URL `{text}`: {e}"), span);
                return None;
            }
        };
        if !matches!(parsed.scheme(), "http" | "https") {
            let span = self.span(sp);
            self.push(
                ScenarioError::new(
                    format!("unsupported URL scheme `{}`", parsed.scheme()),
                    span,
                )
                .with_help("targets are `http://SERVICE:PORT/path` or `https://SERVICE:PORT/path`"),
            );
            return None;
        }
        let Some(host) = parsed.host_str() else {
            let span = self.span(sp);
            self.error(format!("URL `{text}` has no service name"), span);
            return None;
        };
        let host_at = sp.value.find(host).map(|i| i..i + host.len());
        let span = match host_at {
            Some(r) => self.inner_span(sp, r),
            None => self.span(sp),
        };
        let known = self.known_service(host, span.clone(), used_as);
        let port = parsed.port_or_known_default().unwrap_or(80);
        let port_ok = !known || {
            // The port as written, or the host when it is the scheme's default.
            let port_span = match parsed.port() {
                Some(p) => {
                    let written = format!(":{p}");
                    sp.value
                        .find(&written)
                        .map(|i| self.inner_span(sp, i + 1..i + written.len()))
                        .unwrap_or_else(|| self.span(sp))
                }
                None => span.clone(),
            };
            self.known_port(host, port, port_span, used_as)
        };
        let path_and_query = match parsed.query() {
            Some(q) => format!("{}?{q}", parsed.path()),
            None => parsed.path().to_string(),
        };
        (known && port_ok).then(|| HttpTarget {
            url: text.to_string(),
            service: host.to_string(),
            port,
            path_and_query,
        })
    }

    /// `service:port`.
    pub(super) fn service_port(
        &mut self,
        sp: &Spanned<String>,
        used_as: &str,
    ) -> Option<(String, u16)> {
        let text = sp.value.trim();
        let parsed = text
            .rsplit_once(':')
            .and_then(|(s, p)| Some((s, p.parse::<u16>().ok()?)))
            .filter(|(s, _)| !s.is_empty());
        let Some((service, port)) = parsed.filter(|(_, p)| *p != 0) else {
            let span = self.span(sp);
            self.error(
                format!("expected `service:port` with a port from 1 to 65535, found `{text}`"),
                span,
            );
            return None;
        };
        let span = self.inner_span(sp, 0..service.len());
        if !self.known_service(service, span, used_as) {
            return None;
        }
        let at = sp.value.rfind(':').map_or(0, |i| i + 1);
        let port_span = self.inner_span(sp, at..sp.value.len());
        self.known_port(service, port, port_span, used_as)
            .then(|| (service.to_string(), port))
    }
}
