//! From a finished run and its decided verdict to the report model: the run's figures, the
//! SLO results and the notes, in the shape every writer renders.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::{
    FailoverReport, FaultReport, LatencySummary, PhaseReport, ProbeReport, RecoveryReport, Report,
    SCHEMA_VERSION, ScenarioInfo, SecondPoint, ServiceInfo, SloReport, StackInfo,
};
use crate::artifacts::RunArtifacts;
use crate::measure::{PhaseStats, Recovery, percentile_ns};
use crate::plan::RunSpec;
use crate::verdict::Decision;

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// The report of a run. `exit_code` is the CLI's mapping of `decision` (the report records
/// it; it does not decide it). When the run measured the wiring, not the system
/// (`decision.never_answered`), no SLO is judged and every report says so.
pub fn assemble(
    spec: &RunSpec,
    run: &RunArtifacts,
    wall: Duration,
    decision: Decision,
    exit_code: i32,
) -> Report {
    let mut notes = run.notes.clone();
    notes.extend(decision.notes);
    let verdict = decision.verdict;
    let results = decision.results;
    // The run-level issues that leave the SLOs unjudged lead the notes (decide already
    // demoted every SLO row to "not judged").
    for issue in decision
        .issues
        .iter()
        .filter(|i| i.exit_code() == crate::exit_codes::INFRASTRUCTURE)
    {
        notes.insert(0, format!("{issue} (exit {exit_code})"));
    }
    let report_row = |(slo, r): (&crate::slo::Slo, &crate::verdict::SloResult)| {
        let mut row = SloReport::from(r);
        row.advisory = !slo.gates();
        row
    };
    let absolute = spec.absolute_slos();
    Report {
        schema_version: SCHEMA_VERSION.into(),
        scenario: ScenarioInfo {
            name: spec.name.clone(),
            file: spec.file.display().to_string(),
            description: spec.description.clone(),
        },
        seed: spec.seed,
        run_id: run.run_id.clone(),
        started_at: rfc3339(run.started_unix_ns),
        duration_ms: wall.as_secs_f64() * 1000.0,
        verdict,
        exit_code,
        not_judged: decision.never_answered.clone(),
        run_issues: decision.issues.clone(),
        provenance: None,
        stopped_early: None,
        stack: stack_info(spec, run),
        phases: run.analysis.phases.iter().map(phase_report).collect(),
        faults: fault_reports(spec, run),
        slos: absolute.iter().zip(&results).map(report_row).collect(),
        steady_state: spec
            .steady_state
            .iter()
            .zip(&decision.steady_state)
            .map(report_row)
            .collect(),
        probes: probe_reports(spec, run),
        series: run
            .analysis
            .series
            .iter()
            .map(|p| SecondPoint {
                t: p.second,
                sent: p.sent,
                ok: p.ok,
                errors: p.errors,
                p50_ms: p.p50_ns.map(ms),
                p99_ms: p.p99_ns.map(ms),
            })
            .collect(),
        notes,
    }
}

fn rfc3339(unix_ns: i128) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(unix_ns)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn stack_info(spec: &RunSpec, run: &RunArtifacts) -> StackInfo {
    let mut services: BTreeMap<String, Vec<String>> = spec
        .services
        .iter()
        .map(|s| (s.clone(), Vec::new()))
        .collect();
    for c in &run.containers {
        services
            .entry(c.service.clone())
            .or_default()
            .push(c.name.clone());
    }
    StackInfo {
        project: run.project.clone(),
        compose_files: spec
            .compose_files
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        services: services
            .into_iter()
            .map(|(name, containers)| ServiceInfo { name, containers })
            .collect(),
    }
}

fn phase_report(p: &PhaseStats) -> PhaseReport {
    PhaseReport {
        name: p.name.clone(),
        start_ms: ms(p.start_ns),
        end_ms: ms(p.end_ns.min(u64::MAX / 2)),
        scheduled: p.scheduled,
        ok: p.ok,
        errors: p.errors,
        error_rate: p.error_rate(),
        availability: p.availability(),
        latency_ms: (p.scheduled > 0).then(|| summary_ms(&p.latency)),
        harness_lag_ms: (p.scheduled > 0).then(|| summary_ms(&p.lag)),
        errors_by_kind: p.errors_by_kind.clone(),
        status_counts: p
            .status_counts
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
    }
}

/// The report's percentiles of a nanosecond histogram, in milliseconds.
fn summary_ms(h: &Histogram<u64>) -> LatencySummary {
    let pct = |q| percentile_ns(h, q).map(ms).unwrap_or(0.0);
    LatencySummary {
        p50: pct(50.0),
        p90: pct(90.0),
        p95: pct(95.0),
        p99: pct(99.0),
        p99_9: pct(99.9),
        max: ms(h.max()),
    }
}

