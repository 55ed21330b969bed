//! The transparent interception of every path a scenario's proxy faults name, wired when the
//! stack comes up and kept until teardown, so a fault only adds and removes a toxic on live
//! connections and never resets one (toxiproxy's rule).
//!
//! NAT only steers new connections, so wiring closes (once, `ss -K`) the path's connections
//! that were opened while the stack came up and waits for the application to reconnect
//! through the proxy — all before the load starts. With no toxic installed the proxy is a
//! pass-through (+39 µs p50 measured). A container that restarts gets a new network namespace
//! without the rules: its path is wired again on Docker's `start` event, and the toxics in
//! force then are installed on the new proxy.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::EventsOptionsBuilder;
use chaosgate_proxy::netns_rules::{
    AppliedRules, CommandRunner, ConnectionsOn, Marker, RuleCounters, RuleSet, SystemRunner,
    close_established,
};
use chaosgate_proxy::{ProxyConfig, ProxyCounters, ProxyHandle, Toxic, Upstream};
use futures::StreamExt;
use serde_json::{Value, json};

use super::{Link, PROXY_MARK, path_peer_ips, peer_ips};
use crate::plan::{PlannedFault, RunSpec};
use crate::stack::ContainerInfo;
use crate::stack::docker::{PROJECT_LABEL, inspect};

/// How long wiring waits for the connections it closed to come back through the proxy.
const RECONNECT_BOUND: Duration = Duration::from_secs(10);
/// The reconnected path counts as settled once its traffic has been quiet this long (the
/// application's connection setup — handshake, prepared statements — is over)...
const SETTLE_QUIET: Duration = Duration::from_millis(200);
/// ...or once no connection has been opened through the proxy for this long: a path with
/// periodic traffic (the reference gateway checks each replica every 200 ms) is never quiet for
/// [`SETTLE_QUIET`], and waiting for that held every run with a proxy fault for the whole
/// [`RECONNECT_BOUND`] and then said the connections were not back when they were.
const SETTLE_NO_NEW_CONNECTION: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(25);

