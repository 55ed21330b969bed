//! From a finished run to its verdict and report: SLOs evaluated against the measurements,
//! unproven faults and unrecovered lower bounds turned into "inconclusive", never "pass".

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::metrics::{HARNESS_LAG_P99_NS, LATENCY_FROM_SEND_NS, RECOVERY_IF_PUNCTUAL_NS};
use super::{RunArtifacts, RunMetrics, RunSpec};
use crate::cli::exit_codes;
use crate::measure::{PhaseStats, percentile_ns};
use crate::report::{
    FailoverReport, FaultReport, LatencySummary, PhaseReport, ProbeReport, RecoveryReport, Report,
    SCHEMA_VERSION, ScenarioInfo, SecondPoint, ServiceInfo, SloReport, StackInfo,
};
use crate::scenario::Scenario;
use crate::slo::{self, Metric, Quantity, Slo, SloResult, Verdict};

/// When the harness began the requests of a window this late (p99), the machine was starved
/// of CPU and a timing breach in that window says as much about the harness as about the
/// system. Measured on replica-crash on a 2-core machine: p99 2 ms over a quiet run (8 ms
/// during the crash); 28–54 ms during the crash with a cargo build or 14 CPU hogs beside it.
pub const STARVED_LAG_P99: Duration = Duration::from_millis(50);

/// A fault applied this long after its planned time is worth telling (a starved harness).
pub const LATE_FAULT: Duration = Duration::from_millis(250);

pub struct Judgement {
    pub report: Report,
    pub verdict: Verdict,
    pub exit_code: i32,
}

impl Judgement {
    pub fn verdict_word(&self) -> &'static str {
        match self.verdict {
            Verdict::Pass => "PASS",
            Verdict::Breached => "BREACHED",
            Verdict::Inconclusive => "INCONCLUSIVE",
        }
    }
}

