//! `chaosgate run --repeat N`: one build, N runs, each SLO judged on the median's interval.

use super::{Done, Plan, absolute_figure, gate_sample, run_level_inconclusive, show, unit_name};
use crate::report::gate::{GateReport, GateSlo};
use crate::verdict::interval::{RunFigure, judge_absolute};
use crate::verdict::{NEEDS_BASELINE, Verdict};

/// The side's name (and its runs' directories: `repeat-<i>/`).
pub const SIDE: &str = "repeat";

/// Fills `report` (from [`super::skeleton`]) with each SLO judged on the runs.
pub fn judge(plan: &Plan<'_>, done: &[Done], report: &mut GateReport) {
    for slo in &plan.scenario.slos {
        let unit = slo.metric.unit();
        if slo.is_relative() {
            report.notes.push(format!(
                "`{}` {}: not judged by `run --repeat`",
                slo.expression, NEEDS_BASELINE
            ));
            continue;
        }
        let figures: Vec<RunFigure> = done.iter().map(|d| absolute_figure(slo, d)).collect();
        let judged = judge_absolute(slo, &figures, &|v| show(unit, v));
        report.slos.push(GateSlo {
            expression: slo.expression.clone(),
            target: slo.target_text(),
            relative: false,
            verdict: judged.verdict,
            reason: judged.reason,
            unit: unit_name(unit).into(),
            judged_on: "runs".into(),
            samples: vec![gate_sample(SIDE, unit, &figures)],
            strict_bound: None,
            loose_bound: None,
        });
    }
    let mut verdict = report
        .slos
        .iter()
        .map(|s| s.verdict)
        .max()
        .unwrap_or(Verdict::Inconclusive);
    let whole = run_level_inconclusive("run", done);
    if !whole.is_empty() {
        verdict = verdict.max(Verdict::Inconclusive);
        report.notes.extend(whole);
    }
    if done.len() < plan.repeat {
        verdict = verdict.max(Verdict::Inconclusive);
        report.notes.push(format!(
            "only {} of {} runs finished: the gate cannot pass",
            done.len(),
            plan.repeat
        ));
    }
    report.verdict = verdict;
}
