//! Comparing a run with the previous release's report (`chaosgate compare old.json new.json`):
//! which SLO verdicts got worse and which figures moved the wrong way beyond a tolerance.

use std::fmt;

use serde::Serialize;

use super::format::{ms, percent};
use super::model::{MeasuredValue, Report};
use crate::verdict::Verdict;

/// Changes smaller than these are noise whatever the relative tolerance says (a p50 going
/// from 0.2 ms to 0.3 ms is +50 % and means nothing).
const DURATION_FLOOR_MS: f64 = 1.0;
const RATIO_FLOOR: f64 = 0.0005;

/// One figure or SLO verdict that moved between two runs beyond the tolerance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// What moved, e.g. `SLO p95(latency) < 100ms` or `phase during:crash-primary p99`.
    pub what: String,
    /// The old run's figure, as shown to people (e.g. `87.3ms`, `PASS`).
    pub old: String,
    /// The new run's figure, in the same form.
    pub new: String,
    /// e.g. `+35%`, or `verdict` when the SLO's verdict changed.
    pub change: String,
}

/// What changed between two reports of one scenario (`chaosgate compare OLD NEW`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReportComparison {
    /// Figures worse beyond the tolerance, and SLOs whose verdict got worse.
    pub regressions: Vec<Change>,
    /// Figures better beyond the tolerance, and SLOs whose verdict got better.
    pub improvements: Vec<Change>,
    /// Figures present in both reports and compared.
    pub compared: usize,
    /// Why the two runs may not be comparable (different scenario files, ...).
    pub warnings: Vec<String>,
    /// Why figures were not compared at all: a run that was inconclusive as a whole (a fault
    /// never proven applied, a target that never answered) did not test what it says, so its
    /// figures are neither a regression nor an improvement.
    pub untrusted: Vec<String>,
}

impl ReportComparison {
    /// Whether anything got worse.
    pub fn has_regressions(&self) -> bool {
        !self.regressions.is_empty()
    }

    /// `chaosgate compare`'s exit code: 1 (`SLO_BREACHED`) when anything got worse, the run
    /// verdict included; else 4 (`INCONCLUSIVE`) when a report could not be compared (a run
    /// inconclusive as a whole); else 0.
    pub fn exit_code(&self) -> i32 {
        if self.has_regressions() {
            crate::exit_codes::SLO_BREACHED
        } else if !self.untrusted.is_empty() {
            crate::exit_codes::INCONCLUSIVE
        } else {
            crate::exit_codes::PASS
        }
    }
}

