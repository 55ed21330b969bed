//! The aggregate report of `run --repeat N` / `ab` for people and CI: terminal, Markdown
//! (`summary.md`), JUnit (`junit.xml`) and HTML (`report.html`). Each shows, per SLO, every
//! run's figure per side, the median and its interval, and the verdict judged on them.

use std::fmt::Write as _;
use std::io;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report as JunitReport, TestCase, TestCaseStatus, TestSuite};

use super::format::verdict_word;
use super::gate::{GateKind, GateReport, GateSample, GateSlo};
use crate::verdict::Verdict;

/// File name of a gate's JUnit XML, next to `gate.json`.
pub const JUNIT_FILE: &str = "junit.xml";
/// File name of a gate's Markdown summary, next to `gate.json`.
pub const MARKDOWN_FILE: &str = "summary.md";
/// File name of a gate's HTML page, next to `gate.json`.
pub const HTML_FILE: &str = "report.html";

fn title(r: &GateReport) -> String {
    match r.kind {
        GateKind::Repeat => format!("{} × {} runs", r.scenario.name, r.repeat),
        GateKind::Ab => format!(
            "{}: candidate vs baseline, {} run(s) each",
            r.scenario.name, r.repeat
        ),
    }
}

fn sides_text(r: &GateReport) -> Vec<String> {
    r.sides
        .iter()
        .map(|s| {
            let seeds: Vec<String> = s.runs.iter().map(|x| x.seed.to_string()).collect();
            format!(
                "{}: {} (seeds {})",
                s.name,
                if s.set.is_empty() {
                    "scenario defaults".to_string()
                } else {
                    s.set.join(" ")
                },
                seeds.join(", ")
            )
        })
        .collect()
}

/// The terminal summary.
pub fn terminal(r: &GateReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} — {}", verdict_word(r.verdict), title(r));
    for s in sides_text(r) {
        let _ = writeln!(out, "  {s}");
    }
    for slo in &r.slos {
        let _ = writeln!(
            out,
            "  {:<12} {}  (target {})",
            verdict_word(slo.verdict),
            slo.expression,
            slo.target
        );
        for s in &slo.samples {
            let _ = writeln!(
                out,
                "      {:<9} {}  runs: {}",
                s.side,
                s.summary,
                s.texts.join(", ")
            );
        }
        if let Some(reason) = &slo.reason {
            let _ = writeln!(out, "      → {reason}");
        }
    }
    for n in &r.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    out
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// `summary.md`.
pub fn markdown(r: &GateReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {} — {}\n", verdict_word(r.verdict), title(r));
    let _ = writeln!(out, "Exit code {}. {}\n", r.exit_code, r.interval_method);
    for s in sides_text(r) {
        let _ = writeln!(out, "- {}", md_cell(&s));
    }
    let n = r.repeat;
    let _ = writeln!(out, "\n## SLOs\n");
    let mut header = String::from("| SLO | target | verdict | side |");
    let mut rule = String::from("|---|---|---|---|");
    for i in 1..=n {
        let _ = write!(header, " run {i} |");
        rule.push_str("---|");
    }
    header.push_str(" median [interval] |");
    rule.push_str("---|");
    let _ = writeln!(out, "{header}\n{rule}");
    for slo in &r.slos {
        for (k, s) in slo.samples.iter().enumerate() {
            let (e, t, v) = if k == 0 {
                (
                    format!("`{}`", md_cell(&slo.expression)),
                    md_cell(&slo.target),
                    verdict_word(slo.verdict).to_string(),
                )
            } else {
                Default::default()
            };
            let mut row = format!("| {e} | {t} | {v} | {} |", s.side);
            for i in 0..n {
                let text = s.texts.get(i).map(String::as_str).unwrap_or("—");
                let mark = if s.untrusted.get(i).is_some_and(Option::is_some) {
                    " ⚠"
                } else {
                    ""
                };
                let _ = write!(row, " {text}{mark} |");
            }
            let _ = write!(row, " {} |", md_cell(&s.summary));
            let _ = writeln!(out, "{row}");
        }
    }
    let reasons: Vec<&GateSlo> = r.slos.iter().filter(|s| s.reason.is_some()).collect();
    if !reasons.is_empty() {
        let _ = writeln!(out, "\n## Why\n");
        for s in reasons {
            let _ = writeln!(
                out,
                "- `{}`: {}",
                md_cell(&s.expression),
                md_cell(s.reason.as_deref().unwrap_or_default())
            );
        }
    }
    let _ = writeln!(out, "\n## Runs\n");
    for side in &r.sides {
        for run in &side.runs {
            let _ = writeln!(
                out,
                "- {} {}: seed {}, {} (exit {}) → `{}`{}",
                side.name,
                run.index,
                run.seed,
                run.verdict.map_or("no verdict", |v| verdict_word(v)),
                run.exit_code,
                run.dir,
                run.error
                    .as_deref()
                    .map(|e| format!(": {}", md_cell(e)))
                    .unwrap_or_default()
            );
        }
    }
    if !r.notes.is_empty() {
        let _ = writeln!(out, "\n## Notes\n");
        for n in &r.notes {
            let _ = writeln!(out, "- {}", md_cell(n));
        }
    }
    out
}

