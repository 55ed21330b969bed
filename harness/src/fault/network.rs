//! Network faults that work on kernels without `sch_netem`: latency, bandwidth, resets and
//! timeouts through chaosgate's transparent L4 proxy (started inside the target's network
//! namespace, traffic steered to it by an iptables REDIRECT there), packet loss and
//! partitions as iptables rules, and isolation as a network disconnect. Each is verified after
//! applying, reverted at the end (also on Ctrl-C), and leaves counters as evidence; a fault
//! whose counters show it touched no traffic is not counted as applied.
//!
//! A proxy fault touches only what it names: the interception of its path is wired when the
//! stack comes up ([`wire_interceptions`]), and the fault only adds and removes its toxic on
//! live connections. Loss and partition rules match only the fault's peers and drop packets
//! without closing anything.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{EndpointSettings, NetworkConnectRequest, NetworkDisconnectRequest};
use chaosgate_proxy::netns_rules::{
    AppliedRules, CommandRunner, Marker, PacketDirection, RuleCounters, RuleSet,
};
use chaosgate_proxy::{ProxyConfig, ProxyCounters, ProxyHandle, Toxic, ToxicKind, Upstream};
use serde_json::json;
use tokio_util::sync::CancellationToken;

pub mod dns;
mod wiring;

pub use wiring::{Interceptions, wire_interceptions};

use super::lifecycle::{
    Back, Hold, HoldFrom, Lifecycle, Outcome, Proof, Reverted, Stamp, Window, drive,
};
use super::{Evidence, FaultRecord};
use crate::stack::ContainerInfo;
use crate::stack::docker::api_error;
use crate::timeline::EventSink;

/// The SO_MARK of the proxy's own outgoing connections; REDIRECT rules skip it. ("cg")
const PROXY_MARK: u32 = 0x6367;

/// Which connections of the target go through the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// The target's outgoing connections to a service's port.
    Egress {
        /// The service connected to, by compose name.
        service: String,
        /// Its port (the container port, not a published one).
        port: u16,
    },
    /// Connections arriving at the target's port.
    Ingress {
        /// The target's own listening port.
        port: u16,
    },
}

/// A network fault on a target's traffic: through the fault proxy (toxics) or as iptables rules in
/// the target's network namespace.
#[derive(Debug, Clone)]
pub enum NetworkAction {
    /// Route the link's connections through the fault proxy and install `toxic` on them.
    Proxy {
        /// Which of the target's connections go through the proxy.
        link: Link,
        /// What the proxy does to them (latency, bandwidth, reset, timeout, ...).
        toxic: ToxicKind,
        /// Which way of the connection the toxic acts on.
        direction: chaosgate_proxy::Direction,
        /// Fraction of connections affected, 0.0-1.0 (the scenario's per-mille / 1000); picked by
        /// the run's seed.
        toxicity: f64,
    },
    /// Drop packets at random (iptables `statistic` rules in the target's namespace).
    Loss {
        /// Fraction of packets dropped, 0.0-1.0.
        ratio: f64,
        /// Only traffic with these services (all traffic when empty).
        peers: Vec<String>,
    },
    /// Drop all traffic between the target and the peers (iptables rules in the target's
    /// namespace).
    Partition {
        /// Services cut off from the target.
        peers: Vec<String>,
        /// Only the target's traffic to the peers is dropped; `false` cuts both ways.
        one_way: bool,
    },
    /// Fail the target's DNS lookups (iptables rules in its namespace; see `network/dns.rs`).
    Dns {
        /// Only lookups of these services' names (every lookup when empty).
        names: Vec<String>,
        /// How they fail.
        mode: dns::DnsMode,
    },
    /// Disconnect the target from the stack's networks, reconnected with its aliases afterwards.
    Isolate,
}