impl fmt::Display for ReportComparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} figures compared: {} regression{}, {} improvement{}",
            self.compared,
            self.regressions.len(),
            if self.regressions.len() == 1 { "" } else { "s" },
            self.improvements.len(),
            if self.improvements.len() == 1 {
                ""
            } else {
                "s"
            }
        )?;
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        for u in &self.untrusted {
            writeln!(f, "  not compared: {u}")?;
        }
        for c in &self.regressions {
            writeln!(
                f,
                "  REGRESSED {}: {} → {} ({})",
                c.what, c.old, c.new, c.change
            )?;
        }
        for c in &self.improvements {
            writeln!(
                f,
                "  improved  {}: {} → {} ({})",
                c.what, c.old, c.new, c.change
            )?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Better {
    Lower,
    Higher,
}

#[derive(Clone, Copy)]
enum Kind {
    Duration,
    Ratio,
}

struct Figure {
    what: String,
    old: f64,
    new: f64,
    kind: Kind,
    better: Better,
}

fn show(kind: Kind, v: f64) -> String {
    match kind {
        Kind::Duration => ms(v),
        Kind::Ratio => percent(Some(v)),
    }
}

/// Classifies one figure: `Some(true)` regression, `Some(false)` improvement, `None` within
/// tolerance.
fn judge(fig: &Figure, tolerance: f64) -> Option<(bool, String)> {
    let delta = fig.new - fig.old;
    let floor = match fig.kind {
        Kind::Duration => DURATION_FLOOR_MS,
        Kind::Ratio => RATIO_FLOOR,
    };
    if !delta.is_finite() || delta.abs() < floor {
        return None;
    }
    let relative = if fig.old.abs() > f64::EPSILON {
        delta / fig.old.abs()
    } else {
        f64::INFINITY * delta.signum()
    };
    if relative.abs() <= tolerance {
        return None;
    }
    let worse = match fig.better {
        Better::Lower => delta > 0.0,
        Better::Higher => delta < 0.0,
    };
    let change = if relative.is_finite() {
        format!("{:+.0}%", relative * 100.0)
    } else {
        let sign = if delta > 0.0 { "+" } else { "-" };
        format!("{sign}{}", show(fig.kind, delta.abs()))
    };
    Some((worse, change))
}

fn slo_better(expression: &str) -> Better {
    if expression.starts_with("availability") || expression.starts_with("probe_success") {
        Better::Higher
    } else {
        Better::Lower
    }
}

fn measured_figure(m: &MeasuredValue) -> Option<(f64, Kind)> {
    match m.unit.as_str() {
        "ms" => Some((m.value, Kind::Duration)),
        "ratio" => Some((m.value, Kind::Ratio)),
        _ => None,
    }
}

/// Differences in what was tested that make a comparison of figures questionable.
pub fn comparability_warnings(old: &Report, new: &Report) -> Vec<String> {
    let mut w = Vec::new();
    let (Some(op), Some(np)) = (&old.provenance, &new.provenance) else {
        if old.provenance.is_none() || new.provenance.is_none() {
            w.push(
                "a report carries no provenance: it cannot be told whether both runs ran the \
                 same scenario"
                    .into(),
            );
        }
        return w;
    };
    if let (Some(o), Some(n)) = (&op.scenario.sha256, &np.scenario.sha256)
        && o != n
    {
        w.push(format!(
            "the runs used different scenario files (sha256 {} vs {}): figures may not be comparable",
            &o[..12.min(o.len())],
            &n[..12.min(n.len())]
        ));
    }
    if op.host.cores != np.host.cores {
        w.push(format!(
            "the runs had different CPU counts ({} vs {})",
            op.host.cores, np.host.cores
        ));
    }
    w
}

/// Compares `new` against `old`. `tolerance` is relative (0.1 = a figure may be 10 % worse).
/// Any SLO whose verdict got worse is a regression regardless of tolerance.
pub fn compare(old: &Report, new: &Report, tolerance: f64) -> ReportComparison {
    let mut out = ReportComparison {
        warnings: comparability_warnings(old, new),
        ..Default::default()
    };
    let (old_issues, new_issues) = (old.whole_run_issues(), new.whole_run_issues());
    // The run-level rule, read back: a run with an issue is at least inconclusive, whatever a
    // (hand-edited or older) report's `verdict` field says.
    let effective = |r: &Report, issues: &[crate::verdict::RunIssue]| {
        crate::verdict::run_verdict([r.verdict], issues)
    };
    let (old_verdict, new_verdict) = (effective(old, &old_issues), effective(new, &new_issues));
    if new_verdict != old_verdict {
        let why = |issues: &[crate::verdict::RunIssue], v: Verdict| {
            if issues.is_empty() {
                v.to_string()
            } else {
                let texts: Vec<String> = issues.iter().map(|i| i.text()).collect();
                format!("{v} ({})", texts.join("; "))
            }
        };
        let change = Change {
            what: "run verdict".into(),
            old: why(&old_issues, old_verdict),
            new: why(&new_issues, new_verdict),
            change: "verdict".into(),
        };
        out.compared += 1;
        if new_verdict > old_verdict {
            out.regressions.push(change);
        } else if new_verdict == Verdict::Pass {
            out.improvements.push(change);
        }
    }
    for (side, issues) in [("OLD", &old_issues), ("NEW", &new_issues)] {
        for i in issues.iter() {
            out.untrusted.push(format!(
                "{side} was inconclusive as a whole ({i}): its figures say nothing about the build"
            ));
        }
    }
    if !out.untrusted.is_empty() {
        // Figures of a run that did not test what it says are not compared at all: a fault
        // that never applied makes the run look better, which is no improvement.
        return out;
    }
    let mut figures = Vec::new();
    for n in &new.slos {
        let Some(o) = old.slos.iter().find(|o| o.expression == n.expression) else {
            continue;
        };
        out.compared += 1;
        if n.verdict != o.verdict {
            let change = Change {
                what: format!("SLO {}", n.expression),
                old: o.verdict.to_string(),
                new: n.verdict.to_string(),
                change: "verdict".into(),
            };
            // Verdicts are ordered by severity: pass < inconclusive < breached. An advisory
            // SLO never gates, so its change is said, never a regression.
            if n.advisory && n.verdict > o.verdict {
                out.warnings.push(format!(
                    "advisory SLO {}: {} → {} (not a regression: advisory SLOs never gate)",
                    n.expression, o.verdict, n.verdict
                ));
            } else if n.verdict > o.verdict {
                out.regressions.push(change);
            } else if n.verdict == Verdict::Pass {
                out.improvements.push(change);
            }
            continue;
        }
        if let (Some(om), Some(nm)) = (&o.measured, &n.measured)
            && let (Some((ov, kind)), Some((nv, _))) = (measured_figure(om), measured_figure(nm))
            && om.unit == nm.unit
        {
            figures.push(Figure {
                what: format!("SLO {}", n.expression),
                old: ov,
                new: nv,
                kind,
                better: slo_better(&n.expression),
            });
        }
    }
    for np in &new.phases {
        let Some(op) = old.phases.iter().find(|o| o.name == np.name) else {
            continue;
        };
        if let (Some(ol), Some(nl)) = (op.latency_ms, np.latency_ms) {
            for (label, o, n) in [("p50", ol.p50, nl.p50), ("p99", ol.p99, nl.p99)] {
                figures.push(Figure {
                    what: format!("phase {} {label}", np.name),
                    old: o,
                    new: n,
                    kind: Kind::Duration,
                    better: Better::Lower,
                });
            }
        }
        if let (Some(o), Some(n)) = (op.error_rate, np.error_rate) {
            figures.push(Figure {
                what: format!("phase {} error rate", np.name),
                old: o,
                new: n,
                kind: Kind::Ratio,
                better: Better::Lower,
            });
        }
    }
    for nf in &new.faults {
        let Some(of) = old.faults.iter().find(|o| o.name == nf.name) else {
            continue;
        };
        for nr in &nf.recovery {
            let old_time = of
                .recovery
                .iter()
                .find(|o| o.probe == nr.probe)
                .and_then(|o| o.recovery_time_ms);
            if let (Some(o), Some(n)) = (old_time, nr.recovery_time_ms) {
                figures.push(Figure {
                    what: format!("fault {} recovery ({})", nf.name, nr.probe),
                    old: o,
                    new: n,
                    kind: Kind::Duration,
                    better: Better::Lower,
                });
            }
        }
        if let (Some(o), Some(n)) = (&of.failover, &nf.failover) {
            figures.push(Figure {
                what: format!("fault {} failover", nf.name),
                old: o.longest_outage_ms,
                new: n.longest_outage_ms,
                kind: Kind::Duration,
                better: Better::Lower,
            });
        }
    }
    for fig in figures {
        out.compared += 1;
        if let Some((worse, change)) = judge(&fig, tolerance) {
            let c = Change {
                what: fig.what.clone(),
                old: show(fig.kind, fig.old),
                new: show(fig.kind, fig.new),
                change,
            };
            if worse {
                out.regressions.push(c);
            } else {
                out.improvements.push(c);
            }
        }
    }
    out
}
