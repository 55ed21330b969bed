//! Building a set of rules for one fault, applying it in a namespace, proving it is there,
//! reading its counters, and removing it (also when dropped).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use serde::Serialize;

use super::command::{CommandRunner, in_netns, run_checked};
use super::error::RuleError;
use super::listing::{commented_rules, qdisc_stats};
use super::marker::Marker;
use super::rule::{
    IPTABLES, IptablesRule, NetRule, QDISC_HANDLE, TC, TbfQdisc, shows_our_root_qdisc,
};

/// Which packets of the namespace a loss or partition rule drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PacketDirection {
    /// Packets arriving in the namespace (INPUT).
    Ingress,
    /// Packets leaving the namespace (OUTPUT).
    Egress,
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
    pub fn new(marker: Marker) -> Self {
        RuleSet {
            marker,
            rules: Vec::new(),
        }
    }

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
        self.push_iptables("filter", "OUTPUT", spec);
        self
    }

    /// Resets incoming connections to `dport` established before an ingress REDIRECT, so
    /// clients reconnect through the proxy (redirected ones arrive on the proxy's port).
    pub fn reset_established_ingress(mut self, dport: u16) -> Self {
        let mut spec = words(&["-p", "tcp", "--dport"]);
        spec.push(dport.to_string());
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
        let mut applied = AppliedRules {
            pid,
            marker: self.marker,
            rules: Vec::with_capacity(self.rules.len()),
            runner,
            removed: false,
        };
        for rule in self.rules {
            let (program, args) = add_command(&rule);
            let (program, args) = in_netns(Some(pid), &program, &args);
            if let Err(error) = run_checked(applied.runner.as_ref(), &program, &args) {
                // The original failure is the one worth reporting; removal is best effort.
                let _ = applied.remove_all();
                return Err(error);
            }
            applied.rules.push(rule);
        }
        if let Err(error) = applied.verify() {
            let _ = applied.remove_all();
            return Err(error);
        }
        Ok(applied)
    }
}

fn add_command(rule: &NetRule) -> (String, Vec<String>) {
    match rule {
        NetRule::Iptables(rule) => (IPTABLES.to_owned(), rule.add_args()),
        NetRule::Tbf(qdisc) => (TC.to_owned(), qdisc.add_args()),
    }
}

/// Packet and byte counters of one applied iptables rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleCounter {
    pub comment: String,
    pub table: String,
    pub chain: String,
    pub packets: u64,
    pub bytes: u64,
}

/// Statistics of an applied tc qdisc.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QdiscCounter {
    pub dev: String,
    pub bytes: u64,
    pub packets: u64,
    pub dropped: u64,
    pub overlimits: u64,
}

/// Evidence that an applied rule set touched traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct RuleCounters {
    pub rules: Vec<RuleCounter>,
    pub qdiscs: Vec<QdiscCounter>,
}

impl RuleCounters {
    /// Packets matched by all iptables rules plus packets sent through all qdiscs.
    pub fn total_packets(&self) -> u64 {
        self.rules.iter().map(|r| r.packets).sum::<u64>()
            + self.qdiscs.iter().map(|q| q.packets).sum::<u64>()
    }
}

/// Rules in force in a namespace. Removed by `remove`, or (best effort) when dropped.
#[derive(Debug)]
pub struct AppliedRules {
    pid: u32,
    marker: Marker,
    rules: Vec<NetRule>,
    runner: Arc<dyn CommandRunner>,
    removed: bool,
}

impl AppliedRules {
    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn marker(&self) -> &Marker {
        &self.marker
    }

    fn run(
        &self,
        program: &str,
        args: &[String],
    ) -> Result<super::command::CommandOutput, RuleError> {
        let (program, args) = in_netns(Some(self.pid), program, args);
        self.runner.run(&program, &args)
    }

    fn run_ok(
        &self,
        program: &str,
        args: &[String],
    ) -> Result<super::command::CommandOutput, RuleError> {
        let (program, args) = in_netns(Some(self.pid), program, args);
        run_checked(self.runner.as_ref(), &program, &args)
    }

