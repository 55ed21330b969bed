//! One stream of a connection (client → server or back): takes the chunks its reader queued
//! and writes them out through the toxics that currently apply.
//!
//! Latency is pipelined: a chunk leaves at `arrival + delay` (never before the previous one),
//! so two chunks 5 ms apart under "100 ms" leave 100 ms and 105 ms after they came, not
//! 100 ms and 200 ms. The reader keeps reading while the pump waits.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::conn_state::{ActiveToxic, ConnShared, ProxyContext};
use crate::counters::{ProxyStats, bump};
use crate::draw::flow_rng;
use crate::registry::ToxicList;
use crate::slicer::piece_lengths;
use crate::socket_io::{close_write, write_all};
use crate::toxic::{Direction, Flow, ToxicKind};

/// Bandwidth pacing writes this share of a second's worth of bytes at a time.
const PACING_SLICES_PER_SEC: u64 = 20;

/// Bytes read from one socket, stamped when they arrived.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub data: Bytes,
    pub arrived: Instant,
}

/// Why a stream stopped before its reader's end of file.
enum Stop {
    Cancelled,
    WriteFailed,
    LimitReached,
}

pub(crate) struct Pump<'a> {
    flow: Flow,
    conn: Arc<ConnShared>,
    toxics: watch::Receiver<ToxicList>,
    registry_alive: bool,
    input: mpsc::Receiver<Chunk>,
    output: Arc<TcpStream>,
    stats: &'a ProxyStats,
    rng: ChaCha8Rng,
    last_release: Instant,
    bandwidth_next: Instant,
    limit_sent: HashMap<u64, u64>,
}

impl<'a> Pump<'a> {
    pub fn new(
        flow: Flow,
        conn: Arc<ConnShared>,
        ctx: &'a ProxyContext,
        input: mpsc::Receiver<Chunk>,
        output: Arc<TcpStream>,
    ) -> Self {
        let now = Instant::now();
        Pump {
            flow,
            rng: flow_rng(ctx.seed, conn.id, flow),
            conn,
            toxics: ctx.registry.subscribe(),
            registry_alive: true,
            input,
            output,
            stats: &ctx.stats,
            last_release: now,
            bandwidth_next: now,
            limit_sent: HashMap::new(),
        }
    }