/// Everything a network fault needs to act and to see its effect.
pub struct NetworkFaultEnv<'a> {
    /// The Docker API client (inspect, network disconnect/connect).
    pub docker: &'a Docker,
    /// Where each fault stage is recorded on the timeline.
    pub sink: &'a EventSink,
    /// The run's ID, naming the proxies wired for it and marking its iptables rules.
    pub run_id: &'a str,
    /// The run's seed, for the proxies' random choices (which connections a toxic hits).
    pub seed: u64,
    /// Where `iptables`/`nsenter` commands run.
    pub runners: Runners,
    /// Every container of the stack (peers are resolved to their IPs from these).
    pub containers: &'a [ContainerInfo],
}

/// Where a network fault's rule commands run.
#[derive(Debug, Clone)]
pub enum Runners {
    /// All on this host (compose; the local cluster without the agent).
    Here(Arc<dyn CommandRunner>),
    /// Each target's on its own node, by target ID (the node agent).
    ByTarget(std::collections::HashMap<String, Arc<dyn CommandRunner>>),
}

impl Runners {
    fn for_target(&self, t: &ContainerInfo) -> Result<Arc<dyn CommandRunner>, String> {
        match self {
            Self::Here(r) => Ok(r.clone()),
            Self::ByTarget(map) => map
                .get(&t.id)
                .cloned()
                .ok_or_else(|| format!("no node agent found for {}", t.name)),
        }
    }
}

/// What must be undone at the end.
enum Applied {
    Proxied {
        /// Toxics installed on interceptions wired at stack start: (wiring, container id, link).
        wired: Vec<(Arc<wiring::Wiring>, String, Link)>,
        /// Proxies started for this fault alone (the path was not wired at stack start).
        own: Vec<(ProxyHandle, AppliedRules)>,
    },
    Rules(Vec<AppliedRules>),
    /// DNS queries redirected to chaosgate's resolvers (one per target, named by target).
    Answered(Vec<AppliedRules>, Vec<(String, dns::Responder)>),
    Isolated(Vec<(ContainerInfo, Vec<String>)>),
}

/// Applies `action` to `targets`, proves it took effect (the rules listed back, or the
/// disconnect), holds it for `duration` (cut short at `run_end` or on `cancel`), reverts it, and
/// withdraws the proof when its counters show it touched no traffic; see [`drive`] for what is
/// recorded and when.
pub async fn run_network_fault(
    env: &NetworkFaultEnv<'_>,
    record: &mut FaultRecord,
    action: &NetworkAction,
    targets: &[ContainerInfo],
    duration: Duration,
    run_end: tokio::time::Instant,
    cancel: &CancellationToken,
) {
    let mut fault = NetworkFault {
        env,
        name: record.name.clone(),
        action,
        targets,
        duration,
        touched: false,
        ended_early: Vec::new(),
    };
    drive(&mut fault, record, env.sink, run_end, cancel).await;
}

/// A network fault going through its [`Lifecycle`].
struct NetworkFault<'a> {
    env: &'a NetworkFaultEnv<'a>,
    name: String,
    action: &'a NetworkAction,
    targets: &'a [ContainerInfo],
    duration: Duration,
    /// Whether the counters read while reverting show any traffic touched.
    touched: bool,
    /// Rules found gone with their network namespace at the revert (the target restarted or
    /// stopped): the fault held only until then.
    ended_early: Vec<String>,
}

