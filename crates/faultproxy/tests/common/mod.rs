//! In-process servers and helpers shared by the proxy's integration tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use chaosgate_proxy::{ProxyConfig, ProxyHandle, Upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Upper bound for any single wait in a test, so a broken proxy fails instead of hanging.
pub const TEST_WAIT: Duration = Duration::from_secs(10);

/// A server that runs until dropped.
pub struct Server {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_each<F, Fut>(handler: F) -> Server
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind test server");
    let addr = listener.local_addr().expect("test server addr");
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(handler(stream));
        }
    });
    Server { addr, task }
}

/// Echoes every byte back.
pub async fn echo_server() -> Server {
    serve_each(|mut stream| async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if stream.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    })
    .await
}

/// On each byte received, answers `first` then, `gap` later, `second` (two TCP segments).
pub async fn two_chunk_server(first: usize, second: usize, gap: Duration) -> Server {
    serve_each(move |mut stream| async move {
        let mut byte = [0u8; 1];
        while let Ok(1) = stream.read(&mut byte).await {
            if stream.write_all(&vec![b'a'; first]).await.is_err() {
                return;
            }
            tokio::time::sleep(gap).await;
            if stream.write_all(&vec![b'b'; second]).await.is_err() {
                return;
            }
        }
    })
    .await
}

/// Records the size of each read it gets, and sends the list (as text) on EOF.
pub async fn read_sizes_server() -> Server {
    serve_each(|mut stream| async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut sizes = Vec::new();
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => sizes.push(n.to_string()),
            }
        }
        let _ = stream.write_all(sizes.join(",").as_bytes()).await;
    })
    .await
}

pub async fn proxy_to(upstream: SocketAddr, seed: u64) -> ProxyHandle {
    chaosgate_proxy::spawn(ProxyConfig {
        listen: "127.0.0.1:0".parse().expect("literal address"),
        upstream: Upstream::Fixed(upstream),
        seed,
    })
    .await
    .expect("start proxy")
}

pub async fn connect(addr: SocketAddr) -> TcpStream {
    let stream = tokio::time::timeout(TEST_WAIT, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// Sends `payload` and reads as many bytes back; returns how long it took.
pub async fn round_trip(stream: &mut TcpStream, payload: &[u8]) -> Duration {
    let start = Instant::now();
    stream.write_all(payload).await.expect("write");
    let mut back = vec![0u8; payload.len()];
    tokio::time::timeout(TEST_WAIT, stream.read_exact(&mut back))
        .await
        .expect("echo in time")
        .expect("echo");
    assert_eq!(back, payload);
    start.elapsed()
}

/// Median of a few round trips of one byte: the path's own latency, to measure toxics against.
pub async fn baseline_rtt(stream: &mut TcpStream) -> Duration {
    let mut samples = Vec::new();
    for _ in 0..5 {
        samples.push(round_trip(stream, b"x").await);
    }
    samples.sort();
    samples[samples.len() / 2]
}

/// Waits (bounded) until the proxy has no open connection.
pub async fn wait_idle(proxy: &ProxyHandle) {
    let deadline = Instant::now() + TEST_WAIT;
    while proxy.counters().connections_active > 0 {
        assert!(
            Instant::now() < deadline,
            "connections never closed: {:?}",
            proxy.counters()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
