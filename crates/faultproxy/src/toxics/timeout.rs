//! `timeout`: the stream goes silent, and the connection is closed later or never.
//!
//! It swallows every chunk of the streams it covers instead of stopping to read them: the
//! sender's writes keep succeeding and the kernel's buffers never fill, so what the other
//! side sees is a peer that accepted the bytes and never answered, the case a client's read
//! timeout is for. It is the first stage, so a timeout wins over every other toxic of the
//! stream: nothing is delayed, sliced or counted against a limit that will never leave. The
//! closing deadline, when given, is the supervisor's (`conn.rs`), like `reset_peer`'s, but
//! closes with a FIN.

use std::time::Duration;

use bytes::Bytes;

use super::{Closing, Cx, Kind};
use crate::counters::{ToxicStats, bump};

/// Swallows the stream's bytes; closes the connection `after` the toxic started applying
/// to it, or holds it for as long as the toxic is installed when `after` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeout {
    /// Delay from `max(connection start, toxic added)` to the close; `None` never closes.
    pub after: Option<Duration>,
}

impl Kind for Timeout {
    fn selected(&self, stats: &ToxicStats) {
        // A connection is held from the moment it is picked, chunk or not.
        bump(&stats.timeouts_held, 1);
    }

    fn swallow(&self, cx: &mut Cx<'_>, data: &mut Bytes) {
        bump(&cx.stats.bytes_held, data.len() as u64);
        data.clear();
    }

    fn closes_after(&self) -> Option<Duration> {
        self.after
    }

    fn close(&self, cx: &Closing<'_>) {
        bump(&cx.stats.connections_closed, 1);
        tracing::debug!(conn_id = cx.conn.id, toxic = %cx.name, "timeout closed connection");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::Relaxed;

    use super::*;
    use crate::toxic::{Direction, Flow};
    use crate::toxics::TestStream;

    #[test]
    fn swallows_whole_chunks_and_counts_held_connections() {
        let toxic = Timeout { after: None };
        let mut stream = TestStream::new(Flow::Upstream, Direction::Upstream);
        toxic.selected(&stream.stats);
        let mut data = Bytes::from_static(b"GET / HTTP/1.1\r\n");
        toxic.swallow(&mut stream.cx(1), &mut data);
        assert!(data.is_empty());
        assert_eq!(stream.stats.bytes_held.load(Relaxed), 16);
        assert_eq!(stream.stats.timeouts_held.load(Relaxed), 1);
        assert_eq!(toxic.closes_after(), None);
    }
}
