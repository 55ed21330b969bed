//! How figures read in every human-facing report, so the terminal, Markdown and HTML agree.

use std::time::Duration;

use crate::slo::Quantity;
use crate::verdict::Verdict;

/// Milliseconds as `87.3ms` / `1.42s`.
pub fn ms(value: f64) -> String {
    if !value.is_finite() || value < 0.0 {
        return "—".into();
    }
    Quantity::Duration(Duration::from_secs_f64(value / 1000.0)).to_string()
}

/// Optional milliseconds as [`ms`] writes them; `—` when absent.
pub fn opt_ms(value: Option<f64>) -> String {
    value.map_or_else(|| "—".into(), ms)
}

/// A point on the run clock: `10.002s`.
pub fn at(value_ms: Option<f64>) -> String {
    match value_ms {
        Some(v) if v.is_finite() => format!("{:.3}s", v / 1000.0),
        _ => "—".into(),
    }
}

/// A ratio as a percentage: `0.4%`.
pub fn percent(ratio: Option<f64>) -> String {
    match ratio {
        Some(r) if r.is_finite() => Quantity::Ratio(r).to_string(),
        _ => "—".into(),
    }
}

/// An SLO row's name as every human-facing report shows it: the expression, marked
/// `(advisory)` when it never gates.
pub fn slo_label(slo: &super::SloReport) -> String {
    if slo.advisory {
        format!("{} (advisory)", slo.expression)
    } else {
        slo.expression.clone()
    }
}

/// The SLO rows of a report with a heading each: the steady-state hypothesis (judged before
/// the first fault) when the scenario states one, then the SLOs.
pub fn slo_sections(report: &super::Report) -> Vec<(&'static str, &[super::SloReport])> {
    let mut out = Vec::new();
    if !report.steady_state.is_empty() {
        out.push((
            "Steady state (before the first fault)",
            report.steady_state.as_slice(),
        ));
    }
    out.push(("SLOs", report.slos.as_slice()));
    out
}

/// A verdict in capitals for text reports: `PASS`, `BREACHED`, `INCONCLUSIVE`.
pub fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Breached => "BREACHED",
        Verdict::Inconclusive => "INCONCLUSIVE",
    }
}

/// A verdict as an emoji for Markdown: ✅ pass, ❌ breached, ⚠️ inconclusive.
pub fn verdict_icon(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✅",
        Verdict::Breached => "❌",
        Verdict::Inconclusive => "⚠️",
    }
}

/// The run's verdict as every report states it: the verdict word, or — when the run measured
/// the wiring rather than the system (exit 3) — that, so no report reads as a verdict then.
pub fn headline(report: &super::Report) -> String {
    if report.not_judged.is_some() {
        return "NOT JUDGED".to_string();
    }
    verdict_word(report.verdict).to_string()
}

/// "stopped early (fail-fast) at 11.2s of 30s: `SLO` was certainly breached: why", when
/// fail-fast stopped the run.
pub fn stopped_early_line(report: &super::Report) -> Option<String> {
    report.stopped_early.as_ref().map(|s| {
        format!(
            "stopped early (fail-fast) at {:.1}s of {:.0}s: `{}` was certainly breached: {}",
            s.at_ms / 1e3,
            s.planned_ms / 1e3,
            s.slo,
            s.reason
        )
    })
}

/// Provenance as lines of plain text, for the Markdown and HTML reports.
pub fn provenance_lines(p: &crate::provenance::Provenance) -> Vec<String> {
    let file = |f: &crate::provenance::FileProvenance| {
        let mut s = format!(
            "{} sha256 {}",
            f.path,
            f.sha256.as_deref().unwrap_or("unreadable")
        );
        if let Some(c) = &f.git_commit {
            s.push_str(&format!(" at git commit {c}"));
            // The typed state says why the commit is not what ran (untracked, ignored, ...);
            // reports written before it only have the flag.
            let why = match f.git_state {
                Some(state) if !state.is_clean() => Some(state.describe()),
                None if f.git_dirty == Some(true) => Some("with uncommitted changes"),
                _ => None,
            };
            if let Some(why) = why {
                s.push_str(&format!(" ({why})"));
            }
        }
        if let Some(sp) = f
            .git_superproject
            .as_ref()
            .filter(|sp| !sp.records_submodule_commit)
        {
            s.push_str(&format!(
                " (submodule {}: the superproject's commit does not record this commit)",
                sp.submodule_path
            ));
        }
        s
    };
    let mut out = vec![format!("scenario {}", file(&p.scenario))];
    out.extend(
        p.compose_files
            .iter()
            .map(|f| format!("compose {}", file(f))),
    );
    for (service, image) in &p.images {
        out.push(format!(
            "service {service}: image {} ({})",
            image.tag,
            image.id.as_deref().unwrap_or("ID unknown")
        ));
    }
    if !p.set.is_empty() {
        out.push(format!("--set {}", p.set.join(" ")));
    }
    out.push(format!(
        "chaosgate {} on kernel {}, {} cores, Docker {}",
        p.harness_version,
        p.host.kernel,
        p.host.cores,
        p.host.docker_version.as_deref().unwrap_or("unknown")
    ));
    out
}
