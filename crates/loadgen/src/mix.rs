//! Picks which request template each scheduled request uses, in proportion to the weights.
//!
//! Smooth weighted round-robin (as nginx does it) rather than random draws: the mix is
//! exact over every window of `sum(weights)` requests, needs no seed, and a run replays
//! the same sequence of templates every time.

/// The template chooser for one run.
#[derive(Debug, Clone)]
pub struct WeightedMix {
    weights: Vec<i64>,
    current: Vec<i64>,
    total: i64,
}

impl WeightedMix {
    /// `None` when no weight is above zero.
    pub fn new(weights: &[u32]) -> Option<Self> {
        let weights: Vec<i64> = weights.iter().map(|&w| i64::from(w)).collect();
        let total: i64 = weights.iter().sum();
        (total > 0).then(|| WeightedMix {
            current: vec![0; weights.len()],
            weights,
            total,
        })
    }

    /// The index of the next template.
    pub fn next_index(&mut self) -> usize {
        if self.weights.len() == 1 {
            return 0;
        }
        for (current, weight) in self.current.iter_mut().zip(&self.weights) {
            *current += weight;
        }
        // The first of the largest, so ties resolve in template order.
        let best = (0..self.current.len()).fold(0, |best, i| {
            if self.current[i] > self.current[best] {
                i
            } else {
                best
            }
        });
        self.current[best] -= self.total;
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_weights_exactly_over_each_cycle() {
        let mut mix = WeightedMix::new(&[5, 1, 1]).unwrap();
        let picks: Vec<usize> = (0..7).map(|_| mix.next_index()).collect();
        assert_eq!(picks.iter().filter(|&&p| p == 0).count(), 5);
        assert_eq!(picks.iter().filter(|&&p| p == 1).count(), 1);
        assert_eq!(picks.iter().filter(|&&p| p == 2).count(), 1);
        // Smooth: the heavy template is not sent five times in a row.
        assert_eq!(picks, vec![0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn zero_weight_templates_are_never_picked() {
        let mut mix = WeightedMix::new(&[0, 3, 1]).unwrap();
        let picks: Vec<usize> = (0..400).map(|_| mix.next_index()).collect();
        assert!(!picks.contains(&0));
        assert_eq!(picks.iter().filter(|&&p| p == 1).count(), 300);
    }

    #[test]
    fn all_zero_weights_are_refused() {
        assert!(WeightedMix::new(&[0, 0]).is_none());
        assert!(WeightedMix::new(&[]).is_none());
    }
}
