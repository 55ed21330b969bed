//! Each toxic against in-process servers on 127.0.0.1, through a real proxy.

mod common;

use std::time::Duration;

use chaosgate_proxy::{Direction, Toxic, ToxicKind};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// Slack for a shared, busy 2-core machine: delays may overshoot by this much, never undershoot.
const SLACK: Duration = Duration::from_millis(80);

fn latency(name: &str, ms: u64, direction: Direction) -> Toxic {
    Toxic::new(
        name,
        ToxicKind::Latency {
            latency: Duration::from_millis(ms),
            jitter: Duration::ZERO,
        },
        direction,
    )
}

fn assert_between(measured: Duration, low: Duration, high: Duration, what: &str) {
    assert!(
        measured >= low && measured <= high,
        "{what}: {measured:?} not within [{low:?}, {high:?}]"
    );
}

#[tokio::test]
async fn latency_delays_each_direction_by_what_was_asked() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr, 1).await;
    let mut stream = connect(proxy.local_addr()).await;
    let base = baseline_rtt(&mut stream).await;
    for (direction, expected_ms) in [
        (Direction::Upstream, 100),
        (Direction::Downstream, 100),
        // Both: half each way, so the round trip gains what was asked, as with one direction.
        (Direction::Both, 100),
    ] {
        proxy
            .add_toxic(latency("lat", 100, direction))
            .expect("add latency");
        let rtt = round_trip(&mut stream, b"ping").await;
        let expected = Duration::from_millis(expected_ms);
        assert_between(
            rtt,
            expected,
            expected + base + SLACK,
            &format!("{direction:?}"),
        );
        proxy.remove_toxic("lat").expect("remove latency");
    }
    let counters = proxy.counters();
    assert_eq!(counters.toxics["lat"].chunks_delayed, 4, "{counters:?}");
    assert_eq!(counters.connections_accepted, 1);
}

/// The case that broke a naive proxy: a response in two chunks must not pay the latency twice.
#[tokio::test]
async fn latency_is_pipelined_across_chunks() {
    let gap = Duration::from_millis(30);
    let server = two_chunk_server(100, 100, gap).await;
    let proxy = proxy_to(server.addr, 1).await;
    proxy
        .add_toxic(latency("lat", 100, Direction::Downstream))
        .expect("add latency");
    let mut stream = connect(proxy.local_addr()).await;
    let start = Instant::now();
    stream.write_all(b"q").await.expect("write");
    let mut response = [0u8; 200];
    tokio::time::timeout(TEST_WAIT, stream.read_exact(&mut response))
        .await
        .expect("response in time")
        .expect("response");
    let elapsed = start.elapsed();
    // Pipelined: 100 ms + the server's own 30 ms gap. Sequential sleeping would give ≥ 230 ms.
    assert_between(
        elapsed,
        Duration::from_millis(130),
        Duration::from_millis(130) + SLACK,
        "two-chunk response",
    );
    assert_eq!(proxy.counters().toxics["lat"].chunks_delayed, 2);
}

#[tokio::test]
async fn bandwidth_caps_throughput() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr, 1).await;
    let rate: u64 = 200_000;
    proxy
        .add_toxic(Toxic::new(
            "bw",
            ToxicKind::Bandwidth {
                bytes_per_sec: rate,
            },
            Direction::Upstream,
        ))
        .expect("add bandwidth");
    let mut stream = connect(proxy.local_addr()).await;
    let payload = vec![7u8; 300_000];
    let elapsed = round_trip(&mut stream, &payload).await;
    let throughput = payload.len() as f64 / elapsed.as_secs_f64();
    // Every slice waits for its turn, the first included.
    assert!(
        throughput <= rate as f64 * 1.02 && throughput >= rate as f64 * 0.8,
        "throughput {throughput:.0} B/s with a cap of {rate} B/s ({elapsed:?})"
    );
    let bw = &proxy.counters().toxics["bw"];
    assert_eq!(bw.bytes_affected, payload.len() as u64);
    assert!(bw.chunks_delayed > 0);
}

/// A message smaller than a pacing slice still takes size / rate: "4 KB/s" means a 1 KB
/// response arrives after 250 ms, not at once.
#[tokio::test]
async fn bandwidth_delays_a_small_message_by_its_size_over_the_rate() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr, 1).await;
    let mut stream = connect(proxy.local_addr()).await;
    let base = baseline_rtt(&mut stream).await;
    proxy
        .add_toxic(Toxic::new(
            "bw",
            ToxicKind::Bandwidth {
                bytes_per_sec: 4_000,
            },
            Direction::Downstream,
        ))
        .expect("add bandwidth");
    let payload = vec![1u8; 1_000];
    let elapsed = round_trip(&mut stream, &payload).await;
    let expected = Duration::from_millis(250);
    assert_between(elapsed, expected, expected + base + SLACK, "1 KB at 4 KB/s");
}

