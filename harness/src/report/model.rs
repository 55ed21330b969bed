//! The versioned report model (`report.json`, schema in `schemas/report.schema.json`). Every
//! figure is recomputable from the run's event log; times are milliseconds on the run clock
//! (0 = start of the load).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::slo::{Phase, Quantity};
use crate::verdict::{SloResult, Verdict};

/// Bumped on any change a consumer could notice.
pub const SCHEMA_VERSION: &str = "1";

/// One run of one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "chaosgate report")]
pub struct Report {
    /// Always "1" for this layout.
    pub schema_version: String,
    /// The scenario file this run executed.
    pub scenario: ScenarioInfo,
    /// Replays the same fault schedule with `--seed`.
    pub seed: u64,
    /// Unique id of this run (hex, from the start time, the seed and the process id); part of
    /// the Compose project name and of the rules' `chaosgate:<run_id>:...` markers.
    pub run_id: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// Wall time of the whole run (stack up to stack down).
    pub duration_ms: f64,
    /// The run's verdict over every SLO (and every fault's proof of application).
    pub verdict: Verdict,
    /// 0 pass, 1 breached, 2 bad input, 3 infrastructure, 4 inconclusive.
    pub exit_code: i32,
    /// Set when no SLO was judged because the run measured the wiring, not the system (the
    /// load or a probe never answered before the first fault; exit 3): why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_judged: Option<String>,
    /// Why the run *as a whole* cannot pass, whatever its SLO rows say (a fault not proven
    /// applied, a target that never answered, a failed steady state); empty when none.
    /// `compare`, `annotate` and the gates read this, never the notes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub run_issues: Vec<crate::verdict::RunIssue>,
    /// What exactly was tested: image IDs, file hashes, git commit, harness version, host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<crate::provenance::Provenance>,
    /// Set when `--fail-fast` stopped the run before its planned end: when and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_early: Option<StoppedEarly>,
    /// The Compose stack the run brought up.
    pub stack: StackInfo,
    /// Request figures per phase: `whole`, then (when there are faults) `before`, one
    /// `during:<fault>` per fault, and `after`.
    pub phases: Vec<PhaseReport>,
    /// Every fault of the run, with its timings and the proof it took effect.
    pub faults: Vec<FaultReport>,
    /// Every SLO of the scenario, in the scenario's order, with its verdict.
    pub slos: Vec<SloReport>,
    /// The steady-state hypothesis (`steady_state:`), judged on the window before the first
    /// fault; empty when the scenario states none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steady_state: Vec<SloReport>,
    /// Every probe of the scenario with its check counts.
    pub probes: Vec<ProbeReport>,
    /// One point per second of load.
    pub series: Vec<SecondPoint>,
    /// Anything a reader should know (e.g. a fault that could not be verified).
    pub notes: Vec<String>,
}

impl Report {
    /// Why this run as a whole could not pass: its typed `run_issues`, or — for a report
    /// written before they were recorded — what its fault records (`applied: false`) and
    /// `not_judged` say. Every consumer of a written report (`compare`, `annotate`) reads
    /// this, never the notes.
    pub fn whole_run_issues(&self) -> Vec<crate::verdict::RunIssue> {
        if !self.run_issues.is_empty() {
            return self.run_issues.clone();
        }
        let mut issues: Vec<crate::verdict::RunIssue> = self
            .faults
            .iter()
            .filter(|f| !f.applied)
            .map(|f| crate::verdict::RunIssue::FaultUnproven {
                fault: f.name.clone(),
                reason: None,
            })
            .collect();
        if let Some(detail) = &self.not_judged {
            issues.push(crate::verdict::RunIssue::NeverAnswered {
                detail: detail.clone(),
            });
        }
        issues
    }
}

/// A run fail-fast stopped because an SLO could no longer pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoppedEarly {
    /// When the run was stopped, from the load's start.
    pub at_ms: f64,
    /// The run's planned length.
    pub planned_ms: f64,
    /// The SLO certainly breached.
    pub slo: String,
    /// Why it could no longer pass.
    pub reason: String,
}

/// The scenario a report was produced from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioInfo {
    /// The scenario's `name:` field.
    pub name: String,
    /// Path of the scenario file the run loaded.
    pub file: String,
    /// The scenario's `description:` field (empty when it has none).
    pub description: String,
}

