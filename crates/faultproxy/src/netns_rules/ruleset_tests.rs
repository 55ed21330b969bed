//! Rule building, apply/verify/counters/remove and rollback, against the simulator.

use std::net::Ipv4Addr;
use std::sync::Arc;

use super::simulated::SimulatedNetfilter;
use super::{CommandRunner, Marker, PacketDirection, RuleSet};

const PID: u32 = 42;
const PEER: Ipv4Addr = Ipv4Addr::new(10, 250, 0, 2);

fn marker() -> Marker {
    Marker::new("run1", "fault").expect("valid marker")
}

fn simulator() -> (Arc<SimulatedNetfilter>, Arc<dyn CommandRunner>) {
    let sim = Arc::new(SimulatedNetfilter::default());
    let runner: Arc<dyn CommandRunner> = sim.clone();
    (sim, runner)
}

#[test]
fn redirect_egress_is_the_verified_recipe() {
    let set = RuleSet::new(marker()).redirect_egress(8080, Some(PEER), 99, 15001);
    let commands = set.commands();
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0].0, "iptables");
    assert_eq!(
        commands[0].1.join(" "),
        "-w 5 -t nat -I OUTPUT 1 -p tcp --dport 8080 -d 10.250.0.2 -m mark ! --mark 99 \
         -m comment --comment chaosgate:run1:fault:0 -j REDIRECT --to-ports 15001"
    );
}

#[test]
fn loss_without_peers_spares_loopback_and_with_peers_targets_them() {
    let all = RuleSet::new(marker())
        .loss(0.25, PacketDirection::Both, &[])
        .expect("valid");
    let lines: Vec<String> = all.commands().into_iter().map(|c| c.1.join(" ")).collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].contains("-I INPUT 1 ! -i lo -m statistic --mode random --probability 0.25"));
    assert!(lines[1].contains("-I OUTPUT 1 ! -o lo -m statistic"));
    let peers = RuleSet::new(marker())
        .loss(
            0.5,
            PacketDirection::Ingress,
            &[PEER, Ipv4Addr::new(10, 250, 0, 6)],
        )
        .expect("valid");
    let lines: Vec<String> = peers
        .commands()
        .into_iter()
        .map(|c| c.1.join(" "))
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].contains("-I INPUT 1 -s 10.250.0.2 -m statistic"));
    assert!(lines.iter().all(|l| l.ends_with("-j DROP")));
    assert!(
        RuleSet::new(marker())
            .loss(0.0, PacketDirection::Both, &[])
            .is_err()
    );
    assert!(
        RuleSet::new(marker())
            .loss(1.5, PacketDirection::Both, &[])
            .is_err()
    );
    assert!(
        RuleSet::new(marker())
            .partition(PacketDirection::Both, &[])
            .is_err()
    );
}

#[test]
fn apply_verify_count_remove() {
    let (sim, runner) = simulator();
    let applied = RuleSet::new(marker())
        .partition(PacketDirection::Both, &[PEER])
        .expect("valid")
        .bandwidth("eth0", 125_000)
        .expect("valid")
        .apply(runner, PID)
        .expect("apply");
    applied.verify().expect("present");
    let counters = applied.counters().expect("counters");
    assert_eq!(counters.rules.len(), 2);
    assert_eq!(counters.rules[0].comment, "chaosgate:run1:fault:0");
    assert_eq!(counters.rules[0].chain, "INPUT");
    assert_eq!(counters.rules[1].chain, "OUTPUT");
    assert_eq!(counters.qdiscs[0].packets, 5);
    assert_eq!(counters.total_packets(), 10 + 10 + 5);
    {
        let state = sim.state.lock().expect("lock");
        assert_eq!((state.rules.len(), state.qdisc_devs.len()), (2, 1));
        assert!(
            state
                .log
                .iter()
                .any(|l| l.contains("tc qdisc add dev eth0 root handle 1ca7: tbf rate 1000000bit"))
        );
    }
    applied.remove().expect("remove");
    let state = sim.state.lock().expect("lock");
    assert!(state.rules.is_empty() && state.qdisc_devs.is_empty());
}

#[test]
fn a_failed_apply_rolls_back_what_it_added() {
    let (sim, runner) = simulator();
    sim.state.lock().expect("lock").fail_add_number = Some(1);
    let result = RuleSet::new(marker())
        .partition(PacketDirection::Both, &[PEER])
        .expect("valid")
        .apply(runner, PID);
    assert!(result.is_err());
    assert!(sim.state.lock().expect("lock").rules.is_empty());
}

