//! Replayable randomness: every random choice is a pure function of the run's seed and of
//! stable indices (connection number, toxic number, stream), never of scheduling order.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::toxic::Flow;

/// Separates the toxicity draws from the per-stream draws (jitter, slice sizes) of one seed.
const STREAM_SEED_SALT: u64 = 0x5eed_0fca_0500_0001;

/// Whether toxic number `toxic_id` applies to connection number `conn_id`.
///
/// The draw does not depend on which other toxics exist or on the order connections are
/// served in, so a run with the same seed and the same connection order replays exactly.
pub(crate) fn toxicity_applies(seed: u64, conn_id: u64, toxic_id: u64, toxicity: f64) -> bool {
    if toxicity >= 1.0 {
        return true;
    }
    if toxicity <= 0.0 {
        return false;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(conn_id);
    // Each toxic owns its own block of the connection's key stream.
    rng.set_word_pos(u128::from(toxic_id) * 16);
    rng.random::<f64>() < toxicity
}

/// The generator for jitter and slice sizes of one stream of one connection.
pub(crate) fn flow_rng(seed: u64, conn_id: u64, flow: Flow) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ STREAM_SEED_SALT);
    rng.set_stream(conn_id.wrapping_mul(2).wrapping_add(flow.index()));
    rng
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_same_draw_and_fraction_follows_toxicity() {
        let picked: Vec<bool> = (0..2000)
            .map(|conn| toxicity_applies(42, conn, 1, 0.3))
            .collect();
        let again: Vec<bool> = (0..2000)
            .map(|conn| toxicity_applies(42, conn, 1, 0.3))
            .collect();
        assert_eq!(picked, again);
        let fraction = picked.iter().filter(|p| **p).count() as f64 / picked.len() as f64;
        assert!((0.25..0.35).contains(&fraction), "fraction {fraction}");
        let other_seed: Vec<bool> = (0..2000)
            .map(|conn| toxicity_applies(43, conn, 1, 0.3))
            .collect();
        assert_ne!(picked, other_seed);
    }

    #[test]
    fn extremes_are_exact() {
        assert!((0..500).all(|c| toxicity_applies(7, c, 3, 1.0)));
        assert!((0..500).all(|c| !toxicity_applies(7, c, 3, 0.0)));
    }
}
