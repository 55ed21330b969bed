//! `slos:`: expressions parsed (errors at their column) and their fault/probe names checked.

use std::collections::BTreeSet;

use super::context::Ctx;
use crate::scenario::diagnostic::ScenarioError;
use crate::scenario::raw::RawScenario;
use crate::slo::{self, Metric, RefKind, Slo};

pub(super) fn slos(cx: &mut Ctx<'_>, raw: &RawScenario, has_load: bool) -> Vec<Slo> {
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
