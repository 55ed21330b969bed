//! `latency`: each chunk held `latency ± jitter` after it arrived.
//!
//! The delay counts from the chunk's arrival, not from the previous chunk's release: the pump
//! pipelines (`pump.rs`), so a stream that sends steadily is shifted by the latency, not
//! slowed down by it, as on a long link. The jitter is drawn per chunk from the stream's
//! seeded generator, and a chunk never overtakes the one before it whatever the draw, since
//! TCP keeps order.

use std::time::Duration;

use rand::Rng;

use super::{Cx, Kind};
use crate::counters::bump;
use crate::toxic::{Direction, Flow};

/// Each chunk leaves `latency ± jitter` after it arrived (pipelined, order kept). With
/// [`Direction::Both`] each way carries half the latency and the way back the jitter, so
/// a request/response round trip gains `latency ± jitter` whatever the direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latency {
    /// Added delay per chunk (the round-trip total with [`Direction::Both`]).
    pub latency: Duration,
    /// Uniform spread around `latency`, drawn per chunk from the seed.
    pub jitter: Duration,
}

impl Kind for Latency {
    fn delay(&self, cx: &mut Cx<'_>, counted: Option<usize>) -> Duration {
        let (latency, jitter) = stream_share(self.latency, self.jitter, cx.direction, cx.flow);
        let delay = jittered(latency, jitter, cx.rng);
        if let Some(len) = counted {
            bump(&cx.stats.chunks_delayed, 1);
            bump(&cx.stats.bytes_affected, len as u64);
        }
        delay
    }
}

/// The part of a latency toxic's `latency ± jitter` that `flow` carries. A toxic on one
/// stream delays it by the whole amount; on both streams the round trip still gains
/// `latency` (half each way) and the jitter is drawn once, on the way back: `latency: 100ms`
/// adds 100 ms to a request/response whatever the direction, as netem on egress and
/// toxiproxy's downstream toxic do.
fn stream_share(
    latency: Duration,
    jitter: Duration,
    direction: Direction,
    flow: Flow,
) -> (Duration, Duration) {
    match (direction, flow) {
        (Direction::Both, Flow::Upstream) => (latency / 2, Duration::ZERO),
        (Direction::Both, Flow::Downstream) => (latency - latency / 2, jitter),
        _ => (latency, jitter),
    }
}

/// `latency ± jitter`, uniformly drawn, never negative.
fn jittered(latency: Duration, jitter: Duration, rng: &mut impl Rng) -> Duration {
    if jitter.is_zero() {
        return latency;
    }
    let spread = jitter.as_secs_f64();
    let seconds = latency.as_secs_f64() + rng.random_range(-spread..=spread);
    Duration::from_secs_f64(seconds.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_add_the_asked_latency_once_per_round_trip() {
        let ms = Duration::from_millis;
        let (up, down) = (
            stream_share(ms(101), ms(20), Direction::Both, Flow::Upstream),
            stream_share(ms(101), ms(20), Direction::Both, Flow::Downstream),
        );
        assert_eq!(up.0 + down.0, ms(101));
        assert_eq!((up.1, down.1), (Duration::ZERO, ms(20)));
        for (direction, flow) in [
            (Direction::Upstream, Flow::Upstream),
            (Direction::Downstream, Flow::Downstream),
        ] {
            assert_eq!(
                stream_share(ms(100), ms(20), direction, flow),
                (ms(100), ms(20))
            );
        }
    }
}
