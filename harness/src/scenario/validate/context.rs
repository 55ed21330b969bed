//! What every validation step shares: the source (to turn parser positions into spans), the
//! collected errors and the compose services names are checked against.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use crate::scenario::diagnostic::{ScenarioError, SourceSpan};
use crate::scenario::model::HttpTarget;
use crate::scenario::units;

pub(super) struct Ctx<'a> {
    pub(super) src: &'a str,
    pub(super) base_dir: &'a Path,
    pub(super) errors: Vec<ScenarioError>,
    /// `None` when the compose files could not be read (then names are not checked, to avoid
    /// a cascade of errors caused by one missing file).
    pub(super) services: Option<BTreeSet<String>>,
}

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

    pub(super) fn duration(&mut self, sp: &Spanned<String>) -> Option<Duration> {
        match units::parse_duration(&sp.value) {
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
    ) -> Duration {
        sp.and_then(|sp| self.duration(sp)).unwrap_or(default)
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
        if services.contains(name) {
            return true;
        }
        let list = services.iter().cloned().collect::<Vec<_>>().join(", ");
        self.push(
            ScenarioError::new(format!("unknown service `{name}` in {used_as}"), span)
                .with_label("not a service of the compose files")
                .with_help(format!("the compose files declare: {list}")),
        );
        false
    }

    /// `http://SERVICE:PORT/path` → its parts, with the service checked.
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
        if parsed.scheme() != "http" {
            let span = self.span(sp);
            self.push(
                ScenarioError::new(
                    format!("unsupported URL scheme `{}`", parsed.scheme()),
                    span,
                )
                .with_help("targets are `http://SERVICE:PORT/path`"),
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
        let known = self.known_service(host, span, used_as);
        let path_and_query = match parsed.query() {
            Some(q) => format!("{}?{q}", parsed.path()),
            None => parsed.path().to_string(),
        };
        known.then(|| HttpTarget {
            url: text.to_string(),
            service: host.to_string(),
            port: parsed.port_or_known_default().unwrap_or(80),
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
        let Some((service, port)) = parsed else {
            let span = self.span(sp);
            self.error(format!("expected `service:port`, found `{text}`"), span);
            return None;
        };
        let span = self.inner_span(sp, 0..service.len());
        self.known_service(service, span, used_as)
            .then(|| (service.to_string(), port))
    }
}
