//! Building the set of rules of one fault, and applying it in a namespace (all or nothing).

use std::net::Ipv4Addr;
use std::sync::Arc;

use serde::Serialize;

use super::applied::AppliedRules;
use super::command::{CommandRunner, in_netns, run_checked};
use super::error::RuleError;
use super::marker::Marker;
use super::rule::{IPTABLES, IptablesRule, NetRule, TC, TbfQdisc};

/// Which packets of the namespace a loss or partition rule drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PacketDirection {
    /// Packets arriving in the namespace (INPUT).
    Ingress,
    /// Packets leaving the namespace (OUTPUT).
    Egress,
    /// Both ways (INPUT and OUTPUT).
    Both,
}

impl PacketDirection {
    fn ingress(self) -> bool {
        matches!(self, PacketDirection::Ingress | PacketDirection::Both)
    }
    fn egress(self) -> bool {
        matches!(self, PacketDirection::Egress | PacketDirection::Both)
    }
}

/// Rules for one fault, not yet applied.
#[derive(Debug, Clone)]
pub struct RuleSet {
    marker: Marker,
    rules: Vec<NetRule>,
}

fn words(items: &[&str]) -> Vec<String> {
    items.iter().map(|w| (*w).to_owned()).collect()
}

impl RuleSet {
    /// An empty rule set whose rules will carry `marker`'s comment.
    pub fn new(marker: Marker) -> Self {
        RuleSet {
            marker,
            rules: Vec::new(),
        }
    }

    /// The run and fault the rules' comments name.
    pub fn marker(&self) -> &Marker {
        &self.marker
    }

    fn push_iptables(&mut self, table: &'static str, chain: &'static str, spec: Vec<String>) {
        let comment = self.marker.comment(self.rules.len());
        self.rules.push(NetRule::Iptables(IptablesRule::new(
            table, chain, spec, comment,
        )));
    }

    /// Sends the namespace's outgoing TCP connections to `dport` (optionally only those to
    /// `dest`) to a local proxy on `to_port`; connections marked `mark` (the proxy's own)
    /// pass untouched.
    pub fn redirect_egress(
        mut self,
        dport: u16,
        dest: Option<Ipv4Addr>,
        mark: u32,
        to_port: u16,
    ) -> Self {
        let mut spec = words(&["-p", "tcp", "--dport"]);
        spec.push(dport.to_string());
        if let Some(dest) = dest {
            spec.extend(["-d".to_owned(), dest.to_string()]);
        }
        spec.extend(words(&["-m", "mark", "!", "--mark"]));
        spec.push(mark.to_string());
        spec.extend(words(&["-j", "REDIRECT", "--to-ports"]));
        spec.push(to_port.to_string());
        self.push_iptables("nat", "OUTPUT", spec);
        self
    }

    /// Sends incoming TCP connections to `dport` to a proxy listening on `to_port`.
    pub fn redirect_ingress(mut self, dport: u16, to_port: u16) -> Self {
        let mut spec = words(&["-p", "tcp", "--dport"]);
        spec.push(dport.to_string());
        spec.extend(words(&["-j", "REDIRECT", "--to-ports"]));
        spec.push(to_port.to_string());
        self.push_iptables("nat", "PREROUTING", spec);
        self
    }

    /// Resets (TCP RST) outgoing connections to `dport` (and `dest`) that were established
    /// before a REDIRECT was added: NAT only steers new connections, so a pooled keep-alive
    /// connection would bypass the proxy for the whole fault. Redirected connections no longer
    /// match (their destination is the proxy), nor do the proxy's own (marked `mark`).
    pub fn reset_established_egress(
        mut self,
        dport: u16,
        dest: Option<Ipv4Addr>,
        mark: u32,
    ) -> Self {
        let spec = reset_established_spec(dport, dest, mark);
        self.push_iptables("filter", "OUTPUT", spec);
        self
    }

    /// Resets incoming connections to `dport` established before an ingress REDIRECT, so
    /// clients reconnect through the proxy (redirected ones arrive on the proxy's port). The
    /// proxy's own connection to `dport` is delivered locally through INPUT too: it carries
    /// `mark` and is let through.
    pub fn reset_established_ingress(mut self, dport: u16, mark: u32) -> Self {
        let spec = reset_established_spec(dport, None, mark);
        self.push_iptables("filter", "INPUT", spec);
        self
    }

    /// Drops each packet with `probability`, limited to `peers` if any are given (else all
    /// traffic except loopback).
    pub fn loss(
        mut self,
        probability: f64,
        direction: PacketDirection,
        peers: &[Ipv4Addr],
    ) -> Result<Self, RuleError> {
        if !(probability > 0.0 && probability <= 1.0) {
            return Err(RuleError::Invalid(format!(
                "loss probability {probability} is not within (0, 1]"
            )));
        }
        let random = ["-m", "statistic", "--mode", "random", "--probability"];
        let mut tail = words(&random);
        tail.push(format!("{probability}"));
        tail.extend(words(&["-j", "DROP"]));
        self.drop_rules(direction, peers, &tail);
        Ok(self)
    }

