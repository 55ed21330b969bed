//! One proxied connection: the two sockets, the per-connection toxicity decisions, and the
//! tasks that move its bytes (a reader and a pump per stream) and enforce its deadlines.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::conn_state::{ConnShared, ProxyContext};
use crate::counters::{ProxyStats, bump};
use crate::pump::{Chunk, Pump};
use crate::registry::{InstalledToxic, ToxicList};
use crate::socket_io::{arm_reset, read_some};
use crate::toxic::Flow;
use crate::toxics::Closing;
use crate::upstream::{Upstream, connect, original_destination};

/// Bytes asked of the kernel per read: one chunk.
const READ_CHUNK: usize = 32 * 1024;
/// Chunks a stream may hold in flight (read, not yet written): bounds memory per stream to
/// READ_CHUNK × QUEUE_CHUNKS while a latency toxic keeps the pipeline full.
const QUEUE_CHUNKS: usize = 128;
/// How long the proxy tries to reach the server before resetting the client.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Decrements the active-connection gauge however the connection ends.
struct ActiveGuard<'a>(&'a ProxyStats);

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        self.0
            .active
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

pub(crate) async fn serve_connection(
    client: TcpStream,
    ctx: Arc<ProxyContext>,
    conn_id: u64,
    cancel: CancellationToken,
) {
    bump(&ctx.stats.accepted, 1);
    bump(&ctx.stats.active, 1);
    let _active = ActiveGuard(&ctx.stats);
    // Small pieces (slicer, bandwidth) must leave when the toxic says, not when Nagle says.
    let _ = client.set_nodelay(true);
    let (target, mark) = match ctx.upstream {
        Upstream::Fixed(addr) => (addr, None),
        Upstream::OriginalDst { mark } => match original_destination(&client) {
            Ok(addr) => (addr, Some(mark)),
            Err(error) => {
                bump(&ctx.stats.original_dst_errors, 1);
                tracing::warn!(conn_id, %error, "no SO_ORIGINAL_DST: connection was not redirected");
                refuse(&client);
                return;
            }
        },
    };
    let server = tokio::select! {
        biased;
        _ = cancel.cancelled() => return,
        connected = tokio::time::timeout(CONNECT_TIMEOUT, connect(target, mark)) => connected,
    };
    let server = match server {
        Ok(Ok(server)) => server,
        Ok(Err(error)) => return upstream_failed(&ctx, &client, conn_id, target, &error),
        Err(elapsed) => return upstream_failed(&ctx, &client, conn_id, target, &elapsed),
    };
    let conn = Arc::new(ConnShared::new(conn_id, ctx.seed, client, server, cancel));
    let (up_tx, up_rx) = mpsc::channel(QUEUE_CHUNKS);
    let (down_tx, down_rx) = mpsc::channel(QUEUE_CHUNKS);
    let up = Pump::new(
        Flow::Upstream,
        conn.clone(),
        &ctx,
        up_rx,
        conn.server.clone(),
    );
    let down = Pump::new(
        Flow::Downstream,
        conn.clone(),
        &ctx,
        down_rx,
        conn.client.clone(),
    );
    let streams = async {
        tokio::join!(
            read_stream(conn.client.clone(), up_tx, conn.cancel.clone()),
            up.run(),
            read_stream(conn.server.clone(), down_tx, conn.cancel.clone()),
            down.run(),
        );
        conn.cancel.cancel();
    };
    // The supervisor is polled first so a due reset or close wins over the first chunk.
    tokio::join!(supervise(&conn, ctx.registry.subscribe()), streams);
}

fn upstream_failed(
    ctx: &ProxyContext,
    client: &TcpStream,
    conn_id: u64,
    target: SocketAddr,
    error: &dyn std::fmt::Display,
) {
    bump(&ctx.stats.upstream_connect_errors, 1);
    tracing::warn!(conn_id, %target, %error, "cannot reach upstream");
    refuse(client);
}

/// The client sees what it would see from an unreachable server: a reset.
fn refuse(client: &TcpStream) {
    let _ = arm_reset(client);
}

/// Reads one socket into its stream's queue, stamping each chunk with its arrival time.
async fn read_stream(from: Arc<TcpStream>, to: mpsc::Sender<Chunk>, cancel: CancellationToken) {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        buf.reserve(READ_CHUNK);
        let read = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            read = read_some(&from, &mut buf) => read,
        };
        match read {
            // EOF: dropping the sender lets the pump forward a FIN once the queue is empty.
            Ok(0) => return,
            Ok(_) => {
                let chunk = Chunk {
                    data: buf.split().freeze(),
                    arrived: Instant::now(),
                };
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return,
                    sent = to.send(chunk) => if sent.is_err() { return },
                }
            }
            Err(_) => {
                cancel.cancel();
                return;
            }
        }
    }
}

/// Enforces the toxics that act on the whole connection at a point in time rather than on
/// chunks (`Kind::closes_after`: reset_peer, the closing deadline of timeout): the earliest
/// deadline of the toxics now applying, re-read whenever the toxics change.
async fn supervise(conn: &ConnShared, mut toxics: watch::Receiver<ToxicList>) {
    let mut registry_alive = true;
    loop {
        let list = toxics.borrow_and_update().clone();
        let next = conn
            .applicable(&list, None)
            .into_iter()
            .filter_map(|active| {
                let after = active.installed.behaviour.closes_after()?;
                Some((active.since + after, active.installed))
            })
            .min_by_key(|(deadline, _)| *deadline);
        // A deadline already passed (e.g. reset_peer with no delay) acts before any byte moves:
        // sleeping first would let the streams forward data for one more scheduler turn.
        if let Some((deadline, toxic)) = &next
            && *deadline <= Instant::now()
        {
            end_connection(conn, toxic);
            return;
        }
        tokio::select! {
            biased;
            _ = conn.cancel.cancelled() => return,
            changed = toxics.changed(), if registry_alive => registry_alive = changed.is_ok(),
            _ = sleep_until_some(next.as_ref().map(|(deadline, _)| *deadline)) => {
                if let Some((_, toxic)) = next {
                    end_connection(conn, &toxic);
                }
                return;
            }
        }
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

fn end_connection(conn: &ConnShared, toxic: &InstalledToxic) {
    toxic.behaviour.close(&Closing {
        conn,
        direction: toxic.toxic.direction,
        stats: &toxic.stats,
        name: &toxic.toxic.name,
    });
    // Every task drops its handle on the sockets; the last drop closes them (RST if armed).
    conn.cancel.cancel();
}
