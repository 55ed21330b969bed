//! One concrete rule (an iptables rule or a tc qdisc) and the commands that add, check and
//! delete exactly it.

/// The tc handle of chaosgate's qdiscs: qdiscs carry no comment, so the handle is the marker.
pub(crate) const QDISC_HANDLE: &str = "1ca7:";

/// The iptables binary; IPv4 only (ip6tables rules are not built).
pub(crate) const IPTABLES: &str = "iptables";
pub(crate) const TC: &str = "tc";

/// Wait this many seconds for the xtables lock: containers and other runs may hold it.
const XTABLES_WAIT_SECS: &str = "5";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NetRule {
    Iptables(IptablesRule),
    Tbf(TbfQdisc),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IptablesRule {
    pub table: &'static str,
    pub chain: &'static str,
    /// Matches and target, comment included: the same words add, check and delete it.
    pub spec: Vec<String>,
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TbfQdisc {
    pub dev: String,
    pub bytes_per_sec: u64,
    pub burst_bytes: u64,
    pub latency_ms: u64,
}

impl IptablesRule {
    pub fn new(
        table: &'static str,
        chain: &'static str,
        mut spec: Vec<String>,
        comment: String,
    ) -> Self {
        // The comment match sits before the target, where iptables expects matches.
        let target_at = spec.iter().position(|w| w == "-j").unwrap_or(spec.len());
        let comment_words = ["-m", "comment", "--comment", comment.as_str()].map(str::to_owned);
        spec.splice(target_at..target_at, comment_words);
        IptablesRule {
            table,
            chain,
            spec,
            comment,
        }
    }

    fn with(&self, action: &str, position: Option<&str>) -> Vec<String> {
        let mut args: Vec<String> = [
            "-w",
            XTABLES_WAIT_SECS,
            "-t",
            self.table,
            action,
            self.chain,
        ]
        .map(str::to_owned)
        .to_vec();
        args.extend(position.map(str::to_owned));
        args.extend(self.spec.iter().cloned());
        args
    }

    /// Inserted first in its chain, ahead of any ACCEPT a container's own rules may have.
    pub fn add_args(&self) -> Vec<String> {
        self.with("-I", Some("1"))
    }

    pub fn check_args(&self) -> Vec<String> {
        self.with("-C", None)
    }

    pub fn delete_args(&self) -> Vec<String> {
        self.with("-D", None)
    }
}

impl TbfQdisc {
    pub fn add_args(&self) -> Vec<String> {
        [
            "qdisc".to_owned(),
            "add".to_owned(),
            "dev".to_owned(),
            self.dev.clone(),
            "root".to_owned(),
            "handle".to_owned(),
            QDISC_HANDLE.to_owned(),
            "tbf".to_owned(),
            "rate".to_owned(),
            format!("{}bit", self.bytes_per_sec.saturating_mul(8)),
            "burst".to_owned(),
            self.burst_bytes.to_string(),
            "latency".to_owned(),
            format!("{}ms", self.latency_ms),
        ]
        .to_vec()
    }

    pub fn show_args(&self, with_stats: bool) -> Vec<String> {
        let mut args = Vec::new();
        if with_stats {
            args.push("-s".to_owned());
        }
        args.extend(["qdisc", "show", "dev", self.dev.as_str()].map(str::to_owned));
        args
    }

    pub fn delete_args(&self) -> Vec<String> {
        delete_qdisc_args(&self.dev)
    }
}

pub(crate) fn delete_qdisc_args(dev: &str) -> Vec<String> {
    ["qdisc", "del", "dev", dev, "root", "handle", QDISC_HANDLE]
        .map(str::to_owned)
        .to_vec()
}

/// Whether `tc qdisc show` output lists chaosgate's root qdisc.
pub(crate) fn shows_our_root_qdisc(tc_show: &str) -> bool {
    tc_show.lines().any(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        words.len() >= 4 && words[0] == "qdisc" && words[2] == QDISC_HANDLE && words[3] == "root"
    })
}
