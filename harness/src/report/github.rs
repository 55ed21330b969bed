//! GitHub Actions workflow commands for a report: one `::error` annotation per breached SLO and
//! one `::warning` per inconclusive SLO, pointing at the scenario file (and the SLO's line in it
//! when it can be found). `chaosgate annotate` prints them; the composite action
//! (`action.yml`, `scripts/action/gate.sh`) runs it after each run.
//!
//! Reports come in through [`Gate`], the part of a report the annotations need. A run's
//! `report.json` becomes one with [`Gate::from_run`], the aggregate `gate.json` of `run --repeat`
//! or `ab` with [`Gate::from_aggregate`] (its SLOs are judged on the runs' intervals; the runs'
//! own reports, nested in its directory, are not annotated again).
//!
//! Escaping follows GitHub's workflow-command rules: in the message `%`, `\r`, `\n` become
//! `%25`, `%0D`, `%0A`; in property values (`file=`, `title=`) also `:` and `,` become `%3A`
//! and `%2C`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::model::{Report, SloReport};
use crate::verdict::Verdict;

/// What the annotations of one report are made from.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    /// The scenario's name, for the annotation titles.
    pub scenario: String,
    /// The scenario file as the run named it.
    pub file: String,
    /// Set when no SLO was judged (the run measured the wiring, not the system): why.
    pub not_judged: Option<String>,
    /// The report's own verdict (run or gate), which the SLO rows alone may not show.
    pub verdict: Verdict,
    /// Why the run (or a gate's run) was inconclusive as a whole, in words: one `::warning`
    /// each, even when every SLO row passed.
    pub run_issues: Vec<String>,
    /// The judged SLOs, in the report's order; only breached and inconclusive ones are
    /// annotated.
    pub slos: Vec<GateSlo>,
}

/// One judged SLO.
#[derive(Debug, Clone, PartialEq)]
pub struct GateSlo {
    /// The SLO as written in the scenario, e.g. `p95(latency)`; found in the file for the
    /// annotation's line.
    pub expression: String,
    /// Its verdict: breached gives an `::error`, inconclusive a `::warning`, pass nothing.
    pub verdict: Verdict,
    /// e.g. `< 100ms`.
    pub target: String,
    /// As shown to people, e.g. `87.3ms`; absent when nothing was measured.
    pub measured: Option<String>,
    /// Why the verdict is what it is; part of the annotation's message.
    pub reason: Option<String>,
    /// `severity: advisory`: a breach is a `::warning`, never an `::error`.
    pub advisory: bool,
}

impl From<&SloReport> for GateSlo {
    fn from(s: &SloReport) -> Self {
        Self {
            expression: s.expression.clone(),
            verdict: s.verdict,
            target: s.target.clone(),
            measured: s.measured.as_ref().map(|m| m.text.clone()),
            reason: s.reason.clone(),
            advisory: s.advisory,
        }
    }
}

impl Gate {
    /// A single run's report.
    pub fn from_run(r: &Report) -> Self {
        Self {
            scenario: r.scenario.name.clone(),
            file: r.scenario.file.clone(),
            not_judged: r.not_judged.clone(),
            verdict: r.verdict,
            run_issues: r.whole_run_issues().iter().map(|i| i.text()).collect(),
            slos: r.slos.iter().map(GateSlo::from).collect(),
        }
    }
}

impl Gate {
    /// The aggregate of `run --repeat N` or `ab`: each SLO as judged on the runs' interval,
    /// its figure the per-side summary (median and interval).
    pub fn from_aggregate(g: &super::gate::GateReport) -> Self {
        Self {
            scenario: g.scenario.name.clone(),
            file: g.scenario.file.clone(),
            not_judged: None,
            verdict: g.verdict,
            run_issues: g
                .run_issues
                .iter()
                .map(|i| format!("{} run {}: {}", i.side, i.run, i.issue))
                .collect(),
            slos: g
                .slos
                .iter()
                .map(|s| GateSlo {
                    expression: s.expression.clone(),
                    verdict: s.verdict,
                    target: s.target.clone(),
                    measured: (!s.samples.is_empty()).then(|| {
                        s.samples
                            .iter()
                            .map(|x| format!("{}: {}", x.side, x.summary))
                            .collect::<Vec<_>>()
                            .join("; ")
                    }),
                    reason: s.reason.clone(),
                    advisory: s.advisory,
                })
                .collect(),
        }
    }
}