    fn is_present(&self, rule: &NetRule) -> Result<bool, RuleError> {
        match rule {
            NetRule::Iptables(rule) => Ok(self.run(IPTABLES, &rule.check_args())?.success),
            NetRule::Tbf(qdisc) => {
                let shown = self.run_ok(TC, &qdisc.show_args(false))?;
                Ok(shows_our_root_qdisc(&shown.stdout))
            }
        }
    }

    /// Checks, by listing them back, that every rule is in force.
    pub fn verify(&self) -> Result<(), RuleError> {
        for rule in &self.rules {
            if !self.is_present(rule)? {
                return Err(RuleError::NotPresent(describe(rule)));
            }
        }
        Ok(())
    }

    /// Reads the packet/byte counters of every rule (the evidence the fault touched traffic).
    pub fn counters(&self) -> Result<RuleCounters, RuleError> {
        let mut listings: BTreeMap<(&str, &str), Vec<super::listing::ListedRule>> = BTreeMap::new();
        let mut counters = RuleCounters::default();
        for rule in &self.rules {
            match rule {
                NetRule::Iptables(rule) => {
                    let key = (rule.table, rule.chain);
                    let listed = match listings.entry(key) {
                        std::collections::btree_map::Entry::Occupied(listed) => listed.into_mut(),
                        std::collections::btree_map::Entry::Vacant(slot) => {
                            let args: Vec<String> = [
                                "-w", "5", "-t", rule.table, "-L", rule.chain, "-v", "-x", "-n",
                            ]
                            .map(str::to_owned)
                            .to_vec();
                            let listing = self.run_ok(IPTABLES, &args)?;
                            slot.insert(commented_rules(&listing.stdout))
                        }
                    };
                    let listed = listed
                        .iter()
                        .find(|listed| listed.comment == rule.comment)
                        .ok_or_else(|| RuleError::NotPresent(rule.comment.clone()))?;
                    counters.rules.push(RuleCounter {
                        comment: rule.comment.clone(),
                        table: rule.table.to_owned(),
                        chain: rule.chain.to_owned(),
                        packets: listed.packets,
                        bytes: listed.bytes,
                    });
                }
                NetRule::Tbf(qdisc) => {
                    let args = qdisc.show_args(true);
                    let shown = self.run_ok(TC, &args)?;
                    let stats = qdisc_stats(&shown.stdout, QDISC_HANDLE).ok_or_else(|| {
                        RuleError::Parse {
                            command: format!("tc {}", args.join(" ")),
                            reason: format!("no statistics for qdisc {QDISC_HANDLE}"),
                        }
                    })?;
                    counters.qdiscs.push(QdiscCounter {
                        dev: qdisc.dev.clone(),
                        bytes: stats.bytes,
                        packets: stats.packets,
                        dropped: stats.dropped,
                        overlimits: stats.overlimits,
                    });
                }
            }
        }
        Ok(counters)
    }

    /// Deletes every rule that is still present; deleting an absent rule is not an error.
    /// Tries all rules and returns the first failure.
    fn remove_all(&mut self) -> Result<(), RuleError> {
        let mut first_error = None;
        for rule in self.rules.iter().rev() {
            let removed = self.is_present(rule).and_then(|present| {
                if !present {
                    return Ok(());
                }
                match rule {
                    NetRule::Iptables(rule) => self.run_ok(IPTABLES, &rule.delete_args()).map(drop),
                    NetRule::Tbf(qdisc) => self.run_ok(TC, &qdisc.delete_args()).map(drop),
                }
            });
            if let Err(error) = removed {
                first_error.get_or_insert(error);
            }
        }
        match first_error {
            None => {
                self.removed = true;
                Ok(())
            }
            Some(error) => Err(error),
        }
    }

    /// Removes the rules. Idempotent: rules already gone (e.g. swept) are skipped.
    pub fn remove(mut self) -> Result<(), RuleError> {
        self.remove_all()
    }
}

impl Drop for AppliedRules {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        if let Err(error) = self.remove_all() {
            tracing::warn!(pid = self.pid, %error, "could not remove chaosgate rules on drop");
        }
    }
}

fn describe(rule: &NetRule) -> String {
    match rule {
        NetRule::Iptables(rule) => rule.comment.clone(),
        NetRule::Tbf(qdisc) => format!("tbf {QDISC_HANDLE} on {}", qdisc.dev),
    }
}
