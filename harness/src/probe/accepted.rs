//! Did the service *accept* a TCP connection, or only its kernel?
//!
//! The kernel completes the handshake for a listening socket and queues the connection until
//! the process calls accept(2), so a connect to a paused (frozen) container succeeds. The
//! server side's view of the connection, in `/proc/<pid>/net/tcp{,6}` (the container's network
//! namespace, read through its init process as root on the host), tells the two apart: a
//! connection still in the accept queue has no socket inode; an accepted one has.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpStream;

/// The server side of one connection, as the container's kernel lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ServerSide {
    /// Not listed (yet): the final ACK has not arrived, or the connection is gone.
    Missing,
    /// Established and waiting in the listener's accept queue.
    Queued,
    /// Accepted by the process (or closed by it, which takes accepting first).
    Accepted,
}

/// Waits until the service accepts `stream` (the caller bounds the wait with the probe's
/// timeout). `pid` is a host PID inside the service's network namespace.
pub(super) async fn wait(stream: &TcpStream, pid: u32) -> Result<(), String> {
    let client = stream.local_addr().map_err(|e| e.to_string())?;
    let server = stream.peer_addr().map_err(|e| e.to_string())?;
    let mut pause = Duration::from_millis(1);
    loop {
        match state(pid, server, client).await? {
            ServerSide::Accepted => return Ok(()),
            ServerSide::Queued | ServerSide::Missing => {}
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

async fn state(pid: u32, server: SocketAddr, client: SocketAddr) -> Result<ServerSide, String> {
    let mut seen = ServerSide::Missing;
    for file in ["tcp", "tcp6"] {
        let path = format!("/proc/{pid}/net/{file}");
        let table = match tokio::fs::read_to_string(&path).await {
            Ok(t) => t,
            // tcp6 is absent when IPv6 is disabled.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && file == "tcp6" => continue,
            Err(e) => {
                return Err(format!(
                    "connected, but cannot read {path} to see the service accept it: {e}"
                ));
            }
        };
        match find(&table, server, client) {
            ServerSide::Accepted => return Ok(ServerSide::Accepted),
            ServerSide::Queued => seen = ServerSide::Queued,
            ServerSide::Missing => {}
        }
    }
    Ok(seen)
}

/// The state of the server-side socket `server` ↔ `client` in one `/proc/net/tcp{,6}` table.
pub(super) fn find(table: &str, server: SocketAddr, client: SocketAddr) -> ServerSide {
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
        let (Some(local), Some(remote), Some(st), Some(inode)) = (
            fields.get(1).and_then(|a| parse_addr(a)),
            fields.get(2).and_then(|a| parse_addr(a)),
            fields.get(3).and_then(|s| u8::from_str_radix(s, 16).ok()),
            fields.get(9).and_then(|i| i.parse::<u64>().ok()),
        ) else {
            continue;
        };
        if !same(local, server) || !same(remote, client) {
            continue;
        }
        // 1 ESTABLISHED, 8 CLOSE_WAIT: the process owns it once it has an inode.
        // 4 FIN_WAIT1, 5 FIN_WAIT2, 6 TIME_WAIT, 9 LAST_ACK, 11 CLOSING: the server closed it,
        // which it can only do after accepting.
        return match st {
            1 | 8 if inode == 0 => ServerSide::Queued,
            1 | 8 => ServerSide::Accepted,
            4 | 5 | 6 | 9 | 11 => ServerSide::Accepted,
            _ => ServerSide::Missing,
        };
    }
    ServerSide::Missing
}

fn same(listed: SocketAddr, want: SocketAddr) -> bool {
    let canon = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    listed.port() == want.port() && canon(listed.ip()) == canon(want.ip())
}

/// `0100007F:1F90` (IPv4) or 32 hex digits `:port` (IPv6): the address as 32-bit words in the
/// kernel's byte order, the port in plain hex.
fn parse_addr(s: &str) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        Some(
            u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16)
                .ok()?
                .to_ne_bytes(),
        )
    };
    let ip = match ip.len() {
        8 => IpAddr::from(word(0)?),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hex of an IPv4 address the way the kernel prints it on this machine.
    fn hex4(ip: [u8; 4]) -> String {
        format!("{:08X}", u32::from_ne_bytes(ip))
    }

    fn table(rows: &[(&str, &str, &str, u64)]) -> String {
        let mut t = String::from(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n",
        );
        for (i, (local, remote, st, inode)) in rows.iter().enumerate() {
            t.push_str(&format!(
                "   {i}: {local} {remote} {st} 00000000:00000000 00:00000000 00000000   999        0 {inode} 1 0000000000000000 20 4 30 10 -1\n"
            ));
        }
        t
    }

    #[test]
    fn tells_a_queued_connection_from_an_accepted_one() {
        let server: SocketAddr = "172.18.0.3:6379".parse().unwrap();
        let client: SocketAddr = "172.18.0.1:40000".parse().unwrap();
        let local = format!("{}:18EB", hex4([172, 18, 0, 3]));
        let remote = format!("{}:9C40", hex4([172, 18, 0, 1]));
        let listener = format!("{}:18EB", hex4([0, 0, 0, 0]));
        let zero = format!("{}:0000", hex4([0, 0, 0, 0]));
        let queued = table(&[(&listener, &zero, "0A", 123), (&local, &remote, "01", 0)]);
        assert_eq!(find(&queued, server, client), ServerSide::Queued);
        let accepted = table(&[(&listener, &zero, "0A", 123), (&local, &remote, "01", 456)]);
        assert_eq!(find(&accepted, server, client), ServerSide::Accepted);
        let closed_by_server = table(&[(&local, &remote, "06", 0)]);
        assert_eq!(
            find(&closed_by_server, server, client),
            ServerSide::Accepted
        );
        let other_client: SocketAddr = "172.18.0.1:40001".parse().unwrap();
        assert_eq!(find(&accepted, server, other_client), ServerSide::Missing);
    }

    #[test]
    fn reads_ipv4_mapped_addresses_of_a_dual_stack_listener() {
        let server: SocketAddr = "172.18.0.3:6379".parse().unwrap();
        let client: SocketAddr = "172.18.0.1:40000".parse().unwrap();
        let mapped = |ip: [u8; 4]| {
            format!(
                "{}{}{}{}",
                hex4([0, 0, 0, 0]),
                hex4([0, 0, 0, 0]),
                hex4([0, 0, 0xff, 0xff]),
                hex4(ip)
            )
        };
        let t = table(&[(
            &format!("{}:18EB", mapped([172, 18, 0, 3])),
            &format!("{}:9C40", mapped([172, 18, 0, 1])),
            "01",
            0,
        )]);
        assert_eq!(find(&t, server, client), ServerSide::Queued);
    }

    /// A real listener that never accepts (a frozen process, as far as the kernel can tell),
    /// then accepts: read from this process's own table.
    #[tokio::test]
    async fn sees_a_real_connection_wait_in_the_queue_and_then_get_accepted() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let pid = std::process::id();
        let r = tokio::time::timeout(Duration::from_millis(300), wait(&stream, pid)).await;
        assert!(
            r.is_err(),
            "a connection nobody accepted counted as accepted"
        );
        let (_server_side, _) = listener.accept().await.unwrap();
        let r = tokio::time::timeout(Duration::from_millis(300), wait(&stream, pid)).await;
        assert_eq!(r.ok(), Some(Ok(())));
    }
}
