//! Opening a connection (through the `Resolver`; TLS for `https://`, HTTP/2 where the
//! server chooses it by ALPN, else HTTP/1.1) and naming why a request failed.

use std::error::Error as StdError;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::{TrySendError, http1, http2};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::outcome::{ErrorKind, Resolver};
use crate::tls::{TlsConnect, tls_error_kind};

type Body = Full<Bytes>;

/// The sending half of one keep-alive connection; its connection is driven by its own task
/// until the sender is dropped. An HTTP/2 one carries one request at a time here too, so
/// in-flight requests and connections count the same way on both.
#[derive(Debug)]
pub(crate) struct Sender {
    http: Http,
    /// The TLS failure the connection's reads or writes met, if any: hyper's HTTP/2 errors
    /// keep only an I/O error's kind and text, so the rustls error is recorded where it
    /// happens (a TLS 1.3 server refuses a client certificate after the handshake, with an
    /// alert the first read meets).
    tls_failure: TlsFailure,
}

#[derive(Debug)]
enum Http {
    Http1(http1::SendRequest<Body>),
    Http2(http2::SendRequest<Body>),
}

impl Sender {
    pub async fn ready(&mut self) -> Result<(), ErrorKind> {
        let ready = match &mut self.http {
            Http::Http1(s) => s.ready().await,
            Http::Http2(s) => s.ready().await,
        };
        ready.map_err(|e| self.failure(&e))
    }

    pub fn is_closed(&self) -> bool {
        match &self.http {
            Http::Http1(s) => s.is_closed(),
            Http::Http2(s) => s.is_closed(),
        }
    }

    pub fn is_http2(&self) -> bool {
        matches!(self.http, Http::Http2(_))
    }

    /// Sends `request`; hands it back when it was never sent (the connection had closed).
    pub async fn try_send_request(
        &mut self,
        request: Request<Body>,
    ) -> Result<Response<Incoming>, TrySendError<Request<Body>>> {
        match &mut self.http {
            Http::Http1(s) => s.try_send_request(request).await,
            Http::Http2(s) => s.try_send_request(request).await,
        }
    }

    /// Why a request on this connection failed with `error`: the TLS failure the connection
    /// met, else what hyper says.
    pub fn failure(&self, error: &hyper::Error) -> ErrorKind {
        self.tls_failure.kind_of(error)
    }
}

/// Connects to `host:port` (or where the resolver says it now lives), does the TLS handshake
/// when `tls` is given (its time is part of the latency of the request that opened the
/// connection) and the HTTP handshake.
pub(crate) async fn connect(
    host: &str,
    port: u16,
    tls: Option<&TlsConnect>,
    resolver: &dyn Resolver,
) -> Result<Sender, ErrorKind> {
    let stream = match resolver.resolve(host, port) {
        Some(address) => TcpStream::connect(address).await,
        None => TcpStream::connect((host, port)).await,
    }
    .map_err(|e| connect_error_kind(&e))?;
    // Requests are small and written whole; Nagle would only add delay.
    stream.set_nodelay(true).map_err(|e| io_error_kind(&e))?;
    let tls_failure = TlsFailure::default();
    let http = match tls {
        None => http1_over(TokioIo::new(stream), &tls_failure).await?,
        Some(tls) => {
            let (stream, h2) = tls.handshake(host, stream).await?;
            let stream = TokioIo::new(Watched {
                inner: stream,
                failure: tls_failure.clone(),
            });
            if h2 {
                let (sender, connection) = http2::handshake(TokioExecutor::new(), stream)
                    .await
                    .map_err(|e| tls_failure.kind_of(&e))?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                Http::Http2(sender)
            } else {
                http1_over(stream, &tls_failure).await?
            }
        }
    };
    Ok(Sender { http, tls_failure })
}

async fn http1_over<T>(io: TokioIo<T>, tls_failure: &TlsFailure) -> Result<Http, ErrorKind>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(io)
        .await
        .map_err(|e| tls_failure.kind_of(&e))?;
    tokio::spawn(async move {
        // Its errors reach the request that was in flight; nothing else to do with them.
        let _ = connection.await;
    });
    Ok(Http::Http1(sender))
}

/// The first TLS failure a connection met, shared by its stream and its sender.
#[derive(Debug, Clone, Default)]
struct TlsFailure(Arc<OnceLock<ErrorKind>>);

impl TlsFailure {
    /// Why hyper's `error` happened: the TLS failure the connection met, else what hyper says.
    fn kind_of(&self, error: &hyper::Error) -> ErrorKind {
        self.0.get().copied().unwrap_or_else(|| classify(error))
    }

    fn record(&self, error: &io::Error) {
        if let Some(kind) = tls_error_kind(error) {
            let _ = self.0.set(kind);
        }
    }
}

/// A TLS stream that records the TLS failure its reads and writes meet.
struct Watched<S> {
    inner: S,
    failure: TlsFailure,
}

impl<S> Watched<S> {
    /// Records the TLS failure of `polled`, if it is one, and hands it on.
    fn seen<T>(&self, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Err(e)) = &polled {
            self.failure.record(e);
        }
        polled
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.seen(polled)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.seen(polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.seen(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.seen(polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
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
            // An HTTP/1.1 connection's own I/O error (HTTP/2 keeps only its kind and text:
            // Sender::failure reads the recorded TLS failure first).
            return match tls_error_kind(io) {
                Some(kind) => kind,
                None => io_error_kind(io),
            };
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
