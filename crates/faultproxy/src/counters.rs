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
    /// The toxic counts requests (an L7 toxic): its snapshot carries [`RequestCounters`].
    pub per_request: bool,
    pub requests_matched: AtomicU64,
    pub requests_acted: AtomicU64,
    pub requests_spared: AtomicU64,
    pub streams_passed_through: AtomicU64,
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
    /// Connections the listener accepted since the proxy started, including those that then
    /// failed to reach the upstream.
    pub connections_accepted: u64,
    /// Connections open now (accepted and not yet closed).
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
    /// An L7 toxic's (`http_abort`, `http_delay`) per-request counts; absent for the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<RequestCounters>,
}

/// What an L7 toxic did, per request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RequestCounters {
    /// Requests that matched the toxic's method, path and header.
    pub matched: u64,
    /// Matching requests acted on (aborted or delayed).
    pub acted: u64,
    /// Matching requests left alone: not drawn, or (an abort) pipelined behind a response.
    pub spared: u64,
    /// Streams that were not HTTP/1 (or switched protocols) and passed untouched.
    pub streams_passed_through: u64,
}

impl ToxicCounters {
    /// Whether the toxic touched traffic: for an L7 toxic, a request acted on (a fault that
    /// matched nothing proved nothing); for the others, a connection it was drawn for.
    pub fn touched_traffic(&self) -> bool {
        match &self.requests {
            Some(r) => r.acted > 0,
            None => self.connections_affected > 0,
        }
    }
}

impl ProxyCounters {
    /// Adds `other`'s counts into these: the total of several proxies on one path (a
    /// container restarted and its interception was wired again). `connections_active` is
    /// taken as is: `other` is a proxy that stopped.
    pub fn absorb(&mut self, other: &ProxyCounters) {
        self.connections_accepted += other.connections_accepted;
        self.upstream_connect_errors += other.upstream_connect_errors;
        self.original_dst_errors += other.original_dst_errors;
        self.bytes_upstream += other.bytes_upstream;
        self.bytes_downstream += other.bytes_downstream;
        for (name, theirs) in &other.toxics {
            match self.toxics.get_mut(name) {
                Some(ours) => ours.absorb(theirs),
                None => {
                    self.toxics.insert(name.clone(), theirs.clone());
                }
            }
        }
    }
}

impl ToxicCounters {
    fn absorb(&mut self, other: &ToxicCounters) {
        self.connections_affected += other.connections_affected;
        self.connections_spared += other.connections_spared;
        self.chunks_delayed += other.chunks_delayed;
        self.bytes_affected += other.bytes_affected;
        self.slices += other.slices;
        self.resets_sent += other.resets_sent;
        self.timeouts_held += other.timeouts_held;
        self.bytes_held += other.bytes_held;
        self.connections_closed += other.connections_closed;
        match (&mut self.requests, &other.requests) {
            (Some(ours), Some(theirs)) => {
                ours.matched += theirs.matched;
                ours.acted += theirs.acted;
                ours.spared += theirs.spared;
                ours.streams_passed_through += theirs.streams_passed_through;
            }
            (None, Some(theirs)) => self.requests = Some(theirs.clone()),
            (_, None) => {}
        }
    }
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
            requests: self.per_request.then(|| RequestCounters {
                matched: read(&self.requests_matched),
                acted: read(&self.requests_acted),
                spared: read(&self.requests_spared),
                streams_passed_through: read(&self.streams_passed_through),
            }),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn toxic(affected: u64) -> ToxicCounters {
        ToxicCounters {
            kind: "latency".into(),
            connections_affected: affected,
            connections_spared: 0,
            chunks_delayed: affected * 2,
            bytes_affected: 10,
            slices: 0,
            resets_sent: 0,
            timeouts_held: 0,
            bytes_held: 0,
            connections_closed: 0,
            requests: None,
        }
    }

    fn proxy(accepted: u64, toxics: &[(&str, u64)]) -> ProxyCounters {
        ProxyCounters {
            connections_accepted: accepted,
            connections_active: 1,
            upstream_connect_errors: 0,
            original_dst_errors: 0,
            bytes_upstream: 5,
            bytes_downstream: 7,
            toxics: toxics
                .iter()
                .map(|(n, a)| ((*n).to_owned(), toxic(*a)))
                .collect(),
        }
    }

    #[test]
    fn absorbing_sums_per_toxic_name() {
        let mut live = proxy(2, &[("slow", 1)]);
        live.absorb(&proxy(3, &[("slow", 4), ("gone", 1)]));
        assert_eq!(live.connections_accepted, 5);
        assert_eq!(live.connections_active, 1);
        assert_eq!(live.bytes_downstream, 14);
        assert_eq!(live.toxics["slow"].connections_affected, 5);
        assert_eq!(live.toxics["slow"].chunks_delayed, 10);
        assert_eq!(live.toxics["gone"].connections_affected, 1);
    }
}