fn fault_reports(spec: &RunSpec, run: &RunArtifacts) -> Vec<FaultReport> {
    run.faults
        .iter()
        .map(|f| {
            let planned = spec.faults.iter().find(|p| p.name == f.name);
            let mut evidence = f.evidence.clone();
            if let Some(w) = run.analysis.fault(&f.name) {
                evidence.insert("window_end_ms".into(), ms(w.end_ns).into());
                if let Some(s) = w.settled_ns {
                    evidence.insert("targets_healthy_again_ms".into(), ms(s).into());
                }
            }
            if let Some(t) = f.target_back_ns {
                evidence.insert("targets_running_again_ms".into(), ms(t).into());
            }
            if let Some(e) = &f.error {
                evidence.insert("error".into(), e.clone().into());
            }
            let (recovery, never_failed) = recovery_reports(&run.analysis.recovery, &f.name);
            if !never_failed.is_empty() {
                evidence.insert("probes_never_failed".into(), never_failed.into());
            }
            FaultReport {
                name: f.name.clone(),
                action: f.action.clone(),
                service: planned.map(|p| p.service.clone()).unwrap_or_default(),
                labels: planned.map(|p| p.labels.clone()).unwrap_or_default(),
                targets: f.targets.clone(),
                scheduled_at_ms: ms(f.scheduled_ns),
                applied_at_ms: f.applied_ns.map(ms),
                verified_at_ms: f.verified_ns.map(ms),
                reverted_at_ms: f.reverted_ns.map(ms),
                applied: f.verified_ns.is_some(),
                evidence: serde_json::Value::Object(evidence),
                recovery,
                failover: run.analysis.failover.get(&f.name).map(|x| FailoverReport {
                    longest_outage_ms: ms(x.duration_ns),
                    outage_start_ms: x.start_ns.map(ms),
                    outage_end_ms: x.end_ns.map(ms),
                    failed_requests: x.failed_in_window,
                }),
            }
        })
        .collect()
}

/// The recovery lines of fault `fault`, and the probes that never failed while it was in
/// effect: they did not see it, and their "recovery" would only be how long N successes took
/// (a line "recovered in 52.6ms" for a probe that never failed), so they get no line.
fn recovery_reports(
    recovery: &BTreeMap<(String, String), Recovery>,
    fault: &str,
) -> (Vec<RecoveryReport>, Vec<String>) {
    let mut lines = Vec::new();
    let mut never_failed = Vec::new();
    for ((_, probe), r) in recovery.iter().filter(|((f, _), _)| f == fault) {
        if r.saw_the_fault() {
            lines.push(RecoveryReport {
                probe: probe.clone(),
                recovered_at_ms: r.recovered_ns.map(ms),
                recovery_time_ms: r.duration_ns().map(ms),
            });
        } else {
            never_failed.push(probe.clone());
        }
    }
    (lines, never_failed)
}

fn probe_reports(spec: &RunSpec, run: &RunArtifacts) -> Vec<ProbeReport> {
    spec.probes
        .iter()
        .map(|p| {
            let (checks, ok) = run.analysis.probes.get(&p.name).copied().unwrap_or((0, 0));
            ProbeReport {
                name: p.name.clone(),
                kind: p.check.kind().into(),
                service: p.service.clone(),
                checks,
                ok,
                failed: checks - ok,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::recovery::{Check, recovery};

    fn probe(pattern: &str) -> Recovery {
        let checks: Vec<Check> = pattern
            .chars()
            .enumerate()
            .map(|(i, c)| Check {
                t: i as u64 * 20_000_000,
                ok: c == '+',
                lag_ns: 0,
            })
            .collect();
        recovery(&checks, 0, 0, 3).expect("checks after the fault")
    }

    #[test]
    fn only_probes_that_saw_the_fault_get_a_recovery_line() {
        let mut map = BTreeMap::new();
        map.insert(("kill".to_string(), "edge".to_string()), probe("++++++"));
        map.insert(("kill".to_string(), "web-1".to_string()), probe("--+++"));
        map.insert(("kill".to_string(), "web-2".to_string()), probe("---"));
        map.insert(("other".to_string(), "edge".to_string()), probe("-+++"));
        let (lines, never_failed) = recovery_reports(&map, "kill");
        let names: Vec<&str> = lines.iter().map(|l| l.probe.as_str()).collect();
        assert_eq!(names, ["web-1", "web-2"]);
        assert_eq!(lines[0].recovery_time_ms, Some(40.0));
        assert_eq!(lines[1].recovery_time_ms, None);
        assert_eq!(never_failed, ["edge"]);
    }
}
