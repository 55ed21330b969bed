//! The verdict: pass, breached or inconclusive — the one rule a release gate trusts, in one
//! place, pure (no Docker, no files) and typed.
//!
//! Input: the SLOs, the analysis of the event log, the fault records and the write check.
//! Output: each SLO's result with typed [`Facts`], the run's verdict, notes for the reader,
//! and whether the run measured the wiring rather than the system ([`Decision::never_answered`],
//! exit 3 at the CLI edge).
//!
//! Order of reasoning:
//! 1. [`MetricSource`] (here [`RunMetrics`]: each metric measures itself, in its file under
//!    `crate::metric`) answers each metric from the analysis, or says *no data* /
//!    *inconclusive* (a fault not proven applied) — never a guess;
//! 2. `evaluate` compares the figure with the target;
//! 3. `rules` demote a comparison that cannot be trusted (lower bound only, dropped requests,
//!    too few samples, a late harness, coarse resolution, an unresolved zero target) to
//!    *inconclusive*, reading of each metric what it says of itself;
//! 4. the run is the worst of its SLOs, and inconclusive when any fault was not proven.

pub mod early;
mod evaluate;
pub mod interval;
pub mod relative;
pub mod resolution;
pub mod rules;

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::metric::{Facts, RunMetrics, STARVED_LAG_P99};
pub use evaluate::{
    Evidence, Measurement, MetricSource, NEEDS_BASELINE, SloResult, Verdict, evaluate, overall,
};

use crate::fault::FaultRecord;
use crate::measure::{Analysis, WriteCheck};
use crate::slo::{Phase, Quantity, Slo};
use chaosgate_load::ErrorKind;

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
    /// The steady-state hypothesis (`steady_state:`): SLOs over the window before the first
    /// fault. Breached: the run is not judged ([`RunIssue::SteadyStateFailed`], exit 3);
    /// undecidable: inconclusive. Empty when the scenario states none.
    pub steady_state: &'a [Slo],
}

/// Why a run *as a whole* cannot pass, whatever its SLO rows say. Typed, written to
/// `report.json` (`run_issues`), and read back by every path that says something about a
/// build (`--repeat`, `ab` on both sides, `compare`, `annotate`, every report), so none of
/// them re-derives it from the verdict or from notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RunIssue {
    /// A fault could not be proven applied (no target matched, its proof never came): the
    /// run did not test what it says (exit 4).
    FaultUnproven {
        /// The fault's `name:`.
        fault: String,
        /// What went wrong, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A fault stopped acting before its revert (a stress helper killed by the OOM killer, a
    /// filled file removed): it held only part of its duration, so a pass proves nothing about
    /// the rest (exit 4); a breach it caused stands.
    FaultEndedEarly {
        /// The fault's `name:`.
        fault: String,
        /// How it ended, from its revert.
        reason: String,
    },
    /// The load target or a probe never answered before the first fault: the figures measure
    /// the wiring, not the system (exit 3).
    NeverAnswered {
        /// What did not answer, in words.
        detail: String,
    },
    /// The steady-state hypothesis (`steady_state:`) did not hold before the first fault:
    /// the system was already unhealthy, so the fault cannot be blamed (exit 3).
    SteadyStateFailed {
        /// Which steady-state SLO was breached, measured against target.
        detail: String,
    },
    /// The steady-state hypothesis could not be judged (no data or too coarse before the
    /// first fault): whether the system was healthy before the fault is unknown (exit 4).
    SteadyStateUnknown {
        /// Which steady-state SLO could not be judged, and why.
        detail: String,
    },
}

impl RunIssue {
    /// The exit code this issue forces at least: 3 when the run measured something other than
    /// the system under test, 4 when it could not be judged.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::NeverAnswered { .. } | Self::SteadyStateFailed { .. } => {
                crate::exit_codes::INFRASTRUCTURE
            }
            Self::FaultUnproven { .. }
            | Self::FaultEndedEarly { .. }
            | Self::SteadyStateUnknown { .. } => crate::exit_codes::INCONCLUSIVE,
        }
    }

    /// The issue in words, for notes, annotations and the terminal.
    pub fn text(&self) -> String {
        match self {
            Self::FaultUnproven { fault, reason } => format!(
                "fault `{fault}` could not be proven applied{}",
                reason
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ),
            Self::FaultEndedEarly { fault, reason } => {
                format!("fault `{fault}` did not hold its whole duration ({reason})")
            }
            Self::NeverAnswered { detail } => detail.clone(),
            Self::SteadyStateFailed { detail } => format!(
                "the steady state did not hold before the first fault ({detail}): the system \
                 was already unhealthy, so the run was not judged"
            ),
            Self::SteadyStateUnknown { detail } => {
                format!("the steady state could not be judged before the first fault ({detail})")
            }
        }
    }
}

