//! The verdict: pass, breached or inconclusive — the one rule a release gate trusts, in one
//! place, pure (no Docker, no files) and typed.
//!
//! Input: the SLOs, the analysis of the event log, the fault records and the write check.
//! Output: each SLO's result with typed [`Facts`], the run's verdict, notes for the reader,
//! and whether the run measured the wiring rather than the system ([`Decision::never_answered`],
//! exit 3 at the CLI edge).
//!
//! Order of reasoning:
//! 1. [`MetricSource`] (here [`RunMetrics`]) answers each metric from the analysis, or says
//!    *no data* / *inconclusive* (a fault not proven applied) — never a guess;
//! 2. `evaluate` compares the figure with the target;
//! 3. `rules` demote a comparison that cannot be trusted (lower bound only, dropped requests,
//!    too few samples, a late harness, coarse resolution) to *inconclusive*;
//! 4. the run is the worst of its SLOs, and inconclusive when any fault was not proven.

pub mod early;
mod evaluate;
mod facts;
pub mod interval;
mod measured;
pub mod relative;
pub mod resolution;
pub mod rules;

use std::time::Duration;

pub use evaluate::{
    Evidence, Measurement, MetricSource, NEEDS_BASELINE, SloResult, Verdict, evaluate, overall,
};
pub use facts::Facts;
pub use measured::RunMetrics;
pub use rules::STARVED_LAG_P99;

use crate::fault::FaultRecord;
use crate::measure::{Analysis, WriteCheck};
use crate::slo::{Quantity, Slo};

/// A fault applied this long after its planned time is worth telling (a starved harness):
/// targets are looked up a second ahead, and measured 0.6–7.3 ms late on a busy machine.
pub const LATE_FAULT: Duration = Duration::from_millis(50);

/// Everything the verdict is decided from.
pub struct Inputs<'a> {
    /// The scenario's SLOs, in order.
    pub slos: &'a [Slo],
    /// What was measured from the run's timeline.
    pub analysis: &'a Analysis,
    /// What happened to each fault.
    pub faults: &'a [FaultRecord],
    /// The lost-writes check, when the load wrote with unique ids.
    pub writes: Option<&'a WriteCheck>,
}

/// The decided verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// One per SLO, in the scenario's order.
    pub results: Vec<SloResult>,
    /// The run's verdict: the worst of `results`, at least inconclusive when a fault was not
    /// proven applied (exit 0/1/4 by [`crate::exit_codes::of_decision`], which makes
    /// `never_answered` exit 3).
    pub verdict: Verdict,
    /// What a reader judging the figures should know (unproven faults, lateness, drops).
    pub notes: Vec<String>,
    /// Set when the load target or a probe never answered before the first fault: the
    /// scenario or its wiring is wrong (a wrong port, a wrong path), and the figures say
    /// nothing about the system. The CLI maps this to exit 3, whatever `verdict` says.
    pub never_answered: Option<String>,
}

/// Decides the verdict of a finished run.
pub fn decide(input: &Inputs<'_>) -> Decision {
    let metrics = RunMetrics {
        analysis: input.analysis,
        faults: input.faults,
        writes: input.writes,
    };
    let mut results = evaluate(input.slos, &metrics);
    for (slo, r) in input.slos.iter().zip(&mut results) {
        rules::apply(slo, r);
    }
    let mut verdict = overall(&results);
    let mut notes = Vec::new();
    for f in input.faults {
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
    notes.extend(lateness_notes(input));
    if let Some(dropped) = input
        .analysis
        .phase("whole")
        .map(|p| p.dropped)
        .filter(|n| *n > 0)
    {
        notes.push(format!(
            "{dropped} scheduled request(s) were never sent (the load generator's queue \
             overflowed); they count as errors, and no latency SLO of their window can pass"
        ));
    }
    Decision {
        results,
        verdict,
        notes,
        never_answered: never_answered(input.analysis),
    }
}

/// The load or a probe that had no success at all before the first fault (over the whole
/// run when there is none) was pointed at something that does not answer: a scenario or
/// wiring mistake, not a verdict on the system.
fn never_answered(a: &Analysis) -> Option<String> {
    let mut silent = Vec::new();
    let load_phase = if a.faults.is_empty() {
        "whole"
    } else {
        "before"
    };
    if let Some(p) = a.phase(load_phase).filter(|p| p.scheduled > 0 && p.ok == 0) {
        let kinds: Vec<String> = p
            .errors_by_kind
            .iter()
            .map(|(k, n)| format!("{n} × {k}"))
            .collect();
        silent.push(format!(
            "the load target: 0 of {} request(s) succeeded{} ({})",
            p.scheduled,
            if a.faults.is_empty() {
                ""
            } else {
                " before the first fault"
            },
            kinds.join(", ")
        ));
    }
    for (probe, (checks, ok)) in &a.probes_before {
        if *checks > 0 && *ok == 0 {
            silent.push(format!(
                "probe `{probe}`: 0 of {checks} check(s) succeeded{}",
                if a.faults.is_empty() {
                    ""
                } else {
                    " before the first fault"
                }
            ));
        }
    }
    (!silent.is_empty()).then(|| {
        format!(
            "never answered: {} — check the scenario's URLs and ports against the stack",
            silent.join("; ")
        )
    })
}

/// Faults applied late and a load that fell behind its schedule: not errors, but a reader
/// judging the figures should know.
fn lateness_notes(input: &Inputs<'_>) -> Vec<String> {
    let mut notes = Vec::new();
    for f in input.faults {
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
    if let Some(lag) = input
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
