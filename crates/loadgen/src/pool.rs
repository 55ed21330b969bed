//! Idle keep-alive connections to one host:port, shared by the requests sent there.
//!
//! Used last-in first-out, so a steady load keeps reusing the same few connections and the
//! ones opened for a burst sink to the bottom; those are closed once idle for
//! `IDLE_LIMIT`, so a spike does not pin its connections' buffers for the rest of the run.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::connection::Sender;

/// How long a connection may sit unused before it is closed.
const IDLE_LIMIT: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct IdleConnection {
    sender: Sender,
    since: Instant,
}

#[derive(Debug)]
pub(crate) struct ConnectionPool {
    /// Oldest-idle at the front, most recently used at the back.
    idle: Mutex<VecDeque<IdleConnection>>,
    capacity: usize,
}

impl ConnectionPool {
    /// Keeps at most `capacity` idle connections (the in-flight bound: more could never be
    /// busy at once).
    pub fn new(capacity: usize) -> Self {
        ConnectionPool {
            idle: Mutex::new(VecDeque::new()),
            capacity,
        }
    }

    /// The most recently used idle connection that has not been closed, if any.
    pub fn take(&self) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(connection) = idle.pop_back() {
            if !connection.sender.is_closed() {
                return Some(connection.sender);
            }
        }
        None
    }

    /// Returns a connection after a complete exchange, and closes those idle too long.
    pub fn put(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let now = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while idle
            .front()
            .is_some_and(|oldest| now.duration_since(oldest.since) > IDLE_LIMIT)
        {
            idle.pop_front();
        }
        if idle.len() < self.capacity {
            idle.push_back(IdleConnection { sender, since: now });
        }
    }
}
