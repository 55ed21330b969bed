//! A `dns` fault's failure modes, its local resolver (for the modes that answer), and its
//! proof: a canary lookup made from inside the target's network namespace once the fault is in
//! place, to the resolver the target's own `resolv.conf` names, which must fail the way the
//! fault says (refused at once, no answer, or answered NXDOMAIN / SERVFAIL).
//!
//! Queries and answers are built here rather than with a DNS library: a query is one fixed
//! 12-byte header and its question (RFC 1035 §4.1), an answer that header flipped with the
//! question echoed, and nothing else of a message is ever read.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chaosgate_proxy::{netns_path_of, spawn_thread_in_netns};
use serde::Serialize;

/// How long the canary waits for an answer: a resolver on the stack's network answers in
/// milliseconds, and glibc's own first retry comes after 5 s.
const CANARY_WAIT: Duration = Duration::from_secs(1);

/// How a `dns` fault fails the lookups it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsMode {
    /// The query is rejected on its way out: the lookup fails at once (rules).
    Refused,
    /// The query (or its answer) is dropped: the lookup waits out the resolver's timeout
    /// (rules).
    Timeout,
    /// Answered "no such name" (RCODE 3) by chaosgate's resolver in the namespace.
    NxDomain,
    /// Answered "server failure" (RCODE 2) by chaosgate's resolver in the namespace.
    ServFail,
}

impl DnsMode {
    /// Every mode as scenario files spell it.
    pub const NAMES: &[&str] = &["refused", "timeout", "nxdomain", "servfail"];

    /// The mode spelled `word`.
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "refused" => Some(Self::Refused),
            "timeout" => Some(Self::Timeout),
            "nxdomain" => Some(Self::NxDomain),
            "servfail" => Some(Self::ServFail),
            _ => None,
        }
    }

    /// The answer's RCODE for the modes that answer.
    pub fn rcode(self) -> Option<u8> {
        match self {
            Self::NxDomain => Some(3),
            Self::ServFail => Some(2),
            Self::Refused | Self::Timeout => None,
        }
    }
}

