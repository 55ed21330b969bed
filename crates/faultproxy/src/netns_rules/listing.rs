//! Reading what iptables and tc print: per-rule counters, rule specs, qdisc statistics.

/// One row of `iptables -L CHAIN -v -x -n` that carries a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListedRule {
    pub packets: u64,
    pub bytes: u64,
    pub comment: String,
}

/// The commented rules of an `iptables -L -v -x -n` listing.
pub(crate) fn commented_rules(listing: &str) -> Vec<ListedRule> {
    listing
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let packets = words.next()?.parse().ok()?;
            let bytes = words.next()?.parse().ok()?;
            let start = line.find("/* ")? + 3;
            let length = line[start..].find(" */")?;
            Some(ListedRule {
                packets,
                bytes,
                comment: line[start..start + length].to_owned(),
            })
        })
        .collect()
}

/// The rules of an `iptables -S` listing whose comment starts with `prefix`, as the words
/// that delete them (`-D CHAIN ...`).
pub(crate) fn deletions_for(listing: &str, prefix: &str) -> Vec<Vec<String>> {
    listing
        .lines()
        .filter(|line| line.starts_with("-A "))
        .filter_map(shlex::split)
        .filter(|words| {
            words
                .windows(2)
                .any(|pair| pair[0] == "--comment" && pair[1].starts_with(prefix))
        })
        .map(|mut words| {
            words[0] = "-D".to_owned();
            words
        })
        .collect()
}

/// Statistics of a qdisc, from `tc -s qdisc show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct QdiscStats {
    pub bytes: u64,
    pub packets: u64,
    pub dropped: u64,
    pub overlimits: u64,
}

/// The statistics of the qdisc with `handle` in `tc -s qdisc show` output.
pub(crate) fn qdisc_stats(tc_show: &str, handle: &str) -> Option<QdiscStats> {
    let mut lines = tc_show.lines();
    while let Some(line) = lines.next() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() < 3 || words[0] != "qdisc" || words[2] != handle {
            continue;
        }
        let sent = lines.next()?;
        // " Sent 1234 bytes 10 pkt (dropped 0, overlimits 3 requeues 0)"
        let cleaned = sent.replace(['(', ')', ','], " ");
        let words: Vec<&str> = cleaned.split_whitespace().collect();
        let after = |key: &str| -> Option<u64> {
            let at = words.iter().position(|w| *w == key)?;
            words.get(at + 1)?.parse().ok()
        };
        return Some(QdiscStats {
            bytes: after("Sent")?,
            packets: words
                .iter()
                .position(|w| *w == "pkt")
                .and_then(|at| at.checked_sub(1))
                .and_then(|at| words[at].parse().ok())?,
            dropped: after("dropped").unwrap_or(0),
            overlimits: after("overlimits").unwrap_or(0),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured from iptables v1.8.9 (nf_tables) on this project's machines.
    const FILTER_LISTING: &str = "\
Chain INPUT (policy ACCEPT 0 packets, 0 bytes)
    pkts      bytes target     prot opt in     out     source               destination
      17     1428 DROP       0    --  *      *       10.250.0.2           0.0.0.0/0            statistic mode random probability 0.25000000000 /* chaosgate:r1:loss:0 */
       3      180 ACCEPT     0    --  *      *       0.0.0.0/0            0.0.0.0/0
";

    const NAT_SAVE: &str = "\
-P PREROUTING ACCEPT
-P OUTPUT ACCEPT
-A OUTPUT -d 10.250.0.2/32 -p tcp -m tcp --dport 80 -m mark ! --mark 0x63 -m comment --comment \"chaosgate:r1:redir:1\" -j REDIRECT --to-ports 15001
-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT
-A OUTPUT -m comment --comment \"chaosgate:r2:x:0\" -j ACCEPT
";

    const TC_SHOW: &str = "\
qdisc tbf 1ca7: root refcnt 2 rate 800Kbit burst 10000b lat 200ms
 Sent 52400 bytes 61 pkt (dropped 2, overlimits 14 requeues 0)
 backlog 0b 0p requeues 0
";

    #[test]
    fn counters_of_commented_rules_only() {
        assert_eq!(
            commented_rules(FILTER_LISTING),
            vec![ListedRule {
                packets: 17,
                bytes: 1428,
                comment: "chaosgate:r1:loss:0".to_owned()
            }]
        );
    }

    #[test]
    fn deletions_keep_the_exact_spec_and_only_match_the_prefix() {
        let deletions = deletions_for(NAT_SAVE, "chaosgate:r1:");
        assert_eq!(deletions.len(), 1);
        assert_eq!(deletions[0][..3], ["-D", "OUTPUT", "-d"].map(str::to_owned));
        assert!(deletions[0].contains(&"chaosgate:r1:redir:1".to_owned()));
        assert_eq!(deletions_for(NAT_SAVE, "chaosgate:").len(), 2);
    }

    #[test]
    fn tbf_statistics() {
        assert_eq!(
            qdisc_stats(TC_SHOW, "1ca7:"),
            Some(QdiscStats {
                bytes: 52400,
                packets: 61,
                dropped: 2,
                overlimits: 14
            })
        );
        assert_eq!(qdisc_stats(TC_SHOW, "1:"), None);
    }
}