#[tokio::test]
async fn reset_peer_resets_the_client_after_the_delay() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr, 1).await;
    let after = Duration::from_millis(150);
    proxy
        .add_toxic(Toxic::new(
            "rst",
            ToxicKind::ResetPeer { after },
            Direction::Downstream,
        ))
        .expect("add reset");
    let start = Instant::now();
    let mut stream = connect(proxy.local_addr()).await;
    // Before the deadline the connection works.
    round_trip(&mut stream, b"still fine").await;
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(TEST_WAIT, stream.read(&mut buf))
        .await
        .expect("reset in time");
    let error = read.expect_err("the read must fail with a reset, not return data or EOF");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
    assert_between(start.elapsed(), after, after + SLACK, "reset time");
    assert_eq!(proxy.counters().toxics["rst"].resets_sent, 1);
}

#[tokio::test]
async fn timeout_holds_data_and_keeps_the_connection_open_until_removed() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr, 1).await;
    let mut stream = connect(proxy.local_addr()).await;
    round_trip(&mut stream, b"before").await;
    proxy
        .add_toxic(Toxic::new(
            "hold",
            ToxicKind::Timeout { after: None },
            Direction::Upstream,
        ))
        .expect("add timeout");
    stream.write_all(b"swallowed").await.expect("write");
    let mut buf = [0u8; 16];
    let silent = tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await;
    assert!(
        silent.is_err(),
        "nothing may come back while held: {silent:?}"
    );
    let hold = proxy.counters().toxics["hold"].clone();
    assert_eq!((hold.timeouts_held, hold.bytes_held), (1, 9));
    proxy.remove_toxic("hold").expect("remove timeout");
    // Same connection, open all along: traffic flows again.
    round_trip(&mut stream, b"after").await;
    assert_eq!(proxy.counters().connections_accepted, 1);
}

#[tokio::test]
async fn timeout_with_deadline_closes_the_connection() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr, 1).await;
    let after = Duration::from_millis(200);
    proxy
        .add_toxic(Toxic::new(
            "hold",
            ToxicKind::Timeout { after: Some(after) },
            Direction::Both,
        ))
        .expect("add timeout");
    let start = Instant::now();
    let mut stream = connect(proxy.local_addr()).await;
    stream.write_all(b"lost").await.expect("write");
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(TEST_WAIT, stream.read(&mut buf))
        .await
        .expect("close in time")
        .expect("a clean close");
    assert_eq!(read, 0, "expected EOF, got data");
    assert_between(start.elapsed(), after, after + SLACK, "close time");
    assert_eq!(proxy.counters().toxics["hold"].connections_closed, 1);
}

#[tokio::test]
async fn slicer_splits_into_small_delayed_pieces() {
    let server = read_sizes_server().await;
    let proxy = proxy_to(server.addr, 1).await;
    let delay = Duration::from_millis(5);
    proxy
        .add_toxic(Toxic::new(
            "slice",
            ToxicKind::Slicer {
                avg_size: 100,
                size_variation: 0,
                delay,
            },
            Direction::Upstream,
        ))
        .expect("add slicer");
    let mut stream = connect(proxy.local_addr()).await;
    let start = Instant::now();
    stream.write_all(&[1u8; 1000]).await.expect("write");
    stream.shutdown().await.expect("half-close");
    let mut report = String::new();
    tokio::time::timeout(TEST_WAIT, stream.read_to_string(&mut report))
        .await
        .expect("report in time")
        .expect("report");
    let elapsed = start.elapsed();
    let sizes: Vec<usize> = report
        .split(',')
        .map(|s| s.parse().expect("a size"))
        .collect();
    assert_eq!(sizes.iter().sum::<usize>(), 1000);
    // 5 ms apart with TCP_NODELAY: the server sees the pieces as separate reads.
    assert!(sizes.len() >= 8, "server saw reads {sizes:?}");
    assert!(sizes.iter().all(|s| *s <= 200), "{sizes:?}");
    assert!(elapsed >= delay * 9, "{elapsed:?}");
    assert_eq!(proxy.counters().toxics["slice"].slices, 10);
}

