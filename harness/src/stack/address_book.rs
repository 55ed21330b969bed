//! Where each service can be reached from the host, kept current across restarts and network
//! changes.
//!
//! Probes, load and the lost-writes read-back reach a service at its **container's own IP
//! address** on the stack's network (the harness runs on the host, where Docker's bridge
//! networks are routed), not at the port Docker publishes on 127.0.0.1: that port is served by
//! Docker's userland proxy (`docker-proxy`), which accepts connections whatever the container's
//! state. A `tcp` probe of a paused redis through it measured 100 % success and "recovered" in
//! 57 ms. The published port is only the fallback for a container with no address on any
//! network, or when the host cannot route to container addresses at all ([`AddressBook::check_direct`]).
//!
//! A container's IP changes when it restarts and when it is disconnected from and reconnected
//! to a network, and an ephemeral published port changes on restart (measured 32776 → 32777),
//! so every new connection resolves `service:port` through this book again, and the
//! Docker-event recorder refreshes it on `start`, `die` and network `connect`/`disconnect`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::ContainerInfo;

/// What the book knows of one container of a service.
#[derive(Debug, Clone, PartialEq)]
struct Replica {
    number: u32,
    id: String,
    running: bool,
    /// Its IP on the stack's network; the last known one while it is down or disconnected
    /// (a connection to it then fails, as a real client's would).
    ip: Option<IpAddr>,
    /// Host PID of its init process (0 when unknown), for checks made inside its namespace.
    pid: u32,
    /// Container port → published address, last known.
    published: Vec<(u16, SocketAddr)>,
}

/// Where to connect for `service:port`, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The address to connect to for `service:port`.
    pub addr: SocketAddr,
    /// `true` when `addr` is the container's own address (nothing stands in front of it);
    /// `false` for a published port, which Docker's proxy answers even for a frozen container.
    pub direct: bool,
    /// Host PID of the container's init process (0 when unknown).
    pub pid: u32,
}

/// Where each `service:port` of the stack is reached from this host: per-replica container IPs and
/// published ports, or a fixed Service address (Kubernetes), kept current from Docker events.
#[derive(Debug)]
pub struct AddressBook {
    /// service → its containers, by replica number.
    services: RwLock<HashMap<String, Vec<Replica>>>,
    /// `(service, port)` → a fixed address that balances over the service's replicas (a
    /// Kubernetes Service's NodePort or ClusterIP), consulted before the containers.
    fixed: RwLock<HashMap<(String, u16), SocketAddr>>,
    /// Cleared when the host turned out not to route to container addresses.
    direct: AtomicBool,
}

impl Default for AddressBook {
    fn default() -> Self {
        Self {
            services: RwLock::default(),
            fixed: RwLock::default(),
            direct: AtomicBool::new(true),
        }
    }
}

/// The container's address the host connects to: its IP on the first network (by name) where
/// it has one.
fn container_ip(c: &ContainerInfo) -> Option<IpAddr> {
    c.networks.iter().find_map(|(_, ip)| ip.parse().ok())
}

impl AddressBook {
    /// An empty book that still tries container IPs directly.
    pub fn new() -> Self {
        Self::default()
    }

    /// Merges a fresh view of the containers into the book. A container that is down or
    /// disconnected right now keeps its last known addresses.
    pub fn refresh(&self, containers: &[ContainerInfo]) {
        for c in containers {
            let _ = self.update_container(c);
        }
    }

