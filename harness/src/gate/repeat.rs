//! `chaosgate run --repeat N`: one build, N runs, each SLO judged on the median's interval.

use super::{Done, Plan, absolute_figure, gate_sample, show, unit_name};
use crate::report::gate::{GateReport, GateSlo};
use crate::verdict::NEEDS_BASELINE;
use crate::verdict::interval::{RunFigure, judge_absolute};

/// The side's name (and its runs' directories: `repeat-<i>/`).
pub const SIDE: &str = "repeat";

/// Fills `report` (from [`super::skeleton`]) with each SLO judged on the runs.
pub fn judge(plan: &Plan<'_>, done: &[Done], report: &mut GateReport) {
    for (k, slo) in plan.scenario.slos.iter().enumerate() {
        let unit = slo.metric.unit();
        if slo.is_relative() {
            report.notes.push(format!(
                "`{}` {}: not judged by `run --repeat`",
                slo.expression, NEEDS_BASELINE
            ));
            continue;
        }
        let figures: Vec<RunFigure> = done.iter().map(|d| absolute_figure(k, d)).collect();
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
            advisory: !slo.gates(),
        });
    }
    super::settle(report, &[(SIDE, done)], plan.repeat);
}
