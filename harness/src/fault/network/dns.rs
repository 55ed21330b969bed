//! The proof of a `dns` fault: a canary lookup made from inside the target's network
//! namespace once its rules are in place, to the resolver the target's own `resolv.conf`
//! names, which must fail the way the fault says (refused at once, or no answer).
//!
//! The query is built here rather than with a DNS library: it is one fixed 29-byte-plus-name
//! packet (RFC 1035 §4.1), and only whether anything answers matters, never the answer.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use chaosgate_proxy::{netns_path_of, spawn_thread_in_netns};
use serde::Serialize;

/// How long the canary waits for an answer: a resolver on the stack's network answers in
/// milliseconds, and glibc's own first retry comes after 5 s.
const CANARY_WAIT: Duration = Duration::from_secs(1);

/// What the canary saw.
#[derive(Debug, Clone, Serialize)]
pub struct CanarySeen {
    /// The resolver asked (from the target's `resolv.conf`).
    pub resolver: String,
    /// The name looked up.
    pub name: String,
    /// `refused` or `no answer within 1s`.
    pub outcome: String,
}

/// Looks `name` up (a name no fault spares when `None`) from inside the namespace of process
/// `pid`; `Ok` when the lookup failed as the fault says (`refuse`: refused at once; otherwise
/// unanswered), `Err` with what happened instead.
pub async fn canary(pid: u32, name: Option<&str>, refuse: bool) -> Result<CanarySeen, String> {
    let resolver = resolver_of(pid)?;
    let name = name.unwrap_or("chaosgate-canary").to_owned();
    let query = query_for(&name);
    let asked = name.clone();
    let thread = spawn_thread_in_netns(netns_path_of(pid), move || ask(resolver, &query))
        .map_err(|e| format!("entering pid {pid}'s network namespace for the DNS canary: {e}"))?;
    let outcome = tokio::task::spawn_blocking(move || thread.join())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("the DNS canary thread: {e}"))?;
    let seen = |outcome: &str| CanarySeen {
        resolver: resolver.to_string(),
        name: asked.clone(),
        outcome: outcome.to_owned(),
    };
    match (outcome, refuse) {
        (Asked::Refused, true) => Ok(seen("refused")),
        (Asked::NoAnswer, false) => Ok(seen("no answer within 1s")),
        (Asked::Refused, false) => Err(format!(
            "the canary lookup of `{asked}` at {resolver} was refused, not left unanswered: another rule refuses DNS here"
        )),
        (Asked::NoAnswer, true) => Err(format!(
            "the canary lookup of `{asked}` at {resolver} went unanswered instead of refused"
        )),
        (Asked::Answered, _) => Err(format!(
            "the canary lookup of `{asked}` at {resolver} was answered: the DNS rules are not in effect"
        )),
        (Asked::Failed(e), _) => Err(format!("the canary lookup of `{asked}` at {resolver}: {e}")),
    }
}

enum Asked {
    Answered,
    Refused,
    NoAnswer,
    Failed(String),
}

fn ask(resolver: Ipv4Addr, query: &[u8]) -> Asked {
    let run = || -> std::io::Result<Asked> {
        let socket = UdpSocket::bind("0.0.0.0:0")?;
        // Connected, so an ICMP port unreachable comes back as ECONNREFUSED on receive.
        socket.connect(SocketAddr::from((resolver, 53)))?;
        socket.set_read_timeout(Some(CANARY_WAIT))?;
        // A query rejected on its way out fails here at once (EPERM): refused, as the
        // application's own lookups are.
        match socket.send(query) {
            Err(e) if e.kind() == ErrorKind::PermissionDenied => return Ok(Asked::Refused),
            other => other?,
        };
        let mut buf = [0u8; 512];
        match socket.recv(&mut buf) {
            Ok(_) => Ok(Asked::Answered),
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => Ok(Asked::Refused),
            Err(e) if e.kind() == ErrorKind::PermissionDenied => Ok(Asked::Refused),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Ok(Asked::NoAnswer)
            }
            Err(e) => Err(e),
        }
    };
    run().unwrap_or_else(|e| Asked::Failed(e.to_string()))
}

/// The first IPv4 `nameserver` of process `pid`'s `/etc/resolv.conf` (as its mount namespace
/// sees it).
fn resolver_of(pid: u32) -> Result<Ipv4Addr, String> {
    let path = format!("/proc/{pid}/root/etc/resolv.conf");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
    first_nameserver(&text).ok_or_else(|| format!("{path} names no IPv4 nameserver"))
}

fn first_nameserver(resolv_conf: &str) -> Option<Ipv4Addr> {
    resolv_conf.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some("nameserver"))
            .then(|| words.next()?.parse().ok())
            .flatten()
    })
}

/// A standard query (recursion desired) for `name`'s A record.
fn query_for(name: &str) -> Vec<u8> {
    // ID, flags (RD), one question, no other records.
    let mut q = vec![0x43, 0x47, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.').filter(|l| !l.is_empty()) {
        let label = &label.as_bytes()[..label.len().min(63)];
        q.push(label.len() as u8);
        q.extend_from_slice(label);
    }
    // End of name, QTYPE A, QCLASS IN.
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_carries_the_name_as_labels() {
        let q = query_for("marketdata-a");
        assert_eq!(q.len(), 12 + 1 + 12 + 1 + 4);
        assert_eq!(&q[12..26], b"\x0cmarketdata-a\x00");
    }

    #[test]
    fn the_first_ipv4_nameserver_is_the_resolver() {
        let conf = "search x\nnameserver ::1\nnameserver 127.0.0.11\noptions ndots:0\n";
        assert_eq!(first_nameserver(conf), Some(Ipv4Addr::new(127, 0, 0, 11)));
        assert_eq!(first_nameserver("search x\n"), None);
    }
}