/// `junit.xml`: one testcase per SLO (breached → failure, inconclusive → error), and one
/// per run that failed before a verdict. Never greener than the gate.
pub fn junit(r: &GateReport) -> io::Result<String> {
    let mut junit = JunitReport::new("chaosgate");
    let mut suite = TestSuite::new(r.scenario.name.as_str());
    suite.set_time(Duration::from_secs_f64(r.duration_ms.max(0.0) / 1000.0));
    suite.add_property(("seed", r.seed.to_string().as_str()));
    suite.add_property(("repeat", r.repeat.to_string().as_str()));
    suite.add_property(("verdict", r.verdict.as_str()));
    let figures = |slo: &GateSlo| {
        slo.samples
            .iter()
            .map(|s| format!("{} {}", s.side, s.summary))
            .collect::<Vec<_>>()
            .join("; ")
    };
    for slo in &r.slos {
        let status = match slo.verdict {
            Verdict::Pass => TestCaseStatus::success(),
            Verdict::Breached => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(
                    slo.reason
                        .clone()
                        .unwrap_or_else(|| format!("{}, target {}", figures(slo), slo.target)),
                );
                s.set_type("breached");
                s
            }
            Verdict::Inconclusive => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(slo.reason.clone().unwrap_or_else(|| "inconclusive".into()));
                s.set_type("inconclusive");
                s
            }
        };
        let mut case = TestCase::new(slo.expression.as_str(), status);
        case.set_classname(format!("chaosgate.{}", r.scenario.name));
        case.add_property(("target", slo.target.as_str()));
        for s in &slo.samples {
            case.add_property((s.side.as_str(), s.summary.as_str()));
        }
        suite.add_test_case(case);
    }
    let any_failed_case = r.slos.iter().any(|s| s.verdict != Verdict::Pass);
    for side in &r.sides {
        for run in side.runs.iter().filter(|x| x.error.is_some()) {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(run.error.clone().unwrap_or_default());
            s.set_type("run_failed");
            let mut case = TestCase::new(format!("{} run {}", side.name, run.index), s);
            case.set_classname(format!("chaosgate.{}", r.scenario.name));
            suite.add_test_case(case);
        }
    }
    if r.verdict != Verdict::Pass
        && !any_failed_case
        && !r
            .sides
            .iter()
            .flat_map(|s| &s.runs)
            .any(|x| x.error.is_some())
    {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
        s.set_message(r.notes.join("; "));
        s.set_type(r.verdict.as_str());
        let mut case = TestCase::new("verdict", s);
        case.set_classname(format!("chaosgate.{}", r.scenario.name));
        suite.add_test_case(case);
    }
    junit.add_test_suite(suite);
    junit.to_string().map_err(io::Error::other)
}

