//! `slos:`: expressions parsed (errors at their column) and their fault/probe names checked.

use std::collections::BTreeSet;

use super::context::Ctx;
use crate::scenario::diagnostic::ScenarioError;
use serde_saphyr::Spanned;

use crate::scenario::raw::RawScenario;
use crate::scenario::shapes::ScalarOr;
use crate::slo::{self, Phase, RefKind, Severity, Slo};

pub(super) fn slos(cx: &mut Ctx<'_>, raw: &RawScenario, has_load: bool) -> Vec<Slo> {
    if raw.slos.is_empty() {
        let span = cx.span(&raw.name);
        cx.push(
            ScenarioError::new("the scenario has no SLOs, so it cannot pass or fail", span)
                .with_help("add e.g. `slos: [\"p95(latency) < 100ms\"]`"),
        );
    }
    let mut out = Vec::new();
    for entry in &raw.slos {
        let (sp, severity) = match &entry.value {
            ScalarOr::Scalar(text) => (
                Spanned::new(text.clone(), entry.referenced, entry.defined),
                Severity::Gating,
            ),
            ScalarOr::Map(m) => {
                let severity = match m.severity.as_ref().map(|s| s.value.as_str()) {
                    None | Some("gating") => Severity::Gating,
                    Some("advisory") => Severity::Advisory,
                    Some(other) => {
                        let span = m.severity.as_ref().and_then(|s| cx.span(s));
                        cx.push(
                            ScenarioError::new(format!("unknown severity `{other}`"), span)
                                .with_help("`gating` (the default) or `advisory`"),
                        );
                        Severity::Gating
                    }
                };
                (
                    Spanned::new(m.slo.value.clone(), m.slo.referenced, m.slo.defined),
                    severity,
                )
            }
        };
        if let Some(mut slo) = one(cx, raw, has_load, &sp) {
            slo.severity = severity;
            out.push(slo);
        }
    }
    if !out.is_empty() && out.iter().all(|s| !s.gates()) {
        let span = cx.span(&raw.name);
        cx.push(
            ScenarioError::new(
                "every SLO is advisory, so the scenario can never fail",
                span,
            )
            .with_help("leave at least one SLO gating (no `severity`, or `severity: gating`)"),
        );
    }
    out
}

/// `steady_state:`: SLOs on the load's requests judged on the window before the first fault
/// (`phase=before`, which a bare metric means here). Other windows or metrics that are not
/// the load's are refused, and so is a steady state with no fault to come before.
pub(super) fn steady_state(cx: &mut Ctx<'_>, raw: &RawScenario, has_load: bool) -> Vec<Slo> {
    let mut out = Vec::new();
    // An `explore:` space puts at least one fault in every schedule it draws.
    if !raw.steady_state.is_empty() && raw.faults.is_empty() && raw.explore.is_none() {
        let span = cx.span(&raw.steady_state[0]);
        cx.push(
            ScenarioError::new(
                "a steady state is judged before the first fault, but the scenario has no faults",
                span,
            )
            .with_help("state the SLOs under `slos:` instead"),
        );
        return out;
    }
    for sp in &raw.steady_state {
        let Some(mut slo) = one(cx, raw, has_load, sp) else {
            continue;
        };
        let name = slo.metric.name();
        let scope = match slo.metric.kind_mut().load_phase_mut() {
            Some(scope) => scope,
            None => {
                let span = cx.span(sp);
                cx.push(
                    ScenarioError::new(
                        format!("`{name}` cannot state a steady state: a steady state is a figure of the load's requests before the first fault"),
                        span,
                    )
                    .with_help("a latency percentile, error_rate or availability of the load, e.g. `error_rate(phase=before) < 1%`"),
                );
                continue;
            }
        };
        // The parser gives a bare metric the whole run; only that default becomes `before`
        // here: an explicit `phase=whole` asks for something a steady state is not.
        let explicit_whole = sp.value.replace(' ', "").contains("phase=whole");
        match scope {
            Phase::Whole | Phase::Before if !explicit_whole => *scope = Phase::Before,
            other => {
                let span = cx.span(sp);
                cx.push(
                    ScenarioError::new(
                        format!("a steady-state SLO is judged before the first fault, not over `{other}`"),
                        span,
                    )
                    .with_help("leave the window out, or write `phase=before`"),
                );
                continue;
            }
        }
        if slo.is_relative() {
            let span = cx.span(sp);
            cx.push(ScenarioError::new(
                "a steady-state SLO needs an absolute target, not a baseline",
                span,
            ));
            continue;
        }
        out.push(slo);
    }
    out
}

/// One SLO expression parsed and checked against the scenario (names, load, probes).
fn one(cx: &mut Ctx<'_>, raw: &RawScenario, has_load: bool, sp: &Spanned<String>) -> Option<Slo> {
    let fault_names: BTreeSet<&str> = raw.faults.iter().map(|f| f.name.value.as_str()).collect();
    let probe_names: BTreeSet<&str> = raw.probes.iter().map(|p| p.name.value.as_str()).collect();
    {
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
                return None;
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
        let needs_load = slo.metric.kind().needs_load();
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
        let reads = slo
            .metric
            .kind()
            .needs_prometheus()
            .map(|a| format!("alert `{a}`"))
            .or_else(|| {
                slo.metric
                    .kind()
                    .prometheus_query()
                    .map(|_| "its query".into())
            });
        if let Some(what) = reads
            && raw.prometheus.is_none()
        {
            let span = cx.span(sp);
            cx.push(
                ScenarioError::new(
                    format!(
                        "`{}` reads {what} from the stack's Prometheus, but the scenario has no `prometheus:` section",
                        slo.metric.name()
                    ),
                    span,
                )
                .with_help("add `prometheus: { address: prometheus:9090 }` (the service and port Prometheus runs as)"),
            );
            ok = false;
        }
        if slo.metric.kind().needs_probes() && raw.probes.is_empty() {
            let span = cx.span(sp);
            cx.error(
                format!(
                    "{} is measured by probes, but the scenario has none",
                    slo.metric.name()
                ),
                span,
            );
            ok = false;
        }
        ok.then_some(slo)
    }
}
