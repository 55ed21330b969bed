//! The closed model: N connections, one request in flight each, as fast as answered.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use chaosgate_load::{LoadMode, RequestTemplate, TlsPlan, run_closed};
use support::{Behaviour, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_one_request_in_flight_per_connection() {
    let delay = Duration::from_millis(20);
    let server = TestServer::http(Behaviour {
        delay,
        ..Behaviour::default()
    })
    .await;
    let connections = 4;
    let summary = run_closed(
        RequestTemplate::get(server.url("/")),
        connections,
        Duration::from_secs(1),
        Duration::from_secs(1),
        &TlsPlan::default(),
    )
    .await
    .unwrap();
    assert_eq!(summary.mode, LoadMode::Closed);
    assert_eq!(summary.ok, summary.scheduled);
    assert_eq!(
        server.seen.max_in_flight.load(Ordering::SeqCst),
        connections
    );
    assert_eq!(server.seen.connections.load(Ordering::SeqCst), connections);
    // Each connection does at most 1 s / 20 ms = 50 exchanges (fewer with overheads).
    let most = connections as u64 * 50;
    assert!(
        summary.scheduled <= most && summary.scheduled >= most * 7 / 10,
        "{summary:#?}"
    );
    assert!(summary.latency.p50_us >= 20_000);
    assert_eq!(summary.service_latency, None);
}
