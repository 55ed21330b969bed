//! `report.html`: one self-contained page (inline CSS and SVG, no scripts or external
//! assets) a reviewer can open from a CI artifact.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use html_escape::encode_text;

use super::chart::{errors_svg, latency_svg};
use super::format::{headline, ms, verdict_word};
use super::model::Report;
use crate::verdict::Verdict;

/// File name of a run's standalone HTML page (inline CSS and SVG charts) in its directory.
pub const FILE_NAME: &str = "report.html";

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:960px;color:#111827;padding:0 1rem}\
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}\
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border-bottom:1px solid #e5e7eb;padding:.35rem .5rem;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}code{font-size:.85rem}\
.v{display:inline-block;padding:.1rem .5rem;border-radius:.25rem;font-weight:600;font-size:.8rem}\
.pass{background:#dcfce7;color:#166534}.breached{background:#fee2e2;color:#991b1b}.inconclusive{background:#fef3c7;color:#92400e}\
.meta{color:#4b5563;font-size:.9rem}";

fn badge(v: Verdict) -> String {
    format!(
        r#"<span class="v {}">{}</span>"#,
        v.as_str(),
        verdict_word(v)
    )
}

/// `text` HTML-escaped (every page's user text goes through this).
pub(crate) fn esc(text: &str) -> String {
    encode_text(text).into_owned()
}

/// The whole HTML page of a run: verdict, SLOs, timeline charts, faults, phases, probes,
/// notes and provenance; user text HTML-escaped.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored for that reason.
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>chaosgate: {name} — {verdict}</title><style>{STYLE}</style></head><body>\n",
        name = esc(&report.scenario.name),
        verdict = headline(report)
    );
    let _ = writeln!(
        out,
        "<h1>{} {}</h1>",
        esc(&report.scenario.name),
        if report.not_judged.is_some() {
            format!(
                r#"<span class="v inconclusive">{}</span>"#,
                headline(report)
            )
        } else {
            badge(report.verdict)
        }
    );
    if !report.scenario.description.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", esc(&report.scenario.description));
    }
    let _ = writeln!(
        out,
        "<p class=\"meta\">seed <code>{}</code> · run <code>{}</code> · started {} · {} · exit code {} · <code>{}</code></p>",
        report.seed,
        esc(&report.run_id),
        esc(&report.started_at),
        ms(report.duration_ms),
        report.exit_code,
        esc(&report.scenario.file)
    );
    if let Some(line) = super::format::stopped_early_line(report) {
        let _ = writeln!(
            out,
            "<p class=\"stopped\"><strong>{}</strong></p>",
            esc(&line)
        );
    }

    for (heading, rows) in super::format::slo_sections(report) {
        let _ = writeln!(
            out,
            "<h2>{heading}</h2>\n<table><tr><th>Verdict</th><th>SLO</th><th>Target</th><th>Measured</th><th>Note</th></tr>"
        );
        for slo in rows {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td><code>{}</code>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                badge(slo.verdict),
                esc(&slo.expression),
                if slo.advisory { " (advisory)" } else { "" },
                esc(&slo.target),
                slo.measured
                    .as_ref()
                    .map_or("—".to_string(), |m| esc(&m.text)),
                esc(slo.reason.as_deref().unwrap_or(""))
            );
        }
        let _ = writeln!(out, "</table>");
    }

    let _ = writeln!(out, "<h2>Timeline</h2>");
    if report.series.is_empty() {
        let _ = writeln!(out, "<p class=\"meta\">No load was driven in this run.</p>");
    } else {
        let _ = writeln!(out, "<figure>{}</figure>", latency_svg(report));
        let _ = writeln!(out, "<figure>{}</figure>", errors_svg(report));
    }

    if !report.faults.is_empty() {
        let _ = writeln!(
            out,
            "<h2>Faults</h2>\n<table><tr><th>Fault</th><th>Action</th><th>Targets</th><th>Scheduled</th><th>Applied</th><th>Verified</th><th>Reverted</th><th>Recovery</th><th>Failover</th><th>Effect</th></tr>"
        );
        for f in super::rows::fault_rows(report) {
            let recovery: Vec<String> = f.recovery.iter().map(|r| esc(r)).collect();
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                esc(&f.name),
                esc(&f.action),
                esc(&f.targets),
                f.scheduled,
                f.applied.unwrap_or_else(|| "not proven".into()),
                f.verified,
                f.reverted,
                if recovery.is_empty() {
                    "—".to_string()
                } else {
                    recovery.join("<br>")
                },
                f.failover,
                esc(&f.effect)
            );
        }
        let _ = writeln!(out, "</table>");
    }

    if !report.phases.is_empty() {
        let _ = writeln!(
            out,
            "<h2>Phases</h2>\n<table><tr><th>Phase</th><th>Window</th><th>Requests</th><th>OK</th><th>Errors</th><th>Error rate</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>p99.9</th><th>max</th></tr>"
        );
        for p in super::rows::phase_rows(report) {
            let [p50, p90, p95, p99, p99_9, max] = &p.latency;
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&p.name),
                p.window,
                p.scheduled,
                p.ok,
                p.errors,
                p.error_rate,
                p50,
                p90,
                p95,
                p99,
                p99_9,
                max,
            );
        }
        let _ = writeln!(out, "</table>");
        if let Some(kinds) = super::rows::errors_by_kind(report) {
            let _ = writeln!(out, "<p>Errors by kind (whole run): {}</p>", esc(&kinds));
        }
    }

    if !report.probes.is_empty() {
        let _ = writeln!(
            out,
            "<h2>Probes</h2>\n<table><tr><th>Probe</th><th>Kind</th><th>Service</th><th>Checks</th><th>OK</th><th>Failed</th></tr>"
        );
        for p in &report.probes {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&p.name),
                esc(&p.kind),
                esc(&p.service),
                p.checks,
                p.ok,
                p.failed
            );
        }
        let _ = writeln!(out, "</table>");
    }

    if !report.notes.is_empty() {
        let _ = writeln!(out, "<h2>Notes</h2>\n<ul>");
        for n in &report.notes {
            let _ = writeln!(out, "<li>{}</li>", esc(n));
        }
        let _ = writeln!(out, "</ul>");
    }
    if let Some(p) = &report.provenance {
        let _ = writeln!(out, "<h2>Provenance</h2>\n<ul>");
        for line in super::format::provenance_lines(p) {
            let _ = writeln!(out, "<li>{}</li>", esc(&line));
        }
        let _ = writeln!(out, "</ul>");
    }
    let _ = writeln!(
        out,
        "<p class=\"meta\">Stack: project <code>{}</code>, compose {}.</p>\n</body></html>",
        esc(&report.stack.project),
        esc(&report.stack.compose_files.join(", "))
    );
    out
}

/// Writes [`render`]'s page to `dir/report.html`; returns that path.
pub fn write(report: &Report, dir: &Path) -> io::Result<PathBuf> {
    let path = dir.join(FILE_NAME);
    std::fs::write(&path, render(report))?;
    Ok(path)
}