    pub async fn run(mut self) {
        let cancel = self.conn.cancel.clone();
        loop {
            let chunk = tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                chunk = self.input.recv() => chunk,
            };
            let Some(chunk) = chunk else {
                close_write(&self.output);
                return;
            };
            match self.forward(chunk).await {
                Ok(()) => {}
                Err(Stop::Cancelled) => return,
                Err(Stop::WriteFailed | Stop::LimitReached) => {
                    cancel.cancel();
                    return;
                }
            }
        }
    }

    fn active(&mut self) -> Vec<ActiveToxic> {
        let list = self.toxics.borrow_and_update().clone();
        self.conn.applicable(&list, Some(self.flow))
    }

    async fn forward(&mut self, chunk: Chunk) -> Result<(), Stop> {
        let active = self.active();
        let len = chunk.data.len() as u64;
        if let Some(timeout) = active
            .iter()
            .find(|t| matches!(t.installed.toxic.kind, ToxicKind::Timeout { .. }))
        {
            bump(&timeout.installed.stats.bytes_held, len);
            return Ok(());
        }
        let mut data = chunk.data;
        let limit_reached = self.apply_limits(&active, &mut data);

        let release = self.release_time(chunk.arrived, &active, Some(data.len()));
        self.wait_for_release(chunk.arrived, release).await?;

        let (pieces, gap) = self.slice(&active, data);
        for (index, piece) in pieces.iter().enumerate() {
            if index > 0 && !gap.is_zero() {
                self.sleep(gap).await?;
            }
            self.write_paced(piece).await?;
        }
        if let Some(limit) = limit_reached {
            bump(&limit.installed.stats.connections_closed, 1);
            return Err(Stop::LimitReached);
        }
        Ok(())
    }

    /// Truncates `data` to what the limit_data toxics still allow; returns the toxic whose
    /// limit is now reached, if any.
    fn apply_limits(&mut self, active: &[ActiveToxic], data: &mut Bytes) -> Option<ActiveToxic> {
        let mut reached = None;
        for toxic in active {
            let ToxicKind::LimitData { bytes } = toxic.installed.toxic.kind else {
                continue;
            };
            let sent = self.limit_sent.entry(toxic.installed.id).or_insert(0);
            let allowed = bytes.saturating_sub(*sent);
            if (data.len() as u64) > allowed {
                // allowed < data.len() <= usize::MAX here.
                data.truncate(allowed as usize);
            }
            *sent += data.len() as u64;
            bump(&toxic.installed.stats.bytes_affected, data.len() as u64);
            if *sent >= bytes && reached.is_none() {
                reached = Some(ActiveToxic {
                    installed: toxic.installed.clone(),
                    since: toxic.since,
                });
            }
        }
        reached
    }

    /// When a chunk that arrived at `arrived` may leave under the latency toxics of `active`;
    /// counts the chunk (of `counted_len` bytes) against them when given.
    fn release_time(
        &mut self,
        arrived: Instant,
        active: &[ActiveToxic],
        counted_len: Option<usize>,
    ) -> Instant {
        let mut delay = Duration::ZERO;
        for toxic in active {
            let ToxicKind::Latency { latency, jitter } = toxic.installed.toxic.kind else {
                continue;
            };
            let (latency, jitter) =
                stream_share(latency, jitter, toxic.installed.toxic.direction, self.flow);
            delay += jittered(latency, jitter, &mut self.rng);
            if let Some(len) = counted_len {
                bump(&toxic.installed.stats.chunks_delayed, 1);
                bump(&toxic.installed.stats.bytes_affected, len as u64);
            }
        }
        // A stream keeps its order whatever the jitter drew.
        (arrived + delay).max(self.last_release)
    }

    /// Waits until `release`; if the toxics change meanwhile (a latency toxic removed), the
    /// release time is recomputed so the chunk does not wait for a fault that is gone.
    async fn wait_for_release(
        &mut self,
        arrived: Instant,
        mut release: Instant,
    ) -> Result<(), Stop> {
        let cancel = self.conn.cancel.clone();
        while release > Instant::now() {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(Stop::Cancelled),
                _ = tokio::time::sleep_until(release) => break,
                changed = self.toxics.changed(), if self.registry_alive => {
                    self.registry_alive = changed.is_ok();
                    let active = self.active();
                    release = self.release_time(arrived, &active, None);
                }
            }
        }
        self.last_release = release.max(self.last_release);
        Ok(())
    }

    /// Splits `data` as the active slicers ask; returns the pieces and the gap between them.
    fn slice(&mut self, active: &[ActiveToxic], data: Bytes) -> (Vec<Bytes>, Duration) {
        let mut pieces = vec![data];
        let mut gap = Duration::ZERO;
        for toxic in active {
            let ToxicKind::Slicer {
                avg_size,
                size_variation,
                delay,
            } = toxic.installed.toxic.kind
            else {
                continue;
            };
            let mut sliced = Vec::new();
            for mut piece in pieces {
                bump(&toxic.installed.stats.bytes_affected, piece.len() as u64);
                for size in piece_lengths(piece.len(), avg_size, size_variation, &mut self.rng) {
                    sliced.push(piece.split_to(size));
                }
            }
            bump(&toxic.installed.stats.slices, sliced.len() as u64);
            bump(
                &toxic.installed.stats.chunks_delayed,
                sliced.len().saturating_sub(1) as u64,
            );
            pieces = sliced;
            gap += delay;
        }
        (pieces, gap)
    }

    async fn sleep(&mut self, duration: Duration) -> Result<(), Stop> {
        tokio::select! {
            biased;
            _ = self.conn.cancel.cancelled() => Err(Stop::Cancelled),
            _ = tokio::time::sleep(duration) => Ok(()),
        }
    }

    /// The tightest bandwidth toxic now applying, if any; re-read between paced writes so a
    /// removed toxic stops throttling mid-chunk.
    fn bandwidth_limit(&mut self) -> Option<(u64, ActiveToxic)> {
        self.active()
            .into_iter()
            .filter_map(|t| match t.installed.toxic.kind {
                ToxicKind::Bandwidth { bytes_per_sec } => Some((bytes_per_sec, t)),
                _ => None,
            })
            .min_by_key(|(rate, _)| *rate)
    }

    async fn write_paced(&mut self, mut piece: &[u8]) -> Result<(), Stop> {
        let mut first = true;
        while !piece.is_empty() {
            let Some((rate, toxic)) = self.bandwidth_limit() else {
                return self.write(piece).await;
            };
            let step = (rate / PACING_SLICES_PER_SEC).max(1);
            let take = piece.len().min(usize::try_from(step).unwrap_or(usize::MAX));
            // Each slice leaves when its last byte would have passed at `rate` (as toxiproxy
            // sleeps before writing): n bytes take n / rate, a small response included. The
            // budget does not accumulate while the stream idles (no burst after a pause), and
            // the slices of one piece follow each other's schedule, not the late wake-ups of
            // a busy machine.
            let start = if first {
                self.bandwidth_next.max(Instant::now())
            } else {
                self.bandwidth_next
            };
            first = false;
            let due = start + Duration::from_secs_f64(take as f64 / rate as f64);
            bump(&toxic.installed.stats.chunks_delayed, 1);
            tokio::select! {
                biased;
                _ = self.conn.cancel.cancelled() => return Err(Stop::Cancelled),
                _ = tokio::time::sleep_until(due) => {}
            }
            let (now_part, rest) = piece.split_at(take);
            self.write(now_part).await?;
            bump(&toxic.installed.stats.bytes_affected, take as u64);
            self.bandwidth_next = due;
            piece = rest;
        }
        Ok(())
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), Stop> {
        let written = tokio::select! {
            biased;
            _ = self.conn.cancel.cancelled() => return Err(Stop::Cancelled),
            written = write_all(&self.output, data) => written,
        };
        match written {
            Ok(()) => {
                let counter = match self.flow {
                    Flow::Upstream => &self.stats.bytes_upstream,
                    Flow::Downstream => &self.stats.bytes_downstream,
                };
                bump(counter, data.len() as u64);
                Ok(())
            }
            Err(_) => Err(Stop::WriteFailed),
        }
    }
}

