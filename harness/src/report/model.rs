//! The versioned report model (`report.json`, schema in `schemas/report.schema.json`). Every
//! figure is recomputable from the run's event log; times are milliseconds on the run clock
//! (0 = start of the load).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::slo::Quantity;
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
    pub scenario: ScenarioInfo,
    /// Replays the same fault schedule with `--seed`.
    pub seed: u64,
    pub run_id: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// Wall time of the whole run (stack up to stack down).
    pub duration_ms: f64,
    pub verdict: Verdict,
    /// 0 pass, 1 breached, 2 bad input, 3 infrastructure, 4 inconclusive.
    pub exit_code: i32,
    /// Set when no SLO was judged because the run measured the wiring, not the system (the
    /// load or a probe never answered before the first fault; exit 3): why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_judged: Option<String>,
    /// What exactly was tested: image IDs, file hashes, git commit, harness version, host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<crate::provenance::Provenance>,
    /// Set when `--fail-fast` stopped the run before its planned end: when and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_early: Option<StoppedEarly>,
    pub stack: StackInfo,
    pub phases: Vec<PhaseReport>,
    pub faults: Vec<FaultReport>,
    pub slos: Vec<SloReport>,
    pub probes: Vec<ProbeReport>,
    /// One point per second of load.
    pub series: Vec<SecondPoint>,
    /// Anything a reader should know (e.g. a fault that could not be verified).
    pub notes: Vec<String>,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioInfo {
    pub name: String,
    pub file: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StackInfo {
    /// Compose project name.
    pub project: String,
    pub compose_files: Vec<String>,
    pub services: Vec<ServiceInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceInfo {
    pub name: String,
    pub containers: Vec<String>,
}

/// Request figures for one part of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseReport {
    /// `before`, `during:<fault>`, `after` or `whole`.
    pub name: String,
    pub start_ms: f64,
    pub end_ms: f64,
    /// Requests whose intended send time fell in the phase.
    pub scheduled: u64,
    pub ok: u64,
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

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencySummary {
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    #[serde(rename = "p99.9")]
    pub p99_9: f64,
    pub max: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultReport {
    pub name: String,
    /// `crash`, `stop`, `latency`, ...
    pub action: String,
    pub service: String,
    /// Container names the fault hit.
    pub targets: Vec<String>,
    pub scheduled_at_ms: f64,
    pub applied_at_ms: Option<f64>,
    /// When the effect was observed (container died, rule present).
    pub verified_at_ms: Option<f64>,
    pub reverted_at_ms: Option<f64>,
    /// False when the fault could not be proven applied: its SLOs are then inconclusive.
    pub applied: bool,
    /// What proved it (Docker events, rule listings), as recorded.
    pub evidence: serde_json::Value,
    pub recovery: Vec<RecoveryReport>,
    pub failover: Option<FailoverReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryReport {
    pub probe: String,
    /// First of the N consecutive successful checks; absent if the probe never recovered.
    pub recovered_at_ms: Option<f64>,
    /// From the fault's start.
    pub recovery_time_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailoverReport {
    /// Longest window of failing client requests inside the fault window.
    pub longest_outage_ms: f64,
    pub outage_start_ms: Option<f64>,
    pub outage_end_ms: Option<f64>,
    pub failed_requests: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SloReport {
    pub expression: String,
    pub verdict: Verdict,
    /// e.g. `< 100ms`.
    pub target: String,
    pub measured: Option<MeasuredValue>,
    pub reason: Option<String>,
    pub evidence: Option<EvidenceReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasuredValue {
    /// `ms`, `ratio` or `count`.
    pub unit: String,
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
        };
        Self {
            unit: unit.into(),
            value,
            text: q.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceReport {
    /// [start, end] on the run clock.
    pub window_ms: Option<(f64, f64)>,
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
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeReport {
    pub name: String,
    /// `http`, `tcp`, `exec` or `health`.
    pub kind: String,
    pub service: String,
    pub checks: u64,
    pub ok: u64,
    pub failed: u64,
}

/// Requests by the second their intended send time fell in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondPoint {
    /// Seconds since the start of the load.
    pub t: u64,
    pub sent: u64,
    pub ok: u64,
    pub errors: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// The JSON Schema of `report.json` (checked in as `schemas/report.schema.json`).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Report))
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }))
}
