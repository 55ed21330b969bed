//! Failures are counted, by kind, and never silently skipped: refused connections,
//! timeouts (in flight or waiting for an in-flight slot), resets, non-2xx statuses, and
//! requests Dropped because the queue behind the in-flight bound overflowed; each is in the
//! latency exactly once, at its latency.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chaosgate_load::{
    AsWritten, ErrorKind, LoadPlan, Method, RequestTemplate, run_closed, run_open,
};
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
async fn requests_over_the_in_flight_bound_wait_and_count_from_their_intended_time() {
    let server = TestServer::http(Behaviour {
        delay: Duration::from_millis(300),
        ..Behaviour::default()
    })
    .await;
    let outcomes = Arc::new(Outcomes::default());
    let mut plan = LoadPlan::get(server.url("/"), 50.0, Duration::from_secs(1));
    plan.max_in_flight = 2;
    plan.timeout = Duration::from_secs(10);
    let summary = run(plan, outcomes.clone()).await;

    // Two in flight for 300 ms each while one is scheduled every 20 ms: all 50 wait their
    // turn (7.5 s of work), none is dropped, every one is answered.
    assert_eq!(summary.scheduled, 50);
    assert_eq!(summary.errors_of(ErrorKind::Dropped), 0, "{summary:#?}");
    assert_eq!((summary.sent, summary.ok), (50, 50), "{summary:#?}");
    assert!(server.seen.max_in_flight.load(Ordering::SeqCst) <= 2);
    assert!(summary.peak_waiting >= 40, "{}", summary.peak_waiting);
    assert_eq!(summary.latency.count, summary.scheduled);
    let all = outcomes.take();
    assert_eq!(
        all.iter().map(|o| o.seq).collect::<Vec<_>>(),
        (0..50).collect::<Vec<_>>()
    );
    // Served in order, two every 300 ms: request n ends near 300 ms × (n/2 + 1) after the
    // start, so its latency from its intended time (20 ms × n) grows with its wait.
    let start = all[0].intended;
    let start_of = |o: &chaosgate_load::RequestOutcome| o.intended - start;
    for o in &all {
        let n = o.seq as u32;
        let ends_at = Duration::from_millis(300) * (n / 2 + 1);
        let expected = ends_at.saturating_sub(start_of(o));
        let got = o.latency;
        assert!(
            got + Duration::from_millis(30) >= expected,
            "request {n}: latency {got:?}, expected at least {expected:?}"
        );
        // The wait is the system's (its slots were busy), not the generator's lateness.
        assert!(o.send_lag < Duration::from_millis(50), "{o:?}");
        if n >= 2 {
            assert!(o.queued > Duration::ZERO, "{o:?}");
        }
    }
    let last = all.last().unwrap();
    assert!(last.latency >= Duration::from_secs(6), "{last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_waits_past_its_timeout_is_a_timeout_at_the_timeout() {
    let server = TestServer::silent().await;
    let outcomes = Arc::new(Outcomes::default());
    let mut plan = LoadPlan::get(server.url("/"), 20.0, Duration::from_secs(1));
    plan.timeout = Duration::from_millis(200);
    plan.max_in_flight = 1;
    let summary = run(plan, outcomes.clone()).await;
    // One in flight to a server that never answers: every request, sent or still waiting
    // for the slot, ends 200 ms after its intended time, as a timeout.
    assert_eq!(summary.scheduled, 20);
    assert_eq!(summary.errors_of(ErrorKind::Timeout), 20, "{summary:#?}");
    assert_eq!(summary.latency.count, 20);
    let all = outcomes.take();
    assert_eq!(all.len(), 20);
    for o in &all {
        assert_eq!(o.result, Err(ErrorKind::Timeout));
        // Recorded at the timeout (after the generator's own lateness), whether the timer
        // fired late or the request never got a slot.
        assert_eq!(o.latency, o.send_lag + Duration::from_millis(200), "{o:?}");
    }
    // All but the first waited for the one slot, and the wait used up their timeout.
    assert!(
        all.iter().filter(|o| o.queued > Duration::ZERO).count() >= 18,
        "{all:#?}"
    );
    assert!(summary.latency.p50_us >= 199_000, "{:?}", summary.latency);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_overflow_of_the_waiting_queue_drops_and_a_drop_counts_at_the_timeout() {
    let server = TestServer::http(Behaviour {
        delay: Duration::from_millis(300),
        ..Behaviour::default()
    })
    .await;
    let outcomes = Arc::new(Outcomes::default());
    let mut plan = LoadPlan::get(server.url("/"), 50.0, Duration::from_secs(1));
    plan.max_in_flight = 2;
    plan.max_queued = 3;
    plan.timeout = Duration::from_secs(1);
    let summary = run(plan, outcomes.clone()).await;

    let dropped = summary.errors_of(ErrorKind::Dropped);
    assert_eq!(summary.scheduled, 50);
    assert!(dropped >= 30, "{summary:#?}");
    assert_eq!(summary.sent + dropped, summary.scheduled, "{summary:#?}");
    assert_eq!(summary.peak_waiting, 3);
    assert_eq!(summary.latency.count, summary.scheduled);
    for o in outcomes
        .take()
        .iter()
        .filter(|o| o.result == Err(ErrorKind::Dropped))
    {
        assert!(!o.sent);
        assert!(o.latency >= Duration::from_secs(1), "{o:?}");
    }
    // Most requests were dropped, so most of the latency is the timeout: a drop never
    // makes the percentiles look better.
    assert!(summary.latency.p50_us >= 999_000, "{:?}", summary.latency);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_head_and_options_requests_are_sent() {
    let server = TestServer::http(Behaviour::default()).await;
    let mut plan = LoadPlan::get(server.url("/orders/{{id}}"), 30.0, Duration::from_secs(1));
    plan.requests = [Method::Patch, Method::Head, Method::Options]
        .into_iter()
        .map(|method| RequestTemplate {
            method,
            body: (method == Method::Patch).then(|| r#"{"qty":2}"#.to_string()),
            ..RequestTemplate::get(server.url("/orders/{{id}}"))
        })
        .collect();
    let summary = run(plan, Arc::new(Outcomes::default())).await;
    assert_eq!(summary.ok, 30, "{summary:#?}");
    let mut methods = server.seen.methods.lock().unwrap().clone();
    methods.sort();
    methods.dedup();
    assert_eq!(methods, ["HEAD", "OPTIONS", "PATCH"]);
    assert!(!server.seen.bodies.lock().unwrap().is_empty());
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
        &chaosgate_load::TlsPlan::default(),
    )
    .await
    .unwrap();
    assert!(summary.scheduled > 0);
    assert_eq!(
        summary.errors_of(ErrorKind::ConnectRefused),
        summary.scheduled
    );
}
