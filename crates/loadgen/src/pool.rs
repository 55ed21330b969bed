//! Idle keep-alive connections to one host:port, shared by the requests sent there.

use std::sync::{Mutex, PoisonError};

use crate::connection::Sender;

#[derive(Debug)]
pub(crate) struct ConnectionPool {
    idle: Mutex<Vec<Sender>>,
    capacity: usize,
}

impl ConnectionPool {
    /// Keeps at most `capacity` idle connections (the in-flight bound: more could never be
    /// busy at once).
    pub fn new(capacity: usize) -> Self {
        ConnectionPool {
            idle: Mutex::new(Vec::new()),
            capacity,
        }
    }

    /// An idle connection that has not been closed, if any.
    pub fn take(&self) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(sender) = idle.pop() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    /// Returns a connection after a complete exchange.
    pub fn put(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.capacity {
            idle.push(sender);
        }
    }
}