impl Lifecycle for NetworkFault<'_> {
    type Undo = Applied;

    fn targets(&self) -> Vec<String> {
        self.targets.iter().map(|c| c.name.clone()).collect()
    }

    fn hold(&self) -> Option<Hold> {
        Some(Hold {
            duration: self.duration,
            from: HoldFrom::Proven,
        })
    }

    /// Applied counts from just before acting. On an error, toxics, proxies and rules already
    /// installed are removed by `apply` and on drop; the networks a failed isolate already
    /// left are handed back to revert, which reconnects them.
    async fn apply(&mut self, evidence: &mut Evidence, stamp: &mut Stamp<'_>) -> Outcome<Applied> {
        stamp.now(None);
        let mut notes = Notes {
            name: self.name.clone(),
            evidence,
        };
        match apply(self.env, &mut notes, self.action, self.targets).await {
            Ok(applied) => Outcome::Done(applied),
            Err(ApplyError { error, acted }) => Outcome::Failed { error, acted },
        }
    }

    /// Applying is proven by the rules being listed back (RuleSet::apply verifies) or the
    /// container having left its networks; whether it touched traffic is judged at the end.
    async fn prove(&mut self, _: &mut Evidence, _: &Window<'_>) -> Proof {
        let detail = match self.action {
            NetworkAction::Proxy { .. } => "toxic installed on the intercepted path",
            NetworkAction::Loss { .. } | NetworkAction::Partition { .. } => {
                "rules listed back in the target's namespace"
            }
            NetworkAction::Dns { .. } => "the canary lookup failed as asked",
            NetworkAction::Isolate => "disconnected from its networks",
        };
        Proof::Verified {
            at_ns: self.env.sink.clock().now_ns(),
            detail: Some(detail.into()),
        }
    }

    async fn revert(&mut self, evidence: &mut Evidence, applied: Applied) -> Reverted {
        let mut notes = Notes {
            name: self.name.clone(),
            evidence,
        };
        let (touched, errors, gone) = revert(self.env, &mut notes, applied).await;
        self.touched = touched;
        self.ended_early = gone;
        if errors.is_empty() {
            Reverted::Done
        } else {
            Reverted::WithErrors(errors.join("; "))
        }
    }

    fn proof_withdrawn(&self) -> Option<String> {
        (!self.touched).then(|| "its counters show it touched no traffic".to_string())
    }

    fn ended_early(&self) -> Option<String> {
        (!self.ended_early.is_empty()).then(|| self.ended_early.join("; "))
    }

    async fn back(&mut self, _: &mut Evidence, _: &Window<'_>) -> Option<Back> {
        None
    }
}

/// The fault's name (which names its toxic and marks its rules) and the evidence its steps add
/// to.
struct Notes<'a> {
    name: String,
    evidence: &'a mut Evidence,
}

