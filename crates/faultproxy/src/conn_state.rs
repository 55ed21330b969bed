//! The state one proxied connection shares between its two pumps and its supervisor: which
//! toxics apply to it (decided once per toxic, seeded) and since when. Its own file so the
//! connection (`conn`) and the pumps (`pump`) both depend on it and not on each other.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::counters::{ProxyStats, bump};
use crate::draw::toxicity_applies;
use crate::registry::{InstalledToxic, ToxicList, ToxicRegistry};
use crate::toxic::Flow;
use crate::upstream::Upstream;

/// What every connection of one proxy shares.
#[derive(Debug)]
pub(crate) struct ProxyContext {
    pub upstream: Upstream,
    pub seed: u64,
    pub registry: ToxicRegistry,
    pub stats: ProxyStats,
}

#[derive(Debug, Clone, Copy)]
struct Decision {
    applies: bool,
    since: Instant,
}

/// A toxic that applies to this connection, and since when.
#[derive(Clone)]
pub(crate) struct ActiveToxic {
    pub installed: Arc<InstalledToxic>,
    pub since: Instant,
}

#[derive(Debug)]
pub(crate) struct ConnShared {
    pub id: u64,
    seed: u64,
    pub client: Arc<TcpStream>,
    pub server: Arc<TcpStream>,
    pub cancel: CancellationToken,
    started: Instant,
    decisions: Mutex<HashMap<u64, Decision>>,
    /// Bytes written to the client so far: an L7 toxic reads it to tell whether a response
    /// has started (`toxics/http.rs`).
    downstream_written: AtomicU64,
}

impl ConnShared {
    pub(crate) fn new(
        id: u64,
        seed: u64,
        client: TcpStream,
        server: TcpStream,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            id,
            seed,
            client: Arc::new(client),
            server: Arc::new(server),
            cancel,
            started: Instant::now(),
            decisions: Mutex::new(HashMap::new()),
            downstream_written: AtomicU64::new(0),
        }
    }

    /// Bytes written to the client so far.
    pub fn downstream_written(&self) -> u64 {
        self.downstream_written.load(Ordering::Acquire)
    }

    /// Counts `n` bytes written to the client.
    pub fn wrote_downstream(&self, n: u64) {
        self.downstream_written.fetch_add(n, Ordering::AcqRel);
    }

    fn decide(&self, toxic: &InstalledToxic) -> Decision {
        let mut decisions = self
            .decisions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *decisions.entry(toxic.id).or_insert_with(|| {
            let applies = toxicity_applies(self.seed, self.id, toxic.id, toxic.toxic.toxicity);
            let counter = if applies {
                &toxic.stats.connections_affected
            } else {
                &toxic.stats.connections_spared
            };
            bump(counter, 1);
            if applies {
                toxic.behaviour.selected(&toxic.stats);
            }
            Decision {
                applies,
                since: self.started.max(toxic.installed_at),
            }
        })
    }

    /// The toxics of `list` that apply to this connection, restricted to `flow` if given.
    pub fn applicable(&self, list: &ToxicList, flow: Option<Flow>) -> Vec<ActiveToxic> {
        list.iter()
            .filter_map(|installed| {
                let decision = self.decide(installed);
                let in_flow = flow.is_none_or(|f| installed.toxic.direction.covers(f));
                (decision.applies && in_flow).then(|| ActiveToxic {
                    installed: installed.clone(),
                    since: decision.since,
                })
            })
            .collect()
    }
}