/// The part of a latency toxic's `latency ± jitter` that `flow` carries. A toxic on one
/// stream delays it by the whole amount; on both streams the round trip still gains
/// `latency` (half each way) and the jitter is drawn once, on the way back: `latency: 100ms`
/// adds 100 ms to a request/response whatever the direction, as netem on egress and
/// toxiproxy's downstream toxic do.
fn stream_share(
    latency: Duration,
    jitter: Duration,
    direction: Direction,
    flow: Flow,
) -> (Duration, Duration) {
    match (direction, flow) {
        (Direction::Both, Flow::Upstream) => (latency / 2, Duration::ZERO),
        (Direction::Both, Flow::Downstream) => (latency - latency / 2, jitter),
        _ => (latency, jitter),
    }
}

/// `latency ± jitter`, uniformly drawn, never negative.
fn jittered(latency: Duration, jitter: Duration, rng: &mut impl Rng) -> Duration {
    if jitter.is_zero() {
        return latency;
    }
    let spread = jitter.as_secs_f64();
    let seconds = latency.as_secs_f64() + rng.random_range(-spread..=spread);
    Duration::from_secs_f64(seconds.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_add_the_asked_latency_once_per_round_trip() {
        let ms = Duration::from_millis;
        let (up, down) = (
            stream_share(ms(101), ms(20), Direction::Both, Flow::Upstream),
            stream_share(ms(101), ms(20), Direction::Both, Flow::Downstream),
        );
        assert_eq!(up.0 + down.0, ms(101));
        assert_eq!((up.1, down.1), (Duration::ZERO, ms(20)));
        for (direction, flow) in [
            (Direction::Upstream, Flow::Upstream),
            (Direction::Downstream, Flow::Downstream),
        ] {
            assert_eq!(
                stream_share(ms(100), ms(20), direction, flow),
                (ms(100), ms(20))
            );
        }
    }
}
