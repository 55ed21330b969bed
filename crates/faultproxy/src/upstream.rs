//! Where a proxied connection goes: a fixed address, or the address the client meant before
//! an iptables REDIRECT sent it here (SO_ORIGINAL_DST), reached with a marked socket.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use nix::sys::socket::{getsockopt, sockopt};
use serde::{Deserialize, Serialize};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpSocket, TcpStream};

/// How the proxy picks the server of each accepted connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Upstream {
    /// Every connection goes to this address.
    Fixed(SocketAddr),
    /// Transparent mode: connect to the pre-REDIRECT destination, with SO_MARK = `mark` so the
    /// REDIRECT rule (`-m mark ! --mark M`) lets the proxy's own connection through.
    OriginalDst {
        /// SO_MARK set on the proxy's upstream sockets; the one the REDIRECT rule exempts.
        mark: u32,
    },
}

/// The destination the client asked for before NAT rewrote it to the proxy.
pub(crate) fn original_destination(accepted: &TcpStream) -> io::Result<SocketAddr> {
    match accepted.local_addr()? {
        SocketAddr::V4(_) => {
            let raw = getsockopt(accepted, sockopt::OriginalDst)?;
            Ok(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(raw.sin_addr.s_addr)),
                u16::from_be(raw.sin_port),
            )))
        }
        SocketAddr::V6(_) => {
            let raw = getsockopt(accepted, sockopt::Ip6tOriginalDst)?;
            Ok(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(raw.sin6_addr.s6_addr),
                u16::from_be(raw.sin6_port),
                raw.sin6_flowinfo,
                raw.sin6_scope_id,
            )))
        }
    }
}

/// Connects to `addr`, marking the socket first when asked (needs CAP_NET_ADMIN).
pub(crate) async fn connect(addr: SocketAddr, mark: Option<u32>) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if let Some(mark) = mark {
        socket.set_mark(mark)?;
    }
    socket.set_nonblocking(true)?;
    let stream = TcpSocket::from_std_stream(std::net::TcpStream::from(socket))
        .connect(addr)
        .await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}
