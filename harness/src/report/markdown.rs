//! `summary.md` for `$GITHUB_STEP_SUMMARY`: the verdict first, then SLOs (measured vs
//! target), faults (applied, reverted, recovery) and phases.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use super::format::{headline, ms, stopped_early_line, verdict_icon};
use super::model::Report;

/// File name of a run's Markdown summary in its directory (fit for a GitHub step summary).
pub const FILE_NAME: &str = "summary.md";

/// User text (names, descriptions, reasons) as Markdown text: HTML in it is shown, never
/// rendered (GitHub renders inline HTML in a step summary). Only a `<` that could open a tag
/// or comment (and `&` that could open an entity) is escaped, so `p95 < 100ms` stays readable.
fn text(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied().unwrap_or(' ');
        match c {
            '<' if next.is_ascii_alphabetic() || matches!(next, '/' | '!' | '?') => {
                out.push_str("&lt;")
            }
            '&' if next.is_ascii_alphanumeric() || next == '#' => out.push_str("&amp;"),
            _ => out.push(c),
        }
    }
    out
}

/// Table cells cannot hold `|` or line breaks; the text is escaped as [`text`].
fn cell(t: &str) -> String {
    text(t).replace('|', "\\|").replace('\n', " ")
}

/// User text in a code span: fenced with one more backtick than the longest run inside, so
/// a backtick cannot end it early; `|` escaped for tables.
fn code(t: &str) -> String {
    let longest = t.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if t.starts_with('`') || t.ends_with('`') {
        " "
    } else {
        ""
    };
    format!(
        "{fence}{pad}{}{pad}{fence}",
        t.replace('|', "\\|").replace('\n', " ")
    )
}

/// The run as Markdown, headed by its verdict; user text escaped so HTML in it is shown,
/// not rendered.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(
        out,
        "## {} {}: {}\n",
        verdict_icon(report.verdict),
        text(&report.scenario.name),
        headline(report)
    );
    if !report.scenario.description.is_empty() {
        let _ = writeln!(out, "{}\n", text(&report.scenario.description));
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
    if let Some(line) = stopped_early_line(report) {
        let _ = writeln!(out, "**{}**\n", text(&line));
    }
    for (heading, rows) in super::format::slo_sections(report) {
        let _ = writeln!(out, "### {heading}\n");
        let _ = writeln!(out, "| | SLO | Target | Measured | Note |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for slo in rows {
            let _ = writeln!(
                out,
                "| {} | {}{} | {} | {} | {} |",
                verdict_icon(slo.verdict),
                code(&slo.expression),
                if slo.advisory { " (advisory)" } else { "" },
                cell(&slo.target),
                slo.measured.as_ref().map_or("—", |m| m.text.as_str()),
                cell(slo.reason.as_deref().unwrap_or(""))
            );
        }
    }
    if !report.faults.is_empty() {
        let _ = writeln!(out, "\n### Faults\n");
        let _ = writeln!(
            out,
            "| Fault | Action | Targets | Applied | Reverted | Recovery | Failover | Effect |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
        for f in super::rows::fault_rows(report) {
            let recovery = if f.recovery.is_empty() {
                "—".to_string()
            } else {
                f.recovery.join(", ")
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&f.name),
                cell(&f.action),
                cell(&f.targets),
                f.applied.unwrap_or_else(|| "❌ not proven".into()),
                f.reverted,
                cell(&recovery),
                f.failover,
                cell(&f.effect)
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
        for p in super::rows::phase_rows(report) {
            let [p50, _, p95, p99, _, max] = &p.latency;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&p.name),
                p.scheduled,
                p.ok,
                p.errors,
                p.error_rate,
                p50,
                p95,
                p99,
                max,
                p.harness_lag_p99,
            );
        }
        if let Some(kinds) = super::rows::errors_by_kind(report) {
            let _ = writeln!(out, "\nErrors by kind (whole run): {}", text(&kinds));
        }
    }
    if !report.notes.is_empty() {
        let _ = writeln!(out, "\n### Notes\n");
        for n in &report.notes {
            let _ = writeln!(out, "- {}", text(n));
        }
    }
    if let Some(p) = &report.provenance {
        let _ = writeln!(out, "\n### Provenance\n");
        for line in super::format::provenance_lines(p) {
            let _ = writeln!(out, "- {}", text(&line));
        }
    }
    out
}

/// Writes [`render`]'s text to `dir/summary.md`; returns that path.
pub fn write(report: &Report, dir: &Path) -> io::Result<PathBuf> {
    let path = dir.join(FILE_NAME);
    std::fs::write(&path, render(report))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_cannot_become_html() {
        assert_eq!(
            text("<script>alert(1)</script> & &amp; p95 < 100ms"),
            "&lt;script>alert(1)&lt;/script> & &amp;amp; p95 < 100ms"
        );
        assert_eq!(text("<!-- hidden -->"), "&lt;!-- hidden -->");
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }

    #[test]
    fn a_backtick_cannot_end_a_code_span_early() {
        assert_eq!(code("p95(latency) < 1s"), "`p95(latency) < 1s`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x`"), "`` `x` ``");
    }
}