/// Reads a report file: a run's `report.json` or a gate's `gate.json` (or the one in a
/// directory, the gate's first).
pub fn read(path: &Path) -> io::Result<Gate> {
    let path = if path.is_dir() {
        let gate = path.join(super::gate::FILE_NAME);
        if gate.is_file() {
            gate
        } else {
            path.join(super::json::FILE_NAME)
        }
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&path)?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    // A run report has its scenario and SLO list at the top, a gate report also its sides;
    // any other shape is named in the error rather than half-read.
    if value.get("sides").is_some() && value.get("slos").is_some() {
        let report: super::gate::GateReport = serde_json::from_value(value)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        return Ok(Gate::from_aggregate(&report));
    }
    if value.get("scenario").is_some() && value.get("slos").is_some() {
        let report: Report = serde_json::from_value(value)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        return Ok(Gate::from_run(&report));
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{} is not a chaosgate run or gate report (no top-level `scenario` and `slos`)",
            path.display()
        ),
    ))
}

/// The level of a workflow command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `::error`: a breached SLO.
    Error,
    /// `::warning`: an inconclusive SLO, or a report with no SLO judged.
    Warning,
}

/// One `::error` or `::warning` workflow command.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    /// `::error` or `::warning`.
    pub level: Level,
    /// Path of the scenario file relative to the workspace (`file=`); `None` omits it.
    pub file: Option<String>,
    /// 1-based line of the SLO in that file (`line=`); only written with `file`.
    pub line: Option<usize>,
    /// The annotation's title (`title=`), e.g. `chaosgate replica-crash: SLO breached`.
    pub title: String,
    /// The annotation's text, unescaped; [`escape_data`] is applied when displayed.
    pub message: String,
}

impl fmt::Display for Annotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        let mut props = Vec::new();
        if let Some(file) = &self.file {
            props.push(format!("file={}", escape_property(file)));
            if let Some(line) = self.line {
                props.push(format!("line={line}"));
            }
        }
        props.push(format!("title={}", escape_property(&self.title)));
        write!(
            f,
            "::{level} {}::{}",
            props.join(","),
            escape_data(&self.message)
        )
    }
}

/// A workflow command's message: `%`, `\r` and `\n` escaped.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: as [`escape_data`], and `:` and `,` too.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Where the annotations point: the scenario file relative to `workspace` (GitHub resolves
/// annotation paths from the repository root), and the SLO's line in it when the file can be
/// read from `cwd`.
#[derive(Debug, Clone)]
pub struct Place {
    /// The repository root annotation paths are made relative to (in Actions,
    /// `$GITHUB_WORKSPACE`); `None`, or a file outside it, keeps the path as the report names it.
    pub workspace: Option<PathBuf>,
    /// The directory relative scenario paths in reports are resolved from, to find SLO
    /// lines.
    pub cwd: PathBuf,
}

impl Place {
    fn file(&self, file: &str) -> String {
        let path = Path::new(file);
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.cwd.join(path)
        };
        let relative = self
            .workspace
            .as_ref()
            .and_then(|w| absolute.strip_prefix(w).ok())
            .map(|p| p.to_string_lossy().into_owned());
        relative.unwrap_or_else(|| file.to_string())
    }

    fn source(&self, file: &str) -> Option<String> {
        std::fs::read_to_string(self.cwd.join(file)).ok()
    }
}

/// The 1-based line of the first line of `source` holding `expression` outside a comment.
fn line_of(source: &str, expression: &str) -> Option<usize> {
    source
        .lines()
        .position(|l| {
            let code = if l.trim_start().starts_with('#') {
                ""
            } else {
                l.split_once(" #").map_or(l, |(code, _)| code)
            };
            code.contains(expression)
        })
        .map(|i| i + 1)
}