pub fn exit_code_for(verdict: Verdict) -> i32 {
    match verdict {
        Verdict::Pass => exit_codes::PASS,
        Verdict::Breached => exit_codes::SLO_BREACHED,
        Verdict::Inconclusive => exit_codes::INCONCLUSIVE,
    }
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

pub fn judge(s: &Scenario, spec: &RunSpec, run: &RunArtifacts, wall: Duration) -> Judgement {
    let metrics = RunMetrics {
        analysis: &run.analysis,
        faults: &run.faults,
        writes: run.writes.as_ref(),
    };
    let mut results = slo::evaluate(&s.slos, &metrics);
    for (slo, r) in s.slos.iter().zip(&mut results) {
        demote_unrecovered_pass(r);
        demote_breach_of_a_late_harness(slo, r);
    }
    let mut notes = run.notes.clone();
    notes.extend(lateness_notes(run));
    let mut verdict = slo::overall(&results);
    for f in &run.faults {
        if f.verified_ns.is_none() {
            notes.push(format!(
                "fault `{}` could not be proven applied{}: the run cannot pass",
                f.name,
                f.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ));
            verdict = verdict.max(Verdict::Inconclusive);
        }
    }
    if let Some(dropped) = run
        .load
        .as_ref()
        .and_then(|l| l.error_counts.get(&chaosgate_load::ErrorKind::Dropped))
        .filter(|n| **n > 0)
    {
        notes.push(format!(
            "{dropped} request(s) were not sent because the in-flight bound was reached; they count as errors"
        ));
    }
    let exit_code = exit_code_for(verdict);
    let report = Report {
        schema_version: SCHEMA_VERSION.into(),
        scenario: ScenarioInfo {
            name: s.name.clone(),
            file: s.path.display().to_string(),
            description: s.description.clone(),
        },
        seed: spec.seed,
        run_id: run.run_id.clone(),
        started_at: rfc3339(run.started_unix_ns),
        duration_ms: wall.as_secs_f64() * 1000.0,
        verdict,
        exit_code,
        stack: stack_info(spec, run),
        phases: run.analysis.phases.iter().map(phase_report).collect(),
        faults: fault_reports(spec, run),
        slos: results.iter().map(SloReport::from).collect(),
        probes: probe_reports(s, run),
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
    };
    Judgement {
        report,
        verdict,
        exit_code,
    }
}

/// A recovery or failover that never completed was measured as a lower bound ("at least X");
/// if that lower bound is still under the target, the SLO is not known to pass.
fn demote_unrecovered_pass(r: &mut SloResult) {
    let unrecovered = r
        .evidence
        .as_ref()
        .and_then(|e| e.details.get("recovered"))
        .is_some_and(|v| v == false);
    if unrecovered && r.verdict == Verdict::Pass {
        r.verdict = Verdict::Inconclusive;
        r.reason = Some(format!(
            "did not recover before the run ended; only a lower bound ({}) was observed",
            r.measured.map(|m| m.to_string()).unwrap_or_default()
        ));
    }
}

/// A timing breach the harness may have caused itself is not a verdict on the system:
/// - a latency percentile that breaches from the intended send times but holds from the
///   actual sends was made by the harness beginning requests late;
/// - a recovery time that breaches but would hold had the probe check that saw the service
///   back begun on time;
/// - any timing figure breached in a window where the harness ran more than
///   [`STARVED_LAG_P99`] behind its schedule was taken on a CPU-starved machine, which slows
///   the system under test as much as the harness.
///
/// Only breaches are demoted: lateness only ever adds to latency and outage times, so a
/// pass measured by a late harness still holds.
fn demote_breach_of_a_late_harness(slo: &Slo, r: &mut SloResult) {
    if r.verdict != Verdict::Breached || matches!(slo.metric, Metric::LostWrites) {
        return;
    }
    let detail = |key: &str| {
        r.evidence
            .as_ref()
            .and_then(|e| e.details.get(key))
            .and_then(|v| v.as_u64())
    };
    let lag = detail(HARNESS_LAG_P99_NS).map(Duration::from_nanos);
    let lag_text = lag.map(|l| format!(" (p99 {})", Quantity::Duration(l)));
    let measured = r.measured.map(|m| m.to_string()).unwrap_or_default();
    // The figure a punctual harness could have measured, when it would meet the target.
    let holds_at = |key: &str| {
        let bound = Quantity::Duration(Duration::from_nanos(detail(key)?));
        slo.op
            .holds(bound.as_f64(), slo.threshold.as_f64())
            .then_some(bound)
    };
    let punctual_reason = match slo.metric {
        Metric::Latency { .. } => holds_at(LATENCY_FROM_SEND_NS).map(|from_send| {
            format!(
                "measured {measured} from the intended send times but {from_send} from the actual \
                 sends: the harness began requests late{}, so the breach is not the system's",
                lag_text.unwrap_or_default()
            )
        }),
        Metric::RecoveryTime { .. } => holds_at(RECOVERY_IF_PUNCTUAL_NS).map(|punctual| {
            format!(
                "measured {measured}, but the probe check that saw the recovery began late: \
                 a punctual harness could have measured as little as {punctual}, within the \
                 target, so the breach is not the system's"
            )
        }),
        _ => None,
    };
    if let Some(reason) = punctual_reason {
        r.verdict = Verdict::Inconclusive;
        r.reason = Some(reason);
        return;
    }
    if let Some(lag) = lag.filter(|l| *l > STARVED_LAG_P99) {
        r.verdict = Verdict::Inconclusive;
        r.reason = Some(format!(
            "measured {measured}, target {}, but the harness ran up to {} behind its own \
             schedule in this window (p99; limit {}): the machine was starved of CPU, so the \
             breach cannot be pinned on the system; rerun on a quieter machine",
            r.target,
            Quantity::Duration(lag),
            Quantity::Duration(STARVED_LAG_P99)
        ));
    }
}

/// Faults applied late and a load that fell behind its schedule: not errors, but a reader
/// judging the figures should know.
fn lateness_notes(run: &RunArtifacts) -> Vec<String> {
    let mut notes = Vec::new();
    for f in &run.faults {
        let Some(applied) = f.applied_ns else {
            continue;
        };
        let late = Duration::from_nanos(applied.saturating_sub(f.scheduled_ns));
        if late > LATE_FAULT {
            notes.push(format!(
                "fault `{}` was applied {} after its planned time: the harness was late (a busy machine?)",
                f.name,
                Quantity::Duration(late)
            ));
        }
    }
    if let Some(lag) = run
        .analysis
        .phase("whole")
        .and_then(|p| p.lag_percentile_ns(99.0))
        .map(Duration::from_nanos)
        .filter(|l| *l > STARVED_LAG_P99)
    {
        notes.push(format!(
            "the load generator began its requests up to {} late (p99 over the run): the machine \
             was short of CPU; latency figures include that lateness",
            Quantity::Duration(lag)
        ));
    }
    notes
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
            FaultReport {
                name: f.name.clone(),
                action: f.action.clone(),
                service: planned.map(|p| p.service.clone()).unwrap_or_default(),
                targets: f.targets.clone(),
                scheduled_at_ms: ms(f.scheduled_ns),
                applied_at_ms: f.applied_ns.map(ms),
                verified_at_ms: f.verified_ns.map(ms),
                reverted_at_ms: f.reverted_ns.map(ms),
                applied: f.verified_ns.is_some(),
                evidence: serde_json::Value::Object(evidence),
                recovery: run
                    .analysis
                    .recovery
                    .iter()
                    .filter(|((fault, _), _)| fault == &f.name)
                    .map(|((_, probe), r)| RecoveryReport {
                        probe: probe.clone(),
                        recovered_at_ms: r.recovered_ns.map(ms),
                        recovery_time_ms: r.duration_ns().map(ms),
                    })
                    .collect(),
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

fn probe_reports(s: &Scenario, run: &RunArtifacts) -> Vec<ProbeReport> {
    s.probes
        .iter()
        .map(|p| {
            let (checks, ok) = run.analysis.probes.get(&p.name).copied().unwrap_or((0, 0));
            ProbeReport {
                name: p.name.clone(),
                kind: match p.kind {
                    crate::scenario::ProbeKind::Http { .. } => "http",
                    crate::scenario::ProbeKind::Tcp { .. } => "tcp",
                    crate::scenario::ProbeKind::Exec { .. } => "exec",
                    crate::scenario::ProbeKind::Health { .. } => "health",
                }
                .into(),
                service: p.kind.service().to_string(),
                checks,
                ok,
                failed: checks - ok,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::slo::{Evidence, SloResult, parse};

    fn breached(slo: &Slo, measured: Duration, details: &[(&str, u64)]) -> SloResult {
        SloResult {
            expression: slo.expression.clone(),
            verdict: Verdict::Breached,
            target: slo.target_text(),
            measured: Some(Quantity::Duration(measured)),
            reason: Some("measured, target".into()),
            evidence: Some(Evidence {
                window_ns: None,
                details: details
                    .iter()
                    .map(|(k, v)| (k.to_string(), json!(v)))
                    .collect(),
            }),
        }
    }

    const MS: u64 = 1_000_000;

    #[test]
    fn a_latency_breach_made_of_the_harness_being_late_is_inconclusive() {
        let slo = parse("p95(latency, during=crash) < 100ms").unwrap();
        let mut r = breached(
            &slo,
            Duration::from_millis(672),
            &[
                (LATENCY_FROM_SEND_NS, 40 * MS),
                (HARNESS_LAG_P99_NS, 640 * MS),
            ],
        );
        demote_breach_of_a_late_harness(&slo, &mut r);
        assert_eq!(r.verdict, Verdict::Inconclusive);
        let reason = r.reason.unwrap();
        assert!(reason.contains("from the actual sends"), "{reason}");
    }

    #[test]
    fn a_breach_on_a_starved_machine_is_inconclusive() {
        // Slow from the actual sends too, but the harness was 300 ms behind: the whole machine
        // was starved, the system with it.
        let slo = parse("p95(latency) < 100ms").unwrap();
        let mut r = breached(
            &slo,
            Duration::from_millis(650),
            &[
                (LATENCY_FROM_SEND_NS, 350 * MS),
                (HARNESS_LAG_P99_NS, 300 * MS),
            ],
        );
        demote_breach_of_a_late_harness(&slo, &mut r);
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert!(r.reason.unwrap().contains("starved"));

        let slo = parse("failover_time(crash) < 100ms").unwrap();
        let mut r = breached(
            &slo,
            Duration::from_millis(900),
            &[(HARNESS_LAG_P99_NS, 80 * MS)],
        );
        demote_breach_of_a_late_harness(&slo, &mut r);
        assert_eq!(r.verdict, Verdict::Inconclusive);
    }

    #[test]
    fn a_breach_by_a_punctual_harness_stands() {
        let slo = parse("p95(latency) < 100ms").unwrap();
        let mut r = breached(
            &slo,
            Duration::from_millis(280),
            &[(LATENCY_FROM_SEND_NS, 279 * MS), (HARNESS_LAG_P99_NS, MS)],
        );
        demote_breach_of_a_late_harness(&slo, &mut r);
        assert_eq!(r.verdict, Verdict::Breached);

        // No lateness recorded (an older event log): nothing to excuse the breach.
        let slo = parse("failover_time(crash) < 100ms").unwrap();
        let mut r = breached(&slo, Duration::from_millis(900), &[]);
        demote_breach_of_a_late_harness(&slo, &mut r);
        assert_eq!(r.verdict, Verdict::Breached);
    }

    #[test]
    fn a_recovery_breach_made_of_a_late_probe_check_is_inconclusive() {
        let slo = parse("recovery_time(crash, probe=md) < 1s").unwrap();
        let mut r = breached(
            &slo,
            Duration::from_millis(1400),
            &[(RECOVERY_IF_PUNCTUAL_NS, 900 * MS)],
        );
        demote_breach_of_a_late_harness(&slo, &mut r);
        assert_eq!(r.verdict, Verdict::Inconclusive);
        let mut r = breached(
            &slo,
            Duration::from_millis(1400),
            &[(RECOVERY_IF_PUNCTUAL_NS, 1390 * MS)],
        );
        demote_breach_of_a_late_harness(&slo, &mut r);
        assert_eq!(r.verdict, Verdict::Breached);
    }

    #[test]
    fn lost_writes_are_never_excused() {
        let slo = parse("lost_writes() <= 0").unwrap();
        let mut r = breached(&slo, Duration::ZERO, &[(HARNESS_LAG_P99_NS, 900 * MS)]);
        r.measured = Some(Quantity::Count(3));
        demote_breach_of_a_late_harness(&slo, &mut r);
        assert_eq!(r.verdict, Verdict::Breached);
    }

    #[test]
    fn a_pass_by_a_late_harness_still_passes() {
        let slo = parse("p95(latency) < 100ms").unwrap();
        let mut r = breached(
            &slo,
            Duration::from_millis(60),
            &[(HARNESS_LAG_P99_NS, 500 * MS)],
        );
        r.verdict = Verdict::Pass;
        demote_breach_of_a_late_harness(&slo, &mut r);
        assert_eq!(r.verdict, Verdict::Pass);
    }
}
