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

/// A keep-alive HTTP/1.1 server: answers every request `200 ok` with its path as the body,
/// request after request on each connection; counts the requests it saw per path.
pub async fn http_server() -> (Server, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let server = serve_each(move |mut stream| {
        let log = log.clone();
        async move {
            let mut buf = Vec::new();
            let mut chunk = vec![0u8; 16 * 1024];
            loop {
                let mut headers = [httparse::EMPTY_HEADER; 32];
                let mut request = httparse::Request::new(&mut headers);
                let len = match request.parse(&buf) {
                    Ok(httparse::Status::Complete(len)) => len,
                    Ok(httparse::Status::Partial) => match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            buf.extend_from_slice(&chunk[..n]);
                            continue;
                        }
                    },
                    Err(_) => return,
                };
                let path = request.path.unwrap_or("").to_owned();
                buf.drain(..len);
                log.lock().expect("log").push(path.clone());
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{path}",
                    path.len()
                );
                if stream.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    })
    .await;
    (server, seen)
}

/// Sends `GET path` on a keep-alive connection and reads the whole response: its status and
/// how long it took, or `None` when the connection ended first.
pub async fn http_get(stream: &mut TcpStream, path: &str) -> Option<(u16, Duration)> {
    let start = Instant::now();
    let request = format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        if let Ok(httparse::Status::Complete(len)) = response.parse(&buf) {
            let body: usize = response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= len + body {
                assert_eq!(buf.len(), len + body, "nothing beyond the response");
                return Some((response.code?, start.elapsed()));
            }
        }
        let n = tokio::time::timeout(TEST_WAIT, stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