/// chaosgate's resolver inside a target's network namespace: it answers every query sent to it
/// with the fault's RCODE and counts them. Stopped (and its thread joined) by
/// [`Responder::stop`] or on drop.
#[derive(Debug)]
pub struct Responder {
    /// Its UDP port on 127.0.0.1 in the namespace.
    pub port: u16,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Responder {
    /// Starts one in the namespace of process `pid`. Errors, in words: the namespace cannot be
    /// entered or the socket bound.
    pub fn start(pid: u32, rcode: u8) -> Result<Self, String> {
        // The socket is made inside the namespace and stays there; the thread serving it
        // needs no namespace of its own.
        let socket = spawn_thread_in_netns(netns_path_of(pid), || UdpSocket::bind("127.0.0.1:0"))
            .and_then(|t| t.join())
            .map_err(|e| format!("entering pid {pid}'s network namespace for the resolver: {e}"))?
            .map_err(|e| format!("binding the resolver in pid {pid}'s namespace: {e}"))?;
        let port = socket.local_addr().map_err(|e| e.to_string())?.port();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let (s, a) = (stop.clone(), answered.clone());
        let thread = std::thread::Builder::new()
            .name("chaosgate-dns".into())
            .spawn(move || {
                let mut buf = [0u8; 1500];
                while !s.load(Ordering::Relaxed) {
                    let Ok((n, from)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    if let Some(reply) = answer(&buf[..n], rcode)
                        && socket.send_to(&reply, from).is_ok()
                    {
                        a.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(Self {
            port,
            stop,
            answered,
            thread: Some(thread),
        })
    }

    /// Queries answered so far.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    /// Stops it; returns the queries it answered.
    pub fn stop(mut self) -> u64 {
        self.halt();
        self.answered()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.halt();
    }
}

/// The answer to `query` with `rcode` and no records; `None` for anything that is not a
/// standard query of one question.
pub fn answer(query: &[u8], rcode: u8) -> Option<Vec<u8>> {
    if query.len() < 12 || query[2] & 0x80 != 0 || query[2] & 0x78 != 0 {
        return None;
    }
    if query[4..6] != [0, 1] {
        return None;
    }
    // The question: labels up to the root, then QTYPE and QCLASS.
    let mut at = 12;
    loop {
        let len = *query.get(at)? as usize;
        if len == 0 {
            at += 1;
            break;
        }
        if len > 63 {
            return None;
        }
        at += 1 + len;
    }
    let end = at + 4;
    if query.len() < end {
        return None;
    }
    let mut reply = Vec::with_capacity(end);
    reply.extend_from_slice(&query[..2]);
    // QR, the query's RD kept; RA; the RCODE.
    reply.push(0x80 | (query[2] & 0x01));
    reply.push(0x80 | (rcode & 0x0f));
    reply.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    reply.extend_from_slice(&query[12..end]);
    Some(reply)
}

/// What the canary saw.
#[derive(Debug, Clone, Serialize)]
pub struct CanarySeen {
    /// The resolver asked (from the target's `resolv.conf`).
    pub resolver: String,
    /// The name looked up.
    pub name: String,
    /// `refused`, `no answer within 1s`, `NXDOMAIN` or `SERVFAIL`.
    pub outcome: String,
}

/// Looks `name` up (a name no fault spares when `None`) from inside the namespace of process
/// `pid`; `Ok` when the lookup failed as `mode` says, `Err` with what happened instead.
pub async fn canary(pid: u32, name: Option<&str>, mode: DnsMode) -> Result<CanarySeen, String> {
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
    let at = format!("the canary lookup of `{asked}` at {resolver}");
    match (outcome, mode) {
        (Asked::Refused, DnsMode::Refused) => Ok(seen("refused")),
        (Asked::NoAnswer, DnsMode::Timeout) => Ok(seen("no answer within 1s")),
        (Asked::Answered(3), DnsMode::NxDomain) => Ok(seen("NXDOMAIN")),
        (Asked::Answered(2), DnsMode::ServFail) => Ok(seen("SERVFAIL")),
        (Asked::Answered(rcode), _) => Err(format!(
            "{at} was answered (RCODE {rcode}): the fault is not in effect as asked"
        )),
        (Asked::Refused, _) => Err(format!("{at} was refused: another rule refuses DNS here")),
        (Asked::NoAnswer, _) => Err(format!("{at} went unanswered")),
        (Asked::Failed(e), _) => Err(format!("{at}: {e}")),
    }
}

enum Asked {
    /// With the answer's RCODE.
    Answered(u8),
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
            Ok(n) if n >= 4 => Ok(Asked::Answered(buf[3] & 0x0f)),
            Ok(_) => Ok(Asked::Answered(0)),
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
    fn an_answer_echoes_the_question_with_the_rcode() {
        let q = query_for("marketdata-a");
        let a = answer(&q, 3).unwrap();
        assert_eq!(&a[..2], &q[..2], "same ID");
        assert_eq!(a[2], 0x81, "a response, recursion desired kept");
        assert_eq!(a[3], 0x83, "recursion available, NXDOMAIN");
        assert_eq!(&a[4..12], &[0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&a[12..], &q[12..]);
        assert_eq!(answer(&q, 2).unwrap()[3], 0x82);
        // An answer, a truncated question or two questions are not answered.
        assert!(answer(&a, 3).is_none());
        assert!(answer(&q[..q.len() - 2], 3).is_none());
        let mut two = q.clone();
        two[5] = 2;
        assert!(answer(&two, 3).is_none());
    }

    /// A real resolver on loopback: what a client gets back is NXDOMAIN for its own query,
    /// counted once.
    #[test]
    fn the_responder_answers_and_counts() {
        let pid = std::process::id();
        let r = Responder::start(pid, 3).unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let q = query_for("x");
        client.send_to(&q, ("127.0.0.1", r.port)).unwrap();
        let mut buf = [0u8; 512];
        let n = client.recv(&mut buf).unwrap();
        assert_eq!(&buf[..2], &q[..2]);
        assert_eq!(buf[3] & 0x0f, 3);
        assert_eq!(n, q.len());
        assert_eq!(r.stop(), 1);
    }

    #[test]
    fn the_modes_parse_as_written() {
        for name in DnsMode::NAMES {
            assert!(DnsMode::parse(name).is_some(), "{name}");
        }
        assert_eq!(DnsMode::parse("nxdomain").unwrap().rcode(), Some(3));
        assert_eq!(DnsMode::parse("timeout").unwrap().rcode(), None);
        assert!(DnsMode::parse("NXDOMAIN").is_none());
    }

    #[test]
    fn the_first_ipv4_nameserver_is_the_resolver() {
        let conf = "search x\nnameserver ::1\nnameserver 127.0.0.11\noptions ndots:0\n";
        assert_eq!(first_nameserver(conf), Some(Ipv4Addr::new(127, 0, 0, 11)));
        assert_eq!(first_nameserver("search x\n"), None);
    }
}
