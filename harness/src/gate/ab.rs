//! `chaosgate ab`: a baseline and a candidate build run with the same seeds, interleaved.
//! Absolute SLOs are judged on the candidate (the baseline's figures are shown beside);
//! relative SLOs compare the candidate's sample with the baseline's.

use super::{Done, Plan, absolute_figure, gate_sample, show, unit_name};
use crate::report::gate::{GateReport, GateSlo};
use crate::verdict::interval::{RunFigure, judge_absolute};
use crate::verdict::relative;

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

/// A relative figure of a run that was inconclusive as a whole (its fault never applied, its
/// target never answered) compares a build that was not tested as the scenario says: it is
/// untrusted, on either side, whatever it measured. (Absolute figures keep the run's own
/// typed result, which already judged that.)
fn doubted(done: &Done, f: RunFigure) -> RunFigure {
    if done.run.issues.is_empty() || !f.is_trusted() && f.value.is_none() {
        return f;
    }
    let why: Vec<String> = done.run.issues.iter().map(|i| i.text()).collect();
    RunFigure::untrusted(
        f.value,
        format!("the run was inconclusive as a whole: {}", why.join("; ")),
    )
}

/// Fills `report` (from [`super::skeleton`]) with every SLO judged.
pub fn judge(plan: &Plan<'_>, baseline: &[Done], candidate: &[Done], report: &mut GateReport) {
    for (k, slo) in plan.scenario.slos.iter().enumerate() {
        let unit = slo.metric.unit();
        let shown = |v: f64| show(unit, v);
        let Some(rel) = slo.relative else {
            let b: Vec<RunFigure> = baseline.iter().map(|d| absolute_figure(k, d)).collect();
            let c: Vec<RunFigure> = candidate.iter().map(|d| absolute_figure(k, d)).collect();
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
                advisory: !slo.gates(),
            });
            continue;
        };
        let b: Vec<RunFigure> = baseline
            .iter()
            .map(|d| match relative_result(d, k) {
                Some(r) => doubted(d, relative::baseline_figure(slo, r)),
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
                let mut f = doubted(d, relative::figure(slo, r));
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
            advisory: !slo.gates(),
        });
    }
    super::settle(
        report,
        &[(BASELINE, baseline), (CANDIDATE, candidate)],
        plan.repeat,
    );
    if !plan.scenario.slos.iter().any(|s| s.is_relative()) {
        report.notes.push(
            "the scenario has no relative SLO (`<= baseline ...`): only absolute targets were \
             judged, on the candidate"
                .into(),
        );
    }
}
