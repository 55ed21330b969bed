//! The set of installed toxics, shared by every connection of a proxy and changed at run time.
//!
//! Connections hold a `watch` receiver and read the current list per chunk, so adding or
//! removing a toxic never touches established connections.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;
use tokio::time::Instant;

use crate::counters::{ToxicCounters, ToxicStats};
use crate::error::ProxyError;
use crate::toxic::Toxic;
use crate::toxics::Kind;

/// A toxic as installed: a unique number (for replayable draws), what it does at each stage
/// (its file under `toxics/`) and its counters.
#[derive(Debug)]
pub(crate) struct InstalledToxic {
    pub id: u64,
    pub toxic: Toxic,
    pub behaviour: Box<dyn Kind>,
    pub stats: Arc<ToxicStats>,
    pub installed_at: Instant,
}

pub(crate) type ToxicList = Arc<Vec<Arc<InstalledToxic>>>;

#[derive(Debug)]
pub(crate) struct ToxicRegistry {
    list: watch::Sender<ToxicList>,
    /// Counters by toxic name; never forgotten, so removed toxics still prove what they did.
    stats: Mutex<BTreeMap<String, (&'static str, Arc<ToxicStats>)>>,
    next_id: AtomicU64,
}

impl ToxicRegistry {
    pub fn new() -> Self {
        ToxicRegistry {
            list: watch::Sender::new(Arc::new(Vec::new())),
            stats: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
        }
    }

    pub fn subscribe(&self) -> watch::Receiver<ToxicList> {
        self.list.subscribe()
    }

    pub fn add(&self, toxic: Toxic) -> Result<(), ProxyError> {
        toxic.validate()?;
        // The stats lock also serialises writers of the list.
        let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.list.borrow().clone();
        if current.iter().any(|t| t.toxic.name == toxic.name) {
            return Err(ProxyError::DuplicateToxic(toxic.name));
        }
        let kind = toxic.kind.type_name();
        let behaviour = toxic.kind.behaviour();
        let per_request = behaviour.counts_requests();
        let entry = stats.entry(toxic.name.clone()).or_insert_with(|| {
            let stats = ToxicStats {
                per_request,
                ..ToxicStats::default()
            };
            (kind, Arc::new(stats))
        });
        entry.0 = kind;
        let installed = Arc::new(InstalledToxic {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            behaviour,
            toxic,
            stats: entry.1.clone(),
            installed_at: Instant::now(),
        });
        let mut next = current.as_ref().clone();
        next.push(installed);
        self.list.send_replace(Arc::new(next));
        Ok(())
    }

    pub fn remove(&self, name: &str) -> Result<(), ProxyError> {
        let _writer = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.list.borrow().clone();
        if !current.iter().any(|t| t.toxic.name == name) {
            return Err(ProxyError::UnknownToxic(name.to_owned()));
        }
        let next: Vec<_> = current
            .iter()
            .filter(|t| t.toxic.name != name)
            .cloned()
            .collect();
        self.list.send_replace(Arc::new(next));
        Ok(())
    }

    pub fn installed(&self) -> Vec<Toxic> {
        self.list.borrow().iter().map(|t| t.toxic.clone()).collect()
    }

    pub fn counters(&self) -> BTreeMap<String, ToxicCounters> {
        let stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        stats
            .iter()
            .map(|(name, (kind, s))| (name.clone(), s.snapshot(kind)))
            .collect()
    }
}