#[tokio::test]
async fn limit_data_closes_after_the_limit() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr, 1).await;
    proxy
        .add_toxic(Toxic::new(
            "limit",
            ToxicKind::LimitData { bytes: 1000 },
            Direction::Downstream,
        ))
        .expect("add limit");
    let mut stream = connect(proxy.local_addr()).await;
    stream.write_all(&[3u8; 3000]).await.expect("write");
    let mut received = Vec::new();
    tokio::time::timeout(TEST_WAIT, stream.read_to_end(&mut received))
        .await
        .expect("close in time")
        .expect("clean close");
    assert_eq!(received.len(), 1000);
    let limit = &proxy.counters().toxics["limit"];
    assert_eq!((limit.connections_closed, limit.bytes_affected), (1, 1000));
}

/// Round trips of `connections` fresh connections made one after the other.
async fn rtts_of_fresh_connections(
    proxy_addr: std::net::SocketAddr,
    connections: usize,
) -> Vec<Duration> {
    let mut rtts = Vec::new();
    for _ in 0..connections {
        let mut stream = connect(proxy_addr).await;
        rtts.push(round_trip(&mut stream, b"x").await);
    }
    rtts
}

#[tokio::test]
async fn toxicity_zero_spares_all_and_one_hits_all() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr, 9).await;
    let mut toxic = latency("lat", 120, Direction::Downstream);
    toxic.toxicity = 0.0;
    proxy.add_toxic(toxic.clone()).expect("add");
    let spared = rtts_of_fresh_connections(proxy.local_addr(), 10).await;
    assert!(
        spared.iter().all(|r| *r < Duration::from_millis(120)),
        "{spared:?}"
    );
    proxy.remove_toxic("lat").expect("remove");
    // Connections still closing would meet the next toxic too and skew its counters.
    wait_idle(&proxy).await;
    toxic.toxicity = 1.0;
    proxy.add_toxic(toxic).expect("add");
    let hit = rtts_of_fresh_connections(proxy.local_addr(), 10).await;
    assert!(
        hit.iter().all(|r| *r >= Duration::from_millis(120)),
        "{hit:?}"
    );
    let lat = &proxy.counters().toxics["lat"];
    assert_eq!((lat.connections_spared, lat.connections_affected), (10, 10));
}

/// Which of `n` sequential connections a half-toxic latency hit, for a seed.
async fn affected_pattern(seed: u64, n: usize) -> Vec<bool> {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr, seed).await;
    let mut toxic = latency("lat", 80, Direction::Downstream);
    toxic.toxicity = 0.5;
    proxy.add_toxic(toxic).expect("add");
    let rtts = rtts_of_fresh_connections(proxy.local_addr(), n).await;
    let pattern: Vec<bool> = rtts
        .iter()
        .map(|r| *r >= Duration::from_millis(80))
        .collect();
    let lat = &proxy.counters().toxics["lat"];
    assert_eq!(
        lat.connections_affected as usize,
        pattern.iter().filter(|hit| **hit).count()
    );
    pattern
}

#[tokio::test]
async fn toxicity_draws_replay_from_the_seed() {
    let first = affected_pattern(2024, 16).await;
    let replay = affected_pattern(2024, 16).await;
    assert_eq!(first, replay);
    let hits = first.iter().filter(|hit| **hit).count();
    assert!((2..=14).contains(&hits), "0.5 toxicity hit {hits} of 16");
}

#[tokio::test]
async fn toxics_change_at_run_time_without_dropping_the_connection() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr, 1).await;
    let mut stream = connect(proxy.local_addr()).await;
    let base = baseline_rtt(&mut stream).await;
    proxy
        .add_toxic(latency("lat", 150, Direction::Upstream))
        .expect("add");
    let slow = round_trip(&mut stream, b"slow").await;
    assert_between(
        slow,
        Duration::from_millis(150),
        Duration::from_millis(150) + base + SLACK,
        "with toxic",
    );
    assert!(
        proxy
            .add_toxic(latency("lat", 1, Direction::Upstream))
            .is_err(),
        "duplicate name"
    );
    proxy.remove_toxic("lat").expect("remove");
    let fast = round_trip(&mut stream, b"fast").await;
    assert!(fast < Duration::from_millis(100), "after removal: {fast:?}");
    assert_eq!(proxy.counters().connections_accepted, 1);
    assert_eq!(proxy.counters().connections_active, 1);
    drop(stream);
    let counters = proxy.shutdown().await.expect("shutdown");
    assert_eq!(counters.bytes_upstream, counters.bytes_downstream);
}

