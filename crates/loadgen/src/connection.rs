//! Opening an HTTP/1.1 connection (through the `Resolver`) and naming why a request failed.

use std::error::Error as StdError;
use std::io;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::outcome::{ErrorKind, Resolver};

/// The sending half of one keep-alive connection.
pub(crate) type Sender = SendRequest<Full<Bytes>>;

/// Connects to `host:port` (or where the resolver says it now lives) and does the HTTP/1.1
/// handshake; the connection is driven by its own task until the sender is dropped.
pub(crate) async fn connect(
    host: &str,
    port: u16,
    resolver: &dyn Resolver,
) -> Result<Sender, ErrorKind> {
    let stream = match resolver.resolve(host, port) {
        Some(address) => TcpStream::connect(address).await,
        None => TcpStream::connect((host, port)).await,
    }
    .map_err(|e| connect_error_kind(&e))?;
    // Requests are small and written whole; Nagle would only add delay.
    stream.set_nodelay(true).map_err(|e| io_error_kind(&e))?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| classify(&e))?;
    tokio::spawn(async move {
        // Its errors reach the request that was in flight; nothing else to do with them.
        let _ = connection.await;
    });
    Ok(sender)
}

fn connect_error_kind(error: &io::Error) -> ErrorKind {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => ErrorKind::ConnectRefused,
        io::ErrorKind::TimedOut => ErrorKind::Timeout,
        _ => ErrorKind::Connect,
    }
}

fn io_error_kind(error: &io::Error) -> ErrorKind {
    match error.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof
        | io::ErrorKind::NotConnected => ErrorKind::Reset,
        io::ErrorKind::TimedOut => ErrorKind::Timeout,
        io::ErrorKind::ConnectionRefused => ErrorKind::ConnectRefused,
        _ => ErrorKind::Other,
    }
}

/// The kind of a failure hyper reported while sending or reading.
pub(crate) fn classify(error: &hyper::Error) -> ErrorKind {
    let mut source: Option<&(dyn StdError + 'static)> = error.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return io_error_kind(io);
        }
        source = cause.source();
    }
    if error.is_timeout() {
        ErrorKind::Timeout
    } else if error.is_incomplete_message() || error.is_canceled() || error.is_closed() {
        // The server went away mid-exchange: what a client sees as a reset connection.
        ErrorKind::Reset
    } else {
        ErrorKind::Other
    }
}