/// One annotation per breached SLO (error) and per inconclusive SLO (warning), in the report's
/// order, then one warning per run-level issue; a passing SLO has none. A report whose verdict
/// is not a pass yet produced no annotation still gets one warning saying so: a non-pass is
/// never silent.
pub fn annotations(gate: &Gate, place: &Place) -> Vec<Annotation> {
    let file = place.file(&gate.file);
    let mut out = slo_annotations(gate, place, &file);
    for issue in &gate.run_issues {
        out.push(Annotation {
            level: Level::Warning,
            file: Some(file.clone()),
            line: None,
            title: format!("chaosgate {}: inconclusive as a whole", gate.scenario),
            message: format!("the run cannot pass: {issue}"),
        });
    }
    if out.is_empty() && gate.verdict != Verdict::Pass {
        out.push(Annotation {
            level: if gate.verdict == Verdict::Breached {
                Level::Error
            } else {
                Level::Warning
            },
            file: Some(file.clone()),
            line: None,
            title: format!("chaosgate {}: {}", gate.scenario, gate.verdict),
            message: format!(
                "the run's verdict is {} although no SLO row says why{}",
                gate.verdict,
                gate.not_judged
                    .as_deref()
                    .map(|w| format!(": {w}"))
                    .unwrap_or_else(
                        || " (nothing gating was judged; see the report's notes)".into()
                    )
            ),
        });
    }
    out
}

fn slo_annotations(gate: &Gate, place: &Place, file: &str) -> Vec<Annotation> {
    let source = place.source(&gate.file);
    gate.slos
        .iter()
        .filter_map(|s| {
            let (level, word) = match (s.verdict, s.advisory) {
                (Verdict::Pass, _) => return None,
                (Verdict::Breached, false) => (Level::Error, "breached"),
                (Verdict::Breached, true) => (Level::Warning, "breached (advisory)"),
                (Verdict::Inconclusive, false) => (Level::Warning, "inconclusive"),
                (Verdict::Inconclusive, true) => (Level::Warning, "inconclusive (advisory)"),
            };
            let measured = s
                .measured
                .as_deref()
                .map(|m| format!("measured {m}"))
                .unwrap_or_else(|| "not measured".into());
            let mut message = format!(
                "SLO {word}: {} ({measured}, target {})",
                s.expression, s.target
            );
            // A breach's reason restates the figures (left out); any other reason says why a
            // figure could not be judged (kept whole, on its own line).
            let restated = s
                .measured
                .as_deref()
                .map(|m| format!("measured {m}, target {}", s.target));
            let reason = s
                .reason
                .as_ref()
                .filter(|r| Some(r.as_str()) != restated.as_deref())
                .or(gate.not_judged.as_ref());
            if let Some(reason) = reason {
                message.push_str(&format!("\n{reason}"));
            }
            Some(Annotation {
                level,
                file: Some(file.to_string()),
                line: source
                    .as_deref()
                    .and_then(|src| line_of(src, &s.expression)),
                title: format!("chaosgate {}: SLO {word}", gate.scenario),
                message,
            })
        })
        .collect()
}