/// IPv4 addresses of `services`' containers (among `containers`) on networks `target` is
/// attached to.
fn peer_ips(
    target: &ContainerInfo,
    containers: &[ContainerInfo],
    services: &[String],
) -> Vec<Ipv4Addr> {
    let nets: Vec<&String> = target.networks.iter().map(|(n, _)| n).collect();
    let mut ips: Vec<Ipv4Addr> = containers
        .iter()
        .filter(|c| services.contains(&c.service) && c.id != target.id)
        .flat_map(|c| c.networks.iter())
        .filter(|(n, _)| nets.contains(&n))
        .filter_map(|(_, ip)| ip.parse().ok())
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

/// The addresses of the one `service` a proxied path leads to, as [`peer_ips`]; none is an
/// error naming the service and the target (nothing to redirect).
fn path_peer_ips(
    target: &ContainerInfo,
    containers: &[ContainerInfo],
    service: &String,
) -> Result<Vec<Ipv4Addr>, String> {
    let ips = peer_ips(target, containers, std::slice::from_ref(service));
    if ips.is_empty() {
        return Err(format!(
            "{service} has no address reachable from {}",
            target.name
        ));
    }
    Ok(ips)
}

/// Installs the fault's toxic on each target's interception wired at stack start; a target
/// whose path was not wired gets a proxy of its own now (see [`proxy_at_fault_time`]). On an
/// error every toxic already installed is removed again.
async fn apply_proxy(
    env: &NetworkFaultEnv<'_>,
    record: &mut Notes<'_>,
    marker: &Marker,
    link: &Link,
    toxic: Toxic,
    targets: &[ContainerInfo],
) -> Result<Applied, String> {
    let wiring = wiring::wiring_of(env.run_id);
    let mut wired = Vec::new();
    let mut own = Vec::new();
    let mut result = Ok(());
    for t in targets {
        if let Some(w) = &wiring {
            let (w2, id, l, x) = (w.clone(), t.id.clone(), link.clone(), toxic.clone());
            let added = tokio::task::spawn_blocking(move || w2.add_toxic(&id, &l, x))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
            match added {
                Ok(Some(evidence)) => {
                    record
                        .evidence
                        .insert(format!("{}.interception", t.name), evidence);
                    wired.push((w.clone(), t.id.clone(), link.clone()));
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    result = Err(format!("{}: {e}", t.name));
                    break;
                }
            }
        }
        match proxy_at_fault_time(env, record, marker, link, &toxic, t).await {
            Ok(p) => own.push(p),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    if let Err(e) = result {
        for (w, id, l) in wired {
            let name = toxic.name.clone();
            let _ = tokio::task::spawn_blocking(move || w.remove_toxic(&id, &l, &name)).await;
        }
        return Err(e);
    }
    Ok(Applied::Proxied { wired, own })
}

/// A proxy and redirect for this fault alone, for a path not wired at stack start (its
/// target was not running then, or wiring failed). NAT only steers new connections, so the
/// connections established before are reset to make them reconnect through the proxy — a
/// side effect outside the fault's toxic, named in the evidence.
async fn proxy_at_fault_time(
    env: &NetworkFaultEnv<'_>,
    record: &mut Notes<'_>,
    marker: &Marker,
    link: &Link,
    toxic: &Toxic,
    t: &ContainerInfo,
) -> Result<(ProxyHandle, AppliedRules), String> {
    let handle = chaosgate_proxy::spawn_in_netns(
        t.pid,
        ProxyConfig {
            listen: "0.0.0.0:0".parse().map_err(|e| format!("{e}"))?,
            upstream: Upstream::OriginalDst { mark: PROXY_MARK },
            seed: env.seed,
        },
    )
    .map_err(|e| format!("starting the fault proxy in {}'s namespace: {e}", t.name))?;
    let port = handle.local_addr().port();
    let mut rules = RuleSet::new(marker.clone());
    let reset = match link {
        Link::Egress {
            service,
            port: dport,
        } => {
            let ips = path_peer_ips(t, env.containers, service)?;
            for ip in &ips {
                rules = rules.redirect_egress(*dport, Some(*ip), PROXY_MARK, port);
                rules = rules.reset_established_egress(*dport, Some(*ip), PROXY_MARK);
            }
            record
                .evidence
                .insert(format!("{}.peer_ips", t.name), json!(ips));
            format!("{}'s connections to {service}:{dport}", t.name)
        }
        Link::Ingress { port: dport } => {
            rules = rules.redirect_ingress(*dport, port);
            rules = rules.reset_established_ingress(*dport, PROXY_MARK);
            format!("connections to {}:{dport}", t.name)
        }
    };
    let applied = apply_rules(env, rules, t).await?;
    handle.add_toxic(toxic.clone()).map_err(|e| e.to_string())?;
    record
        .evidence
        .insert(format!("{}.proxy_port", t.name), json!(port));
    let why = wiring::wiring_of(env.run_id)
        .and_then(|w| w.log_of(&t.id, link))
        .unwrap_or_else(|| "its path was not wired at stack start".into());
    let effect = format!(
        "side effect: {reset} established before the fault were reset (RST) so they reconnect \
         through the proxy, and the proxy's connections are closed when the fault ends ({why})"
    );
    env.sink.note(format!("fault {}: {effect}", record.name));
    record
        .evidence
        .insert(format!("{}.side_effects", t.name), json!(effect));
    Ok((handle, applied))
}

/// Why applying failed, and what it had done before that which only a revert undoes (the
/// networks an isolate already left; rules and proxies clean up on drop).
struct ApplyError {
    error: String,
    acted: Option<Applied>,
}

impl From<String> for ApplyError {
    fn from(error: String) -> Self {
        Self { error, acted: None }
    }
}

async fn apply(
    env: &NetworkFaultEnv<'_>,
    record: &mut Notes<'_>,
    action: &NetworkAction,
    targets: &[ContainerInfo],
) -> Result<Applied, ApplyError> {
    let marker = Marker::new(env.run_id, &record.name).map_err(|e| e.to_string())?;
    match action {
        NetworkAction::Proxy {
            link,
            toxic,
            direction,
            toxicity,
        } => {
            let toxic = Toxic {
                name: record.name.clone(),
                kind: toxic.clone(),
                direction: *direction,
                toxicity: *toxicity,
            };
            Ok(apply_proxy(env, record, &marker, link, toxic, targets).await?)
        }
        NetworkAction::Loss { ratio, peers } => {
            let mut out = Vec::new();
            for t in targets {
                let ips = if peers.is_empty() {
                    vec![]
                } else {
                    peer_ips(t, env.containers, peers)
                };
                if !peers.is_empty() && ips.is_empty() {
                    return Err(format!("none of {peers:?} is reachable from {}", t.name).into());
                }
                // Egress only, as netem does: `percent: 30%` loses 30 % of request/response
                // round trips. Dropping both ways would lose 1 - 0.7² = 51 % of them.
                let rules = RuleSet::new(marker.clone())
                    .loss(*ratio, PacketDirection::Egress, &ips)
                    .map_err(|e| e.to_string())?;
                out.push(apply_rules(env, rules, t).await?);
            }
            Ok(Applied::Rules(out))
        }
        NetworkAction::Partition { peers, one_way } => {
            let mut out = Vec::new();
            for t in targets {
                let ips = peer_ips(t, env.containers, peers);
                if ips.is_empty() {
                    return Err(format!("none of {peers:?} is reachable from {}", t.name).into());
                }
                let direction = if *one_way {
                    PacketDirection::Egress
                } else {
                    PacketDirection::Both
                };
                let rules = RuleSet::new(marker.clone())
                    .partition(direction, &ips)
                    .map_err(|e| e.to_string())?;
                out.push(apply_rules(env, rules, t).await?);
            }
            Ok(Applied::Rules(out))
        }
        NetworkAction::Dns { names, mode } => {
            let mut out = Vec::new();
            let mut responders = Vec::new();
            let acted = |out, responders: Vec<_>| {
                if responders.is_empty() {
                    Applied::Rules(out)
                } else {
                    Applied::Answered(out, responders)
                }
            };
            for t in targets {
                let rules = match mode.rcode() {
                    None => RuleSet::new(marker.clone())
                        .dns_failure(names, *mode == dns::DnsMode::Refused),
                    Some(rcode) => {
                        let r = match dns::Responder::start(t.pid, rcode) {
                            Ok(r) => r,
                            Err(error) => {
                                let acted = (!out.is_empty()).then(|| acted(out, responders));
                                return Err(ApplyError { error, acted });
                            }
                        };
                        let port = r.port;
                        responders.push((t.name.clone(), r));
                        RuleSet::new(marker.clone()).dns_answer(names, port)
                    }
                }
                .map_err(|e| e.to_string())?;
                match apply_rules(env, rules, t).await {
                    Ok(a) => out.push(a),
                    Err(error) => {
                        let acted = (!out.is_empty()).then(|| acted(out, responders));
                        return Err(ApplyError { error, acted });
                    }
                }
                // The rules are in place: a lookup from inside must now fail as asked, or the
                // fault is not applied (and its rules are removed by the revert).
                match dns::canary(t.pid, names.first().map(String::as_str), *mode).await {
                    Ok(seen) => {
                        record
                            .evidence
                            .insert(format!("{}.dns_canary", t.name), json!(seen));
                    }
                    Err(error) => {
                        return Err(ApplyError {
                            error,
                            acted: Some(acted(out, responders)),
                        });
                    }
                }
            }
            Ok(acted(out, responders))
        }
        NetworkAction::Isolate => {
            let mut out = Vec::new();
            for t in targets {
                let mut left = Vec::new();
                let mut failed = None;
                for (net, _) in &t.networks {
                    let r = env
                        .docker
                        .disconnect_network(
                            net,
                            NetworkDisconnectRequest {
                                container: Some(t.id.clone()),
                                force: Some(true),
                            },
                        )
                        .await;
                    match r {
                        Ok(()) => left.push(net.clone()),
                        Err(e) => {
                            failed = Some(
                                api_error(format!("disconnecting {} from {net}", t.name))(e)
                                    .to_string(),
                            );
                            break;
                        }
                    }
                }
                record
                    .evidence
                    .insert(format!("{}.disconnected_from", t.name), json!(left));
                out.push((t.clone(), left));
                if let Some(error) = failed {
                    // The networks already left (this target's and the earlier ones') are
                    // reconnected by the revert: a failed fault leaves nothing behind.
                    let acted = out.iter().any(|(_, nets)| !nets.is_empty());
                    return Err(ApplyError {
                        error,
                        acted: acted.then_some(Applied::Isolated(out)),
                    });
                }
            }
            Ok(Applied::Isolated(out))
        }
    }
}

async fn apply_rules(
    env: &NetworkFaultEnv<'_>,
    rules: RuleSet,
    t: &ContainerInfo,
) -> Result<AppliedRules, String> {
    let pid = t.pid;
    let runner = env.runners.for_target(t)?;
    tokio::task::spawn_blocking(move || rules.apply(runner, pid))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("applying iptables/tc rules in pid {pid}'s namespace: {e}"))
}

/// Undoes everything, trying every step; returns whether the fault touched any traffic, the
/// steps that failed, and the rules that were gone with their namespace before the revert.
async fn revert(
    env: &NetworkFaultEnv<'_>,
    record: &mut Notes<'_>,
    applied: Applied,
) -> (bool, Vec<String>, Vec<String>) {
    let mut touched = false;
    let mut errors = Vec::new();
    let mut gone = Vec::new();
    // Rules live in a process's network namespace: when that process is gone (its container
    // restarted or stopped), so are they, and the fault stopped acting then. Nothing is left
    // to remove; the wired interceptions carry their toxics over a restart, these do not.
    let mut still_there = |rules: &AppliedRules| {
        let alive = std::path::Path::new(&format!("/proc/{}", rules.pid())).exists();
        if !alive {
            gone.push(format!(
                "the rules in pid {}'s network namespace were gone at the revert (its container \
                 restarted or stopped), so the fault did not hold its whole duration",
                rules.pid()
            ));
        }
        alive
    };
    match applied {
        Applied::Proxied { wired, own } => {
            let mut proxy: Option<ProxyCounters> = None;
            for (w, id, link) in wired {
                let name = record.name.clone();
                let outcome =
                    tokio::task::spawn_blocking(move || w.remove_toxic(&id, &link, &name))
                        .await
                        .ok()
                        .flatten();
                let Some(o) = outcome else {
                    errors.push("the wired interception was gone".into());
                    continue;
                };
                touched |= o
                    .proxy
                    .toxics
                    .get(&record.name)
                    .is_some_and(|t| t.touched_traffic());
                match &mut proxy {
                    Some(p) => p.absorb(&o.proxy),
                    None => proxy = Some(o.proxy),
                }
                if let Some(c) = o.rules {
                    record.evidence.insert("rules".into(), json!(c));
                }
                errors.extend(o.error);
            }
            if let Some(p) = proxy {
                if let Some(effect) = requests_effect(&p, &record.name) {
                    record.evidence.insert("effect".into(), json!(effect));
                }
                record.evidence.insert("proxy".into(), json!(p));
            }
            for (handle, rules) in own {
                let (counters, removal) = if still_there(&rules) {
                    remove_rules(rules).await
                } else {
                    (None, None)
                };
                // A snapshot first: it is the evidence if stopping fails.
                let before = handle.counters();
                let proxy: ProxyCounters = match handle.shutdown().await {
                    Ok(c) => c,
                    Err(e) => {
                        errors.push(format!("stopping the proxy: {e}"));
                        before
                    }
                };
                touched |= proxy.toxics.values().any(|t| t.touched_traffic());
                if let Some(effect) = requests_effect(&proxy, &record.name) {
                    record.evidence.insert("effect".into(), json!(effect));
                }
                record.evidence.insert("proxy".into(), json!(proxy));
                if let Some(c) = counters {
                    record.evidence.insert("rules".into(), json!(c));
                }
                errors.extend(removal);
            }
        }
        Applied::Rules(list) => {
            for rules in list {
                if !still_there(&rules) {
                    // Whatever it did before is unknown now: counted as touching, so the
                    // ended-early issue, not a withdrawn proof, is what the verdict reads.
                    touched = true;
                    continue;
                }
                let (counters, removal) = remove_rules(rules).await;
                if let Some(c) = counters {
                    touched |= c.total_packets() > 0;
                    record.evidence.insert("rules".into(), json!(c));
                }
                errors.extend(removal);
            }
        }
        Applied::Answered(list, responders) => {
            // The rules first: no query reaches a resolver that is gone.
            for rules in list {
                if !still_there(&rules) {
                    continue;
                }
                let (counters, removal) = remove_rules(rules).await;
                if let Some(c) = counters {
                    record.evidence.insert("rules".into(), json!(c));
                }
                errors.extend(removal);
            }
            let mut effect = Vec::new();
            for (target, r) in responders {
                // The canary's answer counts as touching, as its packet does for the rules of
                // the other modes: the fault was in effect on the target's lookups, and a target
                // that looked nothing up while it lasted (a good build keeping its connections)
                // passes on its own merit. The figure reported is the target's own lookups.
                let total = r.stop();
                touched |= total > 0;
                let answered = total.saturating_sub(1);
                record
                    .evidence
                    .insert(format!("{target}.dns_answered"), json!(answered));
                effect.push(format!(
                    "{target}: {answered} lookups answered with the failure"
                ));
            }
            record
                .evidence
                .insert("effect".into(), json!(effect.join("; ")));
        }
        Applied::Isolated(list) => {
            touched = !list.is_empty();
            for (c, nets) in list {
                for net in nets {
                    let r = env
                        .docker
                        .connect_network(
                            &net,
                            NetworkConnectRequest {
                                container: Some(c.id.clone()),
                                endpoint_config: Some(EndpointSettings {
                                    // Compose's DNS names, as they were before: without
                                    // them the service is unreachable by name afterwards.
                                    aliases: Some(
                                        c.aliases
                                            .iter()
                                            .find(|(n, a)| *n == net && !a.is_empty())
                                            .map(|(_, a)| a.clone())
                                            .unwrap_or_else(|| {
                                                vec![
                                                    c.service.clone(),
                                                    c.id.chars().take(12).collect(),
                                                ]
                                            }),
                                    ),
                                    ..Default::default()
                                }),
                            },
                        )
                        .await;
                    if let Err(e) = r {
                        errors.push(format!("reconnecting {} to {net}: {e}", c.name));
                    }
                }
            }
        }
    }
    (touched, errors, gone)
}

/// An L7 toxic's size, from the proxy's request counters: `28 of 43 matching requests aborted`.
fn requests_effect(proxy: &ProxyCounters, toxic: &str) -> Option<String> {
    let t = proxy.toxics.get(toxic)?;
    let r = t.requests.as_ref()?;
    let verb = match t.kind.as_str() {
        "http_abort" => "aborted",
        "http_delay" => "delayed",
        _ => "acted on",
    };
    let mut s = format!("{} of {} matching requests {verb}", r.acted, r.matched);
    if r.streams_passed_through > 0 {
        s.push_str(&format!(
            ", {} non-HTTP/1 streams passed through",
            r.streams_passed_through
        ));
    }
    Some(s)
}

async fn remove_rules(rules: AppliedRules) -> (Option<RuleCounters>, Option<String>) {
    tokio::task::spawn_blocking(move || {
        let counters = rules.counters().ok();
        let removal = rules.remove().err().map(|e| format!("removing rules: {e}"));
        (counters, removal)
    })
    .await
    .unwrap_or((None, Some("rule removal task failed".into())))
}