/// Removing a latency toxic releases chunks it was holding instead of making them wait it out.
#[tokio::test]
async fn removing_latency_releases_held_chunks() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr, 1).await;
    proxy
        .add_toxic(latency("lat", 5_000, Direction::Upstream))
        .expect("add");
    let mut stream = connect(proxy.local_addr()).await;
    let start = Instant::now();
    stream.write_all(b"held").await.expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;
    proxy.remove_toxic("lat").expect("remove");
    let mut back = [0u8; 4];
    tokio::time::timeout(TEST_WAIT, stream.read_exact(&mut back))
        .await
        .expect("in time")
        .expect("echo");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn unreachable_upstream_resets_the_client_and_counts() {
    // A port nobody listens on: bind, learn the port, close.
    let unused = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = unused.local_addr().expect("addr");
    drop(unused);
    let proxy = proxy_to(addr, 1).await;
    let mut stream = connect(proxy.local_addr()).await;
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(TEST_WAIT, stream.read(&mut buf))
        .await
        .expect("in time");
    assert!(
        matches!(read, Err(ref e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "{read:?}"
    );
    assert_eq!(proxy.counters().upstream_connect_errors, 1);
}

#[tokio::test]
async fn invalid_toxics_are_refused() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr, 1).await;
    let mut toxic = latency("lat", 1, Direction::Both);
    toxic.toxicity = 1.5;
    assert!(proxy.add_toxic(toxic).is_err());
    let zero_rate = Toxic::new(
        "bw",
        ToxicKind::Bandwidth { bytes_per_sec: 0 },
        Direction::Both,
    );
    assert!(proxy.add_toxic(zero_rate).is_err());
    assert!(proxy.remove_toxic("nothing").is_err());
    assert!(proxy.toxics().is_empty());
}

#[tokio::test]
async fn jitter_spreads_latency_within_its_band() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr, 5).await;
    let (latency, jitter) = (Duration::from_millis(100), Duration::from_millis(40));
    proxy
        .add_toxic(Toxic::new(
            "jit",
            ToxicKind::Latency { latency, jitter },
            Direction::Downstream,
        ))
        .expect("add");
    let mut stream = connect(proxy.local_addr()).await;
    let mut rtts = Vec::new();
    for _ in 0..12 {
        rtts.push(round_trip(&mut stream, b"j").await);
    }
    let (low, high) = (latency - jitter, latency + jitter + SLACK);
    assert!(rtts.iter().all(|r| *r >= low && *r <= high), "{rtts:?}");
    let spread = *rtts.iter().max().expect("samples") - *rtts.iter().min().expect("samples");
    assert!(
        spread >= Duration::from_millis(20),
        "jitter had no effect: {rtts:?}"
    );
}

/// With no delay, a reset wins over the first byte on every connection.
#[tokio::test]
async fn immediate_reset_lets_no_byte_through() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr, 1).await;
    proxy
        .add_toxic(Toxic::new(
            "rst",
            ToxicKind::ResetPeer {
                after: Duration::ZERO,
            },
            Direction::Both,
        ))
        .expect("add reset");
    for _ in 0..5 {
        let mut stream = connect(proxy.local_addr()).await;
        let _ = stream.write_all(b"hello").await;
        let mut buf = [0u8; 5];
        let read = tokio::time::timeout(TEST_WAIT, stream.read(&mut buf))
            .await
            .expect("in time");
        assert!(
            matches!(read, Err(ref e) if e.kind() == std::io::ErrorKind::ConnectionReset),
            "{read:?}"
        );
    }
    let counters = proxy.counters();
    assert_eq!(counters.bytes_upstream + counters.bytes_downstream, 0);
    // Both sockets of each connection were reset.
    assert_eq!(counters.toxics["rst"].resets_sent, 10);
}

fn http_toxic(name: &str, kind: ToxicKind) -> Toxic {
    Toxic::new(name, kind, Direction::Upstream)
}

fn quote_only() -> chaosgate_proxy::HttpMatch {
    chaosgate_proxy::HttpMatch {
        method: Some("GET".into()),
        path: Some(chaosgate_proxy::PathMatch::Exact("/quote".into())),
        header: None,
    }
}

