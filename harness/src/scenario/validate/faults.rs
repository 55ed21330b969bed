//! `faults:`: timing, targets, the fields each action takes, and overlapping windows.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_saphyr::Spanned;

use super::check_name;
use super::context::{Bounds, Ctx};
use crate::fault::kinds::{
    Backend, Direction, Fields, KindId, LinkSide, ProxyLink, Read, Reported, Takes,
};
use crate::fault::rollout::Strategy;
use crate::scenario::diagnostic::{ScenarioError, SourceSpan};
use crate::scenario::model::{AtSpec, BlastSize, FaultSpec, Pick, TargetSpec};
use crate::scenario::raw::{RawFault, RawPick, RawStrategy};
use crate::scenario::shapes::{OneOrList, ScalarOr};
use crate::units;

/// When a fault may start (from the load's start) and how long it may last.
const AT_BOUNDS: Bounds = (Duration::ZERO, units::MAX_DURATION);
const FAULT_DURATION_BOUNDS: Bounds = (Duration::from_millis(1), units::MAX_DURATION);

pub(super) fn faults(cx: &mut Ctx<'_>, raw: &[RawFault]) -> Vec<Option<FaultSpec>> {
    let mut seen = BTreeSet::new();
    raw.iter().map(|f| fault(cx, f, &mut seen)).collect()
}