/// The Docker Compose stack a run used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StackInfo {
    /// Compose project name.
    pub project: String,
    /// The Compose files of the stack, in the order given to `docker compose -f`.
    pub compose_files: Vec<String>,
    /// Every service of the stack, with its containers.
    pub services: Vec<ServiceInfo>,
}

/// One Compose service of the stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceInfo {
    /// The service's name in the Compose file.
    pub name: String,
    /// Names of the service's containers during the run.
    pub containers: Vec<String>,
}

/// Request figures for one part of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseReport {
    /// `before`, `during:<fault>`, `after` or `whole`.
    pub name: Phase,
    /// Phase start on the run clock, ms.
    pub start_ms: f64,
    /// Phase end on the run clock, ms.
    pub end_ms: f64,
    /// Requests whose intended send time fell in the phase.
    pub scheduled: u64,
    /// Scheduled requests answered with a 2xx.
    pub ok: u64,
    /// Scheduled requests that failed: non-2xx responses and errors of every kind.
    pub errors: u64,
    /// errors / scheduled; absent when nothing was scheduled.
    pub error_rate: Option<f64>,
    /// ok / scheduled; absent when nothing was scheduled.
    pub availability: Option<f64>,
    /// From intended send time (corrected for coordinated omission); absent without samples.
    pub latency_ms: Option<LatencySummary>,
    /// How late the harness itself began the requests (intended → actual start). Near zero
    /// on a machine with CPU to spare; large values mean the figures above include the
    /// harness's own delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness_lag_ms: Option<LatencySummary>,
    /// e.g. `timeout`, `connect`, `status_5xx`.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// HTTP status → count.
    pub status_counts: BTreeMap<String, u64>,
}

/// Latency percentiles in milliseconds, from an HdrHistogram (1 µs to 60 s, 3 significant
/// digits: ±0.1 %).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencySummary {
    /// Median, ms.
    pub p50: f64,
    /// 90th percentile, ms.
    pub p90: f64,
    /// 95th percentile, ms.
    pub p95: f64,
    /// 99th percentile, ms.
    pub p99: f64,
    /// 99.9th percentile, ms (`p99.9` in JSON).
    #[serde(rename = "p99.9")]
    pub p99_9: f64,
    /// Largest value, ms.
    pub max: f64,
}

/// One fault of the run: when it was scheduled, applied, verified and reverted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultReport {
    /// The fault's `name:` in the scenario.
    pub name: String,
    /// `crash`, `stop`, `latency`, ...
    pub action: String,
    /// The Compose service (Kubernetes: workload) the fault targets.
    pub service: String,
    /// The target's label selector (`target.labels`); absent when it has none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Container (Kubernetes: pod) names the fault hit.
    pub targets: Vec<String>,
    /// When the fault was due, run-clock ms.
    pub scheduled_at_ms: f64,
    /// When the harness applied it, run-clock ms; absent if it never did.
    pub applied_at_ms: Option<f64>,
    /// When the effect was observed (container died, rule present).
    pub verified_at_ms: Option<f64>,
    /// When it was undone, run-clock ms; absent if it never was.
    pub reverted_at_ms: Option<f64>,
    /// False when the fault could not be proven applied: its SLOs are then inconclusive.
    pub applied: bool,
    /// What proved it (Docker events, rule listings), as recorded.
    pub evidence: serde_json::Value,
    /// Per probe: when it recovered after this fault.
    pub recovery: Vec<RecoveryReport>,
    /// The longest client-visible outage in the fault window; absent when no request fell
    /// in the window.
    pub failover: Option<FailoverReport>,
}

/// When one probe recovered after a fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryReport {
    /// The probe's `name:` in the scenario.
    pub probe: String,
    /// First of the N consecutive successful checks; absent if the probe never recovered.
    pub recovered_at_ms: Option<f64>,
    /// From the fault's start.
    pub recovery_time_ms: Option<f64>,
}

