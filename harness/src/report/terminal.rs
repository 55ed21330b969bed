//! The end-of-run summary printed by the CLI: verdict, each SLO with measured vs target, and
//! each fault's recovery, in plain text that reads the same in a CI log.

use std::fmt::Write as _;

use super::format::{at, headline, ms, percent, stopped_early_line};
use super::model::Report;
use crate::slo::Phase;
use crate::verdict::Verdict;

fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "ok  ",
        Verdict::Breached => "FAIL",
        Verdict::Inconclusive => "??  ",
    }
}

/// The run's verdict and SLOs as plain text for the terminal (`ok`, `FAIL`, `??` marks per
/// SLO), as `chaosgate run` prints it to stderr.
pub fn render_terminal(report: &Report) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(
        out,
        "{} — {} (exit {})  seed {}  {}",
        report.scenario.name,
        headline(report),
        report.exit_code,
        report.seed,
        ms(report.duration_ms)
    );
    if let Some(line) = stopped_early_line(report) {
        let _ = writeln!(out, "{line}");
    }
    let sections = super::format::slo_sections(report);
    let width = sections
        .iter()
        .flat_map(|(_, rows)| rows.iter())
        .map(|s| super::format::slo_label(s).chars().count())
        .max()
        .unwrap_or(0);
    for (heading, rows) in sections {
        let _ = writeln!(out, "{heading}");
        for slo in rows {
            let detail = match (slo.verdict, &slo.measured) {
                // The verdict's own words (a lower bound says what never happened).
                (Verdict::Breached, _) if slo.reason.is_some() => {
                    slo.reason.clone().unwrap_or_default()
                }
                (Verdict::Breached, Some(m)) => {
                    format!("measured {}, target {}", m.text, slo.target)
                }
                (Verdict::Pass, Some(m)) => format!("measured {}", m.text),
                _ => slo.reason.clone().unwrap_or_else(|| "no value".into()),
            };
            let _ = writeln!(
                out,
                "  {} {:<width$}  {detail}",
                mark(slo.verdict),
                super::format::slo_label(slo)
            );
        }
    }
    if !report.faults.is_empty() {
        let _ = writeln!(out, "Faults");
        for f in &report.faults {
            let applied = if f.applied {
                format!("applied {}", at(f.applied_at_ms))
            } else {
                "NOT PROVEN APPLIED".into()
            };
            let _ = write!(
                out,
                "  {} {} {} [{}]: {applied}",
                f.name,
                f.action,
                f.service,
                f.targets.join(", ")
            );
            if let Some(r) = f.reverted_at_ms {
                let _ = write!(out, ", reverted {}", at(Some(r)));
            }
            for r in &f.recovery {
                match r.recovery_time_ms {
                    Some(t) => {
                        let _ = write!(out, ", {} recovered in {}", r.probe, ms(t));
                    }
                    None => {
                        let _ = write!(out, ", {} never recovered", r.probe);
                    }
                }
            }
            if let Some(fo) = &f.failover {
                let _ = write!(out, ", failover {}", ms(fo.longest_outage_ms));
            }
            let _ = writeln!(out);
            if let Some(effect) = super::rows::effect_of(&f.evidence) {
                let _ = writeln!(out, "    effect: {effect}");
            }
        }
    }
    if let Some(whole) = report.phases.iter().find(|p| p.name == Phase::Whole) {
        let _ = writeln!(
            out,
            "Load: {} scheduled, {} ok, {} errors ({}), p99 {}, harness lag p99 {}",
            whole.scheduled,
            whole.ok,
            whole.errors,
            percent(whole.error_rate),
            whole.latency_ms.map_or("—".to_string(), |l| ms(l.p99)),
            whole.harness_lag_ms.map_or("—".to_string(), |l| ms(l.p99))
        );
        if let Some(kinds) = super::rows::errors_by_kind(report) {
            let _ = writeln!(out, "  errors by kind: {kinds}");
        }
    }
    for n in &report.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}