    /// Records one container's current state and addresses (after its `start`, `die`,
    /// network `connect` or `disconnect` event). Returns what changed in where it is reached
    /// (`ip 172.18.0.3 -> 172.18.0.9`), for the run's record; `None` when nothing did.
    pub fn update_container(&self, c: &ContainerInfo) -> Option<String> {
        let Ok(mut services) = self.services.write() else {
            return None;
        };
        let ip = container_ip(c);
        if let Some(ip) = ip {
            // Docker hands a released address to the next container that asks: a stale entry
            // still holding it would send that service's traffic to someone else. Without its
            // IP the stale entry falls back to its (closed) published port.
            for r in services.values_mut().flatten() {
                if r.id != c.id && r.ip == Some(ip) {
                    r.ip = None;
                }
            }
        }
        let replicas = services.entry(c.service.clone()).or_default();
        let fresh = Replica {
            number: c.number,
            id: c.id.clone(),
            running: c.running,
            ip,
            pid: c.pid,
            published: c.published.clone(),
        };
        let before = replicas
            .iter()
            .find(|r| r.number == c.number)
            .map(|r| (r.ip, r.published.clone()));
        match replicas.iter_mut().find(|r| r.number == c.number) {
            Some(r) => {
                let keep_ip = if r.id == c.id { r.ip } else { None };
                let keep_published = std::mem::take(&mut r.published);
                *r = Replica {
                    ip: fresh.ip.or(keep_ip),
                    pid: if fresh.running { fresh.pid } else { r.pid },
                    published: if fresh.published.is_empty() {
                        keep_published
                    } else {
                        fresh.published
                    },
                    ..fresh
                };
            }
            None => {
                replicas.push(fresh);
                replicas.sort_by_key(|r| r.number);
            }
        }
        let (old_ip, old_published) = before?;
        let now = replicas.iter().find(|r| r.number == c.number)?;
        let mut changes = Vec::new();
        if now.ip != old_ip {
            let show = |ip: Option<IpAddr>| ip.map_or("none".to_string(), |ip| ip.to_string());
            changes.push(format!("ip {} -> {}", show(old_ip), show(now.ip)));
        }
        for (port, addr) in &now.published {
            let old = old_published
                .iter()
                .find(|(p, _)| p == port)
                .map(|(_, a)| a);
            if old != Some(addr) {
                changes.push(format!("port {port} published at {addr}"));
            }
        }
        (!changes.is_empty()).then(|| changes.join(", "))
    }

    /// Sets where `service:port` is reached whatever its replicas do: a Kubernetes Service's
    /// address (kube-proxy sends each connection to a Ready endpoint, and refuses or drops it
    /// when there is none, as a real client sees it).
    pub fn set_fixed(&self, service: &str, port: u16, addr: SocketAddr) {
        if let Ok(mut fixed) = self.fixed.write() {
            fixed.insert((service.to_string(), port), addr);
        }
    }

    /// Where to connect for `service:port`: a fixed address if one is set, else the
    /// lowest-numbered running replica that can be reached on that port, else the
    /// lowest-numbered one at all (last known address).
    pub fn target(&self, service: &str, port: u16) -> Option<Target> {
        if let Some(addr) = self
            .fixed
            .read()
            .ok()
            .and_then(|f| f.get(&(service.to_string(), port)).copied())
        {
            return Some(Target {
                addr,
                direct: true,
                pid: 0,
            });
        }
        let direct = self.direct.load(Ordering::Relaxed);
        let services = self.services.read().ok()?;
        let replicas = services.get(service)?;
        let reach = |r: &Replica| -> Option<Target> {
            let published = || {
                r.published
                    .iter()
                    .find(|(p, _)| *p == port)
                    .map(|(_, a)| *a)
            };
            match r.ip.filter(|_| direct) {
                Some(ip) => Some(Target {
                    addr: SocketAddr::new(ip, port),
                    direct: true,
                    pid: r.pid,
                }),
                None => published().map(|addr| Target {
                    addr,
                    direct: false,
                    pid: r.pid,
                }),
            }
        };
        replicas
            .iter()
            .filter(|r| r.running)
            .find_map(reach)
            .or_else(|| replicas.iter().find_map(reach))
    }

    /// The address to connect to for `service:port` (see [`Self::target`]); `None` when the service
    /// is unknown or has no address for that port.
    pub fn lookup(&self, service: &str, port: u16) -> Option<SocketAddr> {
        self.target(service, port).map(|t| t.addr)
    }

    /// Rewrites `http://service:port/path` to the address to connect to; other URLs unchanged.
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

