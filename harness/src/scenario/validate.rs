//! From the file as written to the validated `Scenario`: units parsed, names checked against
//! the compose files and each other, windows checked for overlap. Every problem is collected
//! with its place in the file; nothing stops at the first.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use super::diagnostic::{ScenarioError, SourceSpan};
use super::model::{
    AtSpec, FaultAction, FaultSpec, HttpTarget, LinkSide, LoadSpec, PartitionDirection, Pick,
    ProbeKind, ProbeSpec, ProxyDirection, ProxyLink, RateSpec, RequestSpec, Scenario, StackSpec,
    TargetSpec,
};
use super::raw::{
    RawAction, RawDirection, RawFault, RawLoad, RawPick, RawProbe, RawScenario, RawStack,
};
use super::shapes::{OneOrList, ScalarOr};
use super::units;
use crate::slo::{self, Metric, RefKind, Slo};

const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
const DEFAULT_MAX_IN_FLIGHT: u32 = 512;
/// Recovery is measured at probe resolution; DESIGN asks for ≤ 50 ms.
const DEFAULT_PROBE_EVERY: Duration = Duration::from_millis(50);
const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_millis(500);
const DEFAULT_RECOVERY_CONSECUTIVE: u32 = 3;
/// Without a load or an explicit duration, the run lasts until this long after the last fault
/// ends, so recovery has time to show.
const TAIL_AFTER_LAST_FAULT: Duration = Duration::from_secs(10);

struct Ctx<'a> {
    src: &'a str,
    base_dir: &'a Path,
    errors: Vec<ScenarioError>,
    /// `None` when the compose files could not be read (then names are not checked, to avoid
    /// a cascade of errors caused by one missing file).
    services: Option<BTreeSet<String>>,
}

