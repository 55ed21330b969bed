//! A minimal keep-alive HTTP/1.1 server answering `200 ok` to everything, for
//! `bench/loadgen.sh` to point chaosgate, oha and wrk at.
//!
//! `bench_server [PORT] [THREADS] [CERT.pem KEY.pem]`: listens on 127.0.0.1:PORT (0 picks a
//! free port) and prints `listening on 127.0.0.1:PORT` once ready. With a certificate and its
//! key (PEM), it serves HTTPS (rustls, HTTP/1.1 only, so every tool speaks the same protocol).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpSocket;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let threads: usize = args
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let tls = match (args.next(), args.next()) {
        (Some(cert), Some(key)) => Some(tls_config(&cert, &key)?),
        _ => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(serve(SocketAddr::from(([127, 0, 0, 1], port)), tls))
}

fn tls_config(cert: &str, key: &str) -> std::io::Result<tokio_rustls::TlsAcceptor> {
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|c| c.collect::<Result<Vec<_>, _>>())
        .map_err(|e| invalid(format!("{cert}: {e}")))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| invalid(format!("{key}: {e}")))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
    .map_err(|e| invalid(e.to_string()))?;
    let mut config = config;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

async fn serve(address: SocketAddr, tls: Option<tokio_rustls::TlsAcceptor>) -> std::io::Result<()> {
    // A deep accept queue: a load generator that falls behind and catches up opens
    // hundreds of connections at once, and overflowing tokio's default 1024 would turn
    // them into SYN retransmits (1 s timeouts) that measure the kernel, not the tool.
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    let listener = socket.listen(4096)?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => answer(stream).await,
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        answer(stream).await;
                    }
                }
            }
        });
    }
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(stream: S) {
    let service = service_fn(|_request: Request<hyper::body::Incoming>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    });
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}