#[test]
fn removal_is_idempotent_and_happens_on_drop() {
    let (sim, runner) = simulator();
    let applied = RuleSet::new(marker())
        .redirect_ingress(80, 15001)
        .apply(runner.clone(), PID)
        .expect("apply");
    // Someone (a sweep) removed it already: removing again is fine.
    sim.state.lock().expect("lock").rules.clear();
    applied.remove().expect("idempotent remove");

    let dropped = RuleSet::new(marker())
        .redirect_ingress(80, 15001)
        .apply(runner, PID)
        .expect("apply");
    assert_eq!(sim.state.lock().expect("lock").rules.len(), 1);
    drop(dropped);
    assert!(sim.state.lock().expect("lock").rules.is_empty());
}

#[test]
fn bandwidth_validates_its_input() {
    assert!(
        RuleSet::new(marker())
            .bandwidth("eth0; rm", 10_000)
            .is_err()
    );
    assert!(RuleSet::new(marker()).bandwidth("eth0", 10).is_err());
    let twice = RuleSet::new(marker())
        .bandwidth("eth0", 10_000)
        .expect("valid")
        .bandwidth("eth0", 20_000);
    assert!(twice.is_err());
}

/// `dns_failure`: refused on the way out, dropped on the way in, matched on the original
/// destination port (before Docker's NAT of 127.0.0.11:53) and on the name's label as it is
/// on the wire.
#[test]
fn dns_failure_rules_match_the_original_port_and_the_label() {
    let refused = RuleSet::new(marker())
        .dns_failure(&["marketdata-a".to_owned()], true)
        .expect("valid");
    let lines: Vec<String> = refused
        .commands()
        .into_iter()
        .map(|c| c.1.join(" "))
        .collect();
    assert_eq!(
        lines,
        [
            "-w 5 -t filter -I OUTPUT 1 -p udp -m conntrack --ctorigdstport 53 -m string --algo bm \
             --icase --hex-string |0c|marketdata-a -m comment --comment chaosgate:run1:fault:0 \
             -j REJECT --reject-with icmp-port-unreachable",
            "-w 5 -t filter -I OUTPUT 1 -p tcp -m conntrack --ctorigdstport 53 -m string --algo bm \
             --icase --hex-string |0c|marketdata-a -m comment --comment chaosgate:run1:fault:1 \
             -j REJECT --reject-with tcp-reset",
        ]
    );
    let dropped = RuleSet::new(marker())
        .dns_failure(&[], false)
        .expect("valid");
    let lines: Vec<String> = dropped
        .commands()
        .into_iter()
        .map(|c| c.1.join(" "))
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines
            .iter()
            .all(|l| l.contains("-I INPUT 1 -p ") && l.ends_with("-j DROP")),
        "{lines:?}"
    );
    assert!(
        RuleSet::new(marker())
            .dns_failure(&["a.b".to_owned()], true)
            .is_err(),
        "one label only"
    );
}

#[test]
fn dns_answer_rules_send_udp_queries_to_the_local_resolver_first() {
    let lines: Vec<String> = RuleSet::new(marker())
        .dns_answer(&["marketdata-a".to_owned(), "redis".to_owned()], 40053)
        .expect("valid")
        .commands()
        .into_iter()
        .map(|c| c.1.join(" "))
        .collect();
    let zone = marker().conntrack_zone();
    assert_eq!(
        lines,
        [
            format!(
                "-w 5 -t raw -I OUTPUT 1 -p udp --dport 53 -m string --algo bm --icase --hex-string \
                 |0c|marketdata-a -m comment --comment chaosgate:run1:fault:0 -j CT --zone-orig {zone}"
            ),
            format!(
                "-w 5 -t raw -I OUTPUT 1 -p udp --dport 53 -m string --algo bm --icase --hex-string \
                 |05|redis -m comment --comment chaosgate:run1:fault:1 -j CT --zone-orig {zone}"
            ),
            "-w 5 -t nat -I OUTPUT 1 -p udp --dport 53 -m string --algo bm --icase --hex-string \
             |0c|marketdata-a -m comment --comment chaosgate:run1:fault:2 -j REDIRECT --to-ports 40053"
                .to_owned(),
            "-w 5 -t nat -I OUTPUT 1 -p udp --dport 53 -m string --algo bm --icase --hex-string \
             |05|redis -m comment --comment chaosgate:run1:fault:3 -j REDIRECT --to-ports 40053"
                .to_owned(),
        ]
    );
    assert!(
        RuleSet::new(marker())
            .dns_answer(&["a b".to_owned()], 1)
            .is_err()
    );
}

#[test]
fn each_fault_has_its_own_conntrack_zone_and_none_is_the_default() {
    let zones: std::collections::BTreeSet<u16> = (0..200)
        .map(|i| {
            Marker::new("run1", &format!("fault-{i}"))
                .expect("valid")
                .conntrack_zone()
        })
        .collect();
    assert!(zones.len() >= 199, "{} distinct of 200", zones.len());
    assert!(!zones.contains(&0));
    assert_eq!(marker().conntrack_zone(), marker().conntrack_zone());
}
