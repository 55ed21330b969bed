//! Failures are counted, by kind, and never silently skipped: refused connections,
//! timeouts, resets, non-2xx statuses, and requests Dropped at the in-flight bound.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chaosgate_load::{AsWritten, ErrorKind, LoadPlan, RequestTemplate, run_closed, run_open};
use support::{Behaviour, Outcomes, TestServer};
use tokio_util::sync::CancellationToken;

async fn run(plan: LoadPlan, outcomes: Arc<Outcomes>) -> chaosgate_load::LoadSummary {
    run_open(
        plan,
        Arc::new(AsWritten),
        outcomes,
        CancellationToken::new(),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_are_connect_refused_errors() {
    // A port nobody listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let outcomes = Arc::new(Outcomes::default());
    let plan = LoadPlan::get(
        format!("http://127.0.0.1:{port}/"),
        50.0,
        Duration::from_secs(1),
    );
    let summary = run(plan, outcomes.clone()).await;
    assert_eq!(summary.scheduled, 50);
    assert_eq!(
        summary.errors_of(ErrorKind::ConnectRefused),
        50,
        "{summary:#?}"
    );
    assert_eq!(summary.responses, 0);
    assert_eq!(summary.error_rate, 1.0);
    assert!(
        outcomes
            .take()
            .iter()
            .all(|o| o.result == Err(ErrorKind::ConnectRefused))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_servers_time_out_at_the_timeout() {
    let server = TestServer::silent().await;
    let outcomes = Arc::new(Outcomes::default());
    let mut plan = LoadPlan::get(server.url("/"), 20.0, Duration::from_secs(1));
    plan.timeout = Duration::from_millis(200);
    let summary = run(plan, outcomes.clone()).await;
    assert_eq!(summary.errors_of(ErrorKind::Timeout), 20, "{summary:#?}");
    for o in outcomes.take() {
        assert_eq!(o.result, Err(ErrorKind::Timeout));
        assert!(
            o.latency >= Duration::from_millis(200) && o.latency < Duration::from_millis(400),
            "{:?}",
            o.latency
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_closed_mid_request_are_resets() {
    let server = TestServer::hanging_up().await;
    let plan = LoadPlan::get(server.url("/"), 20.0, Duration::from_secs(1));
    let summary = run(plan, Arc::new(Outcomes::default())).await;
    assert_eq!(summary.errors_of(ErrorKind::Reset), 20, "{summary:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_2xx_statuses_are_failures_that_keep_their_latency() {
    let server = TestServer::http(Behaviour {
        status: 503,
        ..Behaviour::default()
    })
    .await;
    let plan = LoadPlan::get(server.url("/"), 50.0, Duration::from_secs(1));
    let summary = run(plan, Arc::new(Outcomes::default())).await;
    assert_eq!(summary.status_counts.get(&503), Some(&50));
    assert_eq!(summary.ok, 0);
    assert_eq!(summary.error_rate, 1.0);
    assert_eq!(summary.latency.count, 50);
    assert_eq!(
        summary.total_errors(),
        0,
        "a response is not a transport error"
    );
    assert!(summary.series.iter().all(|s| s.errors == s.sent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_in_flight_bound_are_dropped_not_queued() {
    let server = TestServer::http(Behaviour {
        delay: Duration::from_millis(300),
        ..Behaviour::default()
    })
    .await;
    let outcomes = Arc::new(Outcomes::default());
    let mut plan = LoadPlan::get(server.url("/"), 50.0, Duration::from_secs(1));
    plan.max_in_flight = 2;
    let summary = run(plan, outcomes.clone()).await;

    let dropped = summary.errors_of(ErrorKind::Dropped);
    assert_eq!(summary.scheduled, 50);
    assert_eq!(summary.sent + dropped, summary.scheduled);
    // Two in flight for 300 ms each while one is scheduled every 20 ms: most are dropped.
    assert!(dropped >= 30, "{summary:#?}");
    assert_eq!(summary.ok, summary.sent);
    assert!(server.seen.max_in_flight.load(Ordering::SeqCst) <= 2);
    // Every scheduled request is reported once, the dropped ones at their intended time.
    let all = outcomes.take();
    assert_eq!(
        all.iter().map(|o| o.seq).collect::<Vec<_>>(),
        (0..50).collect::<Vec<_>>()
    );
    for o in all.iter().filter(|o| o.result == Err(ErrorKind::Dropped)) {
        assert_eq!(o.latency, Duration::ZERO);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_mode_counts_errors_too() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let summary = run_closed(
        RequestTemplate::get(format!("http://127.0.0.1:{port}/")),
        2,
        Duration::from_millis(300),
        Duration::from_millis(200),
    )
    .await
    .unwrap();
    assert!(summary.scheduled > 0);
    assert_eq!(
        summary.errors_of(ErrorKind::ConnectRefused),
        summary.scheduled
    );
}
