//! `limit_data`: the connection closed once a number of bytes went through a stream.
//!
//! The count is per stream and per toxic (a toxic on both streams lets `bytes` through each
//! way), kept in the toxic's stream state. The chunk that crosses the limit is truncated, so
//! exactly `bytes` bytes arrive, and the connection is closed after that chunk was written:
//! the reader sees a response cut at a known length, as from a server that died mid-write.

use bytes::Bytes;

use super::{Cx, Kind};
use crate::counters::bump;

/// Closes the connection once `bytes` bytes went through in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitData {
    /// Bytes let through in the stream before the close; the chunk that crosses it
    /// is truncated.
    pub bytes: u64,
}

/// Bytes this toxic let through on one stream.
#[derive(Default)]
struct Sent(u64);

impl Kind for LimitData {
    fn limit(&self, cx: &mut Cx<'_>, data: &mut Bytes) -> bool {
        let stats = cx.stats;
        let Sent(sent) = cx.state::<Sent>();
        let allowed = self.bytes.saturating_sub(*sent);
        if (data.len() as u64) > allowed {
            // allowed < data.len() <= usize::MAX here.
            data.truncate(allowed as usize);
        }
        *sent += data.len() as u64;
        bump(&stats.bytes_affected, data.len() as u64);
        *sent >= self.bytes
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::Relaxed;

    use super::*;
    use crate::toxic::{Direction, Flow};
    use crate::toxics::TestStream;

    #[test]
    fn lets_exactly_the_limit_through_per_toxic_then_asks_to_close() {
        let toxic = LimitData { bytes: 10 };
        let mut stream = TestStream::new(Flow::Downstream, Direction::Both);
        let mut first = Bytes::from_static(b"123456");
        assert!(!toxic.limit(&mut stream.cx(1), &mut first));
        assert_eq!(first.len(), 6);
        // Another toxic on the same stream counts on its own.
        let mut other = Bytes::from_static(b"123456");
        assert!(!toxic.limit(&mut stream.cx(2), &mut other));
        let mut second = Bytes::from_static(b"abcdefgh");
        assert!(toxic.limit(&mut stream.cx(1), &mut second));
        assert_eq!(&second[..], b"abcd");
        assert_eq!(stream.stats.bytes_affected.load(Relaxed), 16);
    }
}
