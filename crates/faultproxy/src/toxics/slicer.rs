//! `slicer`: each chunk cut into small pieces sent apart.
//!
//! It shows the server (or the client) a message arriving in many reads, the case parsers
//! that assume one read = one message get wrong; with a `delay` between pieces it also
//! spreads one message over time, as a slow sender does. Sizes are drawn from the stream's
//! seeded generator, so a run replays the same cuts. Several slicers cut each other's pieces
//! again and their delays add up.

use std::time::Duration;

use bytes::Bytes;
use rand::Rng;

use super::{Cx, Kind};
use crate::counters::bump;

/// Splits each chunk into pieces of about `avg_size ± size_variation` bytes, `delay` apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slicer {
    /// Mean piece size in bytes; above 0.
    pub avg_size: usize,
    /// Maximum deviation from `avg_size` in bytes, drawn per piece; below `avg_size`.
    pub size_variation: usize,
    /// Pause between two pieces of a chunk.
    pub delay: Duration,
}

impl Kind for Slicer {
    fn check(&self) -> Result<(), &'static str> {
        // A piece of 0 bytes would never finish a chunk; a variation reaching the mean
        // could draw one.
        if self.avg_size == 0 {
            return Err("slicer avg_size must be > 0");
        }
        if self.size_variation >= self.avg_size {
            return Err("slicer size_variation must be below avg_size");
        }
        Ok(())
    }

    fn slice(&self, cx: &mut Cx<'_>, pieces: &mut Vec<Bytes>) -> Duration {
        let mut sliced = Vec::new();
        for mut piece in std::mem::take(pieces) {
            bump(&cx.stats.bytes_affected, piece.len() as u64);
            for size in piece_lengths(piece.len(), self.avg_size, self.size_variation, cx.rng) {
                sliced.push(piece.split_to(size));
            }
        }
        bump(&cx.stats.slices, sliced.len() as u64);
        bump(
            &cx.stats.chunks_delayed,
            sliced.len().saturating_sub(1) as u64,
        );
        *pieces = sliced;
        self.delay
    }
}

/// Piece lengths for `len` bytes: each about `avg ± variation`, the last one the remainder.
fn piece_lengths(len: usize, avg: usize, variation: usize, rng: &mut impl Rng) -> Vec<usize> {
    let mut pieces = Vec::with_capacity(len / avg.max(1) + 1);
    let mut left = len;
    while left > 0 {
        let size = if variation == 0 {
            avg
        } else {
            rng.random_range(avg - variation..=avg + variation)
        };
        let size = size.clamp(1, left);
        pieces.push(size);
        left -= size;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn pieces_cover_the_chunk_within_the_size_band() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let pieces = piece_lengths(10_000, 100, 20, &mut rng);
        assert_eq!(pieces.iter().sum::<usize>(), 10_000);
        let (last, body) = pieces.split_last().expect("at least one piece");
        assert!(body.iter().all(|p| (80..=120).contains(p)), "{body:?}");
        assert!(*last <= 120);
        assert!(pieces.len() >= 10_000 / 120);
    }

    #[test]
    fn sizes_that_could_draw_an_empty_piece_are_refused() {
        let slicer = |avg_size, size_variation| Slicer {
            avg_size,
            size_variation,
            delay: Duration::ZERO,
        };
        assert!(slicer(0, 0).check().is_err());
        assert!(slicer(10, 10).check().is_err());
        assert!(slicer(10, 9).check().is_ok());
    }

    #[test]
    fn fixed_size_and_empty() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(piece_lengths(10, 4, 0, &mut rng), vec![4, 4, 2]);
        assert!(piece_lengths(0, 4, 0, &mut rng).is_empty());
    }
}
