//! Reading and writing one `TcpStream` shared (behind an `Arc`) by the tasks of a connection.
//!
//! Sharing the stream rather than splitting it lets a reset_peer toxic set SO_LINGER 0 on a
//! socket whichever task currently reads or writes it.

use std::io;
use std::net::Shutdown;

use bytes::BytesMut;
use socket2::SockRef;
use tokio::net::TcpStream;

pub(crate) async fn read_some(stream: &TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    loop {
        stream.readable().await?;
        match stream.try_read_buf(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

pub(crate) async fn write_all(stream: &TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        stream.writable().await?;
        match stream.try_write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => data = &data[written..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends FIN while the other stream of the connection keeps flowing (TCP half-close).
pub(crate) fn close_write(stream: &TcpStream) {
    // The peer may already be gone; there is nothing left to tell it then.
    let _ = SockRef::from(stream).shutdown(Shutdown::Write);
}

/// Makes the final close of `stream` send RST instead of FIN.
pub(crate) fn arm_reset(stream: &TcpStream) -> io::Result<()> {
    stream.set_zero_linger()
}
