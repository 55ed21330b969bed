//! In-process HTTP servers on 127.0.0.1 with controllable behaviour, for the load tests.
//! Each server is a task aborted when its handle is dropped (also when a test fails).

#![allow(dead_code)] // each test binary uses a different part

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chaosgate_load::{LatencyRecorder, Observer, RequestOutcome};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How the server answers.
#[derive(Debug, Clone)]
pub struct Behaviour {
    pub status: u16,
    pub delay: Duration,
    /// Requests arriving in `[from, from + length)` after `epoch` wait `delay` instead.
    pub stall: Option<Stall>,
}

#[derive(Debug, Clone, Copy)]
pub struct Stall {
    pub epoch: Instant,
    pub from: Duration,
    pub length: Duration,
    pub delay: Duration,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            status: 200,
            delay: Duration::ZERO,
            stall: None,
        }
    }
}

/// What the server saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub arrivals: Mutex<Vec<Instant>>,
    pub bodies: Mutex<Vec<String>>,
    pub paths: Mutex<Vec<String>>,
    pub methods: Mutex<Vec<String>>,
    pub connections: AtomicUsize,
    /// Connections accepted and not yet closed (by either side).
    pub open_connections: AtomicUsize,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

impl Seen {
    pub fn arrivals(&self) -> Vec<Instant> {
        self.arrivals.lock().unwrap().clone()
    }
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// An HTTP server that answers per `behaviour`.
    pub async fn http(behaviour: Behaviour) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let shared = seen.clone();
        let task = tokio::spawn(async move {
            let mut connections = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                shared.open_connections.fetch_add(1, Ordering::SeqCst);
                let seen = shared.clone();
                let behaviour = behaviour.clone();
                connections.push(AbortOnDrop(tokio::spawn(async move {
                    let counters = seen.clone();
                    let service =
                        service_fn(move |request| answer(request, behaviour.clone(), seen.clone()));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                    counters.open_connections.fetch_sub(1, Ordering::SeqCst);
                })));
            }
        });
        TestServer { addr, seen, task }
    }

    /// Accepts connections and reads requests but never answers.
    pub async fn silent() -> TestServer {
        Self::raw(false).await
    }

    /// Reads the start of each request, then closes the connection without answering.
    pub async fn hanging_up() -> TestServer {
        Self::raw(true).await
    }

    async fn raw(hang_up: bool) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let shared = seen.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut stream, _)) = listener.accept().await {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                held.push(AbortOnDrop(tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf).await;
                    if !hang_up {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                })));
            }
        });
        TestServer { addr, seen, task }
    }
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn answer(
    request: Request<hyper::body::Incoming>,
    behaviour: Behaviour,
    seen: Arc<Seen>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let arrived = Instant::now();
    seen.arrivals.lock().unwrap().push(arrived);
    let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
    seen.methods
        .lock()
        .unwrap()
        .push(request.method().as_str().to_string());
    seen.paths.lock().unwrap().push(
        request
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
    );
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if !body.is_empty() {
        seen.bodies
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&body).into_owned());
    }
    let delay = match behaviour.stall {
        Some(s) if (s.epoch + s.from..s.epoch + s.from + s.length).contains(&arrived) => s.delay,
        _ => behaviour.delay,
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    seen.in_flight.fetch_sub(1, Ordering::SeqCst);
    let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
    *response.status_mut() = StatusCode::from_u16(behaviour.status).unwrap();
    Ok(response)
}

/// Keeps every outcome and its latency (errors included, at their latency), as the
/// harness's observer does.
#[derive(Default)]
pub struct Outcomes {
    pub all: Mutex<Vec<RequestOutcome>>,
    pub latency: Mutex<LatencyRecorder>,
}

impl Observer for Outcomes {
    fn on_outcome(&self, outcome: &RequestOutcome) {
        self.latency.lock().unwrap().record(outcome.latency);
        self.all.lock().unwrap().push(outcome.clone());
    }
}

impl Outcomes {
    pub fn take(&self) -> Vec<RequestOutcome> {
        let mut all = std::mem::take(&mut *self.all.lock().unwrap());
        all.sort_by_key(|o| o.seq);
        all
    }
}