/// Interceptions of the runs in this process, by run id: the fault tasks find theirs here.
static WIRED: Mutex<BTreeMap<String, Arc<Wiring>>> = Mutex::new(BTreeMap::new());

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The interceptions of one run. Dropping it removes every rule and stops every proxy (it is
/// held until the run's work is over, before the stack goes down).
pub struct Interceptions {
    run_id: String,
    wiring: Arc<Wiring>,
    watcher: Option<tokio::task::JoinHandle<()>>,
}

/// The wired paths of one run.
#[derive(Debug)]
pub(super) struct Wiring {
    run_id: String,
    seed: u64,
    runner: Arc<dyn CommandRunner>,
    paths: Mutex<Vec<WiredPath>>,
}

#[derive(Debug)]
struct WiredPath {
    target: ContainerInfo,
    link: Link,
    /// For an egress link: the peer service's containers (their addresses change on restart).
    peers: Vec<ContainerInfo>,
    number: usize,
    generation: u32,
    live: Option<Live>,
    /// Final counters of proxies whose namespace went away with a restart.
    retired: Vec<ProxyCounters>,
    /// What wiring did on this path, in order: evidence for the faults on it.
    log: Vec<String>,
}

#[derive(Debug)]
struct Live {
    proxy: ProxyHandle,
    rules: AppliedRules,
    pid: u32,
    peer_ips: Vec<Ipv4Addr>,
}

/// What a fault on a wired path leaves as evidence when its toxic is removed.
pub(super) struct ToxicOutcome {
    /// The proxy's counters, including proxies retired by a restart.
    pub proxy: ProxyCounters,
    pub rules: Option<RuleCounters>,
    pub error: Option<String>,
}

/// Wires an interception for every (target container, link) a proxy fault of `spec` names,
/// before the load starts. A path that cannot be wired is noted in its log and left to the
/// fault, which then falls back to wiring at fault time (and says what that disturbed).
///
/// `project`: the compose project whose containers are wired again when Docker restarts them
/// (a new network namespace). `None` on Kubernetes: there `containers` are pods, their `pid`
/// their sandbox's, which a container restart keeps (rules and proxy stay in force); a pod
/// replaced by a new one is not wired again.
pub async fn wire_interceptions(
    spec: &RunSpec,
    docker: &Docker,
    project: Option<&str>,
    containers: &[ContainerInfo],
    run_id: &str,
) -> Interceptions {
    let paths = paths_to_wire(&spec.faults, containers)
        .into_iter()
        .enumerate()
        .map(|(number, (target, link, peers))| WiredPath {
            target,
            link,
            peers,
            number,
            generation: 0,
            live: None,
            retired: vec![],
            log: vec![],
        })
        .collect();
    let wiring = Arc::new(Wiring {
        run_id: run_id.to_string(),
        seed: spec.seed,
        runner: Arc::new(SystemRunner::default()),
        paths: Mutex::new(paths),
    });
    let count = lock(&wiring.paths).len();
    for index in 0..count {
        let w = wiring.clone();
        let wired = tokio::task::spawn_blocking(move || w.wire(index, true)).await;
        let closed = match wired {
            Ok(Some(closed)) => closed,
            _ => continue,
        };
        if closed > 0 {
            wiring.wait_reconnected(index, closed).await;
        }
    }
    lock(&WIRED).insert(run_id.to_string(), wiring.clone());
    let watcher = project.filter(|_| count > 0).map(|project| {
        tokio::spawn(rewire_on_start(
            wiring.clone(),
            docker.clone(),
            project.to_string(),
        ))
    });
    Interceptions {
        run_id: run_id.to_string(),
        wiring,
        watcher,
    }
}

/// (target container, link, the link's peer containers) for every running container of a
/// service a proxy fault names, once per distinct link: two faults on one path share it.
fn paths_to_wire(
    faults: &[PlannedFault],
    containers: &[ContainerInfo],
) -> Vec<(ContainerInfo, Link, Vec<ContainerInfo>)> {
    let mut wanted: Vec<(&str, &Link)> = Vec::new();
    for f in faults {
        if let Some(link) = f.proxy_link()
            && !wanted.contains(&(f.service.as_str(), link))
        {
            wanted.push((f.service.as_str(), link));
        }
    }
    let mut paths = Vec::new();
    for (service, link) in wanted {
        let peers: Vec<ContainerInfo> = match link {
            Link::Egress { service: peer, .. } => containers
                .iter()
                .filter(|c| &c.service == peer)
                .cloned()
                .collect(),
            Link::Ingress { .. } => vec![],
        };
        for target in containers
            .iter()
            .filter(|c| c.service == service && c.running)
        {
            paths.push((target.clone(), link.clone(), peers.clone()));
        }
    }
    paths
}

/// The wiring of run `run_id`, if it wired any path.
pub(super) fn wiring_of(run_id: &str) -> Option<Arc<Wiring>> {
    lock(&WIRED).get(run_id).cloned()
}

impl Drop for Interceptions {
    fn drop(&mut self) {
        if let Some(w) = self.watcher.take() {
            w.abort();
        }
        lock(&WIRED).remove(&self.run_id);
        for path in lock(&self.wiring.paths).iter_mut() {
            if let Some(live) = path.live.take() {
                live.unwire();
            }
        }
    }
}

impl Live {
    fn unwire(self) {
        // A namespace that went away with its process took its rules along.
        if std::path::Path::new(&format!("/proc/{}", self.pid)).exists() {
            if let Err(e) = self.rules.remove() {
                tracing::warn!("removing the interception rules in pid {}: {e}", self.pid);
            }
        } else {
            self.rules.abandon();
        }
        drop(self.proxy);
    }
}

/// When a path whose connections wiring closed counts as back and set up: every closed
/// connection reopened through the proxy, then either its traffic quiet for [`SETTLE_QUIET`] or
/// no new connection for [`SETTLE_NO_NEW_CONNECTION`].
struct Settle {
    closed: u64,
    last: Option<(u64, u64, u64)>,
    quiet_since: tokio::time::Instant,
    no_new_connection_since: tokio::time::Instant,
}

impl Settle {
    fn new(closed: u64, now: tokio::time::Instant) -> Self {
        Settle {
            closed,
            last: None,
            quiet_since: now,
            no_new_connection_since: now,
        }
    }

    /// Takes the proxy's (connections accepted, bytes upstream, bytes downstream) at `now`;
    /// true once the path is settled.
    fn observe(&mut self, now: tokio::time::Instant, traffic: (u64, u64, u64)) -> bool {
        if self.last.is_none_or(|l| l.0 != traffic.0) {
            self.no_new_connection_since = now;
        }
        if self.last != Some(traffic) {
            self.quiet_since = now;
        }
        self.last = Some(traffic);
        traffic.0 >= self.closed
            && (now - self.quiet_since >= SETTLE_QUIET
                || now - self.no_new_connection_since >= SETTLE_NO_NEW_CONNECTION)
    }
}

impl Wiring {
    /// Wires path `index` in its target's current namespace (blocking: starts a thread and
    /// runs iptables/ss). `toxics` installed on the previous proxy carry over. Returns how
    /// many connections opened before the wiring were closed, `None` when it failed.
    fn wire(&self, index: usize, at_stack_start: bool) -> Option<usize> {
        let mut paths = lock(&self.paths);
        let path = &mut paths[index];
        let carried: Vec<Toxic> = path
            .live
            .as_ref()
            .map(|l| l.proxy.toxics())
            .unwrap_or_default();
        match self.start(path, &carried) {
            Ok((live, closed)) => {
                let when = if at_stack_start {
                    "at stack start, before the load"
                } else {
                    "again after the container restarted"
                };
                path.log.push(format!(
                    "wired {when}: proxy port {} in pid {}'s namespace{}{}",
                    live.proxy.local_addr().port(),
                    live.pid,
                    if live.peer_ips.is_empty() {
                        String::new()
                    } else {
                        format!(" for {:?}", live.peer_ips)
                    },
                    if closed > 0 {
                        format!(
                            "; {closed} connection(s) opened before it were closed so they \
                             reconnect through the proxy"
                        )
                    } else {
                        String::new()
                    }
                ));
                if let Some(old) = path.live.replace(live) {
                    path.retired.push(old.proxy.counters());
                    old.unwire();
                }
                Some(closed)
            }
            Err(e) => {
                path.log.push(format!("could not be wired: {e}"));
                None
            }
        }
    }

    fn start(&self, path: &mut WiredPath, carried: &[Toxic]) -> Result<(Live, usize), String> {
        let t = &path.target.clone();
        let listen: SocketAddr = match path.link {
            // REDIRECT from OUTPUT rewrites the destination to 127.0.0.1.
            Link::Egress { .. } => SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            Link::Ingress { .. } => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        };
        let proxy = chaosgate_proxy::spawn_in_netns(
            t.pid,
            ProxyConfig {
                listen,
                upstream: Upstream::OriginalDst { mark: PROXY_MARK },
                seed: self.seed,
            },
        )
        .map_err(|e| format!("starting the fault proxy in {}'s namespace: {e}", t.name))?;
        // Toxics first, rules after: no connection passes the new proxy unfaulted.
        for toxic in carried {
            proxy.add_toxic(toxic.clone()).map_err(|e| e.to_string())?;
        }
        let port = proxy.local_addr().port();
        let marker = Marker::new(
            &self.run_id,
            &format!("intercept-{}-{}", path.number, path.generation),
        )
        .map_err(|e| e.to_string())?;
        path.generation += 1;
        let mut rules = RuleSet::new(marker);
        let mut closing = Vec::new();
        let ips = match &path.link {
            Link::Egress {
                service,
                port: dport,
            } => {
                let ips = path_peer_ips(t, &path.peers, service)?;
                for ip in &ips {
                    rules = rules.redirect_egress(*dport, Some(*ip), PROXY_MARK, port);
                    closing.push(ConnectionsOn::Egress {
                        dest: *ip,
                        port: *dport,
                        spare: PROXY_MARK,
                    });
                }
                ips
            }
            Link::Ingress { port: dport } => {
                rules = rules.redirect_ingress(*dport, port);
                closing.push(ConnectionsOn::Ingress { port: *dport });
                vec![]
            }
        };
        let rules = rules
            .apply(self.runner.clone(), t.pid)
            .map_err(|e| format!("applying the redirect in {}'s namespace: {e}", t.name))?;
        let mut closed = 0;
        for on in closing {
            closed += close_established(&self.runner, t.pid, on).map_err(|e| {
                format!(
                    "closing connections opened before the redirect in {}: {e}",
                    t.name
                )
            })?;
        }
        Ok((
            Live {
                proxy,
                rules,
                pid: t.pid,
                peer_ips: ips,
            },
            closed,
        ))
    }

    /// Waits until `closed` connections came back through path `index`'s proxy and the path
    /// settled ([`Settle`]: the application finished setting them up), or the bound passed.
    async fn wait_reconnected(&self, index: usize, closed: usize) {
        let started = tokio::time::Instant::now();
        let mut settle = Settle::new(closed as u64, started);
        let mut note = format!(
            "{closed} closed connection(s) not all back through the proxy after {RECONNECT_BOUND:?}"
        );
        while started.elapsed() < RECONNECT_BOUND {
            let counters = lock(&self.paths)[index]
                .live
                .as_ref()
                .map(|l| l.proxy.counters());
            let Some(c) = counters else { return };
            let traffic = (c.connections_accepted, c.bytes_upstream, c.bytes_downstream);
            if settle.observe(tokio::time::Instant::now(), traffic) {
                note = format!(
                    "{} connection(s) back through the proxy after {} ms",
                    c.connections_accepted,
                    started.elapsed().as_millis()
                );
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        lock(&self.paths)[index].log.push(note);
    }

    /// Re-wires after a container started again: paths whose target it is (new namespace),
    /// and egress paths to its service whose peer addresses changed.
    async fn container_started(self: &Arc<Self>, docker: &Docker, id: &str) {
        let Ok(info) = inspect(docker, id).await else {
            return;
        };
        let mut todo = Vec::new();
        {
            let mut paths = lock(&self.paths);
            for (index, path) in paths.iter_mut().enumerate() {
                if path.target.id == id {
                    if path.live.as_ref().is_some_and(|l| l.pid == info.pid) {
                        continue;
                    }
                    path.target = info.clone();
                    todo.push((index, true));
                } else if let Some(peer) = path.peers.iter_mut().find(|p| p.id == id) {
                    *peer = info.clone();
                    let Link::Egress { service, .. } = &path.link else {
                        continue;
                    };
                    let ips = peer_ips(&path.target, &path.peers, std::slice::from_ref(service));
                    if path.live.as_ref().is_some_and(|l| l.peer_ips != ips) {
                        todo.push((index, false));
                    }
                }
            }
        }
        for (index, new_namespace) in todo {
            let w = self.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if new_namespace {
                    w.wire(index, false);
                } else {
                    w.follow_peers(index);
                }
            })
            .await;
        }
    }

    /// Points path `index`'s redirect at its peers' current addresses (a peer restarted with
    /// a new one), keeping the proxy and the connections it carries; closes the connections
    /// the application opened to the new address before the redirect covered it. Blocking.
    fn follow_peers(&self, index: usize) {
        let mut paths = lock(&self.paths);
        let path = &mut paths[index];
        let Link::Egress {
            service,
            port: dport,
        } = path.link.clone()
        else {
            return;
        };
        let ips = peer_ips(&path.target, &path.peers, std::slice::from_ref(&service));
        let Some(live) = path.live.as_mut() else {
            return;
        };
        let marker = match Marker::new(
            &self.run_id,
            &format!("intercept-{}-{}", path.number, path.generation),
        ) {
            Ok(m) => m,
            Err(e) => {
                path.log.push(format!("could not follow {service}: {e}"));
                return;
            }
        };
        path.generation += 1;
        let port = live.proxy.local_addr().port();
        let mut rules = RuleSet::new(marker);
        for ip in &ips {
            rules = rules.redirect_egress(dport, Some(*ip), PROXY_MARK, port);
        }
        let outcome = rules
            .apply(self.runner.clone(), live.pid)
            .map_err(|e| e.to_string())
            .and_then(|applied| {
                let old = std::mem::replace(&mut live.rules, applied);
                old.remove().map_err(|e| e.to_string())?;
                let mut closed = 0;
                for ip in ips.iter().filter(|ip| !live.peer_ips.contains(ip)) {
                    let on = ConnectionsOn::Egress {
                        dest: *ip,
                        port: dport,
                        spare: PROXY_MARK,
                    };
                    closed +=
                        close_established(&self.runner, live.pid, on).map_err(|e| e.to_string())?;
                }
                Ok(closed)
            });
        match outcome {
            Ok(closed) => {
                path.log.push(format!(
                    "{service} restarted at a new address: redirect now for {ips:?} \
                     ({closed} connection(s) opened to it before that were closed)"
                ));
                live.peer_ips = ips;
            }
            Err(e) => path.log.push(format!("could not follow {service}: {e}")),
        }
    }

    /// What wiring did on the path of `container_id` and `link`, if it is one.
    pub(super) fn log_of(&self, container_id: &str, link: &Link) -> Option<String> {
        let index = self.find(container_id, link)?;
        Some(lock(&self.paths)[index].log.join("; "))
    }

    fn find(&self, container_id: &str, link: &Link) -> Option<usize> {
        lock(&self.paths)
            .iter()
            .position(|p| p.target.id == container_id && &p.link == link)
    }

    /// Installs `toxic` on the wired path of `container_id` and proves it: the toxic is
    /// listed back and the redirect is in force. `Ok(None)` when the path is not wired.
    /// Blocking (lists iptables rules).
    pub(super) fn add_toxic(
        &self,
        container_id: &str,
        link: &Link,
        toxic: Toxic,
    ) -> Result<Option<Value>, String> {
        let Some(index) = self.find(container_id, link) else {
            return Ok(None);
        };
        let paths = lock(&self.paths);
        let path = &paths[index];
        let Some(live) = &path.live else {
            return Ok(None);
        };
        let name = toxic.name.clone();
        live.proxy.add_toxic(toxic).map_err(|e| e.to_string())?;
        if !live.proxy.toxics().iter().any(|t| t.name == name) {
            return Err(format!("toxic {name} is not listed by the proxy"));
        }
        live.rules
            .verify()
            .map_err(|e| format!("the interception's redirect is not in force: {e}"))?;
        Ok(Some(json!({
            "wired": "at stack start; the fault only adds and removes its toxic (no connection reset)",
            "proxy_port": live.proxy.local_addr().port(),
            "pid": live.pid,
            "log": path.log,
        })))
    }

    /// Removes toxic `name` from path `container_id`/`link` (whichever proxy carries it now)
    /// and returns the evidence. Blocking (reads iptables counters).
    pub(super) fn remove_toxic(
        &self,
        container_id: &str,
        link: &Link,
        name: &str,
    ) -> Option<ToxicOutcome> {
        let index = self.find(container_id, link)?;
        let paths = lock(&self.paths);
        let path = &paths[index];
        let mut error = None;
        let (mut proxy, rules) = match &path.live {
            Some(live) => {
                if let Err(e) = live.proxy.remove_toxic(name) {
                    error = Some(format!("removing toxic {name}: {e}"));
                }
                (live.proxy.counters(), live.rules.counters().ok())
            }
            None => (empty_counters(), None),
        };
        for old in &path.retired {
            proxy.absorb(old);
        }
        Some(ToxicOutcome {
            proxy,
            rules,
            error,
        })
    }
}

fn empty_counters() -> ProxyCounters {
    ProxyCounters {
        connections_accepted: 0,
        connections_active: 0,
        upstream_connect_errors: 0,
        original_dst_errors: 0,
        bytes_upstream: 0,
        bytes_downstream: 0,
        toxics: BTreeMap::new(),
    }
}

/// Follows the project's `start` events for as long as the run lasts (aborted at teardown).
async fn rewire_on_start(wiring: Arc<Wiring>, docker: Docker, project: String) {
    let filters = std::collections::HashMap::from([
        ("type", vec!["container".to_string()]),
        ("event", vec!["start".to_string()]),
        ("label", vec![format!("{PROJECT_LABEL}={project}")]),
    ]);
    let mut stream =
        Box::pin(docker.events(Some(EventsOptionsBuilder::new().filters(&filters).build())));
    while let Some(item) = stream.next().await {
        let Ok(msg) = item else { continue };
        if let Some(id) = msg.actor.and_then(|a| a.id) {
            wiring.container_started(&docker, &id).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::kinds::{self, Backend, FaultKind, LinkSide, ProxyLink};

    /// (connections accepted, bytes up, bytes down) every 25 ms from `t0` until `settled`.
    fn settle_after(closed: u64, traffic: impl Fn(u32) -> (u64, u64, u64)) -> Option<Duration> {
        let t0 = tokio::time::Instant::now();
        let mut s = Settle::new(closed, t0);
        (0..400u32).find_map(|i| {
            let now = t0 + POLL * i;
            s.observe(now, traffic(i)).then(|| now - t0)
        })
    }

    #[test]
    fn a_reconnected_path_that_goes_quiet_settles_after_the_quiet_period() {
        // The connection is back at 100 ms, its setup traffic ends at 200 ms.
        let took = settle_after(1, |i| {
            let accepted = u64::from(i >= 4);
            (accepted, u64::from(i.min(8)) * 10, 0)
        });
        assert_eq!(took, Some(Duration::from_millis(400)));
    }

    #[test]
    fn a_path_with_periodic_traffic_settles_once_no_connection_opens() {
        // A health check every 200 ms on the one reconnected connection: never quiet for
        // 200 ms (the reference gateway's replicas); settled 1 s after it came back, not at
        // the 10 s bound.
        let took = settle_after(1, |i| {
            let accepted = u64::from(i >= 2);
            (accepted, u64::from(i / 8) * 100, u64::from(i / 8) * 80)
        });
        assert_eq!(
            took,
            Some(Duration::from_millis(50) + SETTLE_NO_NEW_CONNECTION)
        );
    }

    #[test]
    fn a_path_whose_closed_connections_are_not_all_back_never_settles() {
        assert_eq!(settle_after(3, |i| (2, u64::from(i), 0)), None);
    }

    fn container(service: &str, number: u32, running: bool) -> ContainerInfo {
        ContainerInfo {
            id: format!("{service}-{number}"),
            name: format!("p_{service}_{number}"),
            service: service.into(),
            number,
            running,
            paused: false,
            health: None,
            pid: 100 + number,
            restart_count: 0,
            published: vec![],
            networks: vec![("net".into(), format!("10.0.0.{number}"))],
            last_health_check: None,
            aliases: vec![],
            image: "i".into(),
            labels: Default::default(),
        }
    }

    fn fault(name: &str, service: &str, kind: FaultKind) -> PlannedFault {
        PlannedFault::new(name, service, kind, Backend::Compose)
    }

    fn proxy(side: LinkSide) -> FaultKind {
        FaultKind::Latency(kinds::Latency {
            latency: Duration::from_millis(1),
            jitter: Duration::ZERO,
            link: ProxyLink {
                side,
                direction: kinds::Direction::Both,
                toxicity_permille: 1000,
            },
        })
    }

    #[test]
    fn every_running_replica_of_a_proxy_faults_path_is_wired_once() {
        let to_db = Link::Egress {
            service: "postgres".into(),
            port: 5432,
        };
        let db_side = LinkSide::Egress {
            service: "postgres".into(),
            port: 5432,
        };
        let faults = [
            fault("a", "gateway", proxy(db_side.clone())),
            fault("b", "gateway", proxy(db_side)),
            fault("c", "gateway", proxy(LinkSide::Ingress { port: 8080 })),
            fault(
                "d",
                "postgres",
                FaultKind::Loss(kinds::Loss {
                    ratio: 0.3,
                    peers: vec![],
                }),
            ),
            fault("e", "redis", FaultKind::Crash(kinds::Crash)),
        ];
        let containers = [
            container("gateway", 1, true),
            container("gateway", 2, true),
            container("gateway", 3, false),
            container("postgres", 4, true),
            container("redis", 5, true),
        ];
        let paths = paths_to_wire(&faults, &containers);
        let got: Vec<(&str, &Link, Vec<&str>)> = paths
            .iter()
            .map(|(t, l, p)| (t.id.as_str(), l, p.iter().map(|c| c.id.as_str()).collect()))
            .collect();
        let ingress = Link::Ingress { port: 8080 };
        assert_eq!(
            got,
            [
                ("gateway-1", &to_db, vec!["postgres-4"]),
                ("gateway-2", &to_db, vec!["postgres-4"]),
                ("gateway-1", &ingress, vec![]),
                ("gateway-2", &ingress, vec![]),
            ]
        );
    }
}