/// The failover time of one fault: the longest run of failing client requests inside its
/// window, ended by N consecutive successes (N as for recovery).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailoverReport {
    /// Longest window of failing client requests inside the fault window.
    pub longest_outage_ms: f64,
    /// Intended send time of the outage's first failed request, run-clock ms; absent when no
    /// request failed.
    pub outage_start_ms: Option<f64>,
    /// Intended send time of the first of the N successes that ended the outage (or of the
    /// load's last request when none did), run-clock ms; absent when no request failed.
    pub outage_end_ms: Option<f64>,
    /// Failed requests in the longest outage.
    pub failed_requests: u64,
}

/// One SLO of the scenario and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SloReport {
    /// The SLO as written in the scenario, e.g. `p95(latency)`.
    pub expression: String,
    /// Pass, breached or inconclusive. Any breached gating SLO makes the run exit 1; otherwise
    /// any inconclusive gating one makes it exit 4 (an `advisory` one never changes the exit).
    pub verdict: Verdict,
    /// e.g. `< 100ms`.
    pub target: String,
    /// The figure the SLO compared against its target; absent when nothing was measured.
    pub measured: Option<MeasuredValue>,
    /// Why the verdict is what it is (e.g. why an inconclusive SLO could not be judged).
    pub reason: Option<String>,
    /// The window and figures the verdict was computed from.
    pub evidence: Option<EvidenceReport>,
    /// `severity: advisory`: reported and annotated as a warning, never part of the run's
    /// verdict or exit code.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub advisory: bool,
}

/// A measured SLO figure, in a stated unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasuredValue {
    /// `ms`, `ratio` or `count`.
    pub unit: String,
    /// The figure in `unit` (a ratio is 0..1, not a percentage).
    pub value: f64,
    /// As shown to people, e.g. `87.3ms`, `0.4%`.
    pub text: String,
}

impl From<Quantity> for MeasuredValue {
    fn from(q: Quantity) -> Self {
        let (unit, value) = match q {
            Quantity::Duration(d) => ("ms", d.as_secs_f64() * 1000.0),
            Quantity::Ratio(r) => ("ratio", r),
            Quantity::Count(c) => ("count", c as f64),
            Quantity::Number(n) => ("number", n),
        };
        Self {
            unit: unit.into(),
            value,
            text: q.to_string(),
        }
    }
}

/// What an SLO verdict was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceReport {
    /// [start, end] on the run clock.
    pub window_ms: Option<(f64, f64)>,
    /// Named figures behind the verdict, as JSON values.
    pub details: BTreeMap<String, serde_json::Value>,
}

impl From<&SloResult> for SloReport {
    fn from(r: &SloResult) -> Self {
        Self {
            expression: r.expression.clone(),
            verdict: r.verdict,
            target: r.target.clone(),
            measured: r.measured.map(MeasuredValue::from),
            reason: r.reason.clone(),
            evidence: r.evidence.as_ref().map(|e| EvidenceReport {
                window_ms: e.window_ns.map(|(a, b)| (a as f64 / 1e6, b as f64 / 1e6)),
                details: e.report_details(),
            }),
            advisory: false,
        }
    }
}

/// One probe's checks over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeReport {
    /// The probe's `name:` in the scenario.
    pub name: String,
    /// `http`, `tcp`, `exec` or `health`.
    pub kind: String,
    /// The Compose service the probe checks.
    pub service: String,
    /// Checks made during the run.
    pub checks: u64,
    /// Checks that succeeded.
    pub ok: u64,
    /// Checks that did not succeed.
    pub failed: u64,
}

/// Requests by the second their intended send time fell in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondPoint {
    /// Seconds since the start of the load.
    pub t: u64,
    /// Requests whose intended send time fell in that second, every outcome (= `ok + errors`).
    pub sent: u64,
    /// Of those, the successful ones (2xx).
    pub ok: u64,
    /// Of those, the failed ones: non-2xx responses and errors of every kind.
    pub errors: u64,
    /// Median latency of that second's requests from their intended send time, ms, every
    /// outcome included (2 significant digits); absent when the second had none.
    pub p50_ms: Option<f64>,
    /// 99th percentile latency of that second's requests, ms, counted as `p50_ms`; absent
    /// when the second had none.
    pub p99_ms: Option<f64>,
}

/// The JSON Schema of `report.json` (checked in as `schemas/report.schema.json`).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Report))
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }))
}
