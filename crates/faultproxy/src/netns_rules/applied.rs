//! Rules in force in a namespace: proving they are there, reading their counters, and
//! removing them (idempotently, and on drop).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::command::{CommandOutput, CommandRunner, in_netns, run_checked};
use super::error::RuleError;
use super::listing::{ListedRule, commented_rules, qdisc_stats};
use super::marker::Marker;
use super::rule::{IPTABLES, NetRule, QDISC_HANDLE, TC, shows_our_root_qdisc};

/// Packet and byte counters of one applied iptables rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleCounter {
    /// The rule's `chaosgate:<run_id>:<fault>:<index>` comment, which identifies it.
    pub comment: String,
    /// iptables table the rule is in (`filter`, `nat`, `mangle` or `raw`).
    pub table: String,
    /// Chain the rule is in, e.g. `INPUT`, `OUTPUT`, `PREROUTING`.
    pub chain: String,
    /// Packets the rule matched since it was applied.
    pub packets: u64,
    /// Bytes the rule matched since it was applied.
    pub bytes: u64,
}

/// Statistics of an applied tc qdisc.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QdiscCounter {
    /// Network device the qdisc is the root of, e.g. `eth0`.
    pub dev: String,
    /// Bytes sent through the qdisc since it was applied.
    pub bytes: u64,
    /// Packets sent through the qdisc since it was applied.
    pub packets: u64,
    /// Packets the qdisc dropped (its queue full under the tbf rate cap).
    pub dropped: u64,
    /// Times a packet found the tbf rate cap exceeded (held back or dropped).
    pub overlimits: u64,
}

/// Evidence that an applied rule set touched traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct RuleCounters {
    /// Counters of every iptables rule of the set, in the order applied.
    pub rules: Vec<RuleCounter>,
    /// Statistics of every tc qdisc of the set (empty when it has none).
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
    pub(super) fn empty(pid: u32, marker: Marker, runner: Arc<dyn CommandRunner>) -> Self {
        AppliedRules {
            pid,
            marker,
            rules: Vec::new(),
            runner,
            removed: false,
        }
    }

    pub(super) fn push(&mut self, rule: NetRule) {
        self.rules.push(rule);
    }

    /// PID of the process whose network namespace holds the rules.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The run and fault the rules' comments name.
    pub fn marker(&self) -> &Marker {
        &self.marker
    }

    fn run(&self, program: &str, args: &[String]) -> Result<CommandOutput, RuleError> {
        let (program, args) = in_netns(Some(self.pid), program, args);
        self.runner.run(&program, &args)
    }

    fn run_ok(&self, program: &str, args: &[String]) -> Result<CommandOutput, RuleError> {
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
        let mut listings: BTreeMap<(&str, &str), Vec<ListedRule>> = BTreeMap::new();
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
    pub(super) fn remove_all(&mut self) -> Result<(), RuleError> {
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

    /// Forgets the rules without running a command: for a namespace that went away with its
    /// process (a container restarted), where the rules went too and the pid names no one.
    pub fn abandon(mut self) {
        self.removed = true;
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