    /// Drops every packet to and/or from `peers`.
    pub fn partition(
        mut self,
        direction: PacketDirection,
        peers: &[Ipv4Addr],
    ) -> Result<Self, RuleError> {
        if peers.is_empty() {
            return Err(RuleError::Invalid(
                "a partition needs at least one peer".to_owned(),
            ));
        }
        self.drop_rules(direction, peers, &words(&["-j", "DROP"]));
        Ok(self)
    }

    fn drop_rules(&mut self, direction: PacketDirection, peers: &[Ipv4Addr], tail: &[String]) {
        for (wanted, chain, peer_flag, lo_flag) in [
            (direction.ingress(), "INPUT", "-s", "-i"),
            (direction.egress(), "OUTPUT", "-d", "-o"),
        ] {
            if !wanted {
                continue;
            }
            if peers.is_empty() {
                // Loopback carries the proxy's own hop: dropping it would fault twice.
                let mut spec = words(&["!", lo_flag, "lo"]);
                spec.extend_from_slice(tail);
                self.push_iptables("filter", chain, spec);
            }
            for peer in peers {
                let mut spec = vec![peer_flag.to_owned(), peer.to_string()];
                spec.extend_from_slice(tail);
                self.push_iptables("filter", chain, spec);
            }
        }
    }

    /// Fails the namespace's DNS queries: UDP and TCP to port 53, matched on the connection's
    /// original destination port, so a resolver reached through NAT (Docker's embedded one
    /// at 127.0.0.11:53 is rewritten to another port before the filter table) is caught too.
    /// `refuse` rejects the queries on their way out (the sender's `send` fails, or an ICMP
    /// port unreachable / TCP reset comes back: the lookup fails at once). Otherwise what
    /// comes in is dropped: the query to a resolver in the namespace (Docker's, over `lo`)
    /// or the answer of one outside it, so the query leaves normally and the lookup times
    /// out (dropped on its way out, `send` itself would fail at once with EPERM). With `names`, only queries
    /// carrying one of them as a label of the name asked (any case; so `marketdata-a` also
    /// catches `marketdata-a.ns.svc.cluster.local`).
    pub fn dns_failure(mut self, names: &[String], refuse: bool) -> Result<Self, RuleError> {
        check_labels(names)?;
        for proto in ["udp", "tcp"] {
            let target: &[&str] = match (refuse, proto) {
                (false, _) => &["-j", "DROP"],
                (true, "udp") => &["-j", "REJECT", "--reject-with", "icmp-port-unreachable"],
                (true, _) => &["-j", "REJECT", "--reject-with", "tcp-reset"],
            };
            let base = words(&["-p", proto, "-m", "conntrack", "--ctorigdstport", "53"]);
            let specs = label_specs(&base, names);
            let chain = if refuse { "OUTPUT" } else { "INPUT" };
            for mut spec in specs {
                spec.extend(words(target));
                self.push_iptables("filter", chain, spec);
            }
        }
        Ok(self)
    }

    /// Sends the namespace's DNS queries over UDP (all, or those naming one of `names` as a
    /// label, as [`RuleSet::dns_failure`]) to a local resolver on 127.0.0.1:`to_port` that
    /// answers them itself. Inserted first in `nat OUTPUT`, before Docker's own redirection of
    /// its embedded resolver (127.0.0.11), so a query is sent there as the application sent it.
    /// TCP lookups are left alone (a resolver falls back to TCP only after a truncated UDP
    /// answer, and the local one never truncates).
    ///
    /// NAT is decided once per conntrack entry, and a UDP entry outlives its lookup by 30 s
    /// (120 s once answered twice). A query whose source port an earlier lookup used still
    /// matches that entry, already sent to the real resolver, and would pass the fault by;
    /// after the revert, an entry made during the fault would keep sending its port to the
    /// stopped local resolver. So the matching queries are first put in a conntrack zone of
    /// this fault's own (`raw OUTPUT`, `CT --zone-orig`): each is a new entry there, which the
    /// REDIRECT decides, and no query made outside the fault ever finds one of them.
    ///
    /// Errors: a name is not one DNS label.
    pub fn dns_answer(mut self, names: &[String], to_port: u16) -> Result<Self, RuleError> {
        check_labels(names)?;
        let specs = label_specs(&words(&["-p", "udp", "--dport", "53"]), names);
        let zone = self.marker.conntrack_zone();
        // Zone first, REDIRECT second: rules are removed in reverse, so at no point does a
        // REDIRECT see a query outside the zone.
        for mut spec in specs.clone() {
            spec.extend(words(&["-j", "CT", "--zone-orig"]));
            spec.push(zone.to_string());
            self.push_iptables("raw", "OUTPUT", spec);
        }
        for mut spec in specs {
            spec.extend(words(&["-j", "REDIRECT", "--to-ports"]));
            spec.push(to_port.to_string());
            self.push_iptables("nat", "OUTPUT", spec);
        }
        Ok(self)
    }