/// The share asked for, measured at the client over 1000 matching requests on one live
/// keep-alive connection; the requests it does not match pass untouched; the connection
/// survives the toxic's removal.
#[tokio::test]
async fn http_abort_answers_its_share_of_matching_requests_on_a_live_connection() {
    let (server, seen) = http_server().await;
    let proxy = proxy_to(server.addr, 7).await;
    let mut stream = connect(proxy.local_addr()).await;
    assert_eq!(
        http_get(&mut stream, "/quote").await.map(|r| r.0),
        Some(200)
    );
    proxy
        .add_toxic(http_toxic(
            "abort",
            ToxicKind::HttpAbort {
                matcher: quote_only(),
                probability: 0.5,
                status: Some(503),
            },
        ))
        .expect("add http_abort");
    let (mut aborted, mut health_failed) = (0, 0);
    for _ in 0..1000 {
        let (status, _) = http_get(&mut stream, "/quote").await.expect("a response");
        aborted += usize::from(status == 503);
        let (status, _) = http_get(&mut stream, "/health").await.expect("a response");
        health_failed += usize::from(status != 200);
    }
    proxy.remove_toxic("abort").expect("remove");
    assert_eq!(
        http_get(&mut stream, "/quote").await.map(|r| r.0),
        Some(200)
    );
    assert!(
        (450..=550).contains(&aborted),
        "{aborted} of 1000 aborted, asked 50 %"
    );
    assert_eq!(health_failed, 0);
    let quotes_seen = seen
        .lock()
        .expect("log")
        .iter()
        .filter(|p| *p == "/quote")
        .count();
    // The first and last quotes plus those the toxic let through: the server never saw the rest.
    assert_eq!(quotes_seen, 2 + 1000 - aborted);
    let counters = proxy.counters();
    let requests = counters.toxics["abort"]
        .requests
        .clone()
        .expect("request counters");
    assert_eq!((requests.matched, requests.acted), (1000, aborted as u64));
    assert!(counters.toxics["abort"].touched_traffic());
    assert_eq!(counters.connections_accepted, 1, "{counters:?}");
}

/// The delay lands on matching requests only (within 15 ms of what was asked, at the median),
/// and requests that do not match keep their latency.
#[tokio::test]
async fn http_delay_holds_matching_requests_only() {
    let (server, _) = http_server().await;
    let proxy = proxy_to(server.addr, 7).await;
    let mut stream = connect(proxy.local_addr()).await;
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let mut sample = async |path: &str| {
        let mut times = Vec::new();
        for _ in 0..21 {
            times.push(http_get(&mut stream, path).await.expect("a response").1);
        }
        median(times)
    };
    let (quote_before, health_before) = (sample("/quote").await, sample("/health").await);
    proxy
        .add_toxic(http_toxic(
            "slow",
            ToxicKind::HttpDelay {
                matcher: quote_only(),
                probability: 1.0,
                delay: Duration::from_millis(100),
            },
        ))
        .expect("add http_delay");
    let (quote_during, health_during) = (sample("/quote").await, sample("/health").await);
    proxy.remove_toxic("slow").expect("remove");
    let added = quote_during.saturating_sub(quote_before);
    assert_between(
        added,
        Duration::from_millis(100),
        Duration::from_millis(115),
        "added to /quote",
    );
    assert!(
        health_during < health_before + Duration::from_millis(15),
        "/health went from {health_before:?} to {health_during:?}"
    );
    let requests = proxy.counters().toxics["slow"]
        .requests
        .clone()
        .expect("counters");
    assert_eq!((requests.matched, requests.acted), (21, 21));
}

/// A toxic removed while it holds half a request head lets the whole request through: a
/// revert never cuts a request in two.
#[tokio::test]
async fn removing_an_http_toxic_mid_request_keeps_the_request_whole() {
    let (server, seen) = http_server().await;
    let proxy = proxy_to(server.addr, 7).await;
    let mut stream = connect(proxy.local_addr()).await;
    proxy
        .add_toxic(http_toxic(
            "abort",
            ToxicKind::HttpAbort {
                matcher: quote_only(),
                probability: 1.0,
                status: Some(503),
            },
        ))
        .expect("add http_abort");
    stream
        .write_all(b"GET /quote HTTP/1.1\r\nho")
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(50)).await;
    proxy.remove_toxic("abort").expect("remove");
    stream.write_all(b"st: test\r\n\r\n").await.expect("write");
    let mut response = vec![0u8; 256];
    let n = tokio::time::timeout(TEST_WAIT, stream.read(&mut response))
        .await
        .expect("an answer in time")
        .expect("read");
    assert!(
        response[..n].starts_with(b"HTTP/1.1 200 OK"),
        "{:?}",
        String::from_utf8_lossy(&response[..n])
    );
    assert_eq!(*seen.lock().expect("log"), ["/quote"]);
}
