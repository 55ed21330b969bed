//! `bandwidth`: the stream capped to a rate.
//!
//! The toxic only names the rate; the pacing schedule is the pump's (`pump.rs`,
//! `write_paced`), because it belongs to the stream, not to one toxic: with two bandwidth
//! toxics the tighter one paces each write, and removing one mid-chunk hands the same
//! schedule to the other (or lets the rest of the chunk go at once) without a burst.

use super::Kind;

/// Caps the stream to `bytes_per_sec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    /// Rate limit in bytes per second; at least 1.
    pub bytes_per_sec: u64,
}

impl Kind for Bandwidth {
    fn check(&self) -> Result<(), &'static str> {
        // A rate of 0 would hold the stream forever: that is a timeout, which says so.
        if self.bytes_per_sec == 0 {
            return Err("bandwidth must be at least 1 byte/s");
        }
        Ok(())
    }

    fn rate(&self) -> Option<u64> {
        Some(self.bytes_per_sec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_of_zero_is_refused() {
        assert!(Bandwidth { bytes_per_sec: 0 }.check().is_err());
        assert_eq!(Bandwidth { bytes_per_sec: 1 }.rate(), Some(1));
    }
}
