//! Finding and removing chaosgate rules a killed run left behind, in one namespace or in
//! every namespace of the host.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::command::{CommandRunner, in_netns, run_checked};
use super::error::RuleError;
use super::listing::deletions_for;
use super::marker::MARKER_PREFIX;
use super::rule::{IPTABLES, TC, delete_qdisc_args, shows_our_root_qdisc};

const TABLES: [&str; 4] = ["filter", "nat", "mangle", "raw"];

/// What a sweep removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Network namespaces swept (1 for [`sweep_leftovers`]; one per distinct namespace for
    /// [`sweep_host`]).
    pub namespaces: usize,
    /// iptables rules deleted, across those namespaces.
    pub rules_removed: usize,
    /// chaosgate tc qdiscs deleted, across those namespaces.
    pub qdiscs_removed: usize,
}

/// Removes, in the namespace of `pid` (`None`: the caller's), every iptables rule whose
/// comment starts with `prefix`, and chaosgate's tc qdiscs. Qdiscs carry no comment, so they
/// are removed whatever the prefix: one namespace is faulted by one run at a time.
pub fn sweep_leftovers(
    runner: &Arc<dyn CommandRunner>,
    pid: Option<u32>,
    prefix: &str,
) -> Result<SweepReport, RuleError> {
    if !prefix.starts_with(MARKER_PREFIX) {
        return Err(RuleError::Invalid(format!(
            "sweep prefix {prefix:?} must start with {MARKER_PREFIX:?}: only chaosgate's rules may be swept"
        )));
    }
    let run = |program: &str, args: Vec<String>| {
        let (program, args) = in_netns(pid, program, &args);
        run_checked(runner.as_ref(), &program, &args)
    };
    let mut report = SweepReport {
        namespaces: 1,
        ..SweepReport::default()
    };
    for table in TABLES {
        let listing = match run(
            IPTABLES,
            ["-w", "5", "-t", table, "-S"].map(str::to_owned).to_vec(),
        ) {
            Ok(listing) => listing,
            // A table the kernel never set up (e.g. mangle unused) has nothing to sweep.
            Err(RuleError::Failed { .. }) => continue,
            Err(other) => return Err(other),
        };
        for deletion in deletions_for(&listing.stdout, prefix) {
            let mut args = ["-w", "5", "-t", table].map(str::to_owned).to_vec();
            args.extend(deletion);
            run(IPTABLES, args)?;
            report.rules_removed += 1;
        }
    }
    let links = run("ip", ["-o", "link", "show"].map(str::to_owned).to_vec())?;
    for dev in interface_names(&links.stdout) {
        let shown = run(
            TC,
            ["qdisc", "show", "dev", dev.as_str()]
                .map(str::to_owned)
                .to_vec(),
        )?;
        if shows_our_root_qdisc(&shown.stdout) {
            run(TC, delete_qdisc_args(&dev))?;
            report.qdiscs_removed += 1;
        }
    }
    Ok(report)
}

/// Interface names of `ip -o link show` ("2: eth0@if5: <...>" → "eth0").
fn interface_names(listing: &str) -> Vec<String> {
    listing
        .lines()
        .filter_map(|line| {
            let name = line.split(':').nth(1)?.trim();
            let name = name.split('@').next()?;
            (!name.is_empty()).then(|| name.to_owned())
        })
        .collect()
}

/// Sweeps every network namespace of the host (found through `/proc/*/ns/net`), the host's
/// own included.
pub fn sweep_host(runner: &Arc<dyn CommandRunner>, prefix: &str) -> Result<SweepReport, RuleError> {
    let mut one_pid_per_netns: BTreeMap<std::path::PathBuf, u32> = BTreeMap::new();
    let proc_dir = std::fs::read_dir("/proc").map_err(|source| RuleError::Spawn {
        command: "read /proc".to_owned(),
        source,
    })?;
    for entry in proc_dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // Processes come and go while we look; the ones gone have nothing to sweep.
        if let Ok(netns) = std::fs::read_link(entry.path().join("ns/net")) {
            one_pid_per_netns.entry(netns).or_insert(pid);
        }
    }
    let mut total = SweepReport::default();
    for pid in one_pid_per_netns.into_values() {
        match sweep_leftovers(runner, Some(pid), prefix) {
            Ok(report) => {
                total.namespaces += 1;
                total.rules_removed += report.rules_removed;
                total.qdiscs_removed += report.qdiscs_removed;
            }
            // The process exited between listing and entering: its namespace may be gone.
            Err(RuleError::Failed { .. })
                if !std::path::Path::new(&format!("/proc/{pid}")).exists() => {}
            Err(error) => return Err(error),
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_drop_peer_suffix() {
        let listing =
            "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\n2: eth0@if7: <BROADCAST> mtu 1500\n";
        assert_eq!(interface_names(listing), vec!["lo", "eth0"]);
    }
}
