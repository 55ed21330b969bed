//! The toxics a proxy can apply, as plain data the scenario runner builds.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ProxyError;

/// Which byte stream of a proxied connection a toxic touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Client → server.
    Upstream,
    /// Server → client.
    Downstream,
    /// Both streams of the connection.
    Both,
}

impl Direction {
    pub(crate) fn covers(self, flow: Flow) -> bool {
        matches!(
            (self, flow),
            (Direction::Both, _)
                | (Direction::Upstream, Flow::Upstream)
                | (Direction::Downstream, Flow::Downstream)
        )
    }
}

/// One concrete stream of a connection (a `Direction` without `Both`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Flow {
    Upstream,
    Downstream,
}

impl Flow {
    pub(crate) fn index(self) -> u64 {
        match self {
            Flow::Upstream => 0,
            Flow::Downstream => 1,
        }
    }
}

/// What a toxic does to the bytes (or the connection) it applies to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToxicKind {
    /// Each chunk leaves `latency ± jitter` after it arrived (pipelined, order kept). With
    /// [`Direction::Both`] each way carries half the latency and the way back the jitter, so
    /// a request/response round trip gains `latency ± jitter` whatever the direction.
    Latency {
        /// Added delay per chunk (the round-trip total with [`Direction::Both`]).
        latency: Duration,
        /// Uniform spread around `latency`, drawn per chunk from the seed.
        jitter: Duration,
    },
    /// Caps the stream to `bytes_per_sec`.
    Bandwidth {
        /// Rate limit in bytes per second; at least 1.
        bytes_per_sec: u64,
    },
    /// Resets the connection (RST, via SO_LINGER 0) `after` the toxic started applying to it.
    /// The direction picks the peer that receives the RST: upstream = server, downstream = client.
    ResetPeer {
        /// Delay from `max(connection start, toxic added)` to the reset.
        after: Duration,
    },
    /// Swallows the stream's bytes; closes the connection `after` the toxic started applying
    /// to it, or holds it for as long as the toxic is installed when `after` is `None`.
    Timeout {
        /// Delay from `max(connection start, toxic added)` to the close; `None` never closes.
        after: Option<Duration>,
    },
    /// Splits each chunk into pieces of about `avg_size ± size_variation` bytes, `delay` apart.
    Slicer {
        /// Mean piece size in bytes; above 0.
        avg_size: usize,
        /// Maximum deviation from `avg_size` in bytes, drawn per piece; below `avg_size`.
        size_variation: usize,
        /// Pause between two pieces of a chunk.
        delay: Duration,
    },
    /// Closes the connection once `bytes` bytes went through in the stream.
    LimitData {
        /// Bytes let through in the stream before the close; the chunk that crosses it
        /// is truncated.
        bytes: u64,
    },
}

impl ToxicKind {
    /// A short stable name for reports and counters.
    pub fn type_name(&self) -> &'static str {
        match self {
            ToxicKind::Latency { .. } => "latency",
            ToxicKind::Bandwidth { .. } => "bandwidth",
            ToxicKind::ResetPeer { .. } => "reset_peer",
            ToxicKind::Timeout { .. } => "timeout",
            ToxicKind::Slicer { .. } => "slicer",
            ToxicKind::LimitData { .. } => "limit_data",
        }
    }
}

/// A named toxic: what it does, to which stream, and to which fraction of connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Toxic {
    /// Unique per proxy: the key for `remove_toxic` and for the toxic's counters.
    pub name: String,
    /// What it does.
    pub kind: ToxicKind,
    /// Which stream(s) of each connection it touches.
    pub direction: Direction,
    /// Probability in [0, 1] that a connection is affected; drawn once per connection.
    pub toxicity: f64,
}

impl Toxic {
    /// A toxic that applies to every connection.
    pub fn new(name: impl Into<String>, kind: ToxicKind, direction: Direction) -> Self {
        Toxic {
            name: name.into(),
            kind,
            direction,
            toxicity: 1.0,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ProxyError> {
        let invalid = |reason: &str| ProxyError::InvalidToxic {
            name: self.name.clone(),
            reason: reason.to_owned(),
        };
        if self.name.is_empty() {
            return Err(invalid("the name is empty"));
        }
        if !(0.0..=1.0).contains(&self.toxicity) {
            return Err(invalid("toxicity must be within [0, 1]"));
        }
        match &self.kind {
            ToxicKind::Bandwidth { bytes_per_sec: 0 } => {
                Err(invalid("bandwidth must be at least 1 byte/s"))
            }
            ToxicKind::Slicer { avg_size: 0, .. } => Err(invalid("slicer avg_size must be > 0")),
            ToxicKind::Slicer {
                avg_size,
                size_variation,
                ..
            } if size_variation >= avg_size => {
                Err(invalid("slicer size_variation must be below avg_size"))
            }
            _ => Ok(()),
        }
    }
}
