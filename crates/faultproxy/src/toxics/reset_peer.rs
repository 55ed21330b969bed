//! `reset_peer`: the connection reset (RST) at a point in time.
//!
//! It acts on the connection, not on chunks: the connection's supervisor (`conn.rs`) fires
//! it at `max(connection start, toxic added) + after`, so a connection opened long after the
//! toxic was added still lives for `after`, and one already open when it was added is reset
//! `after` from then. A deadline already passed fires before any byte moves. The RST comes
//! from SO_LINGER 0 armed on the socket: the peer sees "connection reset", as from a crashed
//! or firewalled server, not the orderly FIN a close would send.

use std::time::Duration;

use tokio::net::TcpStream;

use super::{Closing, Kind};
use crate::counters::bump;
use crate::socket_io::arm_reset;
use crate::toxic::Direction;

/// Resets the connection (RST, via SO_LINGER 0) `after` the toxic started applying to it.
/// The direction picks the peer that receives the RST: upstream = server, downstream = client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetPeer {
    /// Delay from `max(connection start, toxic added)` to the reset.
    pub after: Duration,
}

impl Kind for ResetPeer {
    fn closes_after(&self) -> Option<Duration> {
        Some(self.after)
    }

    fn close(&self, cx: &Closing<'_>) {
        let conn = cx.conn;
        let targets: &[&TcpStream] = match cx.direction {
            Direction::Upstream => &[&*conn.server],
            Direction::Downstream => &[&*conn.client],
            Direction::Both => &[&*conn.client, &*conn.server],
        };
        for socket in targets {
            if arm_reset(socket).is_ok() {
                bump(&cx.stats.resets_sent, 1);
            }
        }
        tracing::debug!(conn_id = conn.id, toxic = %cx.name, "reset_peer fired");
    }
}
