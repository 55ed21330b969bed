//! `--fail-fast`, live: follows `events.jsonl` as the log writer flushes it, feeds each new
//! event to [`early::Seen`] and asks [`early::certain_breach`] four times a second whether an
//! SLO can no longer pass. The first certain breach is sent to the runner, which then stops
//! the run the way it ends one on time (faults reverted, stack torn down, reports written).

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::plan::RunSpec;
use crate::slo::Slo;
use crate::timeline::{Event, RunClock};
use crate::verdict::early::{self, EarlyStop, HORIZON_MARGIN, Seen};

const EVERY: Duration = Duration::from_millis(250);

/// What the monitor knows of the run before it starts.
pub(super) fn plan(spec: &RunSpec, slos: &[Slo]) -> early::Plan {
    early::Plan {
        slos: slos.to_vec(),
        schedule: spec
            .load
            .as_ref()
            .and_then(|l| chaosgate_load::Schedule::new(l.rate, l.duration).ok()),
        consecutive: spec.recovery_consecutive,
        probes: spec.probes.iter().map(|p| p.name.clone()).collect(),
    }
}

/// Follows `events` until `cancel`; sends the first certain breach.
pub(super) fn spawn(
    plan: early::Plan,
    events: PathBuf,
    clock: RunClock,
    cancel: CancellationToken,
) -> oneshot::Receiver<EarlyStop> {
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let mut tail = Tail::new(events);
        let mut seen = Seen::default();
        let mut ticker = tokio::time::interval(EVERY);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let now = clock.now_ns();
            let read = tail.read_new(|e| seen.push(e, plan.schedule.as_ref()));
            if let Err(e) = read {
                // Not a reason to stop the run: without the log, fail-fast just never fires.
                tracing::warn!("fail-fast: reading the event log: {e}");
                continue;
            }
            // Every event sent before the latest one read is in the log (one FIFO writer);
            // one sent later is timed at most HORIZON_MARGIN before its sending.
            let horizon = now
                .min(tail.latest_ns)
                .saturating_sub(HORIZON_MARGIN.as_nanos() as u64);
            if let Some(mut stop) = early::certain_breach(&plan, &seen, horizon) {
                stop.at_ns = now;
                let _ = tx.send(stop);
                return;
            }
        }
    });
    rx
}

/// Waits for the monitor's stop, forever when there is no monitor (or it stopped without one).
pub(super) async fn stopped(rx: Option<oneshot::Receiver<EarlyStop>>) -> EarlyStop {
    match rx {
        Some(rx) => match rx.await {
            Ok(stop) => stop,
            Err(_) => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// Reads the complete lines appended to a file since the last call.
struct Tail {
    path: PathBuf,
    file: Option<std::fs::File>,
    pos: u64,
    partial: Vec<u8>,
    /// The latest run-clock time of any event read.
    latest_ns: u64,
}

impl Tail {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: None,
            pos: 0,
            partial: Vec::new(),
            latest_ns: 0,
        }
    }

    fn read_new(&mut self, mut each: impl FnMut(Event)) -> std::io::Result<()> {
        if self.file.is_none() {
            self.file = Some(std::fs::File::open(&self.path)?);
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        file.seek(SeekFrom::Start(self.pos))?;
        let mut fresh = Vec::new();
        let n = file.read_to_end(&mut fresh)?;
        self.pos += n as u64;
        self.partial.extend_from_slice(&fresh);
        let Some(last_newline) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return Ok(());
        };
        let complete: Vec<u8> = self.partial.drain(..=last_newline).collect();
        for line in complete.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            match serde_json::from_slice::<Event>(line) {
                Ok(e) => {
                    self.latest_ns = self.latest_ns.max(e.t);
                    each(e);
                }
                Err(e) => tracing::warn!("fail-fast: skipping an unreadable event: {e}"),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::{EventKind, EventLog};

    #[tokio::test]
    async fn the_tail_reads_each_event_once_as_it_is_flushed() {
        let dir = std::env::temp_dir().join(format!("cg-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.jsonl");
        let (log, sink) = EventLog::create(&path, RunClock::start()).unwrap();
        let mut tail = Tail::new(path.clone());
        sink.record_at(7, EventKind::Load { started: true });
        sink.record_at(
            9,
            EventKind::Note {
                message: "a".into(),
            },
        );
        let mut got = Vec::new();
        for _ in 0..100 {
            tail.read_new(|e| got.push(e.t)).unwrap();
            if got.len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(got, [7, 9]);
        sink.record_at(
            11,
            EventKind::Note {
                message: "b".into(),
            },
        );
        drop(sink);
        log.finish().await.unwrap();
        tail.read_new(|e| got.push(e.t)).unwrap();
        assert_eq!(got, [7, 9, 11]);
        assert_eq!(tail.latest_ns, 11);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
