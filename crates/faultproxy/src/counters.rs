//! Counters that prove a fault touched traffic: per proxy and per toxic, readable at any time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Live counters of one proxy, updated by its connections.
#[derive(Debug, Default)]
pub(crate) struct ProxyStats {
    pub accepted: AtomicU64,
    pub active: AtomicU64,
    pub upstream_connect_errors: AtomicU64,
    pub original_dst_errors: AtomicU64,
    pub bytes_upstream: AtomicU64,
    pub bytes_downstream: AtomicU64,
}

/// Live counters of one toxic name (kept after the toxic is removed: they are evidence).
#[derive(Debug, Default)]
pub(crate) struct ToxicStats {
    pub connections_affected: AtomicU64,
    pub connections_spared: AtomicU64,
    pub chunks_delayed: AtomicU64,
    pub bytes_affected: AtomicU64,
    pub slices: AtomicU64,
    pub resets_sent: AtomicU64,
    pub timeouts_held: AtomicU64,
    pub bytes_held: AtomicU64,
    pub connections_closed: AtomicU64,
}

pub(crate) fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// A snapshot of a proxy's counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyCounters {
    pub connections_accepted: u64,
    pub connections_active: u64,
    /// Connections dropped because the upstream could not be reached.
    pub upstream_connect_errors: u64,
    /// Connections dropped because SO_ORIGINAL_DST had no answer (not redirected).
    pub original_dst_errors: u64,
    /// Bytes written to the server (client → server).
    pub bytes_upstream: u64,
    /// Bytes written to the client (server → client).
    pub bytes_downstream: u64,
    /// Per toxic name, including toxics removed since.
    pub toxics: BTreeMap<String, ToxicCounters>,
}

/// A snapshot of one toxic's counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToxicCounters {
    /// The toxic type (`latency`, `bandwidth`, ...).
    pub kind: String,
    /// Connections the toxicity draw selected.
    pub connections_affected: u64,
    /// Connections the toxicity draw left alone.
    pub connections_spared: u64,
    /// Chunks held back by a latency, bandwidth or slicer toxic.
    pub chunks_delayed: u64,
    /// Bytes that went through this toxic while it applied.
    pub bytes_affected: u64,
    /// Pieces a slicer produced.
    pub slices: u64,
    /// Sockets closed with an RST by a reset_peer toxic.
    pub resets_sent: u64,
    /// Connections a timeout toxic held (swallowed at least one chunk or closed).
    pub timeouts_held: u64,
    /// Bytes swallowed by a timeout toxic.
    pub bytes_held: u64,
    /// Connections closed by a timeout or limit_data toxic.
    pub connections_closed: u64,
}

impl ToxicStats {
    pub(crate) fn snapshot(&self, kind: &str) -> ToxicCounters {
        ToxicCounters {
            kind: kind.to_owned(),
            connections_affected: read(&self.connections_affected),
            connections_spared: read(&self.connections_spared),
            chunks_delayed: read(&self.chunks_delayed),
            bytes_affected: read(&self.bytes_affected),
            slices: read(&self.slices),
            resets_sent: read(&self.resets_sent),
            timeouts_held: read(&self.timeouts_held),
            bytes_held: read(&self.bytes_held),
            connections_closed: read(&self.connections_closed),
        }
    }
}

impl ProxyStats {
    pub(crate) fn snapshot(&self, toxics: BTreeMap<String, ToxicCounters>) -> ProxyCounters {
        ProxyCounters {
            connections_accepted: read(&self.accepted),
            connections_active: read(&self.active),
            upstream_connect_errors: read(&self.upstream_connect_errors),
            original_dst_errors: read(&self.original_dst_errors),
            bytes_upstream: read(&self.bytes_upstream),
            bytes_downstream: read(&self.bytes_downstream),
            toxics,
        }
    }
}
