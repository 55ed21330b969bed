//! `summary.md` for `$GITHUB_STEP_SUMMARY`: the verdict first, then SLOs (measured vs
//! target), faults (applied, reverted, recovery) and phases.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use super::format::{at, ms, opt_ms, percent, verdict_icon, verdict_word};
use super::model::Report;

pub const FILE_NAME: &str = "summary.md";

/// Table cells cannot hold `|` or line breaks.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(
        out,
        "## {} {}: {}\n",
        verdict_icon(report.verdict),
        report.scenario.name,
        verdict_word(report.verdict)
    );
    if !report.scenario.description.is_empty() {
        let _ = writeln!(out, "{}\n", report.scenario.description);
    }
    let _ = writeln!(
        out,
        "Seed `{}` · run `{}` · started {} · {} · exit code {}\n",
        report.seed,
        report.run_id,
        report.started_at,
        ms(report.duration_ms),
        report.exit_code
    );
    let _ = writeln!(out, "### SLOs\n");
    let _ = writeln!(out, "| | SLO | Target | Measured | Note |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for slo in &report.slos {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} |",
            verdict_icon(slo.verdict),
            cell(&slo.expression),
            cell(&slo.target),
            slo.measured.as_ref().map_or("—", |m| m.text.as_str()),
            cell(slo.reason.as_deref().unwrap_or(""))
        );
    }
    if !report.faults.is_empty() {
        let _ = writeln!(out, "\n### Faults\n");
        let _ = writeln!(
            out,
            "| Fault | Action | Targets | Applied | Reverted | Recovery | Failover |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        for f in &report.faults {
            let applied = if f.applied {
                at(f.applied_at_ms)
            } else {
                "❌ not proven".into()
            };
            let recovery = if f.recovery.is_empty() {
                "—".to_string()
            } else {
                f.recovery
                    .iter()
                    .map(|r| match r.recovery_time_ms {
                        Some(t) => format!("{} {}", r.probe, ms(t)),
                        None => format!("{} never", r.probe),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let failover = f
                .failover
                .as_ref()
                .map_or("—".into(), |fo| ms(fo.longest_outage_ms));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                cell(&f.name),
                f.action,
                cell(&f.targets.join(", ")),
                applied,
                at(f.reverted_at_ms),
                cell(&recovery),
                failover
            );
        }
    }
    if !report.phases.is_empty() {
        let _ = writeln!(out, "\n### Phases\n");
        let _ = writeln!(
            out,
            "| Phase | Requests | OK | Errors | Error rate | p50 | p95 | p99 | max | harness lag p99 |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for p in &report.phases {
            let l = p.latency_ms;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&p.name),
                p.scheduled,
                p.ok,
                p.errors,
                percent(p.error_rate),
                opt_ms(l.map(|l| l.p50)),
                opt_ms(l.map(|l| l.p95)),
                opt_ms(l.map(|l| l.p99)),
                opt_ms(l.map(|l| l.max)),
                opt_ms(p.harness_lag_ms.map(|l| l.p99)),
            );
        }
    }
    if !report.notes.is_empty() {
        let _ = writeln!(out, "\n### Notes\n");
        for n in &report.notes {
            let _ = writeln!(out, "- {n}");
        }
    }
    out
}

pub fn write(report: &Report, dir: &Path) -> io::Result<PathBuf> {
    let path = dir.join(FILE_NAME);
    std::fs::write(&path, render(report))?;
    Ok(path)
}
