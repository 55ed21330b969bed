//! What is known of a run's sampling before it starts (the load's rate, the faults' and
//! probes' timings), for the metrics to say when an SLO could only ever be inconclusive
//! (`validate`'s warnings, `verdict::resolution`).

use std::time::Duration;

use super::{admits_no_failure, zero_target_spacing};
use crate::slo::{Phase, Slo};

/// The plan as the metrics' resolution warnings read it.
#[derive(Debug, Clone)]
pub struct Planned<'a> {
    /// The slowest rate the load ever runs at, a second; `None` without a load.
    pub rate: Option<f64>,
    /// The widest gap between two requests (at the slowest rate).
    pub gap: Option<Duration>,
    /// How long the load runs (within the run).
    pub load_for: Option<Duration>,
    /// The whole run's length.
    pub duration: Duration,
    /// Each fault's name and its `duration` when it has one.
    pub faults: Vec<(&'a str, Option<Duration>)>,
    /// Each probe.
    pub probes: Vec<PlannedProbe<'a>>,
}

/// A probe of the plan.
#[derive(Debug, Clone, Copy)]
pub struct PlannedProbe<'a> {
    /// Its `name:`.
    pub name: &'a str,
    /// Its check interval.
    pub every: Duration,
}

impl Planned<'_> {
    /// The length of the fault `fault`'s window, when known in advance (it has a duration).
    pub fn fault_for(&self, fault: &str) -> Option<Duration> {
        self.faults
            .iter()
            .find(|(name, _)| *name == fault)
            .and_then(|(_, d)| *d)
    }

    /// The length of a phase known in advance: a `during=` of a fault with a duration, or the
    /// whole load. A one-shot fault's or a before/after phase's is only known after the run.
    pub fn phase_for(&self, phase: &Phase) -> Option<Duration> {
        match phase {
            Phase::During(fault) => self.fault_for(fault),
            Phase::Whole => self.load_for,
            _ => None,
        }
    }

    /// About how many requests a window of `window` holds.
    pub fn expected(&self, window: Option<Duration>) -> Option<u64> {
        Some((self.rate? * window?.as_secs_f64()).floor() as u64)
    }

    /// For a zero target of the load's requests over `window` (`Some`, with its warning
    /// when the load is too sparse to resolve it); `None` when `slo` is not one. A zero
    /// target's resolution is the spacing (`zero_target_spacing`), not a gap-against-target
    /// comparison, which a zero target always fails.
    pub fn zero_target(&self, slo: &Slo, window: Option<Duration>) -> Option<Vec<String>> {
        let samples = self.expected(window);
        if !admits_no_failure(slo, samples) {
            return None;
        }
        Some(
            self.gap
                .and_then(|g| zero_target_spacing(slo, samples, g))
                .map(|why| {
                    format!(
                        "`{}`: {why}; it can only be inconclusive unless a failure is seen — \
                         raise the load's rate",
                        slo.expression
                    )
                })
                .into_iter()
                .collect(),
        )
    }
}
