//! The seeded plan: concrete start times for `between` windows and draws for `pick: random`.
//! Same scenario + same seed ⇒ same plan, on every machine (ChaCha8 is portable).

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::model::{AtSpec, Pick, Scenario};

/// The seeded plan of a run: every `between` start time and `pick: random` draw resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The seed every draw came from.
    pub seed: u64,
    /// In the scenario's order (not sorted by time).
    pub faults: Vec<PlannedFault>,
}

/// One fault of the plan, with its start and revert times fixed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedFault {
    /// Index into `Scenario::faults`.
    pub spec_index: usize,
    /// The fault's name (as in the scenario).
    pub name: String,
    /// Start, from the start of the load.
    pub at: Duration,
    /// When it is reverted (`at + duration`), for faults held for a duration.
    pub until: Option<Duration>,
    /// For `pick: random`: a uniform draw; the replica hit is `draw % replicas`, decided once
    /// the replicas are known.
    pub pick_draw: Option<u64>,
}

/// Resolves every random choice of `s` from `seed`. Each fault draws from its own ChaCha
/// stream (its index), so adding a fault at the end does not move the others.
pub fn resolve(s: &Scenario, seed: u64) -> Plan {
    let faults = s
        .faults
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(i as u64);
            let at = match f.at {
                AtSpec::Fixed(at) => at,
                AtSpec::Between(lo, hi) => {
                    // Millisecond resolution is far below what a run can distinguish and keeps
                    // plans readable.
                    let lo_ms = lo.as_millis() as u64;
                    let hi_ms = hi.as_millis() as u64;
                    Duration::from_millis(rng.random_range(lo_ms..=hi_ms))
                }
            };
            let pick_draw = (f.target.pick == Pick::Random).then(|| rng.random::<u64>());
            // (A blast radius uses the same draw: as the seed of the replicas' shuffle.)
            PlannedFault {
                spec_index: i,
                name: f.name.clone(),
                at,
                until: f.duration.map(|d| at + d),
                pick_draw,
            }
        })
        .collect();
    Plan { seed, faults }
}