impl std::fmt::Display for RunIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

/// The one run-level rule, for a single run and for a gate over many: the worst verdict of
/// the gating SLOs; nothing gating judged is inconclusive (nothing was shown to hold); any
/// [`RunIssue`] makes it at least inconclusive. Advisory SLOs never reach this.
pub fn run_verdict(gating: impl IntoIterator<Item = Verdict>, issues: &[RunIssue]) -> Verdict {
    let verdict = gating.into_iter().max().unwrap_or(Verdict::Inconclusive);
    if issues.is_empty() {
        verdict
    } else {
        verdict.max(Verdict::Inconclusive)
    }
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
    /// Why the run as a whole cannot pass (typed; `never_answered` is one of them too).
    pub issues: Vec<RunIssue>,
    /// The steady-state SLOs judged on the window before the first fault, in order.
    pub steady_state: Vec<SloResult>,
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
    let mut notes = Vec::new();
    let mut issues = Vec::new();
    for f in input.faults {
        if f.verified_ns.is_none() {
            let issue = RunIssue::FaultUnproven {
                fault: f.name.clone(),
                reason: f.error.clone(),
            };
            notes.push(format!("{issue}: the run cannot pass"));
            issues.push(issue);
        } else if let Some(reason) = &f.ended_early {
            let issue = RunIssue::FaultEndedEarly {
                fault: f.name.clone(),
                reason: reason.clone(),
            };
            notes.push(format!("{issue}: the run cannot pass"));
            issues.push(issue);
        }
    }
    let never_answered = never_answered(input.analysis);
    if let Some(detail) = &never_answered {
        issues.push(RunIssue::NeverAnswered {
            detail: detail.clone(),
        });
    }
    let mut steady_state = evaluate(input.steady_state, &metrics);
    for (slo, r) in input.steady_state.iter().zip(&mut steady_state) {
        rules::apply(slo, r);
        let detail = format!(
            "`{}`: {}",
            r.expression,
            r.reason.as_deref().unwrap_or(r.verdict.as_str())
        );
        match r.verdict {
            Verdict::Pass => {}
            Verdict::Breached => issues.push(RunIssue::SteadyStateFailed { detail }),
            Verdict::Inconclusive => issues.push(RunIssue::SteadyStateUnknown { detail }),
        }
    }
    // A run that measured something other than the system under test (the wiring, or a
    // system already unhealthy before the fault) has no SLO verdict to give.
    if let Some(why) = issues
        .iter()
        .find(|i| i.exit_code() == crate::exit_codes::INFRASTRUCTURE)
        .map(RunIssue::text)
    {
        for r in &mut results {
            r.verdict = Verdict::Inconclusive;
            r.reason = Some(format!("not judged: {why}"));
        }
    }
    let verdict = run_verdict(
        input
            .slos
            .iter()
            .zip(&results)
            .filter(|(slo, _)| slo.gates())
            .map(|(_, r)| r.verdict),
        &issues,
    );
    notes.extend(lateness_notes(input));
    if let Some(dropped) = input
        .analysis
        .phase(&Phase::Whole)
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
        never_answered,
        issues,
        steady_state,
    }
}

/// The load or a probe that had no success at all before the first fault (over the whole
/// run when there is none) was pointed at something that does not answer: a scenario or
/// wiring mistake, not a verdict on the system.
fn never_answered(a: &Analysis) -> Option<String> {
    let mut silent = Vec::new();
    let mut tls_failed = false;
    let load_phase = if a.faults.is_empty() {
        Phase::Whole
    } else {
        Phase::Before
    };
    if let Some(p) = a
        .phase(&load_phase)
        .filter(|p| p.scheduled > 0 && p.ok == 0)
    {
        tls_failed = [ErrorKind::Certificate, ErrorKind::TlsHandshake]
            .iter()
            .any(|k| p.errors_by_kind.contains_key(k.as_str()));
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
            "never answered: {} — check the scenario's URLs and ports against the stack{}",
            silent.join("; "),
            if tls_failed {
                ", and `tls:` (the CA that signed the server's certificate, the name it is \
                 for) against the server"
            } else {
                ""
            }
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
        .phase(&Phase::Whole)
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
