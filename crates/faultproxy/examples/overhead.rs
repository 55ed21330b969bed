//! What the proxy costs with no toxic installed: added round-trip latency (p50/p99 of small
//! request/response exchanges) and bulk throughput, each through the proxy vs direct.
//! Everything runs in-process on 127.0.0.1.
//!
//! `cargo run --release -p chaosgate-proxy --example overhead [round_trips] [megabytes]`

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chaosgate_proxy::{ProxyConfig, Upstream};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const DEFAULT_ROUND_TRIPS: usize = 5_000;
const DEFAULT_MEGABYTES: usize = 256;
const MESSAGE: usize = 64;
const BLOCK: usize = 64 * 1024;

/// Echoes fixed-size messages; or, after a 0xFF first byte, swallows a bulk upload and
/// answers one byte at EOF.
async fn server() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = vec![0u8; BLOCK];
                let mut first = [0u8; 1];
                if stream.read_exact(&mut first).await.is_err() {
                    return;
                }
                if first[0] == 0xFF {
                    while let Ok(n) = stream.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                    }
                    let _ = stream.write_all(&[1]).await;
                    return;
                }
                let mut message = vec![0u8; MESSAGE];
                message[0] = first[0];
                if stream.read_exact(&mut message[1..]).await.is_err() {
                    return;
                }
                loop {
                    if stream.write_all(&message).await.is_err() {
                        return;
                    }
                    if stream.read_exact(&mut message).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(addr)
}

async fn latency(addr: SocketAddr, round_trips: usize) -> std::io::Result<Histogram<u64>> {
    let mut histogram =
        Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).map_err(std::io::Error::other)?;
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let message = [1u8; MESSAGE];
    let mut back = [0u8; MESSAGE];
    for _ in 0..round_trips {
        let start = Instant::now();
        stream.write_all(&message).await?;
        stream.read_exact(&mut back).await?;
        let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        histogram.saturating_record(micros.max(1));
    }
    Ok(histogram)
}

async fn throughput(addr: SocketAddr, megabytes: usize) -> std::io::Result<f64> {
    let mut stream = TcpStream::connect(addr).await?;
    let block = vec![0xFFu8; BLOCK];
    let blocks = megabytes * 1024 * 1024 / BLOCK;
    let start = Instant::now();
    for _ in 0..blocks {
        stream.write_all(&block).await?;
    }
    stream.shutdown().await?;
    let mut done = [0u8; 1];
    stream.read_exact(&mut done).await?;
    Ok((blocks * BLOCK) as f64 / start.elapsed().as_secs_f64() / 1e6)
}

fn arg(position: usize, default: usize) -> usize {
    std::env::args()
        .nth(position)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let round_trips = arg(1, DEFAULT_ROUND_TRIPS);
    let megabytes = arg(2, DEFAULT_MEGABYTES);
    let direct = server().await?;
    let proxy = chaosgate_proxy::spawn(ProxyConfig {
        listen: "127.0.0.1:0".parse()?,
        upstream: Upstream::Fixed(direct),
        seed: 0,
    })
    .await?;
    let proxied = proxy.local_addr();

    // Warm up both paths (connection setup, allocator) before measuring.
    latency(direct, 200).await?;
    latency(proxied, 200).await?;
    let direct_hist = latency(direct, round_trips).await?;
    let proxied_hist = latency(proxied, round_trips).await?;
    let direct_tput = throughput(direct, megabytes).await?;
    let proxied_tput = throughput(proxied, megabytes).await?;

    let micros = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q);
    println!("round trips: {round_trips} x {MESSAGE} B; bulk: {megabytes} MiB");
    println!(
        "latency p50  direct {:>5} us  proxied {:>5} us  added {:>5} us",
        micros(&direct_hist, 0.5),
        micros(&proxied_hist, 0.5),
        micros(&proxied_hist, 0.5).saturating_sub(micros(&direct_hist, 0.5))
    );
    println!(
        "latency p99  direct {:>5} us  proxied {:>5} us  added {:>5} us",
        micros(&direct_hist, 0.99),
        micros(&proxied_hist, 0.99),
        micros(&proxied_hist, 0.99).saturating_sub(micros(&direct_hist, 0.99))
    );
    println!(
        "throughput   direct {direct_tput:>7.0} MB/s  proxied {proxied_tput:>7.0} MB/s  ({:.0} %)",
        proxied_tput / direct_tput * 100.0
    );
    let counters = proxy.shutdown().await?;
    println!("proxy counters: {}", serde_json::to_string(&counters)?);
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}