    /// Checks, on a ready stack, that the host reaches containers at their own addresses. When
    /// no published port answers at its container's address while one answers on the host
    /// (Docker running in a VM, a network the host has no route to), the book falls back to
    /// published ports and the returned note says so, since probes then cannot tell a frozen
    /// container from a live one. `None` when container addresses work (or nothing can be
    /// compared).
    pub async fn check_direct(&self, timeout: Duration) -> Option<String> {
        let pairs: Vec<(String, SocketAddr, SocketAddr)> = {
            let services = self.services.read().ok()?;
            services
                .iter()
                .flat_map(|(service, replicas)| {
                    replicas.iter().filter(|r| r.running).flat_map(move |r| {
                        r.ip.into_iter().flat_map(move |ip| {
                            r.published.iter().map(move |(port, published)| {
                                (service.clone(), SocketAddr::new(ip, *port), *published)
                            })
                        })
                    })
                })
                .collect()
        };
        let connects = |a: SocketAddr| async move {
            matches!(
                tokio::time::timeout(timeout, tokio::net::TcpStream::connect(a)).await,
                Ok(Ok(_))
            )
        };
        let mut failed = None;
        for (service, direct, published) in pairs {
            if connects(direct).await {
                return None;
            }
            if failed.is_none() && connects(published).await {
                failed = Some((service, direct, published));
            }
        }
        let (service, direct, published) = failed?;
        self.direct.store(false, Ordering::Relaxed);
        Some(format!(
            "the host cannot reach containers at their own addresses ({service} at {direct}, \
             while {published} answers): probes and load use published ports, where Docker's \
             proxy accepts connections even for a paused container"
        ))
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

    fn container(service: &str, number: u32, ip: &str, host_port: u16) -> ContainerInfo {
        ContainerInfo {
            id: format!("{service}{number}"),
            name: format!("p_{service}_{number}"),
            service: service.into(),
            number,
            running: true,
            paused: false,
            health: None,
            last_health_check: None,
            pid: 100 + number,
            restart_count: 0,
            published: vec![(8080, SocketAddr::from(([127, 0, 0, 1], host_port)))],
            networks: vec![("p_default".into(), ip.into())],
            aliases: vec![],
            image: "x:1".into(),
            labels: Default::default(),
        }
    }

    #[test]
    fn service_urls_go_to_the_container_address_not_the_published_port() {
        let book = AddressBook::new();
        book.refresh(&[container("gateway", 1, "172.18.0.5", 32776)]);
        assert_eq!(
            book.rewrite_url("http://gateway:8080/quote?symbol=X"),
            "http://172.18.0.5:8080/quote?symbol=X"
        );
        let t = book.target("gateway", 8080).unwrap();
        assert!(t.direct);
        assert_eq!(t.pid, 101);
        // A container port nobody published is reachable at the container's address too.
        assert_eq!(
            book.lookup("gateway", 9000),
            Some("172.18.0.5:9000".parse().unwrap())
        );
        assert_eq!(book.rewrite_url("http://other:80/x"), "http://other:80/x");
    }

    #[test]
    fn follows_a_new_address_after_a_restart_or_a_reconnect() {
        let book = AddressBook::new();
        book.refresh(&[container("redis", 1, "172.18.0.3", 32776)]);
        let mut restarted = container("redis", 1, "172.18.0.9", 32777);
        restarted.pid = 555;
        let change = book.update_container(&restarted);
        assert_eq!(
            change.as_deref(),
            Some("ip 172.18.0.3 -> 172.18.0.9, port 8080 published at 127.0.0.1:32777")
        );
        let t = book.target("redis", 8080).unwrap();
        assert_eq!(t.addr, "172.18.0.9:8080".parse().unwrap());
        assert_eq!(t.pid, 555);
    }

    #[test]
    fn a_container_that_is_down_or_disconnected_keeps_its_last_address() {
        let book = AddressBook::new();
        book.refresh(&[container("redis", 1, "172.18.0.3", 32776)]);
        // `die`: not running, Docker reports no IP and no published port any more.
        let mut dead = container("redis", 1, "", 0);
        dead.running = false;
        dead.pid = 0;
        dead.networks = vec![];
        dead.published = vec![];
        let _ = book.update_container(&dead);
        let t = book.target("redis", 6379).unwrap();
        assert_eq!(t.addr, "172.18.0.3:6379".parse().unwrap());
        assert_eq!(t.pid, 101, "the last known PID is kept too");
        // Isolated: running, on no network.
        let mut isolated = container("redis", 1, "", 32776);
        isolated.networks = vec![];
        let _ = book.update_container(&isolated);
        assert_eq!(
            book.lookup("redis", 6379),
            Some("172.18.0.3:6379".parse().unwrap())
        );
        let _ = book.update_container(&container("redis", 1, "172.18.0.7", 32776));
        assert_eq!(
            book.lookup("redis", 6379),
            Some("172.18.0.7:6379".parse().unwrap())
        );
    }

    #[test]
    fn the_published_port_is_only_the_fallback() {
        let book = AddressBook::new();
        // No address on any network (network_mode: host or none, or never connected).
        let mut c = container("gateway", 1, "", 32776);
        c.networks = vec![];
        book.refresh(&[c]);
        let t = book.target("gateway", 8080).unwrap();
        assert_eq!(t.addr, "127.0.0.1:32776".parse().unwrap());
        assert!(!t.direct);
        assert_eq!(book.lookup("gateway", 9000), None);

        let book = AddressBook::new();
        book.refresh(&[container("gateway", 1, "172.18.0.5", 32776)]);
        book.direct.store(false, Ordering::Relaxed);
        assert_eq!(
            book.lookup("gateway", 8080),
            Some("127.0.0.1:32776".parse().unwrap())
        );
    }

    #[test]
    fn an_address_docker_gave_to_another_container_is_dropped_from_the_stale_entry() {
        let book = AddressBook::new();
        book.refresh(&[
            container("redis", 1, "172.18.0.3", 32776),
            container("postgres", 1, "172.18.0.4", 32780),
        ]);
        let mut dead = container("redis", 1, "", 0);
        dead.running = false;
        dead.networks = vec![];
        dead.published = vec![];
        let _ = book.update_container(&dead);
        // postgres restarts and gets redis's released address.
        let _ = book.update_container(&container("postgres", 1, "172.18.0.3", 32781));
        let t = book.target("redis", 8080).unwrap();
        assert_eq!(t.addr, "127.0.0.1:32776".parse().unwrap());
        assert!(!t.direct);
    }

    #[test]
    fn the_lowest_running_replica_wins() {
        let book = AddressBook::new();
        book.refresh(&[
            container("md", 2, "172.18.0.12", 2),
            container("md", 1, "172.18.0.11", 1),
        ]);
        assert_eq!(
            book.lookup("md", 8081),
            Some("172.18.0.11:8081".parse().unwrap())
        );
        let mut down = container("md", 1, "", 0);
        down.running = false;
        down.networks = vec![];
        let _ = book.update_container(&down);
        assert_eq!(
            book.lookup("md", 8081),
            Some("172.18.0.12:8081".parse().unwrap())
        );
    }

    #[tokio::test]
    async fn falls_back_to_published_ports_when_container_addresses_do_not_answer() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let published = listener.local_addr().unwrap();
        let book = AddressBook::new();
        // 192.0.2.0/24 (TEST-NET-1) is routed nowhere: the connect times out or fails.
        let mut c = container("gateway", 1, "192.0.2.1", published.port());
        c.published = vec![(8080, published)];
        book.refresh(&[c]);
        let note = book.check_direct(Duration::from_millis(200)).await;
        assert!(note.is_some_and(|n| n.contains("cannot reach containers")));
        assert_eq!(book.lookup("gateway", 8080), Some(published));
    }

    #[tokio::test]
    async fn keeps_container_addresses_when_they_answer() {
        let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
        let direct = listener.local_addr().unwrap();
        let book = AddressBook::new();
        let mut c = container("gateway", 1, "127.0.0.2", 1);
        c.published = vec![(direct.port(), SocketAddr::from(([127, 0, 0, 1], 1)))];
        book.refresh(&[c]);
        assert_eq!(book.check_direct(Duration::from_millis(200)).await, None);
        assert_eq!(book.lookup("gateway", direct.port()), Some(direct));
    }
}
