//! Manual check against a real container: puts a latency toxic on the connections a process's
//! network namespace makes to a port, holds it for a while, prints the evidence, cleans up.
//!
//! `cargo run -p chaosgate-proxy --example intercept_pid -- <pid> <port> <latency_ms> <hold_s>`
//! (root; e.g. the `State.Pid` of a container, then time a client call inside it).

use std::sync::Arc;
use std::time::Duration;

use chaosgate_proxy::netns_rules::{CommandRunner, Marker, SystemRunner};
use chaosgate_proxy::{
    Direction, InterceptDirection, InterceptSpec, Interception, Toxic, ToxicKind,
};

const MARK: u32 = 0x6367;

fn arg<T: std::str::FromStr>(position: usize, what: &str) -> Result<T, String> {
    std::env::args()
        .nth(position)
        .ok_or_else(|| format!("missing {what}"))?
        .parse()
        .map_err(|_| format!("bad {what}"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pid: u32 = arg(1, "pid")?;
    let port: u16 = arg(2, "port")?;
    let latency_ms: u64 = arg(3, "latency_ms")?;
    let hold_s: u64 = arg(4, "hold_s")?;
    let runner: Arc<dyn CommandRunner> = Arc::new(SystemRunner::default());
    let interception = Interception::start(
        InterceptSpec {
            pid,
            port,
            direction: InterceptDirection::Egress { dest: None },
            mark: MARK,
            seed: 1,
            marker: Marker::new(&format!("manual-{}", std::process::id()), "latency")?,
        },
        runner,
    )?;
    interception.proxy().add_toxic(Toxic::new(
        "latency",
        ToxicKind::Latency {
            latency: Duration::from_millis(latency_ms),
            jitter: Duration::ZERO,
        },
        Direction::Downstream,
    ))?;
    println!("intercepting port {port} of pid {pid} for {hold_s} s");
    tokio::time::sleep(Duration::from_secs(hold_s)).await;
    let report = interception.stop().await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