    /// Caps the egress of interface `dev` to `bytes_per_sec` with a tc token bucket.
    pub fn bandwidth(mut self, dev: &str, bytes_per_sec: u64) -> Result<Self, RuleError> {
        let plain_name = !dev.is_empty()
            && dev.len() <= 15
            && dev
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
        if !plain_name {
            return Err(RuleError::Invalid(format!(
                "{dev:?} is not an interface name"
            )));
        }
        if bytes_per_sec < 1000 {
            return Err(RuleError::Invalid(
                "bandwidth below 1000 bytes/s is not supported by tbf here".to_owned(),
            ));
        }
        if self
            .rules
            .iter()
            .any(|r| matches!(r, NetRule::Tbf(t) if t.dev == dev))
        {
            return Err(RuleError::Invalid(format!(
                "{dev} already has a bandwidth cap in this set"
            )));
        }
        self.rules.push(NetRule::Tbf(TbfQdisc {
            dev: dev.to_owned(),
            bytes_per_sec,
            // At least a few full frames, and about 10 ms of traffic, so the bucket can pass
            // one timer tick's worth of data.
            burst_bytes: (bytes_per_sec / 100).max(4 * 1514),
            latency_ms: 200,
        }));
        Ok(self)
    }

    /// The commands `apply` runs, in order, without any namespace prefix: for dry runs and logs.
    pub fn commands(&self) -> Vec<(String, Vec<String>)> {
        self.rules.iter().map(add_command).collect()
    }

    /// Applies every rule in the namespace of `pid`, then checks each is present. On any
    /// failure the rules applied so far are removed before the error is returned.
    pub fn apply(
        self,
        runner: Arc<dyn CommandRunner>,
        pid: u32,
    ) -> Result<AppliedRules, RuleError> {
        let mut applied = AppliedRules::empty(pid, self.marker, runner.clone());
        for rule in self.rules {
            let (program, args) = add_command(&rule);
            let (program, args) = in_netns(Some(pid), &program, &args);
            if let Err(error) = run_checked(runner.as_ref(), &program, &args) {
                // The original failure is the one worth reporting; removal is best effort.
                let _ = applied.remove_all();
                return Err(error);
            }
            applied.push(rule);
        }
        if let Err(error) = applied.verify() {
            let _ = applied.remove_all();
            return Err(error);
        }
        Ok(applied)
    }
}

/// TCP to `dport` (and `dest`), not marked `mark`, already ESTABLISHED: answered with a RST.
fn reset_established_spec(dport: u16, dest: Option<Ipv4Addr>, mark: u32) -> Vec<String> {
    let mut spec = words(&["-p", "tcp", "--dport"]);
    spec.push(dport.to_string());
    if let Some(dest) = dest {
        spec.extend(["-d".to_owned(), dest.to_string()]);
    }
    spec.extend(words(&["-m", "mark", "!", "--mark"]));
    spec.push(mark.to_string());
    spec.extend(words(&[
        "-m",
        "conntrack",
        "--ctstate",
        "ESTABLISHED",
        "-j",
        "REJECT",
        "--reject-with",
        "tcp-reset",
    ]));
    spec
}

fn add_command(rule: &NetRule) -> (String, Vec<String>) {
    match rule {
        NetRule::Iptables(rule) => (IPTABLES.to_owned(), rule.add_args()),
        NetRule::Tbf(qdisc) => (TC.to_owned(), qdisc.add_args()),
    }
}

/// `base` once (every query) when `names` is empty, else once per name with a match of that
/// name as a label of the query's (a label on the wire is its length byte, then its text).
fn label_specs(base: &[String], names: &[String]) -> Vec<Vec<String>> {
    if names.is_empty() {
        return vec![base.to_vec()];
    }
    names
        .iter()
        .map(|name| {
            let mut spec = base.to_vec();
            spec.extend(words(&[
                "-m",
                "string",
                "--algo",
                "bm",
                "--icase",
                "--hex-string",
            ]));
            spec.push(format!("|{:02x}|{name}", name.len()));
            spec
        })
        .collect()
}

/// Errors unless every name is one DNS label (what the rules match on the wire).
fn check_labels(names: &[String]) -> Result<(), RuleError> {
    for name in names {
        let label_ok = (1..=63).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !label_ok {
            return Err(RuleError::Invalid(format!(
                "`{name}` is not one DNS label (1-63 letters, digits, `-`, `_`)"
            )));
        }
    }
    Ok(())
}
