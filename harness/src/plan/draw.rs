//! The seeded draws of a plan: each fault's start time and replica pick.

use crate::scenario;

/// The seeded draws of fault `index`: its start time (a `between` window resolved to the
/// millisecond) and the random number that picks its replica(s). Same scenario + same seed ⇒
/// same draws on every machine (ChaCha8 is portable). Each fault draws from its own ChaCha
/// stream (its index), so adding a fault at the end does not move the others.
pub(super) fn draw(f: &scenario::FaultSpec, index: usize, seed: u64) -> (std::time::Duration, u64) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index as u64);
    let at = match f.at {
        scenario::AtSpec::Fixed(at) => at,
        scenario::AtSpec::Between(lo, hi) => {
            // Millisecond resolution is far below what a run can distinguish and keeps plans
            // readable.
            let (lo, hi) = (lo.as_millis() as u64, hi.as_millis() as u64);
            std::time::Duration::from_millis(rng.random_range(lo..=hi))
        }
    };
    // Drawn after the time, and only for a random pick, so that the stream (and so every
    // replay of an existing seed) stays what it was.
    let pick_draw = if f.target.pick == scenario::Pick::Random {
        rng.random::<u64>()
    } else {
        0
    };
    (at, pick_draw)
}
