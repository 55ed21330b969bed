//! One stream of a connection (client → server or back): takes the chunks its reader queued
//! and writes them out through the toxics that currently apply, asking each at every stage
//! of the chunk's way (`toxics::Kind`: swallow, limit, delay, slice, rate). What stays here
//! is the stream's machinery, shared by whichever toxics apply: the order of the stages and
//! how several toxics of one stage combine, the release clock and the pacing schedule.
//!
//! Latency is pipelined: a chunk leaves at `arrival + delay` (never before the previous one),
//! so two chunks 5 ms apart under "100 ms" leave 100 ms and 105 ms after they came, not
//! 100 ms and 200 ms. The reader keeps reading while the pump waits.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::conn_state::{ActiveToxic, ConnShared, ProxyContext};
use crate::counters::{ProxyStats, bump};
use crate::draw::flow_rng;
use crate::registry::ToxicList;
use crate::socket_io::{arm_reset, close_write, write_all};
use crate::toxic::Flow;
use crate::toxics::StreamToxics;

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
    /// The toxics' generator and per-toxic state on this stream.
    chain: StreamToxics,
    /// The toxics that applied at the last chunk.
    previous: Vec<ActiveToxic>,
    /// Toxics removed while they held part of a request (`Kind::retire`).
    retiring: Vec<ActiveToxic>,
    last_release: Instant,
    bandwidth_next: Instant,
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
            chain: StreamToxics::new(flow, flow_rng(ctx.seed, conn.id, flow)),
            conn,
            toxics: ctx.registry.subscribe(),
            registry_alive: true,
            input,
            output,
            stats: &ctx.stats,
            previous: Vec::new(),
            retiring: Vec::new(),
            last_release: now,
            bandwidth_next: now,
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
                if self.flush().await.is_ok() {
                    close_write(&self.output);
                }
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

    /// The toxics that apply to this chunk; those that applied to the last one and no
    /// longer do start retiring.
    fn active_for_chunk(&mut self) -> Vec<ActiveToxic> {
        let active = self.active();
        for gone in std::mem::take(&mut self.previous) {
            let id = gone.installed.id;
            if !active.iter().any(|a| a.installed.id == id)
                && !self.retiring.iter().any(|r| r.installed.id == id)
            {
                self.retiring.push(gone);
            }
        }
        self.previous.clone_from(&active);
        active
    }

    async fn forward(&mut self, chunk: Chunk) -> Result<(), Stop> {
        let active = self.active_for_chunk();
        let mut data = chunk.data;
        self.chain.downstream = self.conn.downstream_written();
        self.retire(&mut data);
        let swallowed = self.swallow(&active, &mut data);
        self.apply_effects().await?;
        if swallowed {
            return Ok(());
        }
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

    /// Lets the toxics removed mid-request finish what they hold; forgets those done.
    fn retire(&mut self, data: &mut Bytes) {
        let retiring = std::mem::take(&mut self.retiring);
        for toxic in retiring {
            let done = toxic
                .installed
                .behaviour
                .retire(&mut self.chain.cx(&toxic), data);
            if done {
                self.chain.forget(&toxic);
            } else {
                self.retiring.push(toxic);
            }
        }
    }

    /// The stream ended: writes what the toxics still hold (an incomplete request head).
    async fn flush(&mut self) -> Result<(), Stop> {
        let holders: Vec<ActiveToxic> = self
            .retiring
            .drain(..)
            .chain(self.previous.drain(..))
            .collect();
        for toxic in holders {
            let held = toxic.installed.behaviour.flush(&mut self.chain.cx(&toxic));
            if !held.is_empty() {
                self.write(&held).await?;
            }
        }
        Ok(())
    }

    /// Does what the hooks asked besides forwarding: answers written back the way the chunk
    /// came, a reset of the connection.
    async fn apply_effects(&mut self) -> Result<(), Stop> {
        let effects = self.chain.take_effects();
        // Most chunks ask for nothing: no socket handle is taken for them.
        if effects.replies.is_empty() && !effects.reset {
            return Ok(());
        }
        let back = match self.flow {
            Flow::Upstream => self.conn.client.clone(),
            Flow::Downstream => self.conn.server.clone(),
        };
        for reply in effects.replies {
            let written = tokio::select! {
                biased;
                _ = self.conn.cancel.cancelled() => return Err(Stop::Cancelled),
                written = write_all(&back, &reply) => written,
            };
            if written.is_err() {
                return Err(Stop::WriteFailed);
            }
            if self.flow == Flow::Upstream {
                self.count_downstream(reply.len());
            }
        }
        if effects.reset {
            let _ = arm_reset(&self.conn.client);
            let _ = arm_reset(&self.conn.server);
            return Err(Stop::WriteFailed);
        }
        Ok(())
    }

    /// Counts `n` bytes written to the client: the proxy's total and the connection's own
    /// count, which tells an L7 toxic whether a response has started.
    fn count_downstream(&self, n: usize) {
        self.conn.wrote_downstream(n as u64);
        bump(&self.stats.bytes_downstream, n as u64);
    }

    /// Lets the toxics take bytes out of the chunk, in install order; `true` when nothing is
    /// left (the first toxic that took all of it is the only one that saw it).
    fn swallow(&mut self, active: &[ActiveToxic], data: &mut Bytes) -> bool {
        for toxic in active {
            toxic
                .installed
                .behaviour
                .swallow(&mut self.chain.cx(toxic), data);
            if data.is_empty() {
                return true;
            }
        }
        false
    }

    /// Truncates `data` to what the toxics still allow (every limiting toxic counts it);
    /// returns the first toxic whose limit is now reached, if any.
    fn apply_limits(&mut self, active: &[ActiveToxic], data: &mut Bytes) -> Option<ActiveToxic> {
        let mut reached = None;
        for toxic in active {
            let closes = toxic
                .installed
                .behaviour
                .limit(&mut self.chain.cx(toxic), data);
            if closes && reached.is_none() {
                reached = Some(toxic.clone());
            }
        }
        reached
    }

    /// When a chunk that arrived at `arrived` may leave under the delays of `active` (they add
    /// up); counts the chunk (of `counted_len` bytes) against them when given.
    fn release_time(
        &mut self,
        arrived: Instant,
        active: &[ActiveToxic],
        counted_len: Option<usize>,
    ) -> Instant {
        let mut delay = Duration::ZERO;
        for toxic in active {
            delay += toxic
                .installed
                .behaviour
                .delay(&mut self.chain.cx(toxic), counted_len);
        }
        // A stream keeps its order whatever the jitter drew.
        (arrived + delay).max(self.last_release)
    }

    /// Waits until `release`; if the toxics change meanwhile (a delaying toxic removed), the
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

    /// Splits `data` as the toxics ask, each cutting the pieces of the ones before; returns
    /// the pieces and the gap between them (the toxics' gaps add up).
    fn slice(&mut self, active: &[ActiveToxic], data: Bytes) -> (Vec<Bytes>, Duration) {
        let mut pieces = vec![data];
        let mut gap = Duration::ZERO;
        for toxic in active {
            gap += toxic
                .installed
                .behaviour
                .slice(&mut self.chain.cx(toxic), &mut pieces);
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

    /// The tightest rate of the toxics now applying (the first installed among equals), if
    /// any; re-read between paced writes so a removed toxic stops throttling mid-chunk.
    fn bandwidth_limit(&mut self) -> Option<(u64, ActiveToxic)> {
        self.active()
            .into_iter()
            .filter_map(|t| Some((t.installed.behaviour.rate()?, t)))
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
                match self.flow {
                    Flow::Upstream => bump(&self.stats.bytes_upstream, data.len() as u64),
                    Flow::Downstream => self.count_downstream(data.len()),
                }
                Ok(())
            }
            Err(_) => Err(Stop::WriteFailed),
        }
    }
}