/// The workflow commands for a report, one per line.
pub fn render(gate: &Gate, place: &Place) -> String {
    annotations(gate, place)
        .iter()
        .map(|a| format!("{a}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slo(
        expression: &str,
        verdict: Verdict,
        measured: Option<&str>,
        reason: Option<&str>,
    ) -> GateSlo {
        GateSlo {
            expression: expression.into(),
            verdict,
            target: expression
                .rsplit_once(')')
                .map(|(_, t)| t.trim().to_string())
                .unwrap_or_default(),
            measured: measured.map(String::from),
            reason: reason.map(String::from),
            advisory: false,
        }
    }

    fn gate() -> Gate {
        Gate {
            scenario: "replica-crash".into(),
            file: "scenarios/replica-crash.yaml".into(),
            not_judged: None,
            verdict: Verdict::Breached,
            run_issues: vec![],
            slos: vec![
                slo(
                    "p95(latency, during=crash-primary) < 100ms",
                    Verdict::Pass,
                    Some("19.6ms"),
                    None,
                ),
                slo(
                    "error_rate(during=crash-primary) < 0.1%",
                    Verdict::Breached,
                    Some("7%"),
                    Some("measured 7%, target < 0.1%"),
                ),
                slo(
                    "failover_time(pause-redis) < 2s",
                    Verdict::Inconclusive,
                    None,
                    Some("fault pause-redis was not proven applied:\r\nno container"),
                ),
            ],
        }
    }

    fn nowhere() -> Place {
        Place {
            workspace: None,
            cwd: PathBuf::from("/nonexistent-chaosgate-dir"),
        }
    }

    #[test]
    fn escapes_follow_the_workflow_command_rules() {
        assert_eq!(escape_data("50% a\r\nb"), "50%25 a%0D%0Ab");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
        // `%` first: an already escaped sequence is escaped again, not passed through.
        assert_eq!(escape_data("%0A"), "%250A");
    }

    #[test]
    fn one_error_per_breach_and_one_warning_per_inconclusive() {
        let a = annotations(&gate(), &nowhere());
        let levels: Vec<Level> = a.iter().map(|a| a.level).collect();
        assert_eq!(levels, [Level::Error, Level::Warning]);
        assert!(
            a[0].message
                .contains("error_rate(during=crash-primary) < 0.1%")
        );
        assert!(a[0].message.contains("measured 7%"));
        assert!(a[1].message.contains("not measured"));
        // Every annotation is one line, whatever the reasons hold.
        for line in render(&gate(), &nowhere()).lines() {
            assert!(
                line.starts_with("::error ") || line.starts_with("::warning "),
                "{line}"
            );
        }
        assert_eq!(render(&gate(), &nowhere()).lines().count(), 2);
    }

    #[test]
    fn workflow_commands() {
        insta::assert_snapshot!(render(&gate(), &nowhere()), @r"
        ::error file=scenarios/replica-crash.yaml,title=chaosgate replica-crash%3A SLO breached::SLO breached: error_rate(during=crash-primary) < 0.1%25 (measured 7%25, target < 0.1%25)
        ::warning file=scenarios/replica-crash.yaml,title=chaosgate replica-crash%3A SLO inconclusive::SLO inconclusive: failover_time(pause-redis) < 2s (not measured, target < 2s)%0Afault pause-redis was not proven applied:%0D%0Ano container
        ");
    }

    #[test]
    fn a_passing_run_has_no_annotation() {
        let mut g = gate();
        for s in &mut g.slos {
            s.verdict = Verdict::Pass;
        }
        g.verdict = Verdict::Pass;
        assert_eq!(render(&g, &nowhere()), "");
    }

    /// Issue 19, kind 1: a run that exited 4 because its fault never applied, with every SLO
    /// row passing, printed no annotation at all. It warns, naming the reason.
    #[test]
    fn a_run_inconclusive_as_a_whole_warns_even_when_every_slo_passed() {
        let mut g = gate();
        for s in &mut g.slos {
            s.verdict = Verdict::Pass;
        }
        g.verdict = Verdict::Inconclusive;
        g.run_issues = vec![
            crate::verdict::RunIssue::FaultUnproven {
                fault: "crash-primary".into(),
                reason: Some("no container matched".into()),
            }
            .text(),
        ];
        let out = render(&g, &nowhere());
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(out.starts_with("::warning "), "{out}");
        assert!(
            out.contains(
                "fault `crash-primary` could not be proven applied (no container matched)"
            ),
            "{out}"
        );
        // Whatever the cause, a non-pass is never silent.
        g.run_issues.clear();
        let out = render(&g, &nowhere());
        assert!(out.starts_with("::warning "), "{out}");
        assert!(out.contains("no SLO row says why"), "{out}");
    }

    #[test]
    fn a_run_not_judged_says_why_on_each_warning() {
        let mut g = gate();
        for s in &mut g.slos {
            s.verdict = Verdict::Inconclusive;
            s.reason = None;
        }
        g.not_judged = Some("never answered: the load target".into());
        let a = annotations(&g, &nowhere());
        assert_eq!(a.len(), 3);
        assert!(a.iter().all(|a| a.level == Level::Warning
            && a.message.ends_with("\nnever answered: the load target")));
    }

    #[test]
    fn paths_are_relative_to_the_workspace_and_lines_are_found() {
        let dir = std::env::temp_dir().join(format!("chaosgate-github-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("scenarios")).unwrap();
        let file = dir.join("scenarios/replica-crash.yaml");
        std::fs::write(
            &file,
            "name: replica-crash\nslos:\n  - p95(latency, during=crash-primary) < 100ms\n  \
             # was error_rate(during=crash-primary) < 0.1%\n  \
             - error_rate(during=crash-primary) < 0.1%\n",
        )
        .unwrap();
        let mut g = gate();
        g.file = file.display().to_string();
        let place = Place {
            workspace: Some(dir.clone()),
            cwd: PathBuf::from("/"),
        };
        let a = annotations(&g, &place);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(a[0].file.as_deref(), Some("scenarios/replica-crash.yaml"));
        // The SLO's own line, not a comment mentioning it.
        assert_eq!(a[0].line, Some(5));
        // Not in the file: no line rather than a wrong one.
        assert_eq!(a[1].line, None);
        assert!(
            a[0].to_string()
                .starts_with("::error file=scenarios/replica-crash.yaml,line=5,title=")
        );
        // Outside the workspace, the path is kept as the run named it.
        let outside = Place {
            workspace: Some(PathBuf::from("/elsewhere")),
            cwd: PathBuf::from("/"),
        };
        assert_eq!(
            annotations(&g, &outside)[0].file.as_deref(),
            Some(g.file.as_str())
        );
    }

    #[test]
    fn a_gate_report_is_read_and_annotated_per_slo_on_its_intervals() {
        let dir = std::env::temp_dir().join(format!("cg-github-gate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sample = |side: &str, summary: &str| {
            serde_json::json!({
                "side": side, "values": [0.0], "texts": ["0ms"], "untrusted": [null],
                "median": 0.0, "low": 0.0, "high": 0.0, "coverage": 0.0, "summary": summary
            })
        };
        let gate = serde_json::json!({
            "schema_version": "1", "kind": "ab",
            "scenario": {"name": "replica-crash", "file": "scenarios/replica-crash.yaml",
                         "description": ""},
            "seed": 42, "repeat": 1, "started_at": "2026-11-30T00:00:00Z", "duration_ms": 1.0,
            "verdict": "breached", "exit_code": 1, "interval_method": "order statistics",
            "sides": [], "notes": [],
            "slos": [
                {"expression": "failover_time(crash-primary) <= baseline + 50ms",
                 "target": "<= baseline + 50ms", "relative": true, "verdict": "breached",
                 "reason": "even the candidate's best end 135ms violates the bound",
                 "unit": "ms", "judged_on": "candidate vs baseline",
                 "samples": [sample("baseline", "median 0ms"), sample("candidate", "median 135ms")],
                 "strict_bound": 50.0, "loose_bound": 50.0},
                {"expression": "p95(latency) < 100ms", "target": "< 100ms", "relative": false,
                 "verdict": "inconclusive", "reason": "straddles", "unit": "ms",
                 "judged_on": "candidate", "samples": [], "strict_bound": null,
                 "loose_bound": null},
                {"expression": "error_rate() < 1%", "target": "< 1%", "relative": false,
                 "verdict": "pass", "reason": null, "unit": "ratio", "judged_on": "candidate",
                 "samples": [], "strict_bound": null, "loose_bound": null}
            ]
        });
        std::fs::write(dir.join("gate.json"), gate.to_string()).unwrap();
        // A run report beside it is the gate's run, not what the directory stands for.
        std::fs::write(dir.join("report.json"), "{}").unwrap();
        let g = read(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(g.slos.len(), 3);
        assert_eq!(
            g.slos[0].measured.as_deref(),
            Some("baseline: median 0ms; candidate: median 135ms")
        );
        let place = Place {
            workspace: None,
            cwd: std::env::temp_dir(),
        };
        let a = annotations(&g, &place);
        let levels: Vec<Level> = a.iter().map(|x| x.level).collect();
        assert_eq!(levels, vec![Level::Error, Level::Warning]);
    }
}