pub(super) fn fault(
    cx: &mut Ctx<'_>,
    f: &RawFault,
    seen: &mut BTreeSet<String>,
) -> Option<FaultSpec> {
    let name_ok = check_name(cx, &f.name, "fault", seen);
    let name = f.name.value.clone();
    let action = f.action.value;
    let backend = if cx.kube {
        Backend::Kube
    } else {
        Backend::Compose
    };
    if !action.runs_on(backend) {
        let span = cx.span(&f.action);
        let only_here = |b: Backend| {
            crate::fault::kinds::ALL
                .iter()
                .filter(|k| k.runs_on(b) && !k.runs_on(other(b)))
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (stack, help) = if cx.kube {
            (
                "a Kubernetes stack",
                format!(
                    "on Kubernetes: {} (instead of {}: {})",
                    crate::fault::kinds::names_on(Backend::Kube),
                    only_here(Backend::Compose),
                    only_here(Backend::Kube)
                ),
            )
        } else {
            (
                "a compose stack",
                format!(
                    "{} act on Kubernetes workloads; on compose use {}",
                    only_here(Backend::Kube),
                    only_here(Backend::Compose)
                ),
            )
        };
        cx.push(
            ScenarioError::new(
                format!(
                    "fault `{name}`: action `{}` is not supported on {stack}",
                    action.name()
                ),
                span,
            )
            .with_help(help),
        );
        return None;
    }
    let at = match &f.at.value {
        ScalarOr::Scalar(text) => {
            let sp = Spanned {
                value: text.clone(),
                referenced: f.at.referenced,
                defined: f.at.defined,
            };
            cx.duration(&sp, "a fault's `at`", AT_BOUNDS)
                .map(AtSpec::Fixed)
        }
        ScalarOr::Map(b) => {
            if b.between.len() != 2 {
                let span = cx.span(&f.at);
                cx.error("`between` takes two durations: [earliest, latest]", span);
                None
            } else {
                let lo = cx.duration(&b.between[0], "`between`", AT_BOUNDS);
                let hi = cx.duration(&b.between[1], "`between`", AT_BOUNDS);
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
    let duration = f
        .duration
        .as_ref()
        .and_then(|d| cx.duration(d, "a fault's duration", FAULT_DURATION_BOUNDS));
    if f.duration.is_none() && action.info().duration == Takes::Required {
        let span = cx.span(&f.action);
        cx.push(
            ScenarioError::new(
                format!(
                    "fault `{name}`: action `{}` needs a `duration`",
                    action.name()
                ),
                span,
            )
            .with_help("the fault is reverted after `duration` (e.g. `duration: 5s`)"),
        );
    }
    // Fields present on this fault that its action does not take.
    let allowed = action.info().fields;
    let mut fields_ok = true;
    for field in KIND_FIELDS {
        if let Some(span) = given(cx, f, field)
            && !allowed.contains(&field)
        {
            let takes = if allowed.is_empty() {
                "no extra fields".to_string()
            } else {
                allowed.join(", ")
            };
            cx.push(
                ScenarioError::new(
                    format!("`{field}` does not apply to action `{}`", action.name()),
                    span,
                )
                .with_help(format!("`{}` takes: {takes}", action.name())),
            );
            fields_ok = false;
        }
    }
    let action_spec = if fields_ok {
        action.read(&mut Entry { cx, f }).ok()
    } else {
        None
    };
    if let (Takes::Never(why), Some(d)) = (action.info().duration, &f.duration) {
        let span = cx.span(d);
        cx.push(
            ScenarioError::new(
                format!("fault `{name}`: a {} takes no `duration`", action.name()),
                span,
            )
            .with_help(why),
        );
    }
    let (pick, size, size_ok) = blast_radius(cx, f, action);
    let (labels, labels_ok) = label_selector(cx, f, action);
    let target_ok = target_ok && size_ok && labels_ok;
    match (name_ok, at, target_ok, action_spec) {
        (true, Some(at), true, Some(action)) => Some(FaultSpec {
            name,
            at,
            duration,
            action,
            target: TargetSpec {
                service: f.target.service.value.clone(),
                labels,
                pick,
                size,
            },
        }),
        _ => None,
    }
}

/// `pick` with the blast radius (`count` or `percent`): a size makes `random` the default
/// pick; it needs `random` or `first`, and a fault that acts on the whole workload or service
/// takes none.
fn blast_radius(cx: &mut Ctx<'_>, f: &RawFault, action: KindId) -> (Pick, Option<BlastSize>, bool) {
    let t = &f.target;
    let mut ok = true;
    let size = match (&t.count, &t.percent) {
        (Some(_), Some(p)) => {
            let span = cx.span(p);
            cx.error("a target takes `count` or `percent`, not both", span);
            ok = false;
            None
        }
        (Some(c), None) => {
            ok &= cx.number_in(c, "count", 1, 10_000);
            Some(BlastSize::Count(c.value))
        }
        (None, Some(p)) => match units::parse_percent(&p.value) {
            Ok(r) if r > 0.0 && r <= 1.0 => {
                Some(BlastSize::Permille((r * 1000.0).round().max(1.0) as u16))
            }
            Ok(_) => {
                let span = cx.span(p);
                cx.error("percent must be above 0% and at most 100%", span);
                ok = false;
                None
            }
            Err(e) => {
                let span = cx.span(p);
                cx.error(e, span);
                ok = false;
                None
            }
        },
        (None, None) => None,
    };
    let size_span = t
        .count
        .as_ref()
        .and_then(|c| cx.span(c))
        .or_else(|| t.percent.as_ref().and_then(|p| cx.span(p)));
    let pick = match (t.pick, size) {
        (Some(RawPick::All), Some(_)) => {
            let span = size_span.clone();
            cx.push(
                ScenarioError::new(
                    "`count`/`percent` choose some replicas; `pick: all` takes every one",
                    span,
                )
                .with_help("use `pick: random` (the default with a count) or `pick: first`"),
            );
            ok = false;
            Pick::All
        }
        (None, Some(_)) | (Some(RawPick::Random), _) => Pick::Random,
        (Some(RawPick::First), _) => Pick::First,
        (Some(RawPick::All), None) | (None, None) => Pick::All,
    };
    if size.is_some() && action.info().whole_workload {
        let span = size_span;
        cx.push(ScenarioError::new(
            format!(
                "fault `{}`: `{}` acts on the whole workload; it takes no `count` or `percent`",
                f.name.value,
                action.name()
            ),
            span,
        ));
        ok = false;
    }
    (pick, size, ok)
}

/// `labels`: an equality selector narrowing the service's replicas. Keys must be non-empty;
/// a fault that acts on the whole workload or service takes none (as for a blast radius).
fn label_selector(
    cx: &mut Ctx<'_>,
    f: &RawFault,
    action: KindId,
) -> (BTreeMap<String, String>, bool) {
    let Some(labels) = &f.target.labels else {
        return (BTreeMap::new(), true);
    };
    let span = cx.span(labels);
    if action.info().whole_workload {
        cx.push(
            ScenarioError::new(
                format!(
                    "fault `{}`: `{}` acts on the whole workload; it takes no `labels`",
                    f.name.value,
                    action.name()
                ),
                span,
            )
            .with_help("remove `labels`, or use a fault that acts on single replicas"),
        );
        return (BTreeMap::new(), false);
    }
    if labels.value.keys().any(|k| k.trim().is_empty()) {
        cx.error("a label selector's keys must not be empty", span);
        return (BTreeMap::new(), false);
    }
    if cx.kube {
        let bad: Vec<String> = labels
            .value
            .iter()
            .filter(|(k, v)| !is_label_key(k) || !(v.is_empty() || is_label_name(v)))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !bad.is_empty() {
            cx.push(
                ScenarioError::new(
                    format!("not a Kubernetes label: {}", bad.join(", ")),
                    span,
                )
                .with_help("a key is [prefix/]name, a value is empty or a name: up to 63 of A-Z a-z 0-9 - _ . starting and ending alphanumeric; the prefix a DNS subdomain"),
            );
            return (BTreeMap::new(), false);
        }
    }
    // On Kubernetes the pods' labels are known from the manifests: a selector no pod of the
    // workload can match would only be found at run time (no target, exit 4). Controllers add
    // a few labels of their own to every pod; those are not in the template.
    const ADDED_BY_CONTROLLERS: [&str; 4] = [
        "pod-template-hash",
        "controller-revision-hash",
        "statefulset.kubernetes.io/pod-name",
        "apps.kubernetes.io/pod-index",
    ];
    let service = f.target.service.value.as_str();
    if let Some(template) = cx.pod_labels.as_ref().and_then(|p| p.get(service)) {
        let missing: Vec<String> = labels
            .value
            .iter()
            .filter(|(k, v)| {
                template.get(*k) != Some(*v) && !ADDED_BY_CONTROLLERS.contains(&k.as_str())
            })
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !missing.is_empty() {
            let carried: Vec<String> = template.iter().map(|(k, v)| format!("{k}={v}")).collect();
            cx.push(
                ScenarioError::new(
                    format!(
                        "fault `{}`: no pod of workload `{service}` carries {}",
                        f.name.value,
                        missing.join(", ")
                    ),
                    span,
                )
                .with_help(format!(
                    "its pod template's labels: {}",
                    if carried.is_empty() {
                        "none".to_string()
                    } else {
                        carried.join(", ")
                    }
                )),
            );
            return (BTreeMap::new(), false);
        }
    }
    (labels.value.clone(), true)
}

/// A label name or value (Kubernetes' rule): 1-63 of `A-Za-z0-9-_.`, alphanumeric at both ends.
fn is_label_name(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    (1..=63).contains(&s.len())
        && s.starts_with(alnum)
        && s.ends_with(alnum)
        && s.chars().all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
}

/// A label key: `[prefix/]name`, the prefix a DNS subdomain (lower case, up to 253).
fn is_label_key(s: &str) -> bool {
    match s.rsplit_once('/') {
        None => is_label_name(s),
        Some((prefix, name)) => {
            is_label_name(name)
                && (1..=253).contains(&prefix.len())
                && prefix.split('.').all(|part| {
                    !part.is_empty()
                        && part.len() <= 63
                        && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                        && part.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                        && part
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                })
        }
    }
}

/// The scenario side of [`Fields`]: a kind reads its fields from the raw entry, and every
/// problem is reported at the field's line and column.
struct Entry<'c, 'a, 'r> {
    cx: &'c mut Ctx<'a>,
    f: &'r RawFault,
}

/// The fields of a fault entry that belong to its kind (beside `name`, `at`, `action`,
/// `target` and `duration`): what a kind's `KindInfo::fields` names.
const KIND_FIELDS: [&str; 22] = [
    "latency",
    "jitter",
    "rate",
    "percent",
    "to",
    "port",
    "direction",
    "toxicity",
    "strategy",
    "set",
    "force",
    "replicas",
    "status",
    "method",
    "path",
    "header",
    "delay",
    "mode",
    "then",
    "cores",
    "size",
    "dir",
];

/// `Some(span)` when the entry has the kind field `name` (of [`KIND_FIELDS`]), `None` when not.
fn given(cx: &Ctx<'_>, f: &RawFault, name: &str) -> Option<Option<SourceSpan>> {
    match name {
        "latency" => f.latency.as_ref().map(|s| cx.span(s)),
        "jitter" => f.jitter.as_ref().map(|s| cx.span(s)),
        "rate" => f.rate.as_ref().map(|s| cx.span(s)),
        "percent" => f.percent.as_ref().map(|s| cx.span(s)),
        "to" => f.to.as_ref().map(|s| cx.span(s)),
        "port" => f.port.as_ref().map(|s| cx.span(s)),
        "direction" => f.direction.as_ref().map(|s| cx.span(s)),
        "toxicity" => f.toxicity.as_ref().map(|s| cx.span(s)),
        "strategy" => f.strategy.as_ref().map(|s| cx.span(s)),
        "set" => f.set.as_ref().map(|s| cx.span(s)),
        "force" => f.force.as_ref().map(|s| cx.span(s)),
        "replicas" => f.replicas.as_ref().map(|s| cx.span(s)),
        "status" => f.status.as_ref().map(|s| cx.span(s)),
        "method" => f.method.as_ref().map(|s| cx.span(s)),
        "path" => f.path.as_ref().map(|s| cx.span(s)),
        "header" => f.header.as_ref().map(|s| cx.span(s)),
        "delay" => f.delay.as_ref().map(|s| cx.span(s)),
        "mode" => f.mode.as_ref().map(|s| cx.span(s)),
        "then" => f.then.as_ref().map(|s| cx.span(s)),
        "cores" => f.cores.as_ref().map(|s| cx.span(s)),
        "size" => f.size.as_ref().map(|s| cx.span(s)),
        "dir" => f.dir.as_ref().map(|s| cx.span(s)),
        _ => None,
    }
}

/// A kind asked for a field the scenario format does not have (or not of that type): a
/// programming error, found by the kind's first test, never by a user.
fn unknown(field: &str) -> ! {
    panic!(
        "no fault field `{field}` of this type: add it to RawFault (scenario/raw.rs) and to Entry's readers"
    )
}

fn other(b: Backend) -> Backend {
    match b {
        Backend::Compose => Backend::Kube,
        Backend::Kube => Backend::Compose,
    }
}

impl<'r> Entry<'_, '_, 'r> {
    /// A field's value through `parse`, its error reported at the field.
    fn parsed<T>(
        &mut self,
        field: Option<&Spanned<String>>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Read<T> {
        let Some(sp) = field else { return Ok(None) };
        parse(&sp.value).map(Some).map_err(|e| {
            let span = self.cx.span(sp);
            self.cx.error(e, span);
            Reported
        })
    }

    /// Where a problem of the raw field `name` is reported: the kind field where it is written
    /// (nowhere when absent), the target for `pick`, else the fault's `action`.
    fn span_of(&self, name: &str) -> Option<SourceSpan> {
        let (cx, f) = (&*self.cx, self.f);
        match (name, given(cx, f, name)) {
            (_, Some(span)) => span,
            (field, None) if KIND_FIELDS.contains(&field) => None,
            ("pick", None) => cx.span(&f.target.service),
            (_, None) => cx.span(&f.action),
        }
    }

    fn text(&self, field: &str) -> Option<&'r Spanned<String>> {
        let f: &'r RawFault = self.f;
        match field {
            "latency" => f.latency.as_ref(),
            "jitter" => f.jitter.as_ref(),
            "rate" => f.rate.as_ref(),
            "percent" => f.percent.as_ref(),
            "status" => f.status.as_ref(),
            "method" => f.method.as_ref(),
            "path" => f.path.as_ref(),
            "header" => f.header.as_ref(),
            "delay" => f.delay.as_ref(),
            "mode" => f.mode.as_ref(),
            "then" => f.then.as_ref(),
            "size" => f.size.as_ref(),
            "dir" => f.dir.as_ref(),
            other => unknown(other),
        }
    }
}

impl Fields for Entry<'_, '_, '_> {
    fn fault(&self) -> &str {
        &self.f.name.value
    }

    fn picks_some(&self) -> bool {
        self.f.target.pick.is_some_and(|p| p != RawPick::All)
    }

    fn duration(&mut self, field: &'static str, bounds: (Duration, Duration)) -> Read<Duration> {
        let Some(sp) = self.text(field) else {
            return Ok(None);
        };
        self.cx
            .duration(sp, field, bounds)
            .map(Some)
            .ok_or(Reported)
    }

    fn byte_rate(&mut self, field: &'static str) -> Read<u64> {
        let sp = self.text(field);
        self.parsed(sp, units::parse_byte_rate)
    }

    fn percent(&mut self, field: &'static str) -> Read<f64> {
        let sp = self.text(field);
        self.parsed(sp, units::parse_percent)
    }

    fn bytes(&mut self, field: &'static str) -> Read<u64> {
        let sp = self.text(field);
        self.parsed(sp, units::parse_bytes)
    }

    fn word(&mut self, field: &'static str) -> Read<String> {
        Ok(self.text(field).map(|s| s.value.clone()))
    }

    fn count(&mut self, field: &'static str, lo: u32, hi: u32) -> Read<u32> {
        let r = match field {
            "replicas" => self.f.replicas.as_ref(),
            "cores" => self.f.cores.as_ref(),
            other => unknown(other),
        };
        let Some(r) = r else {
            return Ok(None);
        };
        if self.cx.number_in(r, field, lo, hi) {
            Ok(Some(r.value))
        } else {
            Err(Reported)
        }
    }

    fn flag(&mut self, field: &'static str) -> Read<bool> {
        match field {
            "force" => Ok(self.f.force.as_ref().map(|f| f.value)),
            other => unknown(other),
        }
    }

    fn services(&mut self, field: &'static str) -> Read<Vec<String>> {
        let to = match field {
            "to" => self.f.to.as_ref(),
            other => unknown(other),
        };
        let Some(to) = to else {
            return Ok(None);
        };
        let cx = &mut *self.cx;
        let items: Vec<(String, Option<SourceSpan>)> = match &to.value {
            OneOrList::One(s) => vec![(s.clone(), cx.span(to))],
            OneOrList::List(l) => l.iter().map(|s| (s.value.clone(), cx.span(s))).collect(),
        };
        let mut ok = true;
        let mut out = Vec::new();
        for (name, span) in items {
            ok &= cx.known_service(&name, span, &format!("fault `{}`", self.f.name.value));
            out.push(name);
        }
        if ok { Ok(Some(out)) } else { Err(Reported) }
    }

    fn direction(&mut self) -> Read<Direction> {
        Ok(self.f.direction.as_ref().map(|d| d.value))
    }

    fn strategy(&mut self) -> Read<Strategy> {
        Ok(self.f.strategy.as_ref().map(|s| match s.value {
            RawStrategy::Rolling => Strategy::Rolling,
            RawStrategy::Recreate => Strategy::Recreate,
            RawStrategy::BlueGreen => Strategy::BlueGreen,
        }))
    }

    fn settings(&mut self, field: &'static str) -> Read<BTreeMap<String, String>> {
        let set = match field {
            "set" => self.f.set.as_ref(),
            other => unknown(other),
        };
        let Some(set) = set else {
            return Ok(None);
        };
        check_rollout_settings(
            self.cx,
            &self.f.name.value,
            &self.f.target.service.value,
            set,
        );
        Ok(Some(set.value.clone()))
    }

    fn proxy_link(&mut self) -> Result<ProxyLink, Reported> {
        let (cx, f) = (&mut *self.cx, self.f);
        let direction = match f.direction.as_ref().map(|d| d.value) {
            Some(Direction::OneWay) => {
                let span = f.direction.as_ref().and_then(|d| cx.span(d));
                cx.error(
                    "`one-way` is for partitions; use upstream, downstream or both",
                    span,
                );
                return Err(Reported);
            }
            d => d.unwrap_or(Direction::Both),
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
        let side = match (&f.to, &f.port) {
            (Some(to), None) => {
                let OneOrList::One(text) = &to.value else {
                    let span = cx.span(to);
                    cx.error("`to` takes one `service:port` for this action", span);
                    return Err(Reported);
                };
                let sp = Spanned {
                    value: text.clone(),
                    referenced: to.referenced,
                    defined: to.defined,
                };
                let (service, port) = cx
                    .service_port(&sp, &format!("fault `{}`", f.name.value))
                    .ok_or(Reported)?;
                LinkSide::Egress { service, port }
            }
            (None, Some(port)) => {
                let span = cx.span(port);
                let used_as = format!("fault `{}`", f.name.value);
                let service = f.target.service.value.as_str();
                if !cx.known_port(service, port.value, span, &used_as) {
                    return Err(Reported);
                }
                LinkSide::Ingress { port: port.value }
            }
            _ => {
                let span = cx.span(&f.action);
                cx.push(ScenarioError::new(
                    format!(
                        "fault `{}`: action `{}` needs exactly one of `to: service:port` (egress) or `port:` (ingress)",
                        f.name.value,
                        f.action.value.name()
                    ),
                    span,
                ));
                return Err(Reported);
            }
        };
        Ok(ProxyLink {
            side,
            direction,
            toxicity_permille: (toxicity.ok_or(Reported)? * 1000.0).round() as u16,
        })
    }

    fn missing(&mut self, field: &'static str, help: Option<&str>) -> Reported {
        let span = self.cx.span(&self.f.action);
        let mut e = ScenarioError::new(
            format!(
                "fault `{}`: action `{}` needs `{field}`",
                self.f.name.value,
                self.f.action.value.name()
            ),
            span,
        );
        if let Some(help) = help {
            e = e.with_help(help);
        }
        self.cx.push(e);
        Reported
    }

    fn invalid(&mut self, field: &'static str, message: String) -> Reported {
        let span = self.span_of(field);
        self.cx.error(message, span);
        Reported
    }

    fn refuse(&mut self, at: Option<&'static str>, message: String, help: &str) -> Reported {
        let span = self.span_of(at.unwrap_or("action"));
        self.cx
            .push(ScenarioError::new(message, span).with_help(help));
        Reported
    }
}

/// Two faults on the same service whose possible windows intersect make the measurement of
/// either meaningless (which one caused the errors?), so they are rejected.
pub(super) fn check_overlaps(cx: &mut Ctx<'_>, raw: &[RawFault], faults: &[Option<FaultSpec>]) {
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

/// Network-fault paths are wired when the stack comes up (fault/network/wiring.rs); what a
/// fault of the scenario replaces afterwards is not wired, so a network fault there would
/// silently miss it (or, on Kubernetes, be wired at fault time, closing live connections):
/// refused.
/// - compose: the containers a rollout creates, on any path through the rolled-out service
///   (as the network fault's target or a `to:` peer);
/// - Kubernetes: the pods a pod-delete, scale or rollout-restart creates, as a proxy fault's
///   target (loss and partition act at fault time; peers are reached through their Service's
///   ClusterIP, which stays).
pub(super) fn check_replaced_paths(
    cx: &mut Ctx<'_>,
    raw: &[RawFault],
    faults: &[Option<FaultSpec>],
) {
    let kube = cx.kube;
    let replaced: Vec<(&str, &str)> = faults
        .iter()
        .flatten()
        .filter(|f| {
            // Validation ran only kinds this backend runs.
            f.action.info().replaces
        })
        .map(|f| (f.target.service.as_str(), f.name.as_str()))
        .collect();
    for (i, f) in faults.iter().enumerate() {
        let Some(f) = f else { continue };
        let wired: Vec<String> = if !kube {
            f.action.wired(&f.target.service)
        } else if f.action.proxied() {
            vec![f.target.service.clone()]
        } else {
            vec![]
        };
        let Some((service, replacer)) = replaced.iter().find(|(s, _)| wired.iter().any(|w| w == s))
        else {
            continue;
        };
        let span = cx.span(&raw[i].action);
        let error = if kube {
            ScenarioError::new(
                format!(
                    "fault `{}`: proxy fault `{}` on workload `{service}`, whose pods `{replacer}` replaces",
                    f.name,
                    f.action.name(),
                ),
                span,
            )
            .with_help("the proxy is wired in the pods present when the stack comes up, not in their replacements; put the proxy fault in another scenario")
        } else {
            ScenarioError::new(
                format!(
                    "fault `{}`: network fault `{}` on a path through `{service}`, which rollout `{replacer}` replaces",
                    f.name,
                    f.action.name()
                ),
                span,
            )
            .with_help("containers a rollout creates are not wired for network faults; put the network fault in another scenario")
        };
        cx.push(error);
    }
}

/// The node agent (`stack.kubernetes.agent`) runs rules and kills on the node; the fault proxy,
/// a DNS fault's resolver and canary and the resource helpers run in the harness's own process,
/// inside the target's namespaces or cgroups, which an agent cannot lend it: such a fault with
/// the agent is refused rather than run anywhere else.
pub(super) fn check_agent(cx: &mut Ctx<'_>, raw: &[RawFault], faults: &[Option<FaultSpec>]) {
    if !cx.agent {
        return;
    }
    for (i, f) in faults.iter().enumerate() {
        let Some(f) = f else { continue };
        if !f.action.in_harness() {
            continue;
        }
        let what = if f.action.proxied() {
            "proxy fault"
        } else {
            "fault"
        };
        let span = cx.span(&raw[i].action);
        cx.push(
            ScenarioError::new(
                format!(
                    "fault `{}`: {what} `{}` does not run through the node agent (stack.kubernetes.agent)",
                    f.name,
                    f.action.name()
                ),
                span,
            )
            .with_help("it runs inside the harness, in the pod's namespaces, so it needs the harness on the node: run this scenario without `agent` there (the local cluster), or use loss/partition through the agent"),
        );
    }
}

/// A rollout's `set` must change the service it deploys: a variable no compose file reads
/// for that service would deploy the same version again, and a zero-downtime gate would pass
/// a deploy that never happened.
fn check_rollout_settings(
    cx: &mut Ctx<'_>,
    fault: &str,
    service: &str,
    set: &Spanned<BTreeMap<String, String>>,
) {
    if let Some(declared) = cx.workload_env.as_ref().and_then(|w| w.get(service)) {
        let unknown: Vec<&str> = set
            .value
            .keys()
            .filter(|k| !declared.contains(*k))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            let span = cx.span(set);
            cx.push(
                ScenarioError::new(
                    format!(
                        "fault `{fault}`: set {} that no container of `{service}` declares in its `env`: the new version would be the old one",
                        unknown.join(", ")
                    ),
                    span,
                )
                .with_label("declared by no container of this workload")
                .with_help(format!(
                    "the variables `{service}` declares: {}",
                    declared.iter().cloned().collect::<Vec<_>>().join(", ")
                )),
            );
        }
        return;
    }
    let Some(files) = &cx.compose_variables else {
        return;
    };
    // Only what the target service reads counts (another service's variable leaves it as it is).
    let for_service: Vec<(String, crate::scenario::compose::Variables)> = files
        .iter()
        .map(|(file, vars)| {
            let vars = vars
                .iter()
                .filter(|(_, services)| services.contains(service))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            (format!("{file} (service `{service}`)"), vars)
        })
        .collect();
    if let Some(unread) = crate::scenario::compose::unread_settings(
        &for_service,
        set.value.keys().map(String::as_str),
    ) {
        let span = cx.span(set);
        cx.push(
            ScenarioError::new(
                format!(
                    "fault `{fault}`: set {} that `{service}`'s compose configuration does not read: the new version would be the old one",
                    unread.keys()
                ),
                span,
            )
            .with_label("read by no compose file for this service")
            .with_help(unread.help()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys_and_values_follow_the_kubernetes_rule() {
        for ok in ["app", "app.kubernetes.io/name", "a-b_c.d", "x1/y", "track"] {
            assert!(is_label_key(ok), "{ok}");
        }
        for bad in [
            "",
            "bad key!",
            "-a",
            "a-",
            "Example.com/x",
            "a//b",
            "/x",
            &"k".repeat(64),
        ] {
            assert!(!is_label_key(bad), "{bad}");
        }
        assert!(is_label_name("canary") && is_label_name("v1.2_3"));
        assert!(!is_label_name("x y") && !is_label_name(".x") && !is_label_name(&"v".repeat(64)));
    }
}