impl Ctx<'_> {
    fn span_of(&self, loc: &Location) -> Option<SourceSpan> {
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

    fn span<T>(&self, sp: &Spanned<T>) -> Option<SourceSpan> {
        self.span_of(&sp.referenced)
    }

    /// A byte range inside a spanned string scalar (skipping an opening quote), e.g. the
    /// host inside a URL or a name inside an SLO expression.
    fn inner_span(&self, sp: &Spanned<String>, inner: Range<usize>) -> Option<SourceSpan> {
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

    fn push(&mut self, error: ScenarioError) {
        self.errors.push(error);
    }

    fn error(&mut self, message: impl Into<String>, span: Option<SourceSpan>) {
        self.push(ScenarioError::new(message, span));
    }

    fn duration(&mut self, sp: &Spanned<String>) -> Option<Duration> {
        match units::parse_duration(&sp.value) {
            Ok(d) => Some(d),
            Err(e) => {
                let span = self.span(sp);
                self.error(e, span);
                None
            }
        }
    }

    fn duration_or(&mut self, sp: Option<&Spanned<String>>, default: Duration) -> Duration {
        sp.and_then(|sp| self.duration(sp)).unwrap_or(default)
    }

    /// Checks that `name` is a service of the stack; `span` points at it.
    fn known_service(&mut self, name: &str, span: Option<SourceSpan>, used_as: &str) -> bool {
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
    fn http_target(&mut self, sp: &Spanned<String>, used_as: &str) -> Option<HttpTarget> {
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
    fn service_port(&mut self, sp: &Spanned<String>, used_as: &str) -> Option<(String, u16)> {
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

fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Validates a parsed file. `path` is the scenario file (absolute or relative to the current
/// directory); relative paths inside it resolve from its directory.
pub fn validate(raw: RawScenario, src: &str, path: &Path) -> Result<Scenario, Vec<ScenarioError>> {
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let mut cx = Ctx {
        src,
        base_dir,
        errors: Vec::new(),
        services: None,
    };
    if !is_valid_name(&raw.name.value) {
        let span = cx.span(&raw.name);
        cx.push(
            ScenarioError::new(format!("invalid scenario name `{}`", raw.name.value), span)
                .with_help("names match ^[a-z0-9][a-z0-9_-]*$ (they become compose project and directory names)"),
        );
    }
    let stack = stack(&mut cx, &raw.stack);
    let load = raw.load.as_ref().and_then(|l| load(&mut cx, l));
    let recovery_consecutive = match &raw.recovery {
        Some(r) if r.consecutive.value == 0 => {
            let span = cx.span(&r.consecutive);
            cx.error("recovery.consecutive must be at least 1", span);
            DEFAULT_RECOVERY_CONSECUTIVE
        }
        Some(r) => r.consecutive.value,
        None => DEFAULT_RECOVERY_CONSECUTIVE,
    };
    let probes = probes(&mut cx, &raw.probes);
    let faults = faults(&mut cx, &raw.faults);
    check_overlaps(&mut cx, &raw.faults, &faults);
    let duration = total_duration(&mut cx, &raw, load.as_ref(), &faults);
    if let Some(total) = duration {
        for (rf, f) in raw.faults.iter().zip(&faults) {
            if let Some(f) = f
                && f.at.latest() >= total
            {
                let span = cx.span(&rf.at);
                cx.error(
                    format!(
                        "fault `{}` starts at {} or later, after the run ends ({})",
                        f.name,
                        units::format_duration(f.at.latest()),
                        units::format_duration(total)
                    ),
                    span,
                );
            }
        }
    }
    let slos = slos(&mut cx, &raw, load.is_some());
    if cx.errors.is_empty()
        && let (Some(stack), Some(duration)) = (stack, duration)
    {
        return Ok(Scenario {
            name: raw.name.value,
            description: raw.description.unwrap_or_default(),
            seed: raw.seed,
            stack,
            load,
            duration,
            recovery_consecutive,
            probes: probes.into_iter().flatten().collect(),
            faults: faults.into_iter().flatten().collect(),
            slos,
            path: std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
        });
    }
    Err(cx.errors)
}

fn stack(cx: &mut Ctx<'_>, raw: &RawStack) -> Option<StackSpec> {
    let entries: Vec<(String, Option<SourceSpan>)> = match &raw.compose.value {
        OneOrList::One(p) => vec![(p.clone(), cx.span(&raw.compose))],
        OneOrList::List(list) => list
            .iter()
            .map(|p| {
                (
                    p.value.clone(),
                    cx.span(p).or_else(|| cx.span(&raw.compose)),
                )
            })
            .collect(),
    };
    if entries.is_empty() {
        let span = cx.span(&raw.compose);
        cx.error("stack.compose names no file", span);
    }
    let mut files = Vec::new();
    let mut services = BTreeSet::new();
    let mut all_read = !entries.is_empty();
    for (rel, span) in entries {
        let file: PathBuf = cx.base_dir.join(&rel);
        let file = std::path::absolute(&file).unwrap_or(file);
        if !file.is_file() {
            cx.push(
                ScenarioError::new(format!("compose file `{rel}` not found"), span)
                    .with_label(format!("looked for {}", file.display()))
                    .with_help("compose paths are relative to the scenario file's directory"),
            );
            all_read = false;
            continue;
        }
        match super::compose::service_names(&file) {
            Ok(names) => services.extend(names),
            Err(e) => {
                cx.error(e, span);
                all_read = false;
            }
        }
        files.push(file);
    }
    if all_read {
        if services.is_empty() {
            let span = cx.span(&raw.compose);
            cx.error("the compose files declare no services", span);
        }
        cx.services = Some(services.clone());
    }
    let ready_timeout = cx.duration_or(raw.ready_timeout.as_ref(), DEFAULT_READY_TIMEOUT);
    all_read.then(|| StackSpec {
        compose_files: files,
        env: raw.env.clone(),
        ready_timeout,
        services: services.into_iter().collect(),
    })
}

fn load(cx: &mut Ctx<'_>, raw: &RawLoad) -> Option<LoadSpec> {
    let mut requests = Vec::new();
    let mut ok = true;
    match (&raw.target, &raw.requests) {
        (Some(_), Some(_)) | (None, None) => {
            let span = raw
                .target
                .as_ref()
                .and_then(|t| cx.span(t))
                .or_else(|| cx.span(&raw.rate));
            cx.error("load needs exactly one of `target` or `requests`", span);
            ok = false;
        }
        (Some(target), None) => match cx.http_target(target, "load.target") {
            Some(t) => requests.push(RequestSpec {
                method: "GET".into(),
                target: t,
                body: None,
                headers: BTreeMap::new(),
                weight: 1,
            }),
            None => ok = false,
        },
        (None, Some(list)) => {
            if list.is_empty() {
                let span = cx.span(&raw.rate);
                cx.error("load.requests is empty", span);
                ok = false;
            }
            for r in list {
                let method = r.method.clone().unwrap_or_else(|| "GET".into());
                let known = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];
                if !known.contains(&method.as_str()) {
                    let span = cx.span(&r.url);
                    cx.error(
                        format!(
                            "unsupported method `{method}` (expected one of {})",
                            known.join(", ")
                        ),
                        span,
                    );
                    ok = false;
                }
                if r.weight == Some(0) {
                    let span = cx.span(&r.url);
                    cx.error("a request's weight must be at least 1", span);
                    ok = false;
                }
                match cx.http_target(&r.url, "load.requests") {
                    Some(t) => requests.push(RequestSpec {
                        method,
                        target: t,
                        body: r.body.clone(),
                        headers: r.headers.clone(),
                        weight: r.weight.unwrap_or(1),
                    }),
                    None => ok = false,
                }
            }
        }
    }
    let rate_span = cx.span(&raw.rate);
    let rate = match &raw.rate.value {
        ScalarOr::Scalar(text) => match units::parse_rate(text) {
            Ok(r) => Some(RateSpec::Constant(r)),
            Err(e) => {
                cx.error(e, rate_span);
                None
            }
        },
        ScalarOr::Map(ramp) => {
            let mut one = |sp: &Spanned<String>| match units::parse_rate(&sp.value) {
                Ok(r) => Some(r),
                Err(e) => {
                    let span = cx.span(sp);
                    cx.error(e, span);
                    None
                }
            };
            match (one(&ramp.from), one(&ramp.to)) {
                (Some(from), Some(to)) => Some(RateSpec::Ramp { from, to }),
                _ => None,
            }
        }
    };
    let duration = cx.duration(&raw.duration);
    let timeout = cx.duration_or(raw.timeout.as_ref(), DEFAULT_REQUEST_TIMEOUT);
    let max_in_flight = raw.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
    if max_in_flight == 0 {
        let span = cx.span(&raw.rate);
        cx.error("load.max_in_flight must be at least 1", span);
        ok = false;
    }
    match (ok, rate, duration) {
        (true, Some(rate), Some(duration)) => Some(LoadSpec {
            requests,
            rate,
            duration,
            timeout,
            max_in_flight,
        }),
        _ => None,
    }
}

fn probes(cx: &mut Ctx<'_>, raw: &[RawProbe]) -> Vec<Option<ProbeSpec>> {
    let mut seen = BTreeSet::new();
    raw.iter()
        .map(|p| {
            let name = &p.name.value;
            let name_ok = check_name(cx, &p.name, "probe", &mut seen);
            let kinds = [p.http.is_some(), p.tcp.is_some(), p.exec.is_some(), p.health.is_some()];
            let count = kinds.iter().filter(|k| **k).count();
            if count != 1 {
                let span = cx.span(&p.name);
                cx.push(
                    ScenarioError::new(
                        format!("probe `{name}` needs exactly one of http, tcp, exec, health (found {count})"),
                        span,
                    ),
                );
                return None;
            }
            let kind = if let Some(h) = &p.http {
                cx.http_target(&h.url, &format!("probe `{name}`"))
                    .map(|target| ProbeKind::Http { target, status: h.status })
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
            } else if let Some(h) = &p.health {
                let span = cx.span(&h.service);
                cx.known_service(&h.service.value, span, &format!("probe `{name}`"))
                    .then(|| ProbeKind::Health { service: h.service.value.clone() })
            } else {
                None
            };
            let every = cx.duration_or(p.every.as_ref(), DEFAULT_PROBE_EVERY);
            let timeout = cx.duration_or(p.timeout.as_ref(), DEFAULT_PROBE_TIMEOUT);
            if every.is_zero()
                && let Some(sp) = &p.every
            {
                let span = cx.span(sp);
                cx.error("a probe interval must be greater than zero", span);
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

fn check_name(
    cx: &mut Ctx<'_>,
    name: &Spanned<String>,
    what: &str,
    seen: &mut BTreeSet<String>,
) -> bool {
    let span = cx.span(name);
    if !is_valid_name(&name.value) {
        cx.push(
            ScenarioError::new(format!("invalid {what} name `{}`", name.value), span)
                .with_help("names match ^[a-z0-9][a-z0-9_-]*$"),
        );
        return false;
    }
    if !seen.insert(name.value.clone()) {
        cx.error(format!("{what} `{}` is defined twice", name.value), span);
        return false;
    }
    true
}

/// Fields that only some actions take, with the actions that take them.
fn allowed_fields(action: RawAction) -> &'static [&'static str] {
    use RawAction::*;
    match action {
        Crash | Kill | Stop | Restart | Pause | Isolate => &[],
        Latency => &["latency", "jitter", "to", "port", "direction", "toxicity"],
        Bandwidth => &["rate", "to", "port", "direction", "toxicity"],
        ResetPeer | Timeout => &["to", "port", "direction", "toxicity"],
        Loss => &["percent", "to"],
        Partition => &["to", "direction"],
    }
}

fn action_name(action: RawAction) -> &'static str {
    use RawAction::*;
    match action {
        Crash => "crash",
        Kill => "kill",
        Stop => "stop",
        Restart => "restart",
        Pause => "pause",
        Latency => "latency",
        Bandwidth => "bandwidth",
        ResetPeer => "reset_peer",
        Timeout => "timeout",
        Loss => "loss",
        Partition => "partition",
        Isolate => "isolate",
    }
}

fn needs_duration(action: RawAction) -> bool {
    !matches!(
        action,
        RawAction::Crash | RawAction::Kill | RawAction::Restart
    )
}

fn faults(cx: &mut Ctx<'_>, raw: &[RawFault]) -> Vec<Option<FaultSpec>> {
    let mut seen = BTreeSet::new();
    raw.iter().map(|f| fault(cx, f, &mut seen)).collect()
}

fn fault(cx: &mut Ctx<'_>, f: &RawFault, seen: &mut BTreeSet<String>) -> Option<FaultSpec> {
    let name_ok = check_name(cx, &f.name, "fault", seen);
    let name = f.name.value.clone();
    let action = f.action.value;
    let at = match &f.at.value {
        ScalarOr::Scalar(text) => match units::parse_duration(text) {
            Ok(d) => Some(AtSpec::Fixed(d)),
            Err(e) => {
                let span = cx.span(&f.at);
                cx.error(e, span);
                None
            }
        },
        ScalarOr::Map(b) => {
            if b.between.len() != 2 {
                let span = cx.span(&f.at);
                cx.error("`between` takes two durations: [earliest, latest]", span);
                None
            } else {
                let lo = cx.duration(&b.between[0]);
                let hi = cx.duration(&b.between[1]);
                match (lo, hi) {
                    (Some(lo), Some(hi)) if lo <= hi => Some(AtSpec::Between(lo, hi)),
                    (Some(_), Some(_)) => {
                        let span = cx.span(&b.between[1]);
                        cx.error("`between`: the latest start is before the earliest", span);
                        None
                    }
                    _ => None,
                }
            }
        }
    };
    let target_span = cx.span(&f.target.service);
    let target_ok = cx.known_service(
        &f.target.service.value,
        target_span,
        &format!("fault `{name}`"),
    );
    let duration = f.duration.as_ref().and_then(|d| cx.duration(d));
    if f.duration.is_none() && needs_duration(action) {
        let span = cx.span(&f.action);
        cx.push(
            ScenarioError::new(
                format!(
                    "fault `{name}`: action `{}` needs a `duration`",
                    action_name(action)
                ),
                span,
            )
            .with_help("the fault is reverted after `duration` (e.g. `duration: 5s`)"),
        );
    }
    if let Some(d) = &f.duration
        && duration.is_some_and(|d| d.is_zero())
    {
        let span = cx.span(d);
        cx.error("a fault's duration must be greater than zero", span);
    }
    // Fields present on this fault that its action does not take.
    let present: [(&str, Option<Option<SourceSpan>>); 8] = [
        ("latency", f.latency.as_ref().map(|s| cx.span(s))),
        ("jitter", f.jitter.as_ref().map(|s| cx.span(s))),
        ("rate", f.rate.as_ref().map(|s| cx.span(s))),
        ("percent", f.percent.as_ref().map(|s| cx.span(s))),
        ("to", f.to.as_ref().map(|s| cx.span(s))),
        ("port", f.port.map(|_| cx.span(&f.action))),
        ("direction", f.direction.as_ref().map(|s| cx.span(s))),
        ("toxicity", f.toxicity.as_ref().map(|s| cx.span(s))),
    ];
    let allowed = allowed_fields(action);
    let mut fields_ok = true;
    for (field, span) in present {
        if let Some(span) = span
            && !allowed.contains(&field)
        {
            let takes = if allowed.is_empty() {
                "no extra fields".to_string()
            } else {
                allowed.join(", ")
            };
            cx.push(
                ScenarioError::new(
                    format!(
                        "`{field}` does not apply to action `{}`",
                        action_name(action)
                    ),
                    span,
                )
                .with_help(format!("`{}` takes: {takes}", action_name(action))),
            );
            fields_ok = false;
        }
    }
    let action_spec = if fields_ok { fault_action(cx, f) } else { None };
    let pick = match f.target.pick.unwrap_or(RawPick::All) {
        RawPick::All => Pick::All,
        RawPick::Random => Pick::Random,
        RawPick::First => Pick::First,
    };
    match (name_ok, at, target_ok, action_spec) {
        (true, Some(at), true, Some(action)) => Some(FaultSpec {
            name,
            at,
            duration,
            action,
            target: TargetSpec {
                service: f.target.service.value.clone(),
                pick,
            },
        }),
        _ => None,
    }
}

fn peer_list(cx: &mut Ctx<'_>, f: &RawFault) -> Option<Vec<String>> {
    let Some(to) = &f.to else {
        return Some(Vec::new());
    };
    let items: Vec<(String, Option<SourceSpan>)> = match &to.value {
        OneOrList::One(s) => vec![(s.clone(), cx.span(to))],
        OneOrList::List(l) => l.iter().map(|s| (s.value.clone(), cx.span(s))).collect(),
    };
    let mut ok = true;
    let mut out = Vec::new();
    for (name, span) in items {
        ok &= cx.known_service(&name, span, &format!("fault `{}`", f.name.value));
        out.push(name);
    }
    ok.then_some(out)
}

fn proxy_link(cx: &mut Ctx<'_>, f: &RawFault) -> Option<ProxyLink> {
    let direction = match f.direction.as_ref().map(|d| d.value) {
        None | Some(RawDirection::Both) => ProxyDirection::Both,
        Some(RawDirection::Upstream) => ProxyDirection::Upstream,
        Some(RawDirection::Downstream) => ProxyDirection::Downstream,
        Some(RawDirection::OneWay) => {
            let span = f.direction.as_ref().and_then(|d| cx.span(d));
            cx.error(
                "`one-way` is for partitions; use upstream, downstream or both",
                span,
            );
            return None;
        }
    };
    // Checked without returning early so that a bad `to` is reported as well.
    let toxicity = match &f.toxicity {
        Some(t) if !(0.0..=1.0).contains(&t.value) => {
            let span = cx.span(t);
            cx.error("toxicity is a share between 0.0 and 1.0", span);
            None
        }
        Some(t) => Some(t.value),
        None => Some(1.0),
    };
    let side = match (&f.to, f.port) {
        (Some(to), None) => {
            let OneOrList::One(text) = &to.value else {
                let span = cx.span(to);
                cx.error("`to` takes one `service:port` for this action", span);
                return None;
            };
            let sp = Spanned {
                value: text.clone(),
                referenced: to.referenced,
                defined: to.defined,
            };
            let (service, port) = cx.service_port(&sp, &format!("fault `{}`", f.name.value))?;
            LinkSide::Egress { service, port }
        }
        (None, Some(port)) => LinkSide::Ingress { port },
        _ => {
            let span = cx.span(&f.action);
            cx.push(
                ScenarioError::new(
                    format!(
                        "fault `{}`: action `{}` needs exactly one of `to: service:port` (egress) or `port:` (ingress)",
                        f.name.value,
                        action_name(f.action.value)
                    ),
                    span,
                ),
            );
            return None;
        }
    };
    Some(ProxyLink {
        side,
        direction,
        toxicity_permille: (toxicity? * 1000.0).round() as u16,
    })
}

fn required<'r>(
    cx: &mut Ctx<'_>,
    f: &RawFault,
    field: &'r Option<Spanned<String>>,
    what: &str,
) -> Option<&'r Spanned<String>> {
    if field.is_none() {
        let span = cx.span(&f.action);
        cx.error(
            format!(
                "fault `{}`: action `{}` needs `{what}`",
                f.name.value,
                action_name(f.action.value)
            ),
            span,
        );
    }
    field.as_ref()
}

fn fault_action(cx: &mut Ctx<'_>, f: &RawFault) -> Option<FaultAction> {
    use RawAction as A;
    Some(match f.action.value {
        A::Crash => FaultAction::Crash,
        A::Kill => FaultAction::Kill,
        A::Stop => FaultAction::Stop,
        A::Restart => FaultAction::Restart,
        A::Pause => FaultAction::Pause,
        A::Isolate => FaultAction::Isolate,
        A::Latency => {
            let latency = required(cx, f, &f.latency, "latency").and_then(|l| cx.duration(l));
            let jitter = cx.duration_or(f.jitter.as_ref(), Duration::ZERO);
            let link = proxy_link(cx, f);
            FaultAction::Latency {
                latency: latency?,
                jitter,
                link: link?,
            }
        }
        A::Bandwidth => {
            let rate = required(cx, f, &f.rate, "rate").and_then(|r| {
                units::parse_byte_rate(&r.value)
                    .map_err(|e| {
                        let span = cx.span(r);
                        cx.error(e, span);
                    })
                    .ok()
            });
            let link = proxy_link(cx, f);
            FaultAction::Bandwidth {
                bytes_per_second: rate?,
                link: link?,
            }
        }
        A::ResetPeer => FaultAction::ResetPeer {
            link: proxy_link(cx, f)?,
        },
        A::Timeout => FaultAction::Timeout {
            link: proxy_link(cx, f)?,
        },
        A::Loss => {
            let ratio = required(cx, f, &f.percent, "percent").and_then(|p| {
                units::parse_percent(&p.value)
                    .map_err(|e| {
                        let span = cx.span(p);
                        cx.error(e, span);
                    })
                    .ok()
            });
            let peers = peer_list(cx, f);
            FaultAction::Loss {
                ratio: ratio?,
                peers: peers?,
            }
        }
        A::Partition => {
            if f.to.is_none() {
                let span = cx.span(&f.action);
                cx.error(
                    format!(
                        "fault `{}`: action `partition` needs `to: [services]`",
                        f.name.value
                    ),
                    span,
                );
                return None;
            }
            let direction = match f.direction.as_ref().map(|d| d.value) {
                None | Some(RawDirection::Both) => PartitionDirection::Both,
                Some(RawDirection::OneWay) => PartitionDirection::OneWay,
                Some(_) => {
                    let span = f.direction.as_ref().and_then(|d| cx.span(d));
                    cx.error("a partition's direction is `both` or `one-way`", span);
                    return None;
                }
            };
            FaultAction::Partition {
                peers: peer_list(cx, f)?,
                direction,
            }
        }
    })
}

/// Two faults on the same service whose possible windows intersect make the measurement of
/// either meaningless (which one caused the errors?), so they are rejected.
fn check_overlaps(cx: &mut Ctx<'_>, raw: &[RawFault], faults: &[Option<FaultSpec>]) {
    let window = |f: &FaultSpec| {
        (
            f.at.earliest(),
            f.at.latest() + f.duration.unwrap_or(Duration::ZERO),
        )
    };
    for (i, a) in faults.iter().enumerate() {
        let Some(a) = a else { continue };
        for (j, b) in faults.iter().enumerate().skip(i + 1) {
            let Some(b) = b else { continue };
            if a.target.service != b.target.service {
                continue;
            }
            let (a0, a1) = window(a);
            let (b0, b1) = window(b);
            if a0 <= b1 && b0 <= a1 {
                let span = cx.span(&raw[j].at);
                cx.push(
                    ScenarioError::new(
                        format!(
                            "faults `{}` and `{}` on service `{}` overlap ({}–{} and {}–{})",
                            a.name,
                            b.name,
                            a.target.service,
                            units::format_duration(a0),
                            units::format_duration(a1),
                            units::format_duration(b0),
                            units::format_duration(b1)
                        ),
                        span,
                    )
                    .with_help("move one of them or target another service"),
                );
            }
        }
    }
}

fn total_duration(
    cx: &mut Ctx<'_>,
    raw: &RawScenario,
    load: Option<&LoadSpec>,
    faults: &[Option<FaultSpec>],
) -> Option<Duration> {
    if let Some(sp) = &raw.duration {
        let total = cx.duration(sp)?;
        if let Some(load) = load
            && total < load.duration
        {
            let span = cx.span(sp);
            cx.error(
                format!(
                    "the run ({}) is shorter than its load ({}); the load would be cut off",
                    units::format_duration(total),
                    units::format_duration(load.duration)
                ),
                span,
            );
            return None;
        }
        return Some(total);
    }
    if let Some(load) = load {
        return Some(load.duration);
    }
    if raw.load.is_some() {
        // The load had errors of its own; they are already reported.
        return None;
    }
    let last_end = faults
        .iter()
        .flatten()
        .map(|f| f.at.latest() + f.duration.unwrap_or(Duration::ZERO))
        .max();
    match last_end {
        Some(end) => Some(end + TAIL_AFTER_LAST_FAULT),
        None if raw.faults.is_empty() => {
            let span = cx.span(&raw.name);
            cx.error(
                "the scenario has no load and no faults; set `duration:` for how long probes run",
                span,
            );
            None
        }
        None => None,
    }
}

fn slos(cx: &mut Ctx<'_>, raw: &RawScenario, has_load: bool) -> Vec<Slo> {
    if raw.slos.is_empty() {
        let span = cx.span(&raw.name);
        cx.push(
            ScenarioError::new("the scenario has no SLOs, so it cannot pass or fail", span)
                .with_help("add e.g. `slos: [\"p95(latency) < 100ms\"]`"),
        );
    }
    let fault_names: BTreeSet<&str> = raw.faults.iter().map(|f| f.name.value.as_str()).collect();
    let probe_names: BTreeSet<&str> = raw.probes.iter().map(|p| p.name.value.as_str()).collect();
    let mut out = Vec::new();
    for sp in &raw.slos {
        let text = sp.value.as_str();
        let slo = match slo::parse(text) {
            Ok(s) => s,
            Err(e) => {
                let span = cx.inner_span(sp, e.at.clone());
                let mut err = ScenarioError::new(format!("invalid SLO: {}", e.message), span);
                if let Some(h) = e.help {
                    err = err.with_help(h);
                }
                cx.push(err);
                continue;
            }
        };
        let mut ok = true;
        for r in &slo.references {
            let (known, what, list) = match r.kind {
                RefKind::Fault => (fault_names.contains(r.name.as_str()), "fault", &fault_names),
                RefKind::Probe => (probe_names.contains(r.name.as_str()), "probe", &probe_names),
            };
            if !known {
                let span = cx.inner_span(sp, r.at.clone());
                let names = list.iter().copied().collect::<Vec<_>>().join(", ");
                cx.push(
                    ScenarioError::new(format!("SLO names unknown {what} `{}`", r.name), span)
                        .with_help(if names.is_empty() {
                            format!("the scenario defines no {what}s")
                        } else {
                            format!("{what}s: {names}")
                        }),
                );
                ok = false;
            }
        }
        let needs_load = matches!(
            slo.metric,
            Metric::Latency { .. }
                | Metric::ErrorRate { .. }
                | Metric::Availability { .. }
                | Metric::FailoverTime { .. }
                | Metric::LostWrites
        );
        if needs_load && !has_load && raw.load.is_none() {
            let span = cx.span(sp);
            cx.error(
                format!(
                    "`{}` is measured on the load's requests, but the scenario has no `load`",
                    slo.metric.name()
                ),
                span,
            );
            ok = false;
        }
        if matches!(slo.metric, Metric::RecoveryTime { probe: None, .. }) && raw.probes.is_empty() {
            let span = cx.span(sp);
            cx.error(
                "recovery_time is measured by probes, but the scenario has none",
                span,
            );
            ok = false;
        }
        if ok {
            out.push(slo);
        }
    }
    out
}
