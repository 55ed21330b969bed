//! `chaosgate ab`: a baseline and a candidate build run with the same seeds, interleaved.
//! Absolute SLOs are judged on the candidate (the baseline's figures are shown beside);
//! relative SLOs compare the candidate's sample with the baseline's.

use super::{Done, Plan, absolute_figure, gate_sample, run_level_inconclusive, show, unit_name};
use crate::report::gate::{GateReport, GateSlo};
use crate::verdict::interval::{RunFigure, judge_absolute};
use crate::verdict::{Verdict, relative};

/// The side name (and run-folder prefix) of the baseline build.
pub const BASELINE: &str = "baseline";
/// The side name (and run-folder prefix) of the candidate build.
pub const CANDIDATE: &str = "candidate";

/// A relative SLO's figure in one run (`slo_index` in the scenario's `slos`).
fn relative_result(done: &Done, slo_index: usize) -> Option<&crate::verdict::SloResult> {
    done.run
        .relative
        .iter()
        .find(|(i, _)| *i == slo_index)
        .map(|(_, r)| r)
}

fn failed(done: &Done) -> RunFigure {
    RunFigure::untrusted(
        None,
        format!(
            "the run failed: {}",
            done.run.error.as_deref().unwrap_or("no report")
        ),
    )
}

/// Fills `report` (from [`super::skeleton`]) with every SLO judged.
pub fn judge(plan: &Plan<'_>, baseline: &[Done], candidate: &[Done], report: &mut GateReport) {
    for (k, slo) in plan.scenario.slos.iter().enumerate() {
        let unit = slo.metric.unit();
        let shown = |v: f64| show(unit, v);
        let Some(rel) = slo.relative else {
            let b: Vec<RunFigure> = baseline.iter().map(|d| absolute_figure(slo, d)).collect();
            let c: Vec<RunFigure> = candidate.iter().map(|d| absolute_figure(slo, d)).collect();
            let judged = judge_absolute(slo, &c, &shown);
            report.slos.push(GateSlo {
                expression: slo.expression.clone(),
                target: slo.target_text(),
                relative: false,
                verdict: judged.verdict,
                reason: judged.reason,
                unit: unit_name(unit).into(),
                judged_on: CANDIDATE.into(),
                samples: vec![
                    gate_sample(BASELINE, unit, &b),
                    gate_sample(CANDIDATE, unit, &c),
                ],
                strict_bound: None,
                loose_bound: None,
            });
            continue;
        };
        let b: Vec<RunFigure> = baseline
            .iter()
            .map(|d| match relative_result(d, k) {
                Some(r) => relative::baseline_figure(slo, r),
                None => failed(d),
            })
            .collect();
        let bounds = relative::bounds(slo, rel, &b);
        let c: Vec<RunFigure> = candidate
            .iter()
            .map(|d| {
                let Some(r) = relative_result(d, k) else {
                    return failed(d);
                };
                let mut f = relative::figure(slo, r);
                // The demotion rules (late harness, coarse resolution, ...) against both
                // bounds: a comparison they do not trust cannot decide.
                if f.is_trusted()
                    && let Some((strict, loose)) = bounds
                    && let Some(why) = relative::recheck(slo, r, strict)
                        .or_else(|| relative::recheck(slo, r, loose))
                {
                    f.untrusted = Some(why);
                }
                f
            })
            .collect();
        let judged = relative::judge(slo, rel, &b, &c, &shown);
        report.slos.push(GateSlo {
            expression: slo.expression.clone(),
            target: slo.target_text(),
            relative: true,
            verdict: judged.verdict,
            reason: judged.reason,
            unit: unit_name(unit).into(),
            judged_on: "candidate vs baseline".into(),
            samples: vec![
                gate_sample(BASELINE, unit, &b),
                gate_sample(CANDIDATE, unit, &c),
            ],
            strict_bound: judged.strict_bound.map(|v| super::report_value(unit, v)),
            loose_bound: judged.loose_bound.map(|v| super::report_value(unit, v)),
        });
    }
    let mut verdict = report
        .slos
        .iter()
        .map(|s| s.verdict)
        .max()
        .unwrap_or(Verdict::Inconclusive);
    let whole = run_level_inconclusive(CANDIDATE, candidate);
    if !whole.is_empty() {
        verdict = verdict.max(Verdict::Inconclusive);
        report.notes.extend(whole);
    }
    if candidate.len() < plan.repeat || baseline.len() < plan.repeat {
        verdict = verdict.max(Verdict::Inconclusive);
        report.notes.push(format!(
            "only {} baseline and {} candidate run(s) of {} finished: the gate cannot pass",
            baseline.len(),
            candidate.len(),
            plan.repeat
        ));
    }
    if !plan.scenario.slos.iter().any(|s| s.is_relative()) {
        report.notes.push(
            "the scenario has no relative SLO (`<= baseline ...`): only absolute targets were \
             judged, on the candidate"
                .into(),
        );
    }
    report.verdict = verdict;
}
