//! The run clock: nanoseconds since the run's origin, on the monotonic clock.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Tokio's monotonic clock: the same as the system's, except in a test that pauses time,
/// where a whole run's schedule (faults, holds, the run's end) passes in virtual time.
type Now = tokio::time::Instant;

/// One monotonic time base for a run. Docker reports events in wall-clock nanoseconds; those
/// are mapped onto this clock through the wall time captured at the same moment as the origin,
/// so a clock step during the run moves only Docker's timestamps, never ours.
#[derive(Debug, Clone, Copy)]
pub struct RunClock {
    origin: Now,
    origin_unix_ns: i128,
}

impl RunClock {
    /// Starts a run clock whose origin (0 ns) is now.
    pub fn start() -> Self {
        let origin = Now::now();
        let origin_unix_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        Self {
            origin,
            origin_unix_ns,
        }
    }

    /// Nanoseconds since the origin, now.
    pub fn now_ns(&self) -> u64 {
        Now::now().saturating_duration_since(self.origin).as_nanos() as u64
    }

    /// Nanoseconds since the origin at `instant`; instants before the origin map to 0.
    pub fn ns_at(&self, instant: Instant) -> u64 {
        Now::from_std(instant)
            .saturating_duration_since(self.origin)
            .as_nanos() as u64
    }

    /// The instant `ns` after the origin.
    pub fn instant_at(&self, ns: u64) -> Instant {
        (self.origin + Duration::from_nanos(ns)).into_std()
    }

    /// Maps a wall-clock Unix timestamp in nanoseconds (Docker's `timeNano`) onto the run
    /// clock; `None` when it lies before the origin.
    pub fn ns_from_unix_nanos(&self, unix_ns: i64) -> Option<u64> {
        let delta = unix_ns as i128 - self.origin_unix_ns;
        (delta >= 0).then_some(delta as u64)
    }

    /// Wall-clock Unix nanoseconds of the origin, for reports.
    pub fn origin_unix_ns(&self) -> i128 {
        self.origin_unix_ns
    }

    /// Time since the origin.
    pub fn elapsed(&self) -> Duration {
        Now::now().saturating_duration_since(self.origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_nanos_map_onto_the_run_clock() {
        let clock = RunClock::start();
        let at = clock.origin_unix_ns() as i64 + 1_500_000_000;
        assert_eq!(clock.ns_from_unix_nanos(at), Some(1_500_000_000));
        assert_eq!(
            clock.ns_from_unix_nanos(clock.origin_unix_ns() as i64 - 1),
            None
        );
    }

    #[test]
    fn instants_round_trip() {
        let clock = RunClock::start();
        let ns = 2_000_000_123;
        assert_eq!(clock.ns_at(clock.instant_at(ns)), ns);
    }
}
