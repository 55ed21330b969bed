//! A toxic as the scenario runner builds it: what it does (its [`ToxicKind`], one file each
//! under `toxics/`), to which stream, and to which share of connections.

use serde::{Deserialize, Serialize};

use crate::error::ProxyError;
use crate::toxics::ToxicKind;

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
        self.kind.behaviour().check().map_err(invalid)
    }
}
