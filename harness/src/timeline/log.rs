//! Streaming the run's events to `events.jsonl` from any task, and reading them back.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

use super::{Event, EventKind, RunClock};

/// A cheap, cloneable handle every producer (load, probes, faults, Docker events) writes
/// through. Sending never blocks the producer: the writer task drains into a buffered file.
#[derive(Clone)]
pub struct EventSink {
    tx: mpsc::UnboundedSender<Event>,
    clock: RunClock,
}

impl EventSink {
    /// The run clock every event's `t` is on.
    pub fn clock(&self) -> &RunClock {
        &self.clock
    }

    /// Records `kind` at run time `t` (ns).
    pub fn record_at(&self, t: u64, kind: EventKind) {
        // The writer only goes away after every sink is dropped; a send error means the run
        // is already tearing down and the event has nowhere to go.
        let _ = self.tx.send(Event { t, kind });
    }

    /// Records `kind` now.
    pub fn record(&self, kind: EventKind) {
        self.record_at(self.clock.now_ns(), kind);
    }

    /// Records a `Note` event now (a warning or decision worth keeping in the record).
    pub fn note(&self, message: impl Into<String>) {
        self.record(EventKind::Note {
            message: message.into(),
        });
    }
}

/// Owns the writer thread; `finish` waits until every event sent before it is on disk.
pub struct EventLog {
    path: PathBuf,
    writer: tokio::sync::oneshot::Receiver<std::io::Result<u64>>,
}

impl EventLog {
    /// Creates (truncates) `path` and starts the writer thread; returns the
    /// log and the first sink. Errors: the file cannot be created.
    pub fn create(path: &Path, clock: RunClock) -> std::io::Result<(Self, EventSink)> {
        let file = File::create(path)?;
        let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
        // A thread of its own rather than tokio's blocking pool: the writer lives as long as the
        // run, and a blocking-pool task in flight would stop paused time from advancing in the
        // runner's tests (run/fake.rs).
        let (done, writer) = tokio::sync::oneshot::channel();
        let write = move || -> std::io::Result<u64> {
            let mut out = BufWriter::with_capacity(256 * 1024, file);
            let mut written = 0u64;
            while let Some(event) = rx.blocking_recv() {
                serde_json::to_writer(&mut out, &event)?;
                out.write_all(b"\n")?;
                written += 1;
                // Flushed whenever the writer has caught up, so the log can be followed live
                // (`tail -f events.jsonl`) while busy stretches still write in large batches.
                if rx.is_empty() {
                    out.flush()?;
                }
            }
            out.flush()?;
            Ok(written)
        };
        std::thread::Builder::new()
            .name("events.jsonl".into())
            .spawn(move || {
                let _ = done.send(write());
            })?;
        Ok((
            Self {
                path: path.to_path_buf(),
                writer,
            },
            EventSink { tx, clock },
        ))
    }

    /// The `events.jsonl` file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits for the writer once every [`EventSink`] clone has been dropped; returns the
    /// number of events written.
    pub async fn finish(self) -> std::io::Result<u64> {
        match self.writer.await {
            Ok(result) => result,
            Err(_) => Err(std::io::Error::other("the event log's writer stopped")),
        }
    }
}

/// Reads `events.jsonl` back, one event at a time, so a long run is analysed in bounded memory.
pub fn read_events(path: &Path) -> std::io::Result<impl Iterator<Item = std::io::Result<Event>>> {
    let reader = BufReader::new(File::open(path)?);
    Ok(reader
        .lines()
        .enumerate()
        .filter_map(|(n, line)| match line {
            Ok(l) if l.trim().is_empty() => None,
            Ok(l) => Some(serde_json::from_str::<Event>(&l).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("events.jsonl line {}: {e}", n + 1),
                )
            })),
            Err(e) => Some(Err(e)),
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_round_trip_through_the_log() {
        let dir = std::env::temp_dir().join(format!("cg-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.jsonl");
        let (log, sink) = EventLog::create(&path, RunClock::start()).unwrap();
        sink.record_at(7, EventKind::Load { started: true });
        sink.note("hello");
        drop(sink);
        assert_eq!(log.finish().await.unwrap(), 2);
        let events: Vec<Event> = read_events(&path).unwrap().map(|e| e.unwrap()).collect();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].t, 7);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
