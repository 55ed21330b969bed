//! Cutting a chunk into the pieces a slicer toxic sends.

use rand::Rng;

/// Piece lengths for `len` bytes: each about `avg ± variation`, the last one the remainder.
pub(crate) fn piece_lengths(
    len: usize,
    avg: usize,
    variation: usize,
    rng: &mut impl Rng,
) -> Vec<usize> {
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
    fn fixed_size_and_empty() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(piece_lengths(10, 4, 0, &mut rng), vec![4, 4, 2]);
        assert!(piece_lengths(0, 4, 0, &mut rng).is_empty());
    }
}
