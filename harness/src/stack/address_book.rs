//! Where each service's ports are published on the host, kept current across restarts.
//!
//! An ephemeral published port changes when its container restarts (measured 32776 → 32777),
//! so load and probes resolve `service:port` through this book on every new connection, and
//! the Docker-event recorder refreshes it on each `start`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::RwLock;

use super::ContainerInfo;

#[derive(Debug, Default)]
pub struct AddressBook {
    /// (service, container port) → published host address of the lowest-numbered running
    /// replica that publishes it.
    entries: RwLock<HashMap<(String, u16), SocketAddr>>,
}

impl AddressBook {
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the book from a fresh view of the containers.
    pub fn refresh(&self, containers: &[ContainerInfo]) {
        let mut sorted: Vec<&ContainerInfo> = containers.iter().filter(|c| c.running).collect();
        sorted.sort_by_key(|c| (c.service.clone(), c.number));
        let mut next = HashMap::new();
        for c in sorted {
            for (port, addr) in &c.published {
                next.entry((c.service.clone(), *port)).or_insert(*addr);
            }
        }
        if let Ok(mut entries) = self.entries.write() {
            // Keep the last known address of a service that is down right now: a connection
            // to it fails as the real client's would, which is what we want to measure.
            for (k, v) in next {
                entries.insert(k, v);
            }
        }
    }

    /// Records one container's published ports (after its `start` event).
    pub fn update_container(&self, c: &ContainerInfo) {
        if let Ok(mut entries) = self.entries.write() {
            for (port, addr) in &c.published {
                entries.insert((c.service.clone(), *port), *addr);
            }
        }
    }

    pub fn lookup(&self, service: &str, port: u16) -> Option<SocketAddr> {
        self.entries
            .read()
            .ok()
            .and_then(|e| e.get(&(service.to_string(), port)).copied())
    }

    /// Rewrites `http://service:port/path` to the published address; other URLs unchanged.
    pub fn rewrite_url(&self, url: &str) -> String {
        let Some(rest) = url.strip_prefix("http://") else {
            return url.to_string();
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let Some((host, port)) = authority.rsplit_once(':') else {
            return url.to_string();
        };
        match port.parse().ok().and_then(|p| self.lookup(host, p)) {
            Some(addr) => format!("http://{addr}{path}"),
            None => url.to_string(),
        }
    }
}

impl chaosgate_load::Resolver for AddressBook {
    fn resolve(&self, host: &str, port: u16) -> Option<SocketAddr> {
        self.lookup(host, port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(service: &str, number: u32, port: u16, host_port: u16) -> ContainerInfo {
        ContainerInfo {
            id: format!("{service}{number}"),
            name: format!("p_{service}_{number}"),
            service: service.into(),
            number,
            running: true,
            paused: false,
            health: None,
            pid: 1,
            restart_count: 0,
            published: vec![(port, SocketAddr::from(([127, 0, 0, 1], host_port)))],
            networks: vec![],
            image: "x:1".into(),
        }
    }

    #[test]
    fn rewrites_service_urls_and_follows_restarts() {
        let book = AddressBook::new();
        book.refresh(&[container("gateway", 1, 8080, 32776)]);
        assert_eq!(
            book.rewrite_url("http://gateway:8080/quote?symbol=X"),
            "http://127.0.0.1:32776/quote?symbol=X"
        );
        book.update_container(&container("gateway", 1, 8080, 32777));
        assert_eq!(
            book.rewrite_url("http://gateway:8080"),
            "http://127.0.0.1:32777"
        );
        assert_eq!(book.rewrite_url("http://other:80/x"), "http://other:80/x");
    }

    #[test]
    fn lowest_replica_wins() {
        let book = AddressBook::new();
        book.refresh(&[container("md", 2, 8081, 2), container("md", 1, 8081, 1)]);
        assert_eq!(book.lookup("md", 8081).unwrap().port(), 1);
    }
}