use super::html::esc;

/// The report pages' shared style sheet.
pub(super) const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#111827;padding:0 1rem}\
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}\
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border-bottom:1px solid #e5e7eb;padding:.35rem .5rem;text-align:left;vertical-align:top}\
td.n{text-align:right;font-variant-numeric:tabular-nums}td.u{background:#fef3c7}code{font-size:.85rem}\
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

fn sample_row(out: &mut String, s: &GateSample, n: usize) {
    let _ = write!(out, "<td>{}</td>", esc(&s.side));
    for i in 0..n {
        let text = s.texts.get(i).map(String::as_str).unwrap_or("—");
        match s.untrusted.get(i).and_then(Option::as_deref) {
            Some(why) => {
                let _ = write!(
                    out,
                    r#"<td class="n u" title="{}">{} ⚠</td>"#,
                    esc(why),
                    esc(text)
                );
            }
            None => {
                let _ = write!(out, r#"<td class="n">{}</td>"#, esc(text));
            }
        }
    }
    let _ = write!(out, "<td>{}</td>", esc(&s.summary));
}

/// `report.html`: a table of the runs' figures per SLO, with median and interval.
pub fn html(r: &GateReport) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>",
        esc(&title(r))
    );
    let _ = write!(
        out,
        "<h1>{} {}</h1><p class=\"meta\">exit code {} · seed {} · started {} · {:.0} s</p><p class=\"meta\">{}</p><ul>",
        badge(r.verdict),
        esc(&title(r)),
        r.exit_code,
        r.seed,
        esc(&r.started_at),
        r.duration_ms / 1000.0,
        esc(&r.interval_method)
    );
    for s in sides_text(r) {
        let _ = write!(out, "<li>{}</li>", esc(&s));
    }
    out.push_str("</ul><h2>SLOs</h2><table><tr><th>SLO</th><th>verdict</th><th>side</th>");
    for i in 1..=r.repeat {
        let _ = write!(out, "<th>run {i}</th>");
    }
    out.push_str("<th>median [interval]</th></tr>");
    for slo in &r.slos {
        let rows = slo.samples.len().max(1);
        let _ = write!(
            out,
            "<tr><td rowspan=\"{rows}\"><code>{}</code><br><span class=\"meta\">target {}{}</span></td><td rowspan=\"{rows}\">{}</td>",
            esc(&slo.expression),
            esc(&slo.target),
            slo.reason
                .as_deref()
                .map(|x| format!("<br>{}", esc(x)))
                .unwrap_or_default(),
            badge(slo.verdict)
        );
        for (k, s) in slo.samples.iter().enumerate() {
            if k > 0 {
                out.push_str("<tr>");
            }
            sample_row(&mut out, s, r.repeat);
            out.push_str("</tr>");
        }
        if slo.samples.is_empty() {
            out.push_str("<td></td></tr>");
        }
    }
    out.push_str("</table><h2>Runs</h2><table><tr><th>side</th><th>run</th><th>seed</th><th>verdict</th><th>exit</th><th>report</th></tr>");
    for side in &r.sides {
        for run in &side.runs {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td><code>{}</code>{}</td></tr>",
                esc(&side.name),
                run.index,
                run.seed,
                run.verdict
                    .map(badge)
                    .unwrap_or_else(|| "no verdict".into()),
                run.exit_code,
                esc(&run.dir),
                run.error
                    .as_deref()
                    .map(|e| format!("<br>{}", esc(e)))
                    .unwrap_or_default()
            );
        }
    }
    out.push_str("</table>");
    if !r.notes.is_empty() {
        out.push_str("<h2>Notes</h2><ul>");
        for n in &r.notes {
            let _ = write!(out, "<li>{}</li>", esc(n));
        }
        out.push_str("</ul>");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::gate::{GATE_SCHEMA_VERSION, GateRun, GateSide, INTERVAL_METHOD};
    use super::super::model::ScenarioInfo;
    use super::*;

    pub(crate) fn sample() -> GateReport {
        let run = |i: usize, seed: u64| GateRun {
            index: i,
            seed,
            dir: format!("/tmp/r/baseline-{i}"),
            verdict: Some(Verdict::Pass),
            exit_code: 0,
            scenario_sha256: Some("ab".into()),
            error: None,
        };
        let sample = |side: &str, v: [f64; 2], summary: &str| GateSample {
            side: side.into(),
            values: v.iter().map(|x| Some(*x)).collect(),
            texts: v.iter().map(|x| format!("{x}ms")).collect(),
            untrusted: vec![None, Some("late <harness>".into())],
            median: Some(v[0]),
            low: Some(v[0]),
            high: Some(v[1]),
            coverage: Some(0.5),
            summary: summary.into(),
        };
        GateReport {
            schema_version: GATE_SCHEMA_VERSION.into(),
            kind: GateKind::Ab,
            scenario: ScenarioInfo {
                name: "replica-crash".into(),
                file: "scenarios/replica-crash.yaml".into(),
                description: "d".into(),
            },
            seed: 42,
            repeat: 2,
            started_at: "2026-11-30T21:00:00Z".into(),
            duration_ms: 90_000.0,
            verdict: Verdict::Breached,
            exit_code: 1,
            interval_method: INTERVAL_METHOD.into(),
            sides: vec![
                GateSide {
                    name: "baseline".into(),
                    set: vec!["GATEWAY_FAILOVER_DELAY=0s".into()],
                    runs: vec![run(1, 42), run(2, 7)],
                },
                GateSide {
                    name: "candidate".into(),
                    set: vec!["GATEWAY_FAILOVER_DELAY=5s".into()],
                    runs: vec![run(1, 42), run(2, 7)],
                },
            ],
            slos: vec![GateSlo {
                expression: "failover_time(crash-primary) <= baseline + 50ms".into(),
                target: "<= baseline + 50ms".into(),
                relative: true,
                verdict: Verdict::Breached,
                reason: Some("even the candidate's best end 400ms violates | it".into()),
                unit: "ms".into(),
                judged_on: "candidate vs baseline".into(),
                samples: vec![
                    sample("baseline", [0.0, 0.0], "median 0ms [0ms, 0ms]"),
                    sample("candidate", [400.0, 600.0], "median 500ms [400ms, 600ms]"),
                ],
                strict_bound: Some(50.0),
                loose_bound: Some(50.0),
                advisory: false,
            }],
            run_issues: vec![],
            notes: vec!["two runs each".into()],
        }
    }

    #[test]
    fn every_format_shows_both_sides_and_the_verdict() {
        let r = sample();
        let t = terminal(&r);
        assert!(t.starts_with("BREACHED — replica-crash: candidate vs baseline"));
        assert!(t.contains("baseline  median 0ms"));
        assert!(t.contains("candidate median 500ms"));
        let md = markdown(&r);
        assert!(md.contains("| run 1 | run 2 |"));
        assert!(md.contains("| 600ms ⚠ |"));
        assert!(md.contains("violates \\| it"));
        let h = html(&r);
        assert!(h.contains("<th>run 2</th>"));
        assert!(h.contains("title=\"late &lt;harness&gt;\""));
        assert!(h.contains(r#"<span class="v breached">BREACHED</span>"#));
        let j = junit(&r).unwrap();
        assert!(j.contains("failover_time(crash-primary) &lt;= baseline + 50ms"));
        assert!(j.contains("type=\"breached\""));
    }

    #[test]
    fn junit_is_never_greener_than_the_gate() {
        let mut r = sample();
        r.slos[0].verdict = Verdict::Pass;
        r.verdict = Verdict::Inconclusive;
        r.notes = vec!["a fault was not proven".into()];
        let j = junit(&r).unwrap();
        assert!(j.contains("name=\"verdict\""), "{j}");
    }
}
