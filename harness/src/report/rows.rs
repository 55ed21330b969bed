//! The rows of the human-facing tables (faults, phases), built once from a [`Report`] so that
//! Markdown and HTML show the same figures the same way. Cells are plain text; each writer
//! escapes them for its format and picks its columns (the PR-comment Markdown keeps fewer).

use super::Report;
use super::format::{at, ms, opt_ms, percent};

/// One fault, as the faults tables show it.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRow {
    /// The fault's name.
    pub name: String,
    /// Its action as scenario files spell it.
    pub action: String,
    /// The containers or pods it acted on, `, `-separated.
    pub targets: String,
    /// Run-clock time it was planned for (`10.000s`).
    pub scheduled: String,
    /// When it was applied; `None` when it was not proven applied (what the reader must see).
    pub applied: Option<String>,
    /// When its proof came, or `—`.
    pub verified: String,
    /// When it was reverted, or `—`.
    pub reverted: String,
    /// Per probe: `NAME 1.42s` or `NAME never`; empty when no probe timed it.
    pub recovery: Vec<String>,
    /// The longest client-visible outage in its window, or `—`.
    pub failover: String,
    /// What the fault measurably did (its evidence's `effect`: `192.0 MiB held`, `28 of 43
    /// matching requests aborted`), or `—` for kinds that say nothing of it.
    pub effect: String,
}

/// One phase (before, during a fault, after), as the phases tables show it.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseRow {
    /// The phase's name (`before`, `during:crash-primary`, ...).
    pub name: String,
    /// `10.000s–20.000s`.
    pub window: String,
    /// Requests scheduled in it.
    pub scheduled: u64,
    /// Requests that succeeded.
    pub ok: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Failed / scheduled, as a percentage, or `—`.
    pub error_rate: String,
    /// Latency percentiles from intended send times, or `—`: p50, p90, p95, p99, p99.9, max.
    pub latency: [String; 6],
    /// The harness's own sending lag, p99, or `—`.
    pub harness_lag_p99: String,
}

/// The faults tables' rows, in the report's order.
pub fn fault_rows(report: &Report) -> Vec<FaultRow> {
    report
        .faults
        .iter()
        .map(|f| FaultRow {
            name: f.name.clone(),
            action: f.action.clone(),
            targets: f.targets.join(", "),
            scheduled: at(Some(f.scheduled_at_ms)),
            applied: f.applied.then(|| at(f.applied_at_ms)),
            verified: at(f.verified_at_ms),
            reverted: at(f.reverted_at_ms),
            recovery: f
                .recovery
                .iter()
                .map(|r| match r.recovery_time_ms {
                    Some(t) => format!("{} {}", r.probe, ms(t)),
                    None => format!("{} never", r.probe),
                })
                .collect(),
            failover: f
                .failover
                .as_ref()
                .map_or("—".into(), |fo| ms(fo.longest_outage_ms)),
            effect: effect_of(&f.evidence).unwrap_or_else(|| "—".into()),
        })
        .collect()
}

/// The phases tables' rows, in the report's order.
pub fn phase_rows(report: &Report) -> Vec<PhaseRow> {
    report
        .phases
        .iter()
        .map(|p| {
            let l = p.latency_ms;
            PhaseRow {
                name: p.name.to_string(),
                window: format!("{}–{}", at(Some(p.start_ms)), at(Some(p.end_ms))),
                scheduled: p.scheduled,
                ok: p.ok,
                errors: p.errors,
                error_rate: percent(p.error_rate),
                latency: [
                    opt_ms(l.map(|l| l.p50)),
                    opt_ms(l.map(|l| l.p90)),
                    opt_ms(l.map(|l| l.p95)),
                    opt_ms(l.map(|l| l.p99)),
                    opt_ms(l.map(|l| l.p99_9)),
                    opt_ms(l.map(|l| l.max)),
                ],
                harness_lag_p99: opt_ms(p.harness_lag_ms.map(|l| l.p99)),
            }
        })
        .collect()
}

/// The `effect` line a fault's executor wrote into its evidence (fault/: the size measured at
/// the kernel or the proxy), if any.
pub fn effect_of(evidence: &serde_json::Value) -> Option<String> {
    evidence.get("effect")?.as_str().map(str::to_owned)
}

/// The whole run's errors by kind, most frequent first (`status_503 100, reset 2`): what the
/// error count alone does not say (a refused connection and a 503 are different bugs). `None`
/// when no request failed.
pub fn errors_by_kind(report: &Report) -> Option<String> {
    let whole = report
        .phases
        .iter()
        .find(|p| p.name == crate::slo::Phase::Whole)?;
    let mut kinds: Vec<(&String, &u64)> = whole
        .errors_by_kind
        .iter()
        .filter(|(_, n)| **n > 0)
        .collect();
    if kinds.is_empty() {
        return None;
    }
    kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    Some(
        kinds
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
    )
}
